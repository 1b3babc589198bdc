// Space toggles playback (handled by the server); keep the browser from also scrolling the page,
// except while the user types in a field or presses a focused control.
document.addEventListener("keydown", (event) => {
  if (event.code !== "Space" || event.ctrlKey || event.metaKey || event.altKey) return;
  const tag = (document.activeElement?.tagName || "").toLowerCase();
  if (["input", "textarea", "select", "button"].includes(tag) || document.activeElement?.isContentEditable) return;
  event.preventDefault();
});
