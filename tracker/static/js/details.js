/* The dashboard's Details under its overview, after the first paint.
 *
 * The overview page carries no tables: a section with data-details (the
 * address of the Details page, same filters) and a link to it. This fetches
 * that page and puts its #dash-details part in place of the link: the
 * tables, charts and downloads, exactly as the Details page has them. If the
 * fetch fails, the link stays. Loaded as a file (CSP: no inline script).
 */
(function () {
  "use strict";

  var section = document.querySelector("[data-details]");
  if (!section || !window.fetch || !window.DOMParser) {
    return;
  }
  var link = section.querySelector(".details-link");
  section.setAttribute("aria-busy", "true");
  fetch(section.getAttribute("data-details"), { credentials: "same-origin", headers: { Accept: "text/html" } })
    .then(function (answer) {
      if (!answer.ok) {
        throw new Error("details: " + answer.status);
      }
      return answer.text();
    })
    .then(function (text) {
      var found = new DOMParser().parseFromString(text, "text/html").getElementById("dash-details");
      if (!found) {
        throw new Error("details: no #dash-details");
      }
      var part = document.importNode(found, true);
      if (link) {
        section.replaceChild(part, link);
      } else {
        section.appendChild(part);
      }
      section.setAttribute("data-details-loaded", "true");
    })
    .catch(function () {
      section.setAttribute("data-details-failed", "true");
    })
    .then(function () {
      section.removeAttribute("aria-busy");
    });
})();
