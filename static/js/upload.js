// The assignment page: a file over the size limit is refused here, with the server's own words,
// instead of being sent (a large upload took long, then the server refused it anyway).
(function () {
  "use strict";
  const form = document.getElementById("submit-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const out = form.querySelector(".upload-error");
  const max = Number(form.dataset.maxBytes);
  function fits() {
    const f = input.files && input.files[0];
    const tooLarge = Boolean(f && max && f.size > max);
    out.hidden = !tooLarge;
    out.textContent = tooLarge ? form.dataset.tooLarge : "";
    return !tooLarge;
  }
  input.addEventListener("change", fits);
  form.addEventListener("submit", (ev) => {
    if (!fits()) {
      ev.preventDefault();
      input.focus();
    }
  });
})();
