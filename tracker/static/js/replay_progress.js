/* A replay's page: poll its JSON every second and move the progress bar;
 * reload once the replay has finished (the comparison appears). */
(function () {
  "use strict";
  var box = document.getElementById("replay-progress");
  if (!box || box.dataset.finished === "true") { return; }
  var bar = box.querySelector("progress");
  function show(status) {
    bar.value = status.percent;
    bar.textContent = status.percent + " %";
    box.querySelectorAll("[data-field]").forEach(function (node) {
      var value = status[node.dataset.field];
      if (value !== undefined && value !== null) { node.textContent = value; }
    });
  }
  function poll() {
    fetch(box.dataset.statusUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) { window.setTimeout(poll, 5000); return; }
        show(status);
        if (status.is_finished) { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
