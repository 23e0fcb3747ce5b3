// The header's menus are <details> disclosures and work without this script.
// With it, Escape or a click elsewhere closes an open one, as people expect of a menu.
(() => {
  const menus = () => document.querySelectorAll(".topbar details[open]");
  const owns = (details, target) => {
    if (details.contains(target)) return true;
    const controlled = document.getElementById(details.querySelector("summary").getAttribute("aria-controls"));
    return Boolean(controlled && controlled.contains(target));
  };
  document.addEventListener("click", (event) => {
    for (const details of menus()) {
      if (!owns(details, event.target)) details.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = [...menus()];
    // Close the innermost first ("More" inside the phone's menu), and give its button the focus.
    const last = open.at(-1);
    if (!last) return;
    last.open = false;
    last.querySelector("summary").focus();
  });
})();
