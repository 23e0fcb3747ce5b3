/* Keep what was typed when the language is switched (issue 15.3).
 *
 * The header's switch (a form marked data-language-switch) posts to the
 * language endpoint, which answers with the same address: a new page, its
 * forms as the server renders them, so a half-filled form came back empty.
 * Just before the switch is sent, every field of every other form on the
 * page is written to this tab's sessionStorage; the next page restores them
 * if it is the same address, and forgets them in any case. Choices are put
 * back as they were; a text is put back where the user changed it or where
 * the new page has none (a form that came back with a mistake shows what
 * was sent; the switch asks for the page anew, empty), so a text the page
 * itself filled in, perhaps in the old language, gives way to the new
 * page's. Fields are found by their form (action and position) and name,
 * never by label, so the other language matches them.
 *
 * Never kept: passwords, hidden fields (CSRF tokens, one-time keys, record
 * versions: the new page's own are the valid ones), files, buttons,
 * disabled and read-only fields (nobody typed them; a token shown once is
 * one), one-time codes and any field marked data-not-kept. sessionStorage
 * belongs to one tab, so nothing reaches another tab or another person;
 * what is kept lives until the next page loads, five minutes at most.
 * Loaded in the head of every page, deferred: it restores before the
 * page's own scripts start, so they see the restored values. Without
 * script the switch works and the form comes back as the server renders it.
 */
(function () {
  "use strict";

  var KEY = "tracker.keep-input";
  var MAX_AGE_MS = 5 * 60 * 1000;
  var NOT_KEPT = { password: 1, hidden: 1, file: 1, submit: 1, button: 1, reset: 1, image: 1 };

  function address() {
    return window.location.pathname + window.location.search;
  }

  function isSwitch(form) {
    return form.hasAttribute("data-language-switch");
  }

  function kept(field) {
    var type = (field.type || "").toLowerCase();
    return Boolean(field.name) && !field.disabled && !field.readOnly && !NOT_KEPT[type] &&
      !field.hasAttribute("data-not-kept") && field.autocomplete !== "one-time-code";
  }

  // A form's key: its action and how many forms with that action come before it.
  function formKeys() {
    var seen = {};
    var keys = [];
    for (var i = 0; i < document.forms.length; i += 1) {
      var form = document.forms[i];
      var action = form.getAttribute("action") || "";
      seen[action] = (seen[action] || 0) + 1;
      keys.push(isSwitch(form) ? null : action + "#" + seen[action]);
    }
    return keys;
  }

  // Each kept field with its key in the form: name, then the value for a
  // check box or radio button, or its position among fields of that name.
  function fields(form) {
    var result = [];
    var counts = {};
    for (var i = 0; i < form.elements.length; i += 1) {
      var field = form.elements[i];
      if (!kept(field)) {
        continue;
      }
      var type = field.type.toLowerCase();
      var key;
      if (type === "checkbox" || type === "radio") {
        key = field.name + "=" + field.value;
      } else {
        counts[field.name] = (counts[field.name] || 0) + 1;
        key = field.name + "#" + counts[field.name];
      }
      result.push({ key: key, field: field, type: type });
    }
    return result;
  }

  // What a field holds now. Choices (selects, check boxes, radio buttons) are
  // ids and codes, the same in both languages: always kept. Text is kept
  // with whether the user changed it: a text the page came with may be in
  // the old language, and the new page's own must then win.
  function snapshot(item) {
    var field = item.field;
    if (item.type === "checkbox" || item.type === "radio") {
      return { checked: field.checked };
    }
    if (field.tagName === "SELECT") {
      var chosen = [];
      for (var i = 0; i < field.options.length; i += 1) {
        if (field.options[i].selected) {
          chosen.push(field.options[i].value);
        }
      }
      return { selected: chosen };
    }
    return { value: field.value, changed: field.value !== field.defaultValue };
  }

  function save() {
    var keys = formKeys();
    var forms = {};
    var any = false;
    for (var i = 0; i < document.forms.length; i += 1) {
      if (keys[i] === null) {
        continue;
      }
      var values = {};
      var items = fields(document.forms[i]);
      for (var j = 0; j < items.length; j += 1) {
        values[items[j].key] = snapshot(items[j]);
        any = true;
      }
      forms[keys[i]] = values;
    }
    if (!any) {
      return;
    }
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify({ address: address(), at: Date.now(), forms: forms }));
    } catch (error) {
      // Storage off or full: the switch goes on, as it would without script.
    }
  }

  function take() {
    var text = null;
    try {
      text = window.sessionStorage.getItem(KEY);
      window.sessionStorage.removeItem(KEY);
    } catch (error) {
      return null;
    }
    if (!text) {
      return null;
    }
    try {
      var kept = JSON.parse(text);
      var fresh = Date.now() - kept.at >= 0 && Date.now() - kept.at < MAX_AGE_MS;
      return kept.address === address() && fresh ? kept.forms : null;
    } catch (error) {
      return null;
    }
  }

  function apply(item, value) {
    var field = item.field;
    if ("checked" in value) {
      if (field.checked === Boolean(value.checked)) {
        return;
      }
      field.checked = Boolean(value.checked);
    } else if ("selected" in value) {
      var wanted = value.selected || [];
      var found = false;
      var differs = false;
      for (var i = 0; i < field.options.length; i += 1) {
        var want = wanted.indexOf(field.options[i].value) !== -1;
        found = found || want;
        differs = differs || want !== field.options[i].selected;
      }
      if (!found && wanted.length) {
        // Not offered (yet): a list the page fills itself (the place picker,
        // js/place_picker.js) takes the choice from here once it has it.
        field.setAttribute("data-kept-choice", wanted[0]);
      }
      if (!differs || (!found && wanted.length)) {
        return;  // as it is, or the choices changed meanwhile: leave the page's own
      }
      for (var j = 0; j < field.options.length; j += 1) {
        field.options[j].selected = wanted.indexOf(field.options[j].value) !== -1;
      }
    } else if (typeof value.value === "string") {
      // Typed by the user, or shown by the old page where the new one has nothing
      // (a form sent with a mistake comes back filled; the switch opens it empty).
      if (value.value === field.value || !(value.changed || field.value === "")) {
        return;
      }
      field.value = value.value;
    } else {
      return;
    }
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function restore() {
    var forms = take();
    if (!forms) {
      return;
    }
    var keys = formKeys();
    for (var i = 0; i < document.forms.length; i += 1) {
      var values = keys[i] !== null && forms[keys[i]];
      if (!values) {
        continue;
      }
      var items = fields(document.forms[i]);
      for (var j = 0; j < items.length; j += 1) {
        if (Object.prototype.hasOwnProperty.call(values, items[j].key)) {
          apply(items[j], values[items[j].key]);
        }
      }
    }
  }

  document.addEventListener("submit", function (event) {
    if (event.target && event.target.hasAttribute && isSwitch(event.target)) {
      save();
    }
  });

  restore();
})();
