// Ordering questions of "Check your understanding": the learner drags the items into order
// (HTML5 drag and drop) or moves one with its up/down buttons (keyboard). The form posts the
// items' hidden inputs, name="answer", in the order they stand (labs.views.quiz_answer).
(function () {
  "use strict";
  let dragged = null;

  function announce(item) {
    const form = item.closest("form");
    const live = form && form.querySelector(".order-live");
    if (!live) return;
    const items = Array.from(item.parentElement.children);
    live.textContent = live.dataset.moved + " " + (items.indexOf(item) + 1) + " / " + items.length;
  }

  document.addEventListener("click", (ev) => {
    const btn = ev.target.closest(".order-item [data-move]");
    if (!btn) return;
    const item = btn.closest(".order-item");
    const list = item.parentElement;
    if (btn.dataset.move === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (btn.dataset.move === "down" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    }
    btn.focus();  // the same button keeps the focus: press it again to move further
    announce(item);  // at the top or bottom already, it says so
  });

  document.addEventListener("dragstart", (ev) => {
    const item = ev.target.closest && ev.target.closest(".order-item");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", item.dataset.id);
  });

  // While dragging over a list, the dragged item moves to where it would land: before the item
  // under the pointer when the pointer is in that item's upper half, after it otherwise.
  document.addEventListener("dragover", (ev) => {
    if (!dragged) return;
    const list = ev.target.closest && ev.target.closest("[data-order]");
    if (!list || list !== dragged.parentElement) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "move";
    const over = ev.target.closest(".order-item");
    if (!over || over === dragged) return;
    const box = over.getBoundingClientRect();
    const after = ev.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextElementSibling : over);
  });

  document.addEventListener("drop", (ev) => {
    if (dragged && ev.target.closest && ev.target.closest("[data-order]")) ev.preventDefault();
  });

  document.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    announce(dragged);
    dragged = null;
  });
})();
