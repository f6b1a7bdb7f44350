// campuspay sandbox: the WeixinJSBridge that WeChat's browser injects into pages, for a
// plain browser with a WeChat user agent. Only getBrandWCPayRequest (JSAPI payment) is
// simulated: WeChat's pay sheet over the page, then the merchant's callback with
// err_msg "get_brand_wcpay_request:ok" | ":cancel" | ":fail". Styles are set through the
// DOM (no inline style attributes), so the merchant page's CSP needs no change.
(function () {
  'use strict';
  if (window.WeixinJSBridge) return;
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/jsbridge\.js(\?.*)?$/, '') : '/sandbox/wechatpay';

  function el(tag, text, css) {
    var e = document.createElement(tag);
    if (text) e.textContent = text;
    Object.keys(css || {}).forEach(function (k) { e.style[k] = css[k]; });
    return e;
  }

  function sheet(order, onPay, onCancel) {
    var shade = el('div', '', {
      position: 'fixed', left: '0', top: '0', right: '0', bottom: '0',
      background: 'rgba(0,0,0,.55)', zIndex: '2147483647', display: 'flex', alignItems: 'flex-end'
    });
    shade.setAttribute('role', 'dialog');
    shade.setAttribute('aria-label', '微信支付');
    shade.id = 'sandbox-wechat-pay-sheet';
    var box = el('div', '', {
      background: '#fff', width: '100%', padding: '1.2rem 1rem 1.6rem', borderRadius: '12px 12px 0 0',
      fontFamily: 'sans-serif', textAlign: 'center', boxSizing: 'border-box'
    });
    box.appendChild(el('div', '微信支付（沙箱）', { fontSize: '1rem', color: '#333' }));
    box.appendChild(el('div', order.description, { fontSize: '.9rem', color: '#666', margin: '.6rem 0 0' }));
    box.appendChild(el('div', order.amount, { fontSize: '2rem', fontWeight: 'bold', margin: '.6rem 0' }));
    box.appendChild(el('div', '收款方：' + order.payee, { fontSize: '.85rem', color: '#666', marginBottom: '1rem' }));
    var pay = el('button', '支付', {
      display: 'block', width: '100%', padding: '.8rem', fontSize: '1.1rem', color: '#fff',
      background: '#07c160', border: '0', borderRadius: '6px'
    });
    pay.type = 'button';
    var cancel = el('button', '取消', {
      display: 'block', width: '100%', padding: '.6rem', marginTop: '.5rem', fontSize: '1rem',
      background: 'transparent', border: '0', color: '#576b95'
    });
    cancel.type = 'button';
    var note = el('div', '沙箱环境，不会产生真实扣款。', { fontSize: '.75rem', color: '#999', marginTop: '.6rem' });
    box.appendChild(pay);
    box.appendChild(cancel);
    box.appendChild(note);
    shade.appendChild(box);
    document.body.appendChild(shade);
    function close() { if (shade.parentNode) shade.parentNode.removeChild(shade); }
    pay.addEventListener('click', function () { pay.disabled = true; cancel.disabled = true; onPay(close); });
    cancel.addEventListener('click', function () { close(); onCancel(); });
  }

  function getBrandWCPayRequest(params, cb) {
    var fail = function (desc) { cb({ err_msg: 'get_brand_wcpay_request:fail', err_desc: desc }); };
    fetch(base + '/jsapi/order?package=' + encodeURIComponent(params['package'] || ''), { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (order) {
        if (!order.ok) { fail(order.message); return; }
        sheet(order, function (close) {
          fetch(base + '/jsapi/pay', {
            method: 'POST', credentials: 'same-origin',
            headers: { 'content-type': 'application/json' }, body: JSON.stringify(params)
          })
            .then(function (r) { return r.json(); })
            .then(function (a) { close(); cb({ err_msg: a.err_msg, err_desc: a.err_desc }); })
            .catch(function () { close(); fail('网络错误'); });
        }, function () { cb({ err_msg: 'get_brand_wcpay_request:cancel' }); });
      })
      .catch(function () { fail('网络错误'); });
  }

  window.WeixinJSBridge = {
    invoke: function (name, params, cb) {
      cb = cb || function () {};
      if (name === 'getBrandWCPayRequest') getBrandWCPayRequest(params || {}, cb);
      else cb({ err_msg: name + ':fail', err_desc: '沙箱只模拟 getBrandWCPayRequest' });
    }
  };
})();
