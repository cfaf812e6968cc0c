// The waiting room's countdown to the opening. htmx refreshes the status region every few
// seconds (each time with the server's count of seconds to go); between refreshes this counts
// down each second, and at zero asks for the status at once. Without JavaScript the page
// refreshes itself and shows the server's count.
(function () {
  "use strict";
  function text(secs) {
    var h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h > 0) return h + " h " + two(m) + " min";
    if (m > 0) return m + " min " + two(s) + " s";
    return s + " s";
  }
  var asked = false;
  function tick() {
    var el = document.getElementById("countdown");
    if (!el) return;
    if (!el.hasAttribute("data-started")) {
      el.setAttribute("data-started", String(Date.now()));
      asked = false;
    }
    var total = parseInt(el.getAttribute("data-countdown-secs"), 10);
    var started = parseInt(el.getAttribute("data-started"), 10);
    if (isNaN(total) || isNaN(started)) return;
    var left = Math.max(0, total - Math.floor((Date.now() - started) / 1000));
    el.textContent = text(left);
    if (left === 0 && !asked && window.htmx) {
      asked = true;
      window.htmx.ajax("GET", "/queue", { target: "#queue-status", swap: "innerHTML" });
    }
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
