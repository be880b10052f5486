// Small progressive enhancements; every page works without them.
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
// Forms with data-confirm ask first (destructive or external actions).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// Escape closes open dialogs.
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") document.querySelectorAll("dialog[open]").forEach((d) => d.close());
});
