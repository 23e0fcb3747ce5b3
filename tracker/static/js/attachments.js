/* Say at once when a chosen file is too large.
 *
 * The server refuses a body over its limit (413) only once the browser has
 * sent it: on a phone that is a long wait, and on the filing form the typed
 * request would be left behind. A file input with data-max-bytes gets a
 * validation message (data-too-large, translated by the page) when a chosen
 * file is larger, so the form is not sent. The server checks all the same.
 * Loaded as a file (CSP: no inline script).
 */
(function () {
  "use strict";

  function check(input) {
    var max = Number(input.getAttribute("data-max-bytes"));
    var files = input.files || [];
    var tooLarge = false;
    for (var i = 0; i < files.length; i += 1) {
      if (max && files[i].size > max) {
        tooLarge = true;
      }
    }
    input.setCustomValidity(tooLarge ? input.getAttribute("data-too-large") : "");
    return !tooLarge;
  }

  // Forms marked novalidate (the filing form) would send anyway: stop them here.
  document.addEventListener("submit", function (event) {
    var inputs = event.target.querySelectorAll("input[type=file][data-max-bytes]");
    for (var i = 0; i < inputs.length; i += 1) {
      if (!check(inputs[i])) {
        event.preventDefault();
        inputs[i].reportValidity();
        return;
      }
    }
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.type === "file" && input.hasAttribute("data-max-bytes") && !check(input)) {
      input.reportValidity();
    }
  });
})();
