// Small progressive enhancements; every page works without them.
document.documentElement.classList.add("js");

// The side navigation folds into a "Menu" button on narrow screens.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".nav-toggle");
  if (!toggle) return;
  const nav = toggle.closest(".sidenav");
  const open = nav.classList.toggle("open");
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
});

// Wide tables scroll inside their own box, so the page itself never gets wider than the screen.
function wrapTables(root) {
  (root.querySelectorAll ? root : document).querySelectorAll("table.table").forEach((table) => {
    if (table.parentElement.classList.contains("table-scroll")) return;
    const box = document.createElement("div");
    box.className = "table-scroll";
    table.replaceWith(box);
    box.appendChild(table);
  });
}
wrapTables(document);
document.addEventListener("htmx:load", (event) => wrapTables(event.target.parentElement || document));
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target], [data-copy]");
  if (!button) return;
  event.preventDefault();
  let text = button.dataset.copy;
  if (text === undefined) {
    const target = button.dataset.copyTarget === "next"
      ? button.closest("details, .copy-field").querySelector("pre, input")
      : document.querySelector(button.dataset.copyTarget);
    text = target ? (target.value !== undefined && target.tagName === "INPUT" ? target.value : target.textContent) : "";
  }
  navigator.clipboard?.writeText(text).then(() => {
    const old = button.textContent; button.textContent = "Copied"; setTimeout(() => (button.textContent = old), 1200);
  });
});
// Forms (or the button that submits them) with data-confirm ask first (destructive or external actions).
document.addEventListener("submit", (event) => {
  const message = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// A form with data-carry="#selector" sends that field's value along (the chain editor keeps the tester's input
// when a save fails, although the tester is a form of its own).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const source = form.dataset.carry && document.querySelector(form.dataset.carry);
  const carried = form.querySelector("[data-carried]");
  if (source && carried) carried.value = source.value;
});
// Escape closes open dialogs.
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") document.querySelectorAll("dialog[open]").forEach((d) => d.close());
});
