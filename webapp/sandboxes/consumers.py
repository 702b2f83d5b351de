"""The terminal: xterm.js in the page <-> this websocket consumer <-> a tty in the sandbox.

Binary frames carry terminal bytes both ways; small JSON text frames carry control messages
(client: ``{"type": "resize", "cols", "rows"}``; server: ``{"type": "status", "state", "text"}``).
The shell runs in tmux inside the sandbox, so a reload or a dropped connection reattaches to the
same shell with its history.

Backpressure: the pump awaits each websocket send before reading more from the sandbox, so when
the browser falls behind, the tty stops being read and the program writing to it blocks; server
memory stays bounded by one read (64 KiB) per session.
"""
from __future__ import annotations

import asyncio
import json
import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from .backend import Sandbox, SandboxError, Terminal, get_backend, learner_owner
from .i18n import language_from_scope

log = logging.getLogger(__name__)

READ_CHUNK = 65536
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class TerminalConsumer(AsyncWebsocketConsumer):
    """A learner's terminal on their own sandbox. Subclasses react to activity (:meth:`on_enter`,
    :meth:`on_ready`) without knowing how the terminal works."""

    sandbox: Sandbox | None = None
    term: Terminal | None = None
    # Terminals talk to their own sandbox only: no channel layer (and no Redis connection).
    channel_layer_alias = None

    async def connect(self) -> None:
        self.lang = language_from_scope(self.scope)
        self.pump_task: asyncio.Task | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        await self.status("starting", _("Starting your sandbox…"))
        backend = get_backend()
        try:
            self.sandbox = await asyncio.to_thread(backend.ensure, owner=learner_owner(user))
            self.term = await asyncio.to_thread(backend.open_terminal, self.sandbox.id)
        except SandboxError as exc:
            log.warning("terminal for user %s: %s", user.pk, exc)
            await self.status("error", exc.args[0] if exc.args else str(exc))
            await self.close()
            return
        self.term.sock.setblocking(False)
        self.pump_task = asyncio.create_task(self.pump())
        await self.status("ready", _("Connected to your sandbox."))
        await self.on_ready()

    async def authorize(self, user) -> bool:
        """Whether ``user`` may open this terminal (their own sandbox only, by construction)."""
        return True

    async def on_ready(self) -> None:
        """Called once the terminal is attached."""

    async def on_enter(self) -> None:
        """Called when the learner presses Enter (a command was probably run)."""

    async def status(self, state: str, text) -> None:
        """Send a status line (``text`` may be lazy: it is translated to the learner's language)."""
        with override(self.lang):
            text = str(text)
        await self.send(text_data=json.dumps({"type": "status", "state": state, "text": text}))

    async def dispatch(self, message: dict) -> None:
        # Keystrokes touch no database: skip the thread hop that Channels makes before every
        # message to close stale database connections (it dominated the echo latency).
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def pump(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self.term.sock
        try:
            while True:
                data = await loop.sock_recv(sock, READ_CHUNK)
                if not data:
                    break
                # Take whatever else is already there, so one keystroke's redraw (often
                # several small writes) goes out as one websocket frame.
                while len(data) < READ_CHUNK:
                    try:
                        more = sock.recv(READ_CHUNK - len(data))
                    except (BlockingIOError, InterruptedError):
                        break
                    if not more:
                        break
                    data += more
                await self.send(bytes_data=data)
        except (OSError, asyncio.CancelledError):
            return
        await self.status("closed", _("The shell ended. Reload the page for a new one."))
        await self.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.term is None:
            return
        if bytes_data is not None:
            await asyncio.get_running_loop().sock_sendall(self.term.sock, bytes_data)
            if b"\r" in bytes_data:
                await self.on_enter()
            return
        try:
            msg = json.loads(text_data or "{}")
        except json.JSONDecodeError:
            return
        if msg.get("type") == "resize":
            try:
                cols, rows = int(msg["cols"]), int(msg["rows"])
            except (KeyError, TypeError, ValueError):
                return
            if 2 <= cols <= 1000 and 2 <= rows <= 500:
                await asyncio.to_thread(self.term.resize, cols, rows)
        elif msg.get("type") == "input" and isinstance(msg.get("data"), str):
            await self.receive(bytes_data=msg["data"].encode())

    async def disconnect(self, code: int) -> None:
        if self.pump_task:
            self.pump_task.cancel()
        if self.term:
            await asyncio.to_thread(self.term.close)
