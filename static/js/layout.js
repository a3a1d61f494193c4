/*
 * Directory Sync Portal — layout and keyboard behaviour (issue 13).
 *
 * Loaded with `defer` after app.js; no inline script anywhere (the CSP has no
 * 'unsafe-inline'), so everything is wired here through data- attributes and
 * event delegation on `document`, which covers content htmx swaps in later.
 *
 *   [data-nav-toggle]       base.html's menu button: below ~900px it opens and
 *                           closes the sidebar (#console-nav), aria-expanded says
 *                           which; Esc, a link or a click outside close it
 *   table.table             each body cell gets data-label = its column's header,
 *                           which app.css shows when a table becomes cards on a phone
 *   details.filter-menu     the Admin log's event-type picker: Esc and a click
 *                           outside close it; a category ticks its event types;
 *                           the summary says what is chosen
 *   #wizard                 the Add sync source wizard: on each step focus goes to
 *                           the step's heading
 *   [data-field-clear]      a form whose field errors clear as each field is fixed
 *                           (the member form): a changed field drops its stale error
 */
(function () {
  'use strict';

  var doc = document;

  /* ----------------------------------------------------------- side menu */

  function navButton() {
    return doc.querySelector('[data-nav-toggle]');
  }

  function setNav(open, focusButton) {
    var button = navButton();
    if (!button) return;
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    doc.body.classList.toggle('nav-open', open);
    if (!open && focusButton) button.focus();
    if (open) {
      var first = doc.querySelector('#console-nav a, #console-nav button');
      if (first) first.focus();
    }
  }

  function navOpen() {
    var button = navButton();
    return !!button && button.getAttribute('aria-expanded') === 'true';
  }

  /* ------------------------------------------------------- table labels */

  // A phone shows each row as a card: every cell says which column it is.
  function labelTables(root) {
    var scope = root && root.querySelectorAll ? root : doc;
    var tables = scope.matches && scope.matches('table.table') ? [scope] : scope.querySelectorAll('table.table');
    for (var t = 0; t < tables.length; t++) {
      var heads = tables[t].querySelectorAll('thead th');
      if (!heads.length) continue;
      var labels = [];
      for (var h = 0; h < heads.length; h++) labels.push(heads[h].textContent.trim());
      var rows = tables[t].querySelectorAll('tbody tr');
      for (var r = 0; r < rows.length; r++) {
        var cells = rows[r].children;
        var column = 0;
        for (var c = 0; c < cells.length; c++) {
          var cell = cells[c];
          var label = labels[column];
          if (!cell.hasAttribute('data-label') && label && cell.colSpan === 1) cell.setAttribute('data-label', label);
          column += cell.colSpan || 1;
        }
      }
    }
  }

  /* ------------------------------------------------ event-type picker */

  function pickerBoxes(menu) {
    var groups = [];
    var sets = menu.querySelectorAll('fieldset');
    for (var i = 0; i < sets.length; i++) {
      var category = sets[i].querySelector('legend input[type="checkbox"]');
      var children = sets[i].querySelectorAll('.choice-list input[type="checkbox"]');
      if (category) groups.push({ category: category, children: children });
    }
    return groups;
  }

  function labelText(input) {
    var label = input.closest('label');
    return label ? label.textContent.trim() : input.value;
  }

  // The summary names what is chosen: a whole category as "Category (all)", else the event types.
  function pickerLabel(menu) {
    var parts = [];
    var groups = pickerBoxes(menu);
    for (var g = 0; g < groups.length; g++) {
      var group = groups[g];
      var checked = [];
      for (var i = 0; i < group.children.length; i++) {
        if (group.children[i].checked) checked.push(labelText(group.children[i]));
      }
      if (group.category.checked || (checked.length && checked.length === group.children.length)) {
        parts.push(labelText(group.category) + ' (all)');
      } else {
        parts = parts.concat(checked);
      }
    }
    var summary = menu.querySelector('summary');
    if (!summary) return;
    var text = !parts.length ? 'All event types'
      : parts.length <= 2 ? parts.join(', ')
        : parts.slice(0, 2).join(', ') + ' +' + (parts.length - 2) + ' more';
    summary.textContent = text;
    summary.title = parts.length ? parts.join(', ') : '';
  }

  function syncCategory(group) {
    var all = group.children.length > 0;
    var some = false;
    for (var i = 0; i < group.children.length; i++) {
      if (group.children[i].checked) some = true;
      else all = false;
    }
    group.category.checked = all;
    group.category.indeterminate = some && !all;
  }

  function initPickers(root) {
    var scope = root && root.querySelectorAll ? root : doc;
    var menus = scope.querySelectorAll('details.filter-menu');
    for (var m = 0; m < menus.length; m++) {
      var groups = pickerBoxes(menus[m]);
      for (var g = 0; g < groups.length; g++) {
        // A category sent by the server means every event type of it.
        if (groups[g].category.checked) {
          for (var i = 0; i < groups[g].children.length; i++) groups[g].children[i].checked = true;
        }
        syncCategory(groups[g]);
      }
      pickerLabel(menus[m]);
    }
  }

  doc.addEventListener('change', function (evt) {
    var input = evt.target;
    var menu = input && input.closest && input.closest('details.filter-menu');
    if (menu && input.type === 'checkbox') {
      var groups = pickerBoxes(menu);
      for (var g = 0; g < groups.length; g++) {
        if (groups[g].category === input) {
          for (var i = 0; i < groups[g].children.length; i++) groups[g].children[i].checked = input.checked;
          input.indeterminate = false;
        } else if (Array.prototype.indexOf.call(groups[g].children, input) !== -1) {
          syncCategory(groups[g]);
        }
      }
      pickerLabel(menu);
    }
  });

  function closeMenus(except) {
    var open = doc.querySelectorAll('details.filter-menu[open]');
    for (var i = 0; i < open.length; i++) {
      if (open[i] !== except) open[i].removeAttribute('open');
    }
  }

  /* ------------------------------------------------- field errors */

  // A field edited after the form was refused no longer shows the error it was refused for.
  doc.addEventListener('input', function (evt) {
    var input = evt.target;
    if (!input || !input.closest || !input.closest('form[data-field-clear]')) return;
    var field = input.closest('.field.has-error');
    if (!field) return;
    field.classList.remove('has-error');
    input.removeAttribute('aria-invalid');
    var error = field.querySelector('.field-error');
    if (error) error.remove();
  });

  /* ------------------------------------------------------------ wizard */

  // The step's heading gets the focus, so a keyboard or screen reader user starts on the new step.
  function focusWizardStep(root) {
    var wizard = root && root.id === 'wizard' ? root : doc.getElementById('wizard');
    if (!wizard) return;
    var heading = wizard.querySelector('.wizard-form .card-title');
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus();
  }

  /* ---------------------------------------------------------- wiring */

  doc.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;
    if (t.closest('[data-nav-toggle]')) {
      setNav(!navOpen(), false);
      return;
    }
    // A link in the open side menu navigates: the menu folds away.
    if (navOpen() && t.closest('#console-nav a')) setNav(false, false);
    else if (navOpen() && !t.closest('#console-nav')) setNav(false, false);
    closeMenus(t.closest('details.filter-menu'));
  });

  doc.addEventListener('keydown', function (evt) {
    if (evt.key !== 'Escape') return;
    var menu = evt.target && evt.target.closest && evt.target.closest('details.filter-menu[open]');
    menu = menu || doc.querySelector('details.filter-menu[open]');
    if (menu) {
      evt.preventDefault();
      menu.removeAttribute('open');
      var summary = menu.querySelector('summary');
      if (summary) summary.focus();
      return;
    }
    if (navOpen()) {
      evt.preventDefault();
      setNav(false, true);
      return;
    }
    // The drawer is a modal <dialog>: the browser closes it on Esc, unless focus sits in a control
    // that keeps the key (a <select>'s list, a date picker); close it here as well.
    var drawer = doc.getElementById('drawer');
    // A confirmation asked over the drawer takes the Esc for itself.
    if (doc.querySelector('dialog.modal[open]')) return;
    if (drawer && drawer.open && !evt.defaultPrevented) {
      var closer = drawer.querySelector('[data-drawer-close]');
      if (closer) closer.click();
      else drawer.close();
    }
  });

  // htmx:load fires for each element htmx swaps in (and once for the body at start-up).
  doc.addEventListener('htmx:load', function (evt) {
    var root = evt.target;
    if (root === doc.body) return; // the start-up pass below covers the page
    labelTables(root);
    initPickers(root);
    if (root.id === 'wizard' || (root.querySelector && root.querySelector('#wizard'))) {
      focusWizardStep(doc.getElementById('wizard'));
    }
  });

  labelTables(doc);
  initPickers(doc);
  if (doc.getElementById('wizard')) focusWizardStep(doc.getElementById('wizard'));
})();
