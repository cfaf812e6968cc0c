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

// The booking form on `/`: the tier cards, the quantity stepper, and the total. The form works
// without any of this (the server checks everything again); with it, the button names the order
// and its total ("Book 2 × VIP · $200.00") as the visitor chooses, and a quantity above the
// seats left is refused in place, before anything is sent or reserved. Seats left are read from
// the cards, which the htmx poll keeps fresh; nothing here ever changes what was typed.
(function () {
  "use strict";
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

  function form() {
    return document.getElementById("booking-form");
  }

  function seatsLeft(tierId) {
    var status = document.getElementById("tier-" + tierId);
    var seats = status && status.querySelector("[data-available]");
    return seats ? parseInt(seats.getAttribute("data-available"), 10) : NaN;
  }

  function quantityOf(input) {
    var text = input.value.trim();
    return /^\d{1,4}$/.test(text) ? parseInt(text, 10) : NaN;
  }

  function update() {
    var f = form();
    if (!f) return;
    var quantityInput = f.querySelector("#quantity");
    var button = f.querySelector("#book");
    var total = f.querySelector("#order-total");
    var check = f.querySelector("#quantity-check");
    if (!quantityInput || !button || !total || !check) return;
    var max = parseInt(f.getAttribute("data-max-quantity"), 10) || 10;

    // A tier the poll marked sold out was disabled out of band; one that got seats back (the
    // box office can return seats) is enabled again.
    f.querySelectorAll("input.tier-radio").forEach(function (radio) {
      var left = seatsLeft(radio.value);
      if (isNaN(left)) return;
      if (left <= 0) {
        radio.checked = false;
        radio.disabled = true;
      } else if (radio.disabled) {
        radio.disabled = false;
      }
    });

    var chosen = f.querySelector("input.tier-radio:checked");
    var quantity = quantityOf(quantityInput);
    var problem = "";
    if (chosen && !isNaN(quantity)) {
      var left = seatsLeft(chosen.value);
      var name = chosen.getAttribute("data-name");
      if (!isNaN(left) && quantity > left && quantity <= max) {
        problem = "Only " + left + " left for " + name + ". Choose " + left + (left === 1 ? " ticket" : " tickets") + " or fewer.";
      }
    }
    quantityInput.setCustomValidity(problem);
    if (check.textContent !== problem) check.textContent = problem;
    check.hidden = !problem;
    if (problem) {
      quantityInput.setAttribute("aria-invalid", "true");
      quantityInput.setAttribute("data-js-invalid", "");
      addDescription(quantityInput, "quantity-check");
    } else if (quantityInput.hasAttribute("data-js-invalid")) {
      quantityInput.removeAttribute("aria-invalid");
      quantityInput.removeAttribute("data-js-invalid");
    }

    var ordered = chosen && !isNaN(quantity) && quantity >= 1 && quantity <= max;
    if (ordered) {
      var cents = parseInt(chosen.getAttribute("data-price-cents"), 10);
      var label = chosen.getAttribute("data-name");
      setText(button, "Book " + quantity + " × " + label + " · " + money.format((cents * quantity) / 100));
      setText(total, "Total " + money.format((cents * quantity) / 100) + ": " + quantity + " × " + label + " at " + money.format(cents / 100));
    } else {
      setText(button, "Book tickets");
      setText(total, chosen ? "Choose from 1 to " + max + " tickets to see the total." : "Choose a tier to see the total.");
    }
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function addDescription(el, id) {
    var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (ids.indexOf(id) < 0) {
      ids.push(id);
      el.setAttribute("aria-describedby", ids.join(" "));
    }
  }

  function init() {
    var f = form();
    if (!f) return;
    f.querySelectorAll(".step-button[hidden], #availability[hidden]").forEach(function (el) { el.hidden = false; });
    update();
  }

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#booking-form")) update();
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#booking-form")) update();
  });
  document.addEventListener("click", function (event) {
    var step = event.target.closest && event.target.closest(".step-button");
    if (!step) return;
    var input = document.getElementById(step.getAttribute("aria-controls"));
    if (!input) return;
    var max = parseInt(input.getAttribute("max"), 10) || 10;
    var current = quantityOf(input);
    var next = (isNaN(current) ? 1 : current) + parseInt(step.getAttribute("data-step"), 10);
    input.value = String(Math.min(max, Math.max(1, next)));
    update();
  });
  // New content from htmx: a booking answer replaces the form; a poll refreshes the cards.
  document.addEventListener("htmx:load", init);
  document.addEventListener("htmx:oobAfterSwap", update);
  document.addEventListener("htmx:afterSettle", update);
  // After a booking answer, move focus to its message so it is read out and seen.
  document.addEventListener("htmx:afterSettle", function (event) {
    var config = event.detail && event.detail.requestConfig;
    if (!config || config.verb !== "post") return;
    var notice = document.querySelector("#booking-form .notice");
    if (notice) notice.focus();
  });
  init();
})();
