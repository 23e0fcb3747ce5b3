/* The request form's place picker (templates/tickets/file.html).
 *
 * A catalogue may hold thousands of places, so the form lists the buildings
 * and, for the one chosen, its places. Without JavaScript the "Show its
 * places" button sends the form back with them; with it, choosing a
 * building fetches its places (/tickets/places?area=<id>, JSON) into the
 * "Where?" list and the button hides. The server checks the place by id
 * whatever this does. Loaded as a file (CSP: no inline script).
 */
(function () {
  "use strict";

  function fill(select, first, places) {
    while (select.options.length) {
      select.remove(0);
    }
    select.add(new Option(first, ""));
    places.forEach(function (place) {
      select.add(new Option(place.label, String(place.id)));
    });
  }

  function setUp(box) {
    var area = box.querySelector("select[name=area_id]");
    var place = box.querySelector("select[name=location_id]");
    var button = box.querySelector("[data-place-pick]");
    if (!area || !place || !window.fetch) {
      return;
    }
    if (button) {
      button.hidden = true;
    }
    var asked = 0;

    function load() {
      var ticket = ++asked;
      if (!area.value) {
        fill(place, box.getAttribute("data-first"), []);
        return;
      }
      var url = box.getAttribute("data-places-url") + "?area=" + encodeURIComponent(area.value);
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (answer) {
          if (!answer.ok) {
            throw new Error(String(answer.status));
          }
          return answer.json();
        })
        .then(function (data) {
          if (ticket === asked) {
            fill(place, box.getAttribute("data-choose"), data.places || []);
            // A choice kept over a language switch (js/keep_input.js), or the
            // one made before the user went Back to this page, now offered.
            var kept = place.getAttribute("data-kept-choice");
            if (kept === null && cameBack()) {
              kept = remembered();
            }
            if (kept !== null) {
              place.removeAttribute("data-kept-choice");
              place.value = kept;
              if (place.value !== kept) {
                place.value = "";
              }
            }
          }
        })
        .catch(function () {
          // The server is out of reach: the button sends the form back instead.
          if (button) {
            button.hidden = false;
          }
        });
    }

    area.addEventListener("change", load);
    place.addEventListener("change", function () {
      remember(place.value);
    });
    // A building put back by js/keep_input.js before this ran: its places were not asked for.
    if (area.value && place.options.length <= 1) {
      load();
    }
    // Back to this page: the browser puts the building back after this ran,
    // and cannot put back a place its list did not hold yet.
    window.addEventListener("pageshow", function () {
      if (area.value && place.options.length <= 1) {
        load();
      }
    });
  }

  var KEY = "place-picker:" + window.location.pathname;

  function cameBack() {
    var entries = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation") : [];
    return entries.length > 0 && entries[0].type === "back_forward";
  }

  function remember(value) {
    try {
      window.sessionStorage.setItem(KEY, value);
    } catch (error) {
      // Storage switched off: Back keeps the building only.
    }
  }

  function remembered() {
    try {
      return window.sessionStorage.getItem(KEY);
    } catch (error) {
      return null;
    }
  }

  document.querySelectorAll("[data-place-picker]").forEach(setUp);
}());
