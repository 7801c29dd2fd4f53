// Pairing page: while an e-CPS request is pending, asks Trousseau (never Pro Santé Connect)
// how it stands. Once it is settled, says the outcome in the live region and brings the page
// up to date in place (the pairing, its expiry, the buttons) without reloading it, so that a
// screen reader hears the outcome. Without this script the page works by reloading it.
// The key enrolment page waits the same way for an e-CPS validation: its wait section names
// the status address (`data-status`) and the page to load once settled (`data-done`), where
// the key's own script takes over.
(function () {
  "use strict";
  var wait = document.getElementById("pairing-wait");
  var live = document.getElementById("pairing-live");
  if (!wait || !live) {
    return;
  }
  var request = wait.getAttribute("data-request");
  var status = wait.getAttribute("data-status") || "/pairing/status";
  var done = wait.getAttribute("data-done");
  var delay = 1500;

  // Replaces the page's body with the one Trousseau shows now; falls back to a reload.
  function refresh() {
    fetch("/pairing", { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("status " + r.status);
        }
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("pairing-body");
        var current = document.getElementById("pairing-body");
        if (!fresh || !current) {
          throw new Error("no pairing body");
        }
        var hadFocus = current.contains(document.activeElement);
        current.replaceWith(document.importNode(fresh, true));
        if (hadFocus) {
          // The focused control is gone: keep keyboard users next to the news.
          live.focus();
        }
      })
      .catch(function () {
        window.location.assign("/pairing?done=request");
      });
  }

  function settled(body) {
    if (done) {
      window.location.assign(done);
      return;
    }
    if (!body.message) {
      window.location.assign("/pairing?done=request");
      return;
    }
    live.className = body.state === "paired" ? "ok" : "alert";
    live.textContent = body.message;
    refresh();
  }

  function check() {
    fetch(status + "?request=" + encodeURIComponent(request), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        // "approved": PSC said yes and Trousseau is recording the pairing right now.
        if (body.state === "pending" || body.state === "approved") {
          setTimeout(check, delay);
          return;
        }
        settled(body);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000);
        setTimeout(check, delay);
      });
  }
  setTimeout(check, delay);
})();
