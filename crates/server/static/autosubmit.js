// Sends the browser on to the payment provider: posts UnionPay's signed form, or opens the
// provider's page. Without scripts the page's button or link does the same.
(function () {
  'use strict';
  var form = document.getElementById('autosubmit');
  if (form) {
    form.submit();
    return;
  }
  var link = document.getElementById('autogo');
  if (link) window.location.replace(link.href);
})();
