// The lab page: xterm.js wired to the sandbox terminal websocket, click-to-run blocks, hints,
// and live step status. Binary frames are terminal bytes; text frames are JSON control messages.
(function () {
  "use strict";
  const el = document.getElementById("terminal");
  if (!el) return;
  const statusEl = document.getElementById("term-status");
  const term = new Terminal({
    cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false,
    fontFamily: "ui-monospace, 'D2Coding', 'Noto Sans Mono CJK KR', Menlo, Consolas, monospace",
    theme: { background: "#0f1720", foreground: "#e6edf3" },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  const encoder = new TextEncoder();
  let ws = null;
  let retry = 0;

  function setStatus(state, text) {
    statusEl.textContent = text;
    statusEl.dataset.state = state;
  }

  function sendResize() {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    }
  }

  function applySteps(steps) {
    let done = 0;
    for (const s of steps) {
      const li = document.getElementById("step-" + s.id);
      if (!li) continue;
      const box = document.getElementById("status-" + s.id);
      if (box) {
        box.outerHTML = s.html;
        if (window.htmx) htmx.process(document.getElementById("status-" + s.id));
      }
      li.classList.toggle("done", s.completed);
      if (s.completed) done += 1;
    }
    const counter = document.getElementById("done-count");
    if (counter) counter.textContent = String(done);
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + el.dataset.ws);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { retry = 0; sendResize(); };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        term.write(new Uint8Array(ev.data));
        return;
      }
      const msg = JSON.parse(ev.data);
      if (msg.type === "status") {
        setStatus(msg.state, msg.text);
        if (msg.state === "ready") { sendResize(); term.focus(); }
      } else if (msg.type === "steps") {
        applySteps(msg.steps);
      }
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401 || ev.code === 4403) {
        setStatus("error", el.dataset.denied || "Not allowed");
        return;
      }
      if (statusEl.dataset.state === "error") return;
      retry += 1;
      const wait = Math.min(10, retry * 1.5);
      setStatus("reconnecting", (el.dataset.reconnecting || "Reconnecting…") + " (" + wait.toFixed(0) + "s)");
      setTimeout(connect, wait * 1000);
    };
  }

  term.onData((data) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
  });
  term.onResize(sendResize);
  window.addEventListener("resize", () => fit.fit());
  connect();

  // Click-to-run: the command is typed into the terminal, never executed for the learner.
  document.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-run]");
    if (btn) {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(btn.dataset.run));
      term.focus();
      return;
    }
    const hintBtn = ev.target.closest("[data-next-hint]");
    if (hintBtn) {
      const box = hintBtn.closest("[data-hints]");
      const next = box.querySelector(".hint[hidden]");
      if (next) next.hidden = false;
      if (!box.querySelector(".hint[hidden]")) hintBtn.hidden = true;
    }
  });

  // The "Check" button swaps the status box; keep the step's tick in sync with it.
  document.body.addEventListener("htmx:afterSwap", (ev) => {
    const li = ev.target.closest ? ev.target.closest(".step") : null;
    const box = li && li.querySelector(".step-status .badge");
    if (li && box) li.classList.toggle("done", box.classList.contains("ok"));
  });
})();
