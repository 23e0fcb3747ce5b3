/* Live SLA countdowns on work queues.
 *
 * The server sends, per ticket, the due instant of its most urgent running
 * target (data-due, ISO), when it turns at risk (data-at-risk) and its state
 * (data-state); the container carries the server's clock (data-now) and the
 * translated words. This only redraws: every second it shows the wall-clock
 * time to the deadline ("due in 1:04:09"), "late by ..." once past, and
 * moves the badge from running to at risk to breached. Without JavaScript
 * the page still shows the due time. Loaded as a file (CSP: no inline script).
 */
(function () {
  "use strict";

  // In common fonts (DejaVu, Noto): a clock face, a warning sign, a heavy cross.
  var ICONS = { running: "\u25F7", at_risk: "\u26A0", breached: "\u2716" };
  var loadedAt = Date.now();
  var items = [];

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function span(ms, root) {
    var total = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(total / 86400);
    var rest = total % 86400;
    var clock = Math.floor(rest / 3600) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    return days ? root.dataset.days.replace("{days}", days) + " " + clock : clock;
  }

  function stateAt(item, now) {
    if (item.serverState === "breached" || now > item.due) return "breached";
    if (item.serverState === "at_risk" || (item.atRisk !== null && now >= item.atRisk)) return "at_risk";
    return "running";
  }

  function draw(item) {
    var now = Date.now() + item.skew;
    var state = stateAt(item, now);
    var words = state === "breached" ? item.root.dataset.lateBy : item.root.dataset.dueIn;
    item.text.textContent = ICONS[state] + " " + words.replace("{time}", span(item.due - now, item.root));
    if (state !== item.shown) {
      item.text.className = "countdown countdown-" + state;
      item.el.dataset.state = state;
      if (item.badge && state !== "running") {
        item.badge.className = "sla-badge sla-badge-" + state;
        item.badge.textContent = state === "breached" ? item.root.dataset.labelBreached : item.root.dataset.labelAtRisk;
      }
      item.shown = state;
    }
    item.text.hidden = false;
  }

  function tick() {
    items.forEach(draw);
  }

  document.querySelectorAll("[data-countdown]").forEach(function (root) {
    var serverNow = Date.parse(root.dataset.now);
    // The device's clock may be wrong: count from the server's.
    var skew = isNaN(serverNow) ? 0 : serverNow - loadedAt;
    root.querySelectorAll(".sla-live[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      var text = el.querySelector(".countdown");
      if (isNaN(due) || !text) return;
      items.push({
        el: el,
        root: root,
        skew: skew,
        due: due,
        atRisk: el.dataset.atRisk ? Date.parse(el.dataset.atRisk) : null,
        serverState: el.dataset.state,
        badge: el.querySelector(".sla-badge"),
        text: text,
        shown: null,
      });
    });
  });
  if (items.length) {
    tick();
    window.setInterval(tick, 1000);
  }
})();
