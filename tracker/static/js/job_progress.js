/* A long job's page (an import run, a replay): poll the JSON named by the
 * section's data-status-url every second and move its progress bar; reload
 * once the job has finished (its report appears). */
(function () {
  "use strict";
  var box = document.querySelector("section[data-status-url]");
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
