// campuspay pay pages: the running total on the home page, the agreement countdown, and the
// order page following its order. Every page works without this file (the server checks all).
(function () {
  'use strict';

  // Yuan text → fen, exactly (no floats): "1000", "1000.5", "1,000.50". NaN when unreadable.
  function toFen(text) {
    var s = String(text).replace(/[,\s¥￥]/g, '');
    var m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(s);
    if (!m) return NaN;
    return parseInt(m[1], 10) * 100 + (m[2] ? parseInt((m[2] + '0').slice(0, 2), 10) : 0);
  }

  function yuan(fen) {
    var s = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return '¥' + s + '.' + String(fen % 100).padStart(2, '0');
  }

  function cart() {
    var form = document.getElementById('choose');
    if (!form) return;
    var total = document.getElementById('cart-total');
    var nojs = document.getElementById('cart-total-nojs');
    var all = document.getElementById('select-all');
    var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name="charge"]'));
    function update() {
      var sum = 0;
      var readable = true;
      boxes.forEach(function (b) {
        if (!b.checked) return;
        var input = document.getElementById('amount-' + b.value);
        var typed = input && input.value.trim();
        var fen = typed ? toFen(typed) : parseInt(b.getAttribute('data-left'), 10);
        if (isNaN(fen)) readable = false; else sum += fen;
      });
      total.textContent = readable ? yuan(sum) : '—';
      if (all) all.checked = boxes.length > 0 && boxes.every(function (b) { return b.checked; });
    }
    total.hidden = false;
    if (nojs) nojs.hidden = true;
    if (all) {
      all.closest('label').hidden = false;
      all.addEventListener('change', function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    form.addEventListener('change', update);
    form.addEventListener('input', function (e) {
      // Typing an amount ticks its item.
      var m = /^amount-(\d+)$/.exec(e.target.id || '');
      if (m && e.target.value.trim()) {
        var b = boxes.filter(function (x) { return x.value === m[1]; })[0];
        if (b) b.checked = true;
      }
      update();
    });
    update();
  }

  function countdown() {
    var note = document.getElementById('countdown-note');
    var button = document.getElementById('agree');
    if (!note || !button) return;
    var left = parseInt(note.getAttribute('data-countdown'), 10) || 0;
    var text = note.getAttribute('data-label-wait') || '';
    var original = note.textContent;
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        note.textContent = original;
        return;
      }
      button.disabled = true;
      note.textContent = text.replace('{s}', String(left));
      left -= 1;
      setTimeout(tick, 1000);
    }
    tick();
  }

  function follow() {
    var box = document.querySelector('[data-poll]');
    if (!box) return;
    var url = box.getAttribute('data-poll');
    var shown = box.getAttribute('data-state');
    var delay = 2000;
    function poll() {
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (j && j.state && j.state !== shown) {
            window.location.reload();
            return;
          }
          delay = Math.min(delay + 500, 5000);
          setTimeout(poll, delay);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, delay);
  }

  cart();
  countdown();
  follow();
})();
