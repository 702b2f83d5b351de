// The lab page: xterm.js wired to the sandbox terminal websocket, click-to-run blocks, hints,
// and live step status. Binary frames are terminal bytes; text frames are JSON control messages.
(function () {
  "use strict";
  const el = document.getElementById("terminal");
  if (!el) return;
  const statusEl = document.getElementById("term-status");
  const RESET_MESSAGE_MS = 8000; // how long "Your sandbox was reset" stays in the bar
  const term = new Terminal({
    cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false,
    fontFamily: "ui-monospace, 'D2Coding', 'Noto Sans Mono CJK KR', Menlo, Consolas, monospace",
    theme: { background: "#0f1720", foreground: "#e6edf3" },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  // No keyboard trap (WCAG 2.1.2): Tab belongs to the shell (completion), so Esc then Tab leaves
  // the terminal, and Esc then Shift+Tab goes back to the lesson, as code editors in the page do.
  // The page says so under the terminal (#term-keys).
  // The Esc itself has reached the shell, where it starts a key sequence (Esc then l is
  // readline's "downcase word"): leaving sends Ctrl-G, readline's "abort", so the first key
  // typed after coming back is not swallowed.
  // Copy and paste as in other programs: Ctrl+V pastes (the browser's paste, which xterm.js
  // reads; Ctrl+Shift+V too), Ctrl+C copies when text is selected and interrupts otherwise.
  let escAt = 0;
  term.attachCustomKeyEventHandler((ev) => {
    if (ev.type !== "keydown" || ["Shift", "Control", "Alt", "Meta"].includes(ev.key)) return true;
    if (ev.key === "Tab" && Date.now() - escAt < 1500) {
      escAt = 0;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode("\x07"));
      return false;
    }
    escAt = ev.key === "Escape" ? Date.now() : 0;
    const key = ev.key.toLowerCase();
    if (ev.ctrlKey && !ev.altKey && !ev.metaKey && !ev.shiftKey && key === "v") return false;
    if (ev.ctrlKey && !ev.altKey && !ev.metaKey && key === "c" && term.hasSelection()) {
      copyText(term.getSelection());
      term.clearSelection();
      return false;
    }
    return true;
  });
  // navigator.clipboard needs a secure context (https or localhost); a classroom server on
  // plain http gets the older execCommand("copy") through a hidden text field.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).catch(() => {});
      return;
    }
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
    ta.remove();
    term.focus();
  }
  const keysHint = document.getElementById("term-keys");
  if (keysHint && term.textarea) term.textarea.setAttribute("aria-describedby", "term-keys");
  // xterm.js names its input field "Terminal input" in English whatever the page's language.
  if (term.textarea && el.dataset.inputLabel) term.textarea.setAttribute("aria-label", el.dataset.inputLabel);
  const encoder = new TextEncoder();
  let ws = null;
  let tmuxKeys = false;  // this terminal's tmux binds the wheel's keys (see the wheel, below)
  let retry = 0;

  let blinkBefore = null;  // the cursor's blinking before the terminal stopped (see setStatus)
  // In line for a place, the terminal itself shows the place and the estimate, large, instead
  // of an empty black box under a line of small text (QA). The status bar says the same to
  // screen readers, so this copy is hidden from them.
  const queueCard = document.createElement("div");
  queueCard.className = "queue-card";
  queueCard.hidden = true;
  queueCard.setAttribute("aria-hidden", "true");
  el.appendChild(queueCard);
  function setStatus(state, text) {
    statusEl.textContent = text;
    statusEl.dataset.state = state;
    queueCard.hidden = state !== "queued";
    if (state === "queued") queueCard.textContent = text;
    el.classList.toggle("queued", state === "queued");
    // A stopped or refused terminal looks it: dimmed, its cursor still (a blinking prompt
    // invited typing that went nowhere after the time limit stopped the sandbox). The shell
    // chooses the cursor's blinking otherwise (tmux sends a cursor style), so what it chose
    // comes back with the terminal.
    const stopped = state === "closed" || state === "error";
    el.classList.toggle("stopped", stopped);
    if (stopped && blinkBefore === null) {
      blinkBefore = term.options.cursorBlink;
      term.options.cursorBlink = false;
    } else if (!stopped && blinkBefore !== null) {
      term.options.cursorBlink = blinkBefore;
      blinkBefore = null;
    }
    // In line for a place: a reset would start the sandbox past the queue (the server refuses).
    // Only this hold is undone here; htmx disables the button during its own request.
    document.querySelectorAll("button.reset").forEach((b) => {
      if (state === "queued") {
        b.disabled = true;
        b.dataset.queueHold = "1";
      } else if (b.dataset.queueHold) {
        b.disabled = false;
        delete b.dataset.queueHold;
      }
    });
    // A stopped or refused terminal has no countdown: the next lease message shows it again.
    if ((state === "closed" || state === "error") && leaseEl) {
      leaseEnd = null;
      leaseEl.hidden = true;
    }
  }

  function sendResize() {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    }
  }

  // Status boxes go through lab-status.js, which keeps the newest observation's box.
  function applySteps(steps) {
    const applied = steps.filter((s) => window.bungeoLabStatus.apply(s.id, s.html)).map((s) => s.id);
    document.dispatchEvent(new CustomEvent("bungeo:steps", { detail: { applied: applied } }));
  }

  // Lease countdown: the server sends the seconds left; the page counts down on its own and
  // offers "Extend" inside the warning window.
  const leaseEl = document.getElementById("lease");
  let leaseEnd = null, warnBefore = 600, extensionsLeft = 0;
  function fmt(sec) {
    sec = Math.max(0, Math.floor(sec));
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
    return (h ? h + ":" : "") + mm + ":" + ss;
  }
  function renderLease() {
    if (!leaseEl || leaseEnd === null) return;
    const left = (leaseEnd - Date.now()) / 1000;
    const warn = left <= warnBefore;
    leaseEl.hidden = false;
    leaseEl.classList.toggle("warn", warn);
    leaseEl.querySelector(".countdown").textContent =
      (warn ? leaseEl.dataset.warn + " " : leaseEl.dataset.left + " ") + fmt(left);
    leaseEl.querySelector(".extend").hidden = !(warn && extensionsLeft > 0);
    // At the limit the button goes; these words say why instead of leaving the learner to guess.
    const noMore = leaseEl.querySelector(".no-more");
    if (noMore) noMore.hidden = !(warn && extensionsLeft <= 0);
  }
  function applyLease(msg) {
    leaseEnd = Date.now() + msg.expires_in * 1000;
    if (msg.warn_before !== undefined) warnBefore = msg.warn_before;
    extensionsLeft = msg.extensions_left;
    renderLease();
  }
  setInterval(renderLease, 1000);
  if (leaseEl) {
    leaseEl.querySelector(".extend").addEventListener("click", async () => {
      const token = (document.cookie.match(/(?:^|; )csrftoken=([^;]*)/) || [])[1] || "";
      const resp = await fetch(leaseEl.dataset.extendUrl, {
        method: "POST", headers: { "X-CSRFToken": decodeURIComponent(token) }, credentials: "same-origin",
      });
      let data;
      try {
        data = await resp.json();
      } catch (e) {  // not JSON: the login page (logged out meanwhile) or a server error page
        data = { ok: false, message: el.dataset.denied || "Not allowed" };
      }
      const note = leaseEl.querySelector(".lease-msg");
      note.textContent = data.message || "";
      setTimeout(() => { note.textContent = ""; }, 6000);
      if (data.ok) applyLease(data);
    });
  }

  let reconnectTimer = null;  // a reconnect waiting for its turn (see ws.onclose)
  // True while reconnecting a terminal that was attached when its connection dropped without a
  // word from the server (a server restart, a network blip): the server then attaches only to
  // a sandbox that still runs, and says so if it stopped meanwhile, so that starting it again
  // stays the learner's choice (see ws.onclose).
  let resume = false;
  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + el.dataset.ws + (resume ? "?resume=1" : ""));
    ws.binaryType = "arraybuffer";
    let opened = false;  // false when the server refused the connection itself (see onclose)
    ws.onopen = () => { opened = true; retry = 0; tmuxKeys = false; window.bungeoConnects = (window.bungeoConnects || 0) + 1; sendResize(); };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        term.write(new Uint8Array(ev.data));
        return;
      }
      const msg = JSON.parse(ev.data);
      if (msg.type === "status") {
        // The terminal that a reset ends says it ended: the page says "Resetting…" until the
        // next one is ready instead.
        if (resetting && (msg.state === "closed" || msg.state === "reconnecting")) return;
        if (msg.state === "reconnecting") resume = false;  // a reset: the sandbox starts again
        setStatus(msg.state, msg.text);
        // Focus the terminal unless the learner is somewhere else on the page already.
        if (msg.state === "ready") {
          if (resetting) {
            resetting = false;
            flushHeld();
          }
          sendResize();
          if (!document.activeElement || document.activeElement === document.body) term.focus();
        }
      } else if (msg.type === "steps") {
        applySteps(msg.steps);
      } else if (msg.type === "lease") {
        applyLease(msg);
      }
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401 && el.dataset.loggedOut) {
        showLoggedOut();
        return;
      }
      // Refused before it opened: a browser shows no reason (code 1006), and the server refuses
      // a connection without a login before accepting it. Reconnecting after the login session
      // ended (a server restart, a session that expired) then failed for ever behind
      // "Reconnecting…": ask the page itself whether the session still holds.
      if (!opened && el.dataset.loggedOut) {
        loggedIn().then((yes) => { if (yes) retryLater(); else showLoggedOut(); });
        return;
      }
      if (ev.code === 4401 || ev.code === 4403) {
        setStatus("error", el.dataset.denied || "Not allowed");
        return;
      }
      if (statusEl.dataset.state === "error" && !resetting) return;
      // Attached, and the server said nothing: it stopped or the network dropped. The sandbox
      // may stop meanwhile (its time ran out): then the reconnect must not start it again by
      // itself, or an open tab would start a fresh sandbox after every server restart.
      if (!resetting && (statusEl.dataset.state === "ready" || statusEl.dataset.state === "warn")) {
        resume = true;
      }
      // The server said why it ended (the sandbox was stopped for its time limit or idleness,
      // or the shell exited): starting it again is the learner's choice, never automatic, or an
      // open tab would hold a place in the classroom for ever.
      // A reset asked from this page ends the terminal too: that one reconnects by itself.
      if (statusEl.dataset.state === "closed" && !resetting) {
        if (restartBtn) restartBtn.hidden = false;
        return;
      }
      retryLater();
    };
  }

  // Logged out (another tab, or the session ended): say so, with the way back here.
  function showLoggedOut() {
    // The page stops looking logged in: its header's name and menu, the sandbox's countdown,
    // port preview and reset would only lead to the login page now (static/css/site.css).
    document.body.classList.add("logged-out");
    setStatus("error", el.dataset.loggedOut + " ");
    const a = document.createElement("a");
    a.href = el.dataset.loginUrl;
    a.textContent = el.dataset.login;
    statusEl.appendChild(a);
  }

  // Whether this page's login session still holds: the page itself, asked without following a
  // redirect (to the login page when it does not). A server that does not answer counts as yes:
  // it is down or restarting, and reconnecting is right.
  async function loggedIn() {
    try {
      const resp = await fetch(location.href, { method: "GET", redirect: "manual",
                                                credentials: "same-origin", cache: "no-store" });
      return resp.type !== "opaqueredirect" && resp.status !== 401 && resp.status !== 403;
    } catch (e) {
      return true;
    }
  }

  // Connect again after a growing wait (1.5 s more each time, at most 10 s), saying so.
  function retryLater() {
    retry += 1;
    const wait = Math.min(10, retry * 1.5);
    // The server may have said why (a reset from another tab): keep its words, with the wait.
    const why = statusEl.dataset.state === "reconnecting"
      ? statusEl.textContent.replace(/ \([^()]*\)$/, "") : (el.dataset.reconnecting || "Reconnecting…");
    const secs = (el.dataset.seconds || "{n} s").replace("{n}", wait.toFixed(0));
    setStatus("reconnecting", resetting ? resetText() : why + " (" + secs + ")");
    reconnectTimer = setTimeout(connect, wait * 1000);
  }

  // A reset, from its click until the next terminal is ready: what the learner types (or runs
  // with a button) meanwhile is held here, bounded, and goes to the new shell; sent to the
  // terminal that the reset ends, it was lost while the bar still said "Connected".
  let resetting = false;
  const held = [];
  let heldBytes = 0;
  const HELD_MAX = 65536;
  function sendInput(bytes) {
    if (resetting) {
      if (heldBytes + bytes.length <= HELD_MAX) {
        held.push(bytes);
        heldBytes += bytes.length;
      }
      return;
    }
    if (ws && ws.readyState === WebSocket.OPEN) {
      // Every input leaves tmux's history view first, in the same frame: that view is the
      // shell's, so another tab of the same lab may have opened it.
      if (tmuxKeys) {
        const framed = new Uint8Array(LEAVE_HISTORY.length + bytes.length);
        framed.set(LEAVE_HISTORY);
        framed.set(bytes, LEAVE_HISTORY.length);
        bytes = framed;
      }
      ws.send(bytes);
    } else if (statusEl.dataset.state === "closed" || statusEl.dataset.state === "error") {
      // Typed into a stopped terminal: nothing runs it, so point at what the bar says to do
      // (it was lost without a sign).
      statusEl.classList.remove("nudge");
      void statusEl.offsetWidth;  // restart the animation
      statusEl.classList.add("nudge");
      if (restartBtn && !restartBtn.hidden) restartBtn.classList.add("nudge");
    }
  }
  function flushHeld() {
    const out = held.splice(0);
    heldBytes = 0;
    out.forEach(sendInput);
  }
  const resetResult = document.getElementById("reset-result");
  function resetText() {
    return (resetResult && resetResult.dataset.resetting) || "Resetting…";
  }
  let resetClear = null;
  let beforeReset = null;  // the bar's state and text when the reset was asked
  document.body.addEventListener("htmx:beforeRequest", (ev) => {
    if (!ev.detail.elt || !ev.detail.elt.classList.contains("reset")) return;
    beforeReset = { state: statusEl.dataset.state, text: statusEl.textContent };
    resetting = true;
    if (restartBtn) restartBtn.hidden = true;  // one way back at a time (it stayed beside "Resetting…")
    // A reset takes a few seconds: the status line says so until it is done, and the button
    // stays disabled meanwhile (htmx). The same words beside the button too crowded the bar: the
    // status was cut ("Resetting your sandbo…") and the button pushed to a second row.
    setStatus("starting", resetText());
    if (resetResult) {
      clearTimeout(resetClear);
      resetResult.replaceChildren();
    }
  });
  // The success message goes away by itself; an error stays until the next try, and the
  // terminal, which the failed reset may have left running, gets what was held.
  document.body.addEventListener("htmx:afterSwap", (ev) => {
    if (!resetResult || ev.detail.target !== resetResult) return;
    clearTimeout(resetClear);
    const live = ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING);
    if (resetResult.querySelector(".reset-result.done")) {
      resetClear = setTimeout(() => resetResult.replaceChildren(), RESET_MESSAGE_MS);
      // A stopped sandbox (time limit, idleness) had no terminal for the reset to end, so none
      // reconnects by itself: connect to the sandbox the reset started.
      if (!live && !reconnectTimer) {
        if (restartBtn) restartBtn.hidden = true;
        retry = 0;
        connect();
      }
    } else if (resetting) {
      resetting = false;
      if (ws && ws.readyState === WebSocket.OPEN) {
        flushHeld();
      } else if (!live && !reconnectTimer && beforeReset) {
        // Refused or failed with no terminal: the bar says again what it said before, and what
        // was typed meanwhile has nowhere to go.
        held.splice(0);
        heldBytes = 0;
        setStatus(beforeReset.state, beforeReset.text);
        if (restartBtn && beforeReset.state === "closed") restartBtn.hidden = false;
      }
    }
  });
  const restartBtn = document.getElementById("term-restart");
  if (restartBtn) {
    restartBtn.addEventListener("click", () => {
      restartBtn.hidden = true;
      retry = 0;
      resume = false;
      connect();
      term.focus();
    });
  }

  // The mouse wheel scrolls back through tmux's history (copy mode), which holds every line: the
  // shell's output is on tmux's alternate screen, so xterm.js has no scrollback of its own to
  // show. Three private keys that the sandbox's tmux.conf binds: back, forward, and "leave the
  // history" before every input (sendInput), so that typing after scrolling goes to the shell.
  const WHEEL_BACK = encoder.encode("\x1b[9001~");
  const WHEEL_FORWARD = encoder.encode("\x1b[9002~");
  const LEAVE_HISTORY = encoder.encode("\x1b[9003~");
  const WHEEL_STEP_PX = 50;  // wheel travel (pixels) per step of three lines
  let wheelPx = 0;
  term.onTitleChange((title) => { tmuxKeys = title === "bungeo-keys-1"; });
  term.attachCustomWheelEventHandler((ev) => {
    // Not to a tmux that does not bind the keys (it sends no such title): the shell would get them.
    if (!tmuxKeys || term.buffer.active.type !== "alternate") return true;
    if (ev.ctrlKey || !ws || ws.readyState !== WebSocket.OPEN) return !ev.ctrlKey;
    wheelPx += ev.deltaMode === 0 ? ev.deltaY : ev.deltaY * WHEEL_STEP_PX / 3;
    while (Math.abs(wheelPx) >= WHEEL_STEP_PX) {
      const back = wheelPx < 0;
      wheelPx += back ? WHEEL_STEP_PX : -WHEEL_STEP_PX;
      ws.send(back ? WHEEL_BACK : WHEEL_FORWARD);
    }
    ev.preventDefault();
    return false;
  });
  term.onData((data) => sendInput(encoder.encode(data)));
  term.onResize(sendResize);
  // Refit whenever the terminal's box changes, not only with the window: the bar above it
  // grows when a warning shows (lease, disk full) and the bottom rows were cut off.
  if (window.ResizeObserver) new ResizeObserver(() => fit.fit()).observe(el);
  else window.addEventListener("resize", () => fit.fit());
  connect();

  // Click-to-run: the whole block goes to the terminal in one message, every line followed by
  // Enter (\r, what the Enter key sends), so each line runs (a here-document gets its closing
  // EOF) and the next click starts on a fresh prompt instead of joining the last line.
  function runKeys(block) {
    const lines = block.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
    return lines.map((line) => line + "\r").join("");
  }
  window.bungeoRunKeys = runKeys;  // for tests
  window.bungeoTerm = term;  // for tests
  document.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-run]");
    if (btn) {
      sendInput(encoder.encode(runKeys(btn.dataset.run)));
      term.focus();
      // On a narrow screen the terminal sits below the whole lesson: bring it (with its status
      // bar) into view, or the command's output is nowhere to be seen. Beside the lesson it is
      // in view already and nothing moves.
      const pane = el.closest(".terminal-pane") || el;
      const r = el.getBoundingClientRect();
      if (r.top >= window.innerHeight || r.bottom <= 0) pane.scrollIntoView({ block: "nearest" });
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

})();
