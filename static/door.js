// The door's camera: where the browser has BarcodeDetector, a "Scan with the camera" button
// reads QR codes and submits the same form a person types into. Without it (or without
// JavaScript) the form works as it is.
(function () {
  "use strict";
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var scanner = document.getElementById("scanner");
  var start = document.getElementById("scan-start");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var form = document.getElementById("door-form");
  var input = document.getElementById("code");
  if (!scanner || !start || !video || !form || !input) return;
  scanner.hidden = false;
  start.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        start.hidden = true;
        status.textContent = "Point the camera at a ticket's QR code.";
        return video.play().then(function () {
          var look = function () {
            detector
              .detect(video)
              .then(function (codes) {
                var found = codes.find(function (c) { return /^TIX-/i.test(c.rawValue); });
                if (found) {
                  input.value = found.rawValue;
                  status.textContent = "Read " + found.rawValue + ": checking…";
                  stream.getTracks().forEach(function (t) { t.stop(); });
                  form.submit();
                } else {
                  window.setTimeout(look, 200);
                }
              })
              .catch(function () { window.setTimeout(look, 500); });
          };
          look();
        });
      })
      .catch(function (e) {
        status.textContent = "The camera is not available (" + e.name + "). Type the code instead.";
      });
  });
})();
