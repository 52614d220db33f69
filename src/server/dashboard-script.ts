/**
 * The dashboard's one script, served from /assets/dashboard.js (the Content-Security-Policy allows
 * scripts from the service itself only). It sends the sign-in and the admin actions as JSON with the
 * page's CSRF token, which a form post from another site can neither do nor know.
 */
export const DASHBOARD_SCRIPT = `'use strict';
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : null;
  function send(path, body) {
    var headers = { 'Content-Type': 'application/json' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    return fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body || {}), credentials: 'same-origin' });
  }
  function say(element, text) {
    var scope = element ? element.closest('form') || element.parentElement : null;
    var status = scope ? scope.querySelector('.action-status') : null;
    if (status) status.textContent = text;
  }
  var form = document.getElementById('sign-in');
  if (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var token = form.querySelector('input[name="token"]').value;
      send('/api/session', { token: token }).then(function (res) {
        if (res.ok) location.reload();
        else res.json().then(function (b) { say(form.querySelector('button'), b.error || 'refused'); });
      });
    });
  }
  document.addEventListener('click', function (event) {
    var target = event.target instanceof Element ? event.target.closest('[data-action]') : null;
    if (!target) return;
    var action = target.getAttribute('data-action');
    if (action === 'reprocess') {
      event.preventDefault();
      target.disabled = true;
      send('/api/studies/' + encodeURIComponent(target.getAttribute('data-uid')) + '/reprocess', {}).then(function (res) {
        return res.json().then(function (b) {
          say(target, res.ok ? 'queued as job ' + b.jobId + ' (' + b.state + ')' : 'refused: ' + (b.error || res.status));
          target.disabled = false;
        });
      });
    } else if (action === 'sign-out') {
      event.preventDefault();
      send('/api/session/end', {}).then(function () { location.href = '/'; });
    }
  });
})();
`;
