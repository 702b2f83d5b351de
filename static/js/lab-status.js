// Live step status on the lab page. A step's status box is replaced both by the websocket's
// check runs and by the answer to its "Check" button, and they can arrive in another order than
// the observations behind them were made: a slow "Check" answer could put back a stale
// "Not done yet" over a fresh "Done". Each box carries data-observed (when the server began the
// observation, ms since the epoch) and data-completed ("1"/"0"). A box is replaced only by one
// from an observation at least as new, and a completed step never turns back to not completed
// (completion is stored for good: labs.services.steps_record).
(function () {
  "use strict";

  // Whether the status box `incoming` may replace `current` (both .step-status elements).
  function fresher(incoming, current) {
    if (!current) return true;
    if (current.dataset.completed === "1" && incoming.dataset.completed !== "1") return false;
    return Number(incoming.dataset.observed || 0) >= Number(current.dataset.observed || 0);
  }

  function parse(html) {
    const t = document.createElement("template");
    t.innerHTML = String(html || "").trim();
    const el = t.content.firstElementChild;
    return el && el.classList.contains("step-status") ? el : null;
  }

  // The step's tick and the page's "N / M steps done" follow the status boxes. Skipped steps
  // (li.skipped: a feature the classroom's sandboxes lack) are not counted (labs.selectors).
  function sync() {
    for (const li of document.querySelectorAll(".steps > .step")) {
      const box = li.querySelector(".step-status");
      if (box) li.classList.toggle("done", box.dataset.completed === "1");
    }
    const counter = document.getElementById("done-count");
    const done = document.querySelectorAll(".steps > .step.done:not(.skipped)");
    if (counter) counter.textContent = String(done.length);
  }

  // Put the status fragment `html` of step `stepId` in place unless it is older than the one
  // shown. Returns true when it was put in place.
  function apply(stepId, html) {
    const box = document.getElementById("status-" + stepId);
    const incoming = parse(html);
    if (!box || !incoming || !fresher(incoming, box)) return false;
    box.replaceWith(incoming);
    if (window.htmx) window.htmx.process(incoming);
    sync();
    return true;
  }

  // The "Check" button's answer goes through the same rule (htmx swaps it otherwise).
  document.addEventListener("htmx:beforeSwap", (ev) => {
    const target = ev.detail.target;
    if (!target || !target.classList || !target.classList.contains("step-status")) return;
    const incoming = parse(ev.detail.serverResponse);
    if (incoming && !fresher(incoming, target)) ev.detail.shouldSwap = false;
  });
  document.addEventListener("htmx:afterSwap", sync);

  window.bungeoLabStatus = { apply: apply, fresher: fresher };
})();
