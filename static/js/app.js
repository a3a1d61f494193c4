/*
 * Directory Sync Portal — console behaviour.
 *
 * Vanilla, dependency-free, loaded with `defer` after htmx. The console runs
 * under a Content-Security-Policy without 'unsafe-inline' and with htmx
 * allowEval:false, so pages carry no inline script or handler attributes:
 * everything is wired here through data- attributes and event delegation on
 * `document`, which also covers content that htmx swaps in later.
 *
 *   data-copy-target="#id"        copy #id's value to the clipboard
 *   data-confirm="#dialog-id"     on a form or submit button: confirm first
 *   data-confirm-message="…"      same, in a generic dialog with this text;
 *                                 optional data-confirm-label
 *   data-drawer-close             close the #drawer dialog
 *   data-dismiss                  hide the closest [data-dismissible]
 *   data-rows data-max-rows data-next-index
 *     data-rows-list / data-row / template[data-row-template] /
 *     data-row-add / data-row-remove / data-row-count
 *                                 repeating form rows from a <template>;
 *                                 "__index__" in its attributes is numbered
 *   data-replace-url="…"          replace the address bar's URL on load
 *
 * htmx events used: htmx:configRequest (CSRF header), htmx:confirm (dialogs),
 * htmx:afterSwap (open drawer), htmx:responseError / htmx:sendError /
 * htmx:timeout (toasts), htmx:load (init swapped-in rows).
 */
(function () {
  'use strict';

  var doc = document;

  /* ------------------------------------------------------------ toasts */

  // base.html (_head.html's htmx-config): every failed htmx request on any console page shows an error toast.
  var ICONS = {
    warning: 'M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0zM12 9v4M12 17h.01',
    error: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM12 8v4M12 16h.01',
    close: 'M18 6 6 18M6 6l12 12'
  };

  // Built with DOM calls, not innerHTML, so messages are never parsed as HTML.
  function svgIcon(name) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = doc.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var path = doc.createElementNS(ns, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function toastRegion() {
    var region = doc.getElementById('toasts');
    if (!region) {
      region = doc.createElement('div');
      region.id = 'toasts';
      region.className = 'toast-region';
      doc.body.appendChild(region);
    }
    return region;
  }

  function dismissToast(toast) {
    if (!toast.isConnected || toast.classList.contains('is-leaving')) return;
    toast.classList.add('is-leaving');
    setTimeout(function () { toast.remove(); }, 200);
  }

  // Error toasts stay until dismissed: they may need reading twice.
  function showError(message) {
    var region = toastRegion();
    var existing = region.querySelectorAll('.toast');
    for (var i = 0; i < existing.length; i++) {
      if (existing[i].dataset.message === message) return; // no duplicate stack
    }
    var toast = doc.createElement('div');
    toast.className = 'toast toast-error';
    toast.dataset.message = message;
    toast.setAttribute('role', 'alert');
    var icon = svgIcon('error');
    icon.classList.add('toast-icon');
    var text = doc.createElement('div');
    text.className = 'toast-text';
    text.textContent = message;
    var close = doc.createElement('button');
    close.type = 'button';
    close.className = 'toast-close';
    close.setAttribute('aria-label', 'Dismiss notification');
    close.appendChild(svgIcon('close'));
    close.addEventListener('click', function () { dismissToast(toast); });
    toast.append(icon, text, close);
    region.appendChild(toast);
  }

  var STATUS_MESSAGES = {
    400: 'The request was not accepted. Check the form and try again.',
    401: 'Your session has ended. Sign in again to continue.',
    403: 'You don\u2019t have permission to do that.',
    404: 'That item no longer exists. Refresh the page to see the current list.',
    409: 'Someone else changed this item. Refresh the page and try again.',
    413: 'That upload is too large.',
    429: 'Too many requests. Wait a moment and try again.'
  };

  doc.addEventListener('htmx:responseError', function (evt) {
    var status = evt.detail && evt.detail.xhr ? evt.detail.xhr.status : 0;
    showError(STATUS_MESSAGES[status] ||
      (status >= 500 ? 'Something went wrong on the server (error ' + status + '). Try again in a moment.'
        : 'The request failed (error ' + status + ').'));
  });

  doc.addEventListener('htmx:sendError', function () {
    showError('Can\u2019t reach the server. Check your connection and try again.');
  });

  doc.addEventListener('htmx:timeout', function () {
    showError('The server took too long to answer. Try again.');
  });

  /* -------------------------------------------------------------- copy */

  // _macros.html copy_field (directory_sync/_step1.html, directory_sync/detail.html, administrators/_credentials.html): Copy buttons.
  var isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

  function copyFrom(button) {
    var target = doc.querySelector(button.getAttribute('data-copy-target'));
    if (!target) return;
    var label = button.querySelector('[data-copy-label]') || button;
    if (button.dataset.copyOriginal === undefined) button.dataset.copyOriginal = label.textContent;

    function report(message, ok, ms) {
      label.textContent = message;
      button.classList.toggle('is-copied', ok);
      clearTimeout(button._copyTimer);
      button._copyTimer = setTimeout(function () {
        label.textContent = button.dataset.copyOriginal;
        button.classList.remove('is-copied');
      }, ms);
    }

    // No async clipboard (plain http on an intranet host) or it was refused:
    // select the text so the admin can copy it by hand, after one legacy try.
    function fallback() {
      target.focus();
      target.select();
      var copied = false;
      try {
        copied = doc.execCommand('copy');
      } catch (e) {
        copied = false;
      }
      if (copied) report('Copied', true, 2000);
      else report(isMac ? 'Press \u2318C' : 'Press Ctrl+C', false, 4000);
    }

    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.value).then(function () { report('Copied', true, 2000); }, fallback);
    } else {
      fallback();
    }
  }

  /* ----------------------------------------------------- confirm dialog */

  // administrators/_detail.html, _transfer_form.html, directory_sync/_step1.html, detail.html, _delete.html (data-confirm); organization/_*_details.html (data-confirm-message).
  function needsConfirm(el) {
    return !!el && el.nodeType === 1 &&
      (el.hasAttribute('data-confirm') || el.hasAttribute('data-confirm-message'));
  }

  // Used for data-confirm-message, which has no dialog of the page's own.
  function genericDialog() {
    var dialog = doc.getElementById('confirm-dialog');
    if (dialog) return dialog;
    dialog = doc.createElement('dialog');
    dialog.id = 'confirm-dialog';
    // Every data-confirm-message guards a destructive action: the one look of destructive
    // confirmations (app.css .confirm-danger), as _macros.html confirm_dialog(kind="danger") has.
    dialog.className = 'modal confirm-danger';
    dialog.setAttribute('aria-labelledby', 'confirm-dialog-title');
    dialog.setAttribute('aria-describedby', 'confirm-dialog-text');
    var form = doc.createElement('form');
    form.method = 'dialog';
    form.className = 'modal-panel';
    var head = doc.createElement('div');
    head.className = 'modal-head';
    var icon = doc.createElement('span');
    icon.className = 'modal-icon modal-icon-danger';
    icon.appendChild(svgIcon('warning'));
    var title = doc.createElement('h2');
    title.className = 'modal-title';
    title.id = 'confirm-dialog-title';
    title.textContent = 'Are you sure?';
    head.append(icon, title);
    var text = doc.createElement('p');
    text.className = 'modal-text';
    text.id = 'confirm-dialog-text';
    text.setAttribute('data-confirm-text', '');
    var actions = doc.createElement('div');
    actions.className = 'modal-actions';
    var cancel = doc.createElement('button');
    cancel.className = 'btn btn-secondary';
    cancel.value = 'cancel';
    cancel.autofocus = true;
    cancel.textContent = 'Cancel';
    var ok = doc.createElement('button');
    ok.className = 'btn btn-danger';
    ok.value = 'confirm';
    ok.setAttribute('data-confirm-accept', '');
    ok.textContent = 'Confirm';
    actions.append(cancel, ok);
    form.append(head, text, actions);
    dialog.appendChild(form);
    doc.body.appendChild(dialog);
    return dialog;
  }

  // Put per-trigger wording into a shared dialog, restoring the dialog's own
  // wording when the next trigger does not override it.
  function setText(dialog, selector, value) {
    var el = dialog.querySelector(selector);
    if (!el) return;
    if (el.dataset.original === undefined) el.dataset.original = el.textContent;
    el.textContent = value || el.dataset.original;
  }

  function askConfirm(source, onConfirm) {
    var selector = source.getAttribute('data-confirm');
    var message = source.getAttribute('data-confirm-message');
    var dialog = selector ? doc.querySelector(selector) : genericDialog();
    if (!dialog) {
      if (window.confirm(message || 'Are you sure?')) onConfirm();
      return;
    }
    if (dialog.open) return; // already asking for something else
    setText(dialog, '[data-confirm-text]', message);
    setText(dialog, '[data-confirm-accept]', source.getAttribute('data-confirm-label'));
    // One pending action per dialog, run by the dialog form's submit handler
    // below; overwritten on every open so a stale action can never fire.
    dialog._pendingConfirm = onConfirm;
    dialog.showModal();
  }

  // Escape closes a dialog without submitting its form: drop the action.
  doc.addEventListener('cancel', function (evt) {
    if (evt.target && evt.target.tagName === 'DIALOG') evt.target._pendingConfirm = null;
  }, true);

  // The confirm/cancel buttons submit the dialog's <form method="dialog">.
  // Handled synchronously (not on the async 'close' event) so a quick reopen
  // cannot pick up the previous round's answer.
  function onDialogSubmit(evt) {
    var dialog = evt.target.closest('dialog');
    var action = dialog && dialog._pendingConfirm;
    if (!dialog) return;
    dialog._pendingConfirm = null;
    if (action && evt.submitter && evt.submitter.value === 'confirm') {
      // After the dialog has closed (the submit's default action), so focus
      // is back on the page before the form is sent.
      setTimeout(action, 0);
    }
  }

  // Plain (non-htmx) forms. htmx cancels the native submit of forms it owns
  // before this document-level listener runs, so those are skipped here and
  // handled in htmx:confirm below instead.
  doc.addEventListener('submit', function (evt) {
    var form = evt.target;
    if (form.method === 'dialog') {
      onDialogSubmit(evt);
      return;
    }
    if (evt.defaultPrevented) return;
    var submitter = evt.submitter;
    var source = needsConfirm(submitter) ? submitter : (needsConfirm(form) ? form : null);
    if (!source) return;
    if (form.dataset.confirmed === 'yes') {
      delete form.dataset.confirmed;
      return;
    }
    evt.preventDefault();
    askConfirm(source, function () {
      form.dataset.confirmed = 'yes';
      form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
    });
  });

  // htmx requests: hold the request and replay it with issueRequest(true).
  doc.addEventListener('htmx:confirm', function (evt) {
    var d = evt.detail;
    var trigger = d.triggeringEvent;
    var source = trigger && needsConfirm(trigger.submitter) ? trigger.submitter
      : (needsConfirm(d.elt) ? d.elt : null);
    if (!source) return;
    evt.preventDefault();
    askConfirm(source, function () { d.issueRequest(true); });
  });

  /* ------------------------------------------------------------ drawer */

  // base.html's <dialog id="drawer">, filled by hx-target="#drawer" (organization/*, admin_log/_panel.html, sync_log/_panel.html) with _macros.html drawer_frame.
  function openDrawer(el) {
    // showModal() gives the overlay (::backdrop), focus containment,
    // Escape-to-close and focus return to the opener.
    if (!el.open) el.showModal();
    // Focus goes to the title (not the close button showModal would pick) so
    // a screen reader starts by reading what the drawer is about.
    var title = el.querySelector('#drawer-title');
    if (title) {
      title.tabIndex = -1;
      title.focus();
    }
  }

  // Clear the content once the slide-out is over, so stale details never
  // flash when the next one loads (skipped if it was reopened meanwhile).
  function clearDrawerLater(el) {
    setTimeout(function () { if (!el.open) el.replaceChildren(); }, 250);
  }

  function closeDrawer() {
    var el = doc.getElementById('drawer');
    if (el && el.open) {
      el.close();
      clearDrawerLater(el);
    }
  }

  doc.addEventListener('htmx:afterSwap', function (evt) {
    var target = evt.detail && evt.detail.target;
    if (target && target.id === 'drawer') {
      if (target.childElementCount) openDrawer(target);
      else closeDrawer(); // an empty response means "nothing to show"
    }
  });

  // Escape closes the modal natively, without closeDrawer(); 'close' does
  // not bubble, hence the capture listener.
  doc.addEventListener('close', function (evt) {
    if (evt.target && evt.target.id === 'drawer') clearDrawerLater(evt.target);
  }, true);

  /* ----------------------------------------------------- repeating rows */

  // directory_sync/_step2.html, _rule_row.html: the workforce type rules of the Add sync source wizard.
  function rowsState(container) {
    var count = container.querySelectorAll('[data-row]').length;
    var max = parseInt(container.getAttribute('data-max-rows'), 10);
    var atMax = count >= max;
    var add = container.querySelectorAll('[data-row-add]');
    for (var i = 0; i < add.length; i++) {
      add[i].disabled = atMax;
      add[i].title = atMax ? 'Maximum of ' + max + ' reached' : '';
    }
    var counter = container.querySelector('[data-row-count]');
    if (counter) counter.textContent = count + ' of ' + max;
  }

  // Attribute values containing __index__ get a fresh number per row, so
  // element ids (and the labels pointing at them) stay unique.
  function addRow(container) {
    var template = container.querySelector('template[data-row-template]');
    var max = parseInt(container.getAttribute('data-max-rows'), 10);
    if (!template || container.querySelectorAll('[data-row]').length >= max) return;
    var next = parseInt(container.getAttribute('data-next-index'), 10);
    container.setAttribute('data-next-index', String(next + 1));

    var fragment = template.content.cloneNode(true);
    var all = fragment.querySelectorAll('*');
    for (var i = 0; i < all.length; i++) {
      var attrs = all[i].attributes;
      for (var a = 0; a < attrs.length; a++) {
        if (attrs[a].value.indexOf('__index__') !== -1) {
          attrs[a].value = attrs[a].value.split('__index__').join(String(next));
        }
      }
    }
    var row = fragment.querySelector('[data-row]');
    container.querySelector('[data-rows-list]').appendChild(fragment);
    rowsState(container);
    var first = row && row.querySelector('input, select, textarea');
    if (first) first.focus();
  }

  function removeRow(button) {
    var container = button.closest('[data-rows]');
    var row = button.closest('[data-row]');
    if (!container || !row) return;
    row.remove();
    rowsState(container);
    var add = container.querySelector('[data-row-add]');
    if (add && !add.disabled) add.focus();
  }

  function initRows(root) {
    var scope = root && root.querySelectorAll ? root : doc;
    if (scope.matches && scope.matches('[data-rows]')) rowsState(scope);
    var all = scope.querySelectorAll('[data-rows]');
    for (var i = 0; i < all.length; i++) rowsState(all[i]);
  }

  initRows(doc);
  doc.addEventListener('htmx:load', function (evt) { initRows(evt.target); });

  /* ------------------------------------------------------ click routing */

  // _macros.html copy_field, drawer_frame, banner; organization/_*_form.html; directory_sync/_step2.html, _rule_row.html: one listener for their clicks.
  doc.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;

    // _macros.html copy_field.
    var el = t.closest('[data-copy-target]');
    if (el) {
      evt.preventDefault();
      copyFrom(el);
      return;
    }
    // _macros.html drawer_frame's close button; organization/_member_form.html, _group_form.html, _field_form.html.
    if (t.closest('[data-drawer-close]')) {
      closeDrawer();
      return;
    }
    // A click on the drawer dialog itself (not its content) is the backdrop.
    if (t.id === 'drawer' && t.tagName === 'DIALOG') {
      closeDrawer();
      return;
    }
    // _macros.html banner (directory_sync/_flashes.html, organization/_org.html): hide at once; a
    // dismiss button with hx-post also records it server-side (htmx has already sent that request).
    el = t.closest('[data-dismiss]');
    if (el) {
      var box = el.closest('[data-dismissible]');
      if (box) box.hidden = true;
      return;
    }
    // directory_sync/_step2.html, _rule_row.html.
    el = t.closest('[data-row-add]');
    if (el) {
      addRow(el.closest('[data-rows]'));
      return;
    }
    el = t.closest('[data-row-remove]');
    if (el) removeRow(el);
  });

  /* ------------------------------------------------------- htmx wiring */

  // _head.html: its csrf-token meta is sent as X-CSRFToken on every htmx request.
  doc.addEventListener('htmx:configRequest', function (evt) {
    var meta = doc.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) evt.detail.headers['X-CSRFToken'] = meta.content;
  });

  /* ------------------------------------------------------- replace URL */

  // directory_sync/_step1.html, directory_sync/detail.html: data-replace-url on a page that shows a just-issued token.
  function replaceUrl() {
    // That page answered a POST; moving the address bar to its own address
    // makes a reload a plain GET, which shows it without the token instead
    // of posting again.
    var marker = doc.querySelector('[data-replace-url]');
    if (marker) history.replaceState(null, '', marker.getAttribute('data-replace-url'));
  }
  replaceUrl();
})();
