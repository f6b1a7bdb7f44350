// campuspay: WeChat JSAPI payment inside WeChat's browser. Hands the signed parameters on the
// page to WeChat's pay sheet (WeixinJSBridge.invoke('getBrandWCPayRequest')), then returns to
// the order page, which confirms the payment with WeChat: "ok" from the sheet is no proof of
// payment (WeChat says so), the notification or the query is.
(function () {
  'use strict';
  var box = document.getElementById('jsapi');
  if (!box) return;
  var d = box.dataset;
  var button = document.getElementById('jsapi-pay');
  var status = document.getElementById('jsapi-status');
  var params = {
    appId: d.appId, timeStamp: d.timeStamp, nonceStr: d.nonceStr,
    'package': d['package'], signType: d.signType, paySign: d.paySign
  };

  function done(res) {
    var msg = (res && res.err_msg) || '';
    if (msg === 'get_brand_wcpay_request:ok') {
      status.textContent = d.ok;
      window.location.replace(d.order);
      return;
    }
    button.disabled = false;
    if (msg === 'get_brand_wcpay_request:cancel') {
      status.textContent = d.cancel;
    } else {
      status.textContent = d.fail + (res && res.err_desc ? '：' + res.err_desc : '');
    }
  }

  function pay() {
    button.disabled = true;
    status.textContent = d.wait;
    window.WeixinJSBridge.invoke('getBrandWCPayRequest', params, done);
  }

  function ready() {
    button.addEventListener('click', pay);
    pay();
  }

  if (typeof window.WeixinJSBridge === 'undefined') {
    // WeChat injects the bridge after the page's scripts, and says so by this event.
    status.textContent = d.outside;
    document.addEventListener('WeixinJSBridgeReady', ready, false);
  } else {
    ready();
  }
})();
