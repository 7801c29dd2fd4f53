// Pairing page: while an e-CPS request is pending, asks Trousseau (never Pro Santé Connect)
// how it stands, says it in the live region, and reloads the page once it is settled. Without
// this script the page works by reloading it.
(function () {
  "use strict";
  var wait = document.getElementById("pairing-wait");
  if (!wait) {
    return;
  }
  var request = wait.getAttribute("data-request");
  var live = document.getElementById("pairing-live");
  var delay = 1500;
  function check() {
    fetch("/pairing/status?request=" + encodeURIComponent(request), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.state === "pending") {
          setTimeout(check, delay);
          return;
        }
        if (body.message && live) {
          live.textContent = body.message;
        }
        window.location.assign("/pairing?done=request");
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000);
        setTimeout(check, delay);
      });
  }
  setTimeout(check, delay);
})();
