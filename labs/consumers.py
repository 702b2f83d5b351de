"""The lab terminal: the sandbox terminal plus live step checks.

Checks run when the learner's engine emits an event (container started, image pulled ...) and when
a command returns to the prompt (Enter, then a short pause), debounced; each run observes the
engine once, judges every step and pushes the steps' status fragments to the page.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading

from channels.db import database_sync_to_async
from django.template.loader import render_to_string
from django.utils.translation import override

from webapp.sandboxes import blocking
from webapp.sandboxes.consumers import TerminalConsumer

from . import checks, content, services

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.15
# Checks after Enter (seconds): soon, once most commands are done, and once a container made
# by 'docker create' has settled (labs.checks.CREATED_SETTLE_S).
AFTER_ENTER_S = (0.4, 1.5, 3.5)


class LabTerminalConsumer(TerminalConsumer):
    """``/ws/labs/<course>/<lab>/terminal/``: the terminal of a lab page."""

    # The engine's event stream, once the step checks follow it (on_ready). Set here too: a
    # connection refused before authorize() (no login) still ends in disconnect(), which
    # failed with AttributeError and logged a traceback for every such attempt.
    _events_stream = None
    # Set in disconnect(): no check runs after it (one scheduled by Enter or by a settling
    # verdict observed the engine and wrote to the database up to seconds after the page left).
    _closed = False

    async def authorize(self, user) -> bool:
        kw = self.scope["url_route"]["kwargs"]
        self.lab = content.get_lab(kw["course_id"], kw["lab_id"])
        self.user = user
        self._check_handle: asyncio.TimerHandle | None = None
        self._check_lock = asyncio.Lock()
        self._events_stream = None
        return self.lab is not None

    async def on_ready(self) -> None:
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self._watch_events, name=f"events-{self.sandbox.id}",
                         daemon=True).start()
        self.schedule_check(0)

    async def on_enter(self) -> None:
        for delay in AFTER_ENTER_S:
            self.loop.call_later(delay, self.schedule_check, 0)

    def _watch_events(self) -> None:
        """Follow the learner's engine events (blocking; in its own thread)."""
        from webapp.sandboxes.backend import get_backend

        try:
            api = get_backend().inner_api(self.sandbox.id, timeout=None)
            self._events_stream = api.events(decode=True)
            for _event in self._events_stream:
                self.loop.call_soon_threadsafe(self.schedule_check)
        except Exception as exc:  # noqa: BLE001 - the stream ends when we close it
            log.debug("events of %s ended: %s", self.sandbox.id, exc)

    def schedule_check(self, delay: float = DEBOUNCE_S) -> None:
        """Run the step checks ``delay`` seconds from now (debounced: a later call replaces an
        earlier one); nothing once the terminal has disconnected."""
        if self._check_handle is not None:
            self._check_handle.cancel()
        if self._closed:
            self._check_handle = None
            return
        self._check_handle = self.loop.call_later(
            delay, lambda: asyncio.ensure_future(self.run_checks())
        )

    async def run_checks(self) -> None:
        async with self._check_lock:
            if self._closed:
                return
            observed_ms = services.now_ms()
            state = await blocking.to_thread(services.lab_observe, user=self.user, lab=self.lab)
            # The isolation mode may need one `docker info` the first time: not on the loop.
            unavailable = await blocking.to_thread(services.unavailable_features)
            results = services.lab_judge(lab=self.lab, state=state, unavailable=unavailable)
            waits = [checks.recheck_after(r) for r in results.values() if checks.settling(r)]
            if waits:
                # A container created, started or ended just now: look again once it has
                # settled, even if nothing else happens in the meantime. Nothing is recorded as
                # done before: a settling verdict does not pass.
                self.loop.call_later(min(waits), self.schedule_check, 0)
            statuses = await database_sync_to_async(services.steps_record)(
                user=self.user, lab=self.lab, results=results, observed_ms=observed_ms
            )
            with override(self.lang):
                steps = [
                    {"id": st.step_id, "completed": st.completed,
                     "passed": st.result.passed if st.result is not None else st.completed,
                     "html": render_to_string("labs/_step_status.html", {
                         "lab": self.lab, "step": self.lab.step(st.step_id),
                         "completed": st.completed, "result": st.result,
                         "observed_ms": st.observed_ms})}
                    for st in statuses
                ]
            try:
                await self.send(text_data=json.dumps({"type": "steps", "steps": steps}))
            except Exception:  # noqa: BLE001 - the socket closed meanwhile
                pass

    async def disconnect(self, code: int) -> None:
        self._closed = True
        handle = getattr(self, "_check_handle", None)
        if handle is not None:
            handle.cancel()
        if self._events_stream is not None:
            try:
                self._events_stream.close()
            except Exception:  # noqa: BLE001
                pass
        await super().disconnect(code)
