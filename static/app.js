// TechKraft Concert Tickets: the only script besides htmx. No inline scripts (the CSP forbids them).
// Server errors (5xx) and lost connections are not swapped into the page (see the htmx-config
// meta tag); this shows a banner instead, and hides it once a request succeeds again.
(function () {
  "use strict";
  function banner(text) {
    var el = document.getElementById("banner");
    if (!el) return;
    if (text) {
      el.textContent = text;
      el.hidden = false;
    } else {
      el.hidden = true;
    }
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 500) {
      banner("The ticket shop is busy or briefly unavailable (" + status + "). Nothing was booked or charged; please try again in a moment.");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    banner("Cannot reach the ticket shop. Check your connection; figures will refresh when it is back.");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) banner(null);
  });
})();
