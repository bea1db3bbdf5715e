// While a dispatch is being prepared, refresh its progress every few seconds without
// reloading the page (the status region is announced politely); reload once it is done.
(function () {
  "use strict";
  var region = document.getElementById("preparation");
  if (!region || !window.fetch || !window.DOMParser) { return; }
  var seconds = parseInt(region.getAttribute("data-refresh-seconds"), 10) || 3;
  function tick() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { window.setTimeout(tick, seconds * 1000); return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("preparation");
        if (!fresh) { window.location.reload(); return; }
        ["preparation-count", "preparation-progress"].forEach(function (id) {
          var now = document.getElementById(id), next = fresh.querySelector("#" + id);
          if (now && next) { now.replaceWith(next); }
        });
        window.setTimeout(tick, seconds * 1000);
      })
      .catch(function () { window.setTimeout(tick, seconds * 1000); });
  }
  window.setTimeout(tick, seconds * 1000);
})();
