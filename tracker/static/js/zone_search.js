/* A search box for a long time zone select (templates/_zones.html).
 *
 * The select holds about 550 zones in groups (campus, common, all). Typing
 * in the box above it narrows the select to the zones whose label or name
 * contains every word typed ("new york", "tokyo", "上海", "+05:30"), keeps
 * the groups, and chooses the first match (one whose name matches, if
 * any), so typing a city and sending the form does what was meant. An empty value (e.g. "the mapping's time zone")
 * stays in the list. When nothing matches, the list shows every zone again
 * and says so. Enter in the box does not send the form. The server checks
 * the value whatever this does. Loaded as a file (CSP: no inline script).
 */
(function () {
  "use strict";

  function words(text) {
    return text.toLowerCase().replace(/[_/·()]/g, " ").split(/\s+/).filter(Boolean);
  }

  function setUp(box) {
    var select = document.getElementById(box.getAttribute("data-zone-search"));
    if (!select) {
      return;
    }
    var input = box.querySelector("input");
    var status = box.querySelector("[aria-live]");
    // Every option once, with its group (null for options outside a group) and what it is found by.
    var entries = [];
    var groups = [];
    Array.prototype.forEach.call(select.children, function (child) {
      if (child.tagName === "OPTGROUP") {
        groups.push(child);
        Array.prototype.forEach.call(child.children, function (option) {
          entries.push({
            option: option,
            group: child,
            name: words(option.value).join(" "),
            text: words(option.text + " " + option.value).join(" ")
          });
        });
      } else {
        entries.push({ option: child, group: null, name: null, text: null });
      }
    });

    function show(matching) {
      var chosen = select.value;
      groups.forEach(function (group) {
        while (group.firstChild) {
          group.removeChild(group.firstChild);
        }
      });
      while (select.firstChild) {
        select.removeChild(select.firstChild);
      }
      entries.forEach(function (entry) {
        if (entry.group === null) {
          select.appendChild(entry.option);
        } else if (matching(entry)) {
          if (!entry.group.parentNode) {
            select.appendChild(entry.group);
          }
          entry.group.appendChild(entry.option);
        }
      });
      return chosen;
    }

    function filter() {
      var wanted = words(input.value);
      if (!wanted.length) {
        var before = show(function () { return true; });
        select.value = before;
        status.textContent = "";
        return;
      }
      var found = entries.filter(function (entry) {
        return entry.text !== null && wanted.every(function (word) { return entry.text.indexOf(word) !== -1; });
      });
      if (!found.length) {
        var kept = show(function () { return true; });
        select.value = kept;
        status.textContent = status.getAttribute("data-none");
        return;
      }
      var previous = show(function (entry) { return found.indexOf(entry) !== -1; });
      var stillThere = found.some(function (entry) { return entry.option.value === previous; });
      // "auckland" is Antarctica/South_Pole's city too: a zone named so comes first.
      var named = found.filter(function (entry) {
        return wanted.every(function (word) { return entry.name.indexOf(word) !== -1; });
      });
      select.value = stillThere ? previous : (named[0] || found[0]).option.value;
      status.textContent = status.getAttribute("data-found").replace("{count}", String(found.length));
    }

    input.addEventListener("input", filter);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        select.focus();
      }
    });
    box.hidden = false;
    if (input.value) {
      filter();
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-zone-search]"), setUp);
})();
