/*
 * Directory Sync Portal — the Members tab's bulk selection (organization/_bulk_bar.html).
 *
 * The list's checkboxes belong to the bulk form through form="bulk-form", so
 * the form sends them although they sit in the table htmx swaps. This file:
 *   [data-bulk-all]              ticks or unticks every member of the page (the
 *                                table's header, and the bar's: a phone hides the header)
 *   [data-bulk-js]               shown only with JavaScript (hidden in the HTML)
 *   [data-bulk-count]            says how many are ticked
 *   [data-bulk-needs-selection]  actions disabled while none is ticked
 * Without JavaScript the actions stay enabled and the server says
 * "Select at least one member". Loaded with `defer`; no inline script (CSP).
 */
(function () {
  'use strict';

  var doc = document;

  function rows() {
    return doc.querySelectorAll('input[type="checkbox"][name="member_ids"][form="bulk-form"]');
  }

  function update() {
    var form = doc.getElementById('bulk-form');
    if (!form) return;
    var boxes = rows();
    var ticked = 0;
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) ticked++;
    }
    var count = form.querySelector('[data-bulk-count]');
    if (count) {
      count.textContent = ticked === 0 ? 'Tick members in the list to change several at once.'
        : (ticked === 1 ? '1 member selected' : ticked + ' members selected');
    }
    var actions = form.querySelectorAll('[data-bulk-needs-selection]');
    for (var a = 0; a < actions.length; a++) actions[a].disabled = ticked === 0;
    var all = doc.querySelectorAll('[data-bulk-all]');
    for (var b = 0; b < all.length; b++) {
      all[b].checked = ticked > 0 && ticked === boxes.length;
      all[b].indeterminate = ticked > 0 && ticked < boxes.length;
      all[b].disabled = boxes.length === 0;
    }
  }

  var shown = doc.querySelectorAll('[data-bulk-js]');
  for (var s = 0; s < shown.length; s++) shown[s].hidden = false;

  doc.addEventListener('change', function (evt) {
    var t = evt.target;
    if (!(t instanceof HTMLInputElement) || t.type !== 'checkbox') return;
    if (t.hasAttribute('data-bulk-all')) {
      var boxes = rows();
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = t.checked;
      update();
    } else if (t.getAttribute('form') === 'bulk-form') {
      update();
    }
  });

  // A new page of the list, or the list refreshed after a bulk action: nothing is ticked any more.
  doc.addEventListener('htmx:load', update);
  update();
})();
