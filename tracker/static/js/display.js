// The wall display: poll the figures (JSON) and update the text in place.
// No reload, no rebuilt nodes: a figure's text changes only when its value
// does, so the screen never flickers. A revoked or unknown link (410, 404,
// 403) or an ended session (401) stops the screen with the server's message.
(function () {
  "use strict";
  var root = document.querySelector("[data-display]");
  if (!root) { return; }
  var url = root.getAttribute("data-url");
  var seconds = parseFloat(root.getAttribute("data-interval")) || 30;
  var lang = root.getAttribute("data-lang") || "en";
  var timer = null;
  var lastGood = new Date();
  var STOP = { 401: true, 403: true, 404: true, 410: true };

  function text(el, value) {
    if (el && el.textContent !== value) { el.textContent = value; }
  }
  function all(selector) { return document.querySelectorAll(selector); }
  function one(selector) { return document.querySelector(selector); }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, name) { return values[name]; });
  }
  function count(value) { return value === null || value === undefined ? "–" : value.toLocaleString("en-US"); }
  function percent(value) { return value === null || value === undefined ? "–" : value.toFixed(1) + "%"; }
  function signed(value, digits) {
    if (value === null || value === undefined) { return "–"; }
    var shown = Math.abs(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    return value > 0 ? "+" + shown : value < 0 ? "−" + shown : "±0";
  }
  function keptCode(kept) { return kept === true ? "yes" : kept === false ? "no" : ""; }
  function keptMark(kept, none) { return kept === true ? "✓" : kept === false ? "✗" : none; }
  var zone = root.getAttribute("data-zone") || undefined;
  // Campus time, as the server writes it: "Updated" is when the figures were counted.
  function clock(date) {
    return date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
                                           timeZone: zone });
  }

  function minutes(date) {
    return date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone });
  }

  function apply(data) {
    var k = data.kpis;
    ["received", "resolved", "backlog", "breached_now", "at_risk_now"].forEach(function (name) {
      text(one('[data-kpi="' + name + '"]'), count(k[name].value));
    });
    text(one('[data-kpi="satisfaction"]'), k.satisfaction.value === null ? "–" : k.satisfaction.value.toFixed(2));
    text(one('[data-kpi-change="received"]'), signed(k.received.change, 0));
    text(one('[data-kpi-change="resolved"]'), signed(k.resolved.change, 0));
    text(one('[data-kpi-change="satisfaction"]'), signed(k.satisfaction.change, 2));
    text(one("[data-kpi-rated]"), count(k.satisfaction.rated));
    var points = root.getAttribute("data-points");
    data.targets.forEach(function (t) {
      text(one('[data-target="' + t.target + '"]'), percent(t.met_percent));
      text(one('[data-target-change="' + t.target + '"]'), fill(points, { n: signed(t.change, 1) }));
      text(one('[data-target-kept="' + t.target + '"]'), String(t.centres_kept));
      text(one('[data-target-measured="' + t.target + '"]'), String(t.centres_measured));
      var mark = one('[data-target-mark="' + t.target + '"]');
      if (mark) {
        mark.setAttribute("data-kept", keptCode(t.kept));
        text(mark, keptMark(t.kept, "·"));
      }
    });
    data.centres.forEach(function (c) {
      var row = one('tr[data-centre="' + c.code + '"]');
      if (!row) { return; }
      ["received", "backlog", "breached_now", "at_risk_now"].forEach(function (name) {
        text(row.querySelector('[data-cell="' + name + '"]'), count(c[name]));
      });
      Object.keys(c.targets).forEach(function (target) {
        var cell = row.querySelector('[data-met="' + target + '"]');
        if (!cell) { return; }
        var value = c.targets[target];
        var kept = value ? value.kept : null;
        cell.setAttribute("data-kept", keptCode(kept));
        if (cell.firstChild && cell.firstChild.nodeType === 3) {
          text(cell.firstChild, percent(value ? value.met_percent : null));
        }
        text(cell.querySelector(".mark"), keptMark(kept, ""));
      });
    });
    var top = 1;
    data.trend.forEach(function (p) { top = Math.max(top, p.received, p.resolved); });
    var label = root.getAttribute("data-trend-label");
    data.trend.forEach(function (p, i) {
      var group = one('g[data-day="' + i + '"]');
      if (!group) { return; }
      [["received", ".bar-received"], ["resolved", ".bar-resolved"]].forEach(function (pair) {
        var bar = group.querySelector(pair[1]);
        var height = String(190 * p[pair[0]] / top);
        var y = String(200 - 190 * p[pair[0]] / top);
        if (bar.getAttribute("height") !== height) { bar.setAttribute("height", height); }
        if (bar.getAttribute("y") !== y) { bar.setAttribute("y", y); }
      });
      text(group.querySelector("title"), fill(label, { day: p.day, received: p.received, resolved: p.resolved }));
    });
    var today = data.trend[data.trend.length - 1];
    if (today) {
      text(one('[data-trend-today="received"]'), count(today.received));
      text(one('[data-trend-today="resolved"]'), count(today.resolved));
    }
    lastGood = new Date(data.as_of);
    var updated = one('[data-field="updated"]');
    updated.classList.remove("is-stale");
    // The backlog, breached and at-risk counts are kept once a minute: say when they were counted.
    var counted = data.now_counted_at
      ? fill(root.getAttribute("data-counted"), { time: minutes(new Date(data.now_counted_at)) })
      : root.getAttribute("data-counted-live");
    text(updated, fill(root.getAttribute("data-updated"), { time: clock(lastGood) }) + " · " + counted);
  }

  function stale() {
    var updated = one('[data-field="updated"]');
    updated.classList.add("is-stale");
    text(updated, fill(root.getAttribute("data-stale"), { time: clock(lastGood) }));
  }

  function stop(message) {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    root.classList.add("is-stopped");
    var box = one("[data-stopped]");
    text(box.querySelector("[data-stopped-message]"), message);
    box.hidden = false;
    stopped = true;
  }

  var stopped = false;
  function schedule() {
    if (!stopped) { timer = window.setTimeout(poll, seconds * 1000); }
  }

  function poll() {
    timer = null;
    window.fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (STOP[response.status]) {
          var fallback = root.getAttribute("data-gone");
          return response.json().then(function (body) { stop(body.message || fallback); }, function () { stop(fallback); });
        }
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json().then(apply);
      })
      .catch(stale)
      .then(schedule);
  }

  schedule();
}());
