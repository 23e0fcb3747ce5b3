/* Keep a creating form's one-time key when the browser goes Back to it.
 *
 * Back often loads the form page again: the server draws it with a new key
 * and the browser puts back what was typed, so sending it again would
 * create a second time. The key sent is therefore kept with the history
 * entry (history.state) when the form is submitted, and put back into the
 * form when the entry is shown again: the repeat carries the first key and
 * lands on what it created (docs/pages.md, "Sent twice, created once"). A
 * new visit to the page is a new entry, with the server's new key. Without
 * JavaScript only a page the browser kept whole (its back/forward cache)
 * keeps its key. Loaded as a file (CSP: no inline script).
 */
(function () {
  "use strict";

  function state() {
    return history.state && typeof history.state === "object" ? history.state : {};
  }

  var saved = state().onceKeys || {};
  var inputs = document.querySelectorAll('input[type="hidden"][name="once"]');
  Array.prototype.forEach.call(inputs, function (input, index) {
    var form = input.form;
    if (!form) {
      return;
    }
    var id = (form.getAttribute("action") || "") + "#" + index;
    if (typeof saved[id] === "string") {
      input.value = saved[id];
    }
    form.addEventListener("submit", function () {
      var now = state();
      var keys = Object.assign({}, now.onceKeys || {});
      keys[id] = input.value;
      history.replaceState(Object.assign({}, now, { onceKeys: keys }), "");
    });
  });
})();
