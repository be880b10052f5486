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
// A value-mapper table can be imported from a CSV file: its text goes into the table's textarea.
document.addEventListener("change", (event) => {
  const input = event.target.closest("input[data-csv-into]");
  if (!input || !input.files.length) return;
  input.files[0].text().then((text) => { document.getElementById(input.dataset.csvInto).value = text; });
});
// Clicking a property in the entity panel adds it to $select (or removes it).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-select-property]");
  if (!button) return;
  event.preventDefault();
  const input = document.getElementById("id_select");
  const names = input.value.split(",").map((s) => s.trim()).filter(Boolean);
  const name = button.dataset.selectProperty;
  const at = names.indexOf(name);
  if (at >= 0) names.splice(at, 1); else names.push(name);
  input.value = names.join(",");
  input.dispatchEvent(new Event("change", { bubbles: true }));
});
// The access token's life as a countdown (updates every second; the page works without it).
document.querySelectorAll("[data-countdown]").forEach((el) => {
  const end = Date.parse(el.dataset.countdown);
  if (Number.isNaN(end)) return;
  const tick = () => {
    const left = Math.round((end - Date.now()) / 1000);
    el.textContent = left > 0 ? `in ${Math.floor(left / 60)} min ${left % 60} s` : "expired (refreshed on next use)";
  };
  tick(); setInterval(tick, 1000);
});
// A message's dismiss button removes the message.
document.addEventListener("click", (event) => {
  const button = event.target.closest(".message .dismiss");
  if (button) button.parentElement.remove();
});
