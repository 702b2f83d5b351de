"""The terminal: xterm.js in the page <-> this websocket consumer <-> a tty in the sandbox.

Binary frames carry terminal bytes both ways; small JSON text frames carry control messages
(client: ``{"type": "resize", "cols", "rows"}``; server: ``{"type": "status", "state", "text"}``
and ``{"type": "lease", "expires_in": seconds, "warn_before": seconds, "extensions_left": n}``
every LEASE_EVERY seconds, from which the page counts down).
The shell runs in tmux inside the sandbox, so a reload or a dropped connection reattaches to the
same shell with its history.

Logging out ends the terminals opened with that login session at once (close code
CLOSE_UNAUTHENTICATED, which the page shows as "You were logged out"): the logout sends
``session.ended`` to the session's group (:func:`session_group`, from ``signals.py``). Besides,
no input reaches the shell unless the session was seen alive within SESSION_CHECK_S seconds, for
when that message cannot come (the session expired or was removed, or the channel layer is down).
Keys typed after a logout, even without Enter, sat on the shell's command line and were glued to
the next command after logging in again.

Backpressure: the pump awaits each websocket send before reading more from the sandbox, so when
the browser falls behind, the tty stops being read and the program writing to it blocks; server
memory stays bounded by one frame (FRAME_MAX bytes) per session, plus the server's write buffer.

Pacing: while output keeps coming (a flood such as ``cat bigfile``), the pump sends at most one
frame every FRAME_S seconds, each holding everything that arrived meanwhile (up to FRAME_MAX).
After a quiet moment up to FRAME_BURST frames go out at once (a token bucket): a keystroke's echo,
which tmux may write in two or three pieces, is never held back by the pacing. Fewer, larger frames
cost the server and the browser far less per byte (bench/output_throughput.py: the server's CPU
for a 50 MB flood fell from 2.2-3.5 s to 0.7-0.9 s). A session thus sends at most FRAME_MAX per
FRAME_S (about 4 MB/s); when tmux has more to draw, it falls behind and redraws the latest screen
instead of every line (tmux's own "can't keep up" mode), so no screen is lost, only skipped.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
from importlib import import_module

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from . import admission, blocking
from .backend import STOP_BY_STAFF, Sandbox, SandboxError, Terminal, get_backend, learner_owner
from .i18n import language_from_scope

log = logging.getLogger(__name__)
MSG_START_FAILED = _("Your sandbox could not be started because of an error in bungeo (it is in the "
                     "server's log). Press Start again; if it happens again, tell your instructor.")
MSG_STOPPED_BY_STAFF = _("An instructor stopped your sandbox. Your files and images are kept: "
                         "press Start again to go on.")

READ_CHUNK = 65536  # bytes asked of the sandbox socket per read
FRAME_S = 0.016  # seconds between frames while output keeps coming (about 60 per second)
FRAME_MAX = 65536  # bytes per frame at most: the most a session holds, and <= 4 MB/s to the page
FRAME_BURST = 4  # frames sent at once after a quiet moment, before the pacing applies
LEASE_EVERY = 20.0  # seconds between lease updates sent to the page
RESET_WAIT_S = 30.0  # seconds a terminal that ended waits for a reset under way to start the sandbox
STOP_WAIT_S = 6.0  # seconds a sandbox whose terminal ended may take to stop (its stop grace is 5 s)
# What tmux's client prints last when its session ended because the shell did (`exit`, Ctrl-D):
# "[exited]" and a line end (tmux's client.c), maybe followed by cursor modes (DEC private
# modes such as "\x1b[?25h", which tmux sends as it redraws: seen once in CI after a learner's
# own "[exited]" line). A stopping sandbox's processes are killed at once, so its terminal ends
# with nothing of the kind (seen on the sandbox image).
SHELL_EXITED = re.compile(rb"\[exited\]\r?\n?(?:\x1b\[\?[0-9;]*[hl])*\Z")
TAIL_MAX = 128  # bytes of the terminal's last output kept to look for SHELL_EXITED
# Seconds a terminal whose shell exited looks at its sandbox before saying so: a stop kills the
# terminal only as the sandbox's last process ends, so a stopping sandbox shows stopped by then
# even if the learner's own output ended with "[exited]".
SHELL_EXIT_WAIT_S = 1.0
DISK_FULL = 0.95  # share of a quota'd disk from which the learner is warned
PIDS_FULL = 0.95  # share of the process limit from which the learner is warned
# Once warned, the warning stays until the count falls below this share: a fork bomb's count
# dips for a moment as its processes die and respawn, and the bar said "Connected" for one look.
PIDS_CLEAR = 0.8
PIDS_EVERY = 2.0  # seconds between looks at the process count, where it is cheap (a cgroup file)
# Seconds between looks at the login session before input goes to the shell (any input, not
# only Enter: keys typed after a logout waited on the command line and were glued to the next
# command). The first key after a quiet moment waits for one database query; a logout normally
# ends the terminal sooner, through the channel layer (see the module docstring).
SESSION_CHECK_S = 2.0
# Seconds the terminal waits on the channel layer when it leaves its logout group (and a logout
# on telling the terminals): Redis that does not answer must not hold up the clean-up.
LAYER_TIMEOUT_S = 2.0
CLOSE_SERVER_RESTART = 1012  # the close code uvicorn gives every websocket when it shuts down
QUEUE_POLL_S = 3.0  # seconds between admission attempts of a queued learner
PENDING_MAX = 65536  # bytes of input kept while the sandbox (or its inner engine) starts
ENGINE_QUIET_S = 0.3  # seconds the inner engine may take, once attached, before the page is told
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Short: the status line has room for about 40 characters beside the countdown.
MSG_ENGINE_STARTING = _("Docker is starting: input runs soon")


def queue_text(ticket: admission.Ticket, lang: str) -> str:
    """What a learner in line reads (in ``lang``): their place and the estimate; once the
    estimate has run out (``ticket.overdue``), that a place frees when someone leaves and, when
    the running leases tell, by when at the latest."""
    minutes = max(1, round(ticket.estimate_s / 60))
    with override(lang):
        if not ticket.overdue:
            return str(_("All of this classroom's sandboxes are in use. You are number "
                         "%(position)d in line (about %(minutes)d min). Keep this page open: "
                         "your sandbox starts as soon as a place is free.")) % {
                "position": ticket.position, "minutes": minutes}
        if ticket.latest_s is not None:
            return str(_("All of this classroom's sandboxes are in use. You are number "
                         "%(position)d in line: a place frees when another learner leaves, and at "
                         "the latest in about %(minutes)d min. Keep this page open: your sandbox "
                         "starts as soon as a place is free.")) % {
                "position": ticket.position, "minutes": max(1, round(ticket.latest_s / 60))}
        return str(_("All of this classroom's sandboxes are in use. You are number %(position)d in "
                     "line: a place frees when another learner leaves. Keep this page open: your "
                     "sandbox starts as soon as a place is free.")) % {"position": ticket.position}


def session_group(session_key: str) -> str:
    """The channel layer group of the terminals opened with the login session ``session_key``.
    A digest, not the key itself: a session key logs its holder in, and group names are stored in
    Redis in clear."""
    return "terminals.session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def session_user_id(session_key: str) -> str | None:
    """The id of the user whom the login session ``session_key`` logs in (as the session stores
    it); None when that session logs nobody in: it ended (logout), expired, its user's password
    changed since (the session's auth hash no longer matches) or the user was deactivated, as
    Django's ``django.contrib.auth.get_user`` decides for a request. Blocking: a read of the
    session store and of the user. Raises what the session store or the database raise."""
    from types import SimpleNamespace

    from django.contrib.auth import get_user

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    if store.get(SESSION_KEY) is None:
        return None
    user = get_user(SimpleNamespace(session=store))
    if not user.is_authenticated:
        return None
    return user._meta.pk.value_to_string(user)


def df_gib(nbytes: int) -> float:
    """``nbytes`` in GiB with one decimal, rounded up as ``df -h`` rounds (GNU coreutils' df
    rounds human-readable sizes up, so a 10 464 022 528-byte disk shows 9.8G, not 9.7)."""
    return math.ceil(nbytes / 2**30 * 10 - 1e-9) / 10


class TerminalConsumer(AsyncWebsocketConsumer):
    """A learner's terminal on their own sandbox. Subclasses react to activity (:meth:`on_enter`,
    :meth:`on_ready`) without knowing how the terminal works."""

    sandbox: Sandbox | None = None
    term: Terminal | None = None
    # Terminals talk to their own sandbox only: no channel layer for the consumer itself, so a
    # terminal keeps working while Redis is down. Only the logout watch (:meth:`watch_logout`)
    # uses the channel layer, and a failure there just leaves the checks on input.
    channel_layer_alias = None
    logout_task: asyncio.Task | None = None
    logout_channel: str | None = None
    logged_out = False  # True once this terminal closed because its login session ended

    async def connect(self) -> None:
        self.lang = language_from_scope(self.scope)
        self.pump_task: asyncio.Task | None = None
        self.lease_task: asyncio.Task | None = None
        self.start_task: asyncio.Task | None = None
        self.disk_warned = False
        self.pids_full = False  # at the process limit when last checked (check_disk)
        self.disk_full = False  # a quota'd disk (nearly) full when last checked (check_disk)
        self.stopped_for_time = False  # this terminal stopped its sandbox at the time limit
        self.pending = bytearray()
        self.session_checked = 0.0  # loop time of the last look that found the session alive
        # False until the sandbox's inner engine answers: the learner's input waits in `pending`.
        self.engine_ready = False
        self.owner: str | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id = user._meta.pk.value_to_string(user)  # as the session stores it
        # Staff never wait in line: an instructor must be able to show something to a full room
        # (QA: the instructor's own lab was queued like a learner's). Their sandbox still counts
        # against the capacity, which staff can therefore pass by their own number.
        self.is_staff = bool(getattr(user, "is_staff", False))
        self.logout_task = asyncio.create_task(self.watch_logout(get_channel_layer()))
        await self.accept()
        self.owner = learner_owner(user)
        self.start_task = asyncio.create_task(self.start())

    async def start(self) -> None:
        """Wait for a place (admission control), start or reattach the sandbox, and pump.

        The terminal attaches as soon as the sandbox runs (limits and cgroup delegation in
        place), so the prompt shows while the sandbox's inner Docker engine may still be starting
        (about a second after a cold start). Until that engine answers, what the learner types is
        kept (``pending``, as while the sandbox starts) and the status line says Docker is
        starting; then it goes to the shell in order, so a ``docker`` command typed at once still
        works, and :meth:`on_ready` (the step checks, which talk to that engine) runs."""
        backend = get_backend()
        if self.resuming() and not await self.still_running(backend):
            if await self.stopped_by_staff(backend):
                await self.status("closed", MSG_STOPPED_BY_STAFF)
            else:
                await self.status("closed", _(
                    "Your sandbox was stopped while this page was away (time limit or idle). Your "
                    "files and images are kept: press Start again to go on."))
            await self.close()
            return
        try:
            if not self.is_staff:
                await self.wait_for_admission(backend)
            await self.status("starting", _("Starting your sandbox…"))
            self.sandbox = await blocking.to_thread(backend.ensure, owner=self.owner, wait_engine=False)
            self.term = await blocking.to_thread(backend.open_terminal, self.sandbox.id)
        except asyncio.CancelledError:
            return
        except SandboxError as exc:
            await self.fail(exc)
            return
        except Exception:  # noqa: BLE001 - a bug or an engine answer nobody expected
            await self.fail_unexpectedly()
            return
        self.term.sock.setblocking(False)
        self.pump_task = asyncio.create_task(self.pump())
        self.lease_task = asyncio.create_task(self.lease_loop())
        try:
            await self.wait_engine(backend)
        except asyncio.CancelledError:
            return
        except SandboxError as exc:
            await self.fail(exc)
            return
        except Exception:  # noqa: BLE001 - see above
            await self.fail_unexpectedly()
            return
        # Said once, when it is true: saying it at attach time, then "Docker is starting" a
        # moment later, then again, made the status line flicker after every reset.
        await self.status("ready", _("Sandbox connected."))
        await self.on_ready()
        # No await between these lines and the first write: nothing typed meanwhile overtakes
        # what was kept.
        self.engine_ready = True
        if self.pending:
            pending, self.pending = bytes(self.pending), bytearray()
            await self.receive(bytes_data=pending)

    def resuming(self) -> bool:
        """Whether the page reconnects a terminal that was attached (``?resume=1``): it must
        then attach only to a sandbox that still runs, never start one by itself (QA: after a
        server restart, an open tab started a fresh sandbox, with a new lease, for a learner
        who was not there)."""
        from urllib.parse import parse_qs

        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        return query.get("resume") == ["1"]

    async def still_running(self, backend) -> bool:
        """Whether this learner's sandbox runs now (an engine that cannot be asked counts as
        yes: starting then fails with its own message)."""
        try:
            sb = await blocking.to_thread(backend.find, owner=self.owner)
        except SandboxError:
            return True
        return sb is not None and sb.running

    async def stopped_by_staff(self, backend, sandbox_id: str | None = None) -> bool:
        """Whether an instructor stopped this learner's sandbox (``sandbox_id``, else the one
        :meth:`still_running` found stopped), from the classroom's sandboxes page."""
        try:
            if sandbox_id is None:
                sb = await blocking.to_thread(backend.find, owner=self.owner)
                if sb is None:
                    return False
                sandbox_id = sb.id
            return await blocking.to_thread(backend.stop_reason, sandbox_id) == STOP_BY_STAFF
        except SandboxError:
            return False

    async def fail_unexpectedly(self) -> None:
        """Log the exception being handled with its traceback, tell the page that the start
        failed (state "error", with Start again) and close. Before, such an error ended the
        start's task silently: the page said "Starting…" for ever, and asyncio logged "Task
        exception was never retrieved" (seen when a sandbox was removed during its start). An
        engine that stopped answering meanwhile is said as such (MSG_ENGINE_DOWN)."""
        import sys

        import docker.errors

        from .docker_backend import ENGINE_ERRORS, MSG_ENGINE_DOWN

        exc = sys.exc_info()[1]
        # The engine went away meanwhile (an answer of the engine, such as NotFound, is no sign
        # of that).
        if isinstance(exc, ENGINE_ERRORS) and not isinstance(exc, docker.errors.APIError):
            log.warning("terminal for %s: the sandbox engine did not answer: %s", self.owner, exc)
            await self.fail(SandboxError(MSG_ENGINE_DOWN))
            return
        log.exception("terminal for %s failed", self.owner)
        await self.fail(SandboxError(MSG_START_FAILED))

    async def fail(self, exc: SandboxError) -> None:
        """Log ``exc``, show its message as the terminal's error status and close the socket."""
        log.warning("terminal for %s: %s", self.owner, exc)
        await self.status("error", exc.args[0] if exc.args else str(exc))
        await self.close()

    async def wait_engine(self, backend) -> bool:
        """Return once the sandbox's inner engine answers; if it does not within ENGINE_QUIET_S
        (seconds), say so in the status line meanwhile (state "ready": the terminal takes input,
        which waits in ``pending``) and return True (False: it answered before).
        Raises :class:`SandboxError` when it does not answer in time."""
        waiting = asyncio.ensure_future(blocking.to_thread(backend.wait_engine, self.sandbox.id))
        done, _pending = await asyncio.wait({waiting}, timeout=ENGINE_QUIET_S)
        if done:
            waiting.result()
            return False
        await self.status("ready", MSG_ENGINE_STARTING)
        await waiting
        return True

    async def wait_for_admission(self, backend) -> None:
        """Return once this learner may run a sandbox; meanwhile show their place in line."""
        while True:
            ticket = await blocking.to_thread(admission.try_admit, backend, self.owner)
            if ticket.admitted:
                return
            await self.status("queued", queue_text(ticket, self.lang))
            await asyncio.sleep(QUEUE_POLL_S)

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

    async def send_lease(self) -> float | None:
        """Send the sandbox's lease to the page; returns the seconds left (None: no lease)."""
        lease = await blocking.to_thread(get_backend().lease, self.sandbox.id)
        if lease is None:
            return None
        left = lease.remaining()
        await self.send(text_data=json.dumps({
            "type": "lease", "expires_in": round(left), "extensions_left": lease.extensions_left,
            "warn_before": settings.BUNGEO_SANDBOX_WARN_BEFORE}))
        return left

    async def sandbox_ended(self, wait: float = STOP_WAIT_S) -> str | None:
        """Why the terminal ended: ``"stopped"`` when the sandbox is stopped or stops within
        ``wait`` seconds, ``"restarted"`` when it runs again since another start (a reset, from
        this page or another tab: while one is under way, up to RESET_WAIT_S seconds are given
        to it), None when it kept running (the shell itself ended).

        The terminal's end comes first: a stop sends the sandbox SIGTERM and waits up to 5 s for
        it to exit (DockerSandboxBackend.stop), so a look at once saw it still running and took
        the time limit for the learner's shell ending."""
        loop = asyncio.get_running_loop()
        backend = get_backend()
        deadline = loop.time() + wait
        reset_deadline = loop.time() + RESET_WAIT_S
        while True:
            sb = await blocking.to_thread(backend.get, self.sandbox.id)
            if sb is not None and sb.running and sb.started_at and self.sandbox.started_at \
                    and sb.started_at != self.sandbox.started_at:
                return "restarted"
            # Between a reset's stop and its start the sandbox looks stopped: wait for it.
            if loop.time() < reset_deadline and await blocking.to_thread(backend.resetting,
                                                                        self.sandbox.id):
                await asyncio.sleep(0.25)
                continue
            if sb is None or not sb.running:
                return "stopped"
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.5)

    async def stop_when_expired(self, left: float | None) -> bool:
        """Stop the sandbox once its lease has run out (``left`` seconds, from
        :meth:`send_lease`), at once rather than at the reaper's next round (up to 30 s later,
        while the page already showed 0:00 and input still ran). Returns True when it stopped it;
        the terminal then ends and :meth:`pump` tells the page."""
        if left is None or left > 0:
            return False
        log.info("sandbox %s stopped: its lease expired (terminal open)", self.sandbox.id)
        self.stopped_for_time = True
        await blocking.to_thread(get_backend().stop, self.sandbox.id)
        return True

    def session_key(self) -> str | None:
        """The key of the login session this terminal was opened with; None where sessions
        cannot end server-side (signed cookies) or there is none (tests without the session
        middleware)."""
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key or settings.SESSION_ENGINE.endswith("signed_cookies"):
            return None
        return key

    async def session_alive(self) -> bool:
        """False once the login session this terminal was opened with no longer logs its user
        in: the user logged out (in this tab or another), the session expired or was removed. A
        shared classroom PC must not leave a terminal running for the next person. One read of
        the session store (expired sessions count as ended, which a mere look for the key in
        the database missed)."""
        key = self.session_key()
        if key is None:
            return True
        return await database_sync_to_async(session_user_id)(key) == self.user_id

    async def still_logged_in(self) -> bool:
        """Before input goes to the shell: False, and the terminal closed, once the login
        session has ended. Looked at most every SESSION_CHECK_S seconds after the last look that
        found it alive (one query), so typing never waits on it more often than that."""
        if self.logged_out:
            return False
        now = asyncio.get_running_loop().time()
        if now - self.session_checked < SESSION_CHECK_S:
            return True
        try:
            alive = await self.session_alive()
        except Exception:  # noqa: BLE001 - the session store or database failed: fail closed
            # Raised out of receive(), it would end the consumer without disconnect(), leaving
            # the shell's socket and the tasks behind; closing runs disconnect() as usual.
            log.warning("terminal for %s: the login session could not be read; closing",
                        self.owner, exc_info=True)
            self.logged_out = True
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return False
        if alive:
            self.session_checked = now
            return True
        await self.end_logged_out("seen on input")
        return False

    async def end_logged_out(self, how: str) -> None:
        """Close the terminal because its login session ended (``how``: how that was seen, for
        the log), and take no more input from it."""
        if self.logged_out:
            return
        self.logged_out = True
        log.info("terminal for %s closed: the user logged out (%s)", self.owner, how)
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def watch_logout(self, layer) -> None:
        """Close the terminal as soon as its login session logs out: the logout sends
        ``session.ended`` to :func:`session_group` (``signals.py``). Runs as a task of its own
        on the channel ``layer`` (None: no layer), not through the consumer's dispatch: a
        channel layer that fails (Redis down) must not take the terminal with it, so a failure
        is logged and the checks on input (:meth:`still_logged_in`) remain."""
        key = self.session_key()
        if layer is None or key is None:
            return
        try:
            self.logout_channel = await layer.new_channel()
            await layer.group_add(session_group(key), self.logout_channel)
            while (await layer.receive(self.logout_channel)).get("type") != "session.ended":
                pass
        except asyncio.CancelledError:
            return
        except Exception:  # noqa: BLE001 - see the docstring
            log.warning("terminal for %s: no logout notices (channel layer)", self.owner,
                        exc_info=True)
            return
        await self.end_logged_out("logout notice")

    def at_pids_limit(self, pids: tuple[int, int] | None) -> bool:
        """Whether ``pids`` (processes, limit) counts as at the limit: from PIDS_FULL of it, and
        while already warned (``pids_full``) down to PIDS_CLEAR of it. None (unknown): False."""
        if pids is None or pids[1] <= 0:
            return False
        return pids[0] >= (PIDS_CLEAR if self.pids_full else PIDS_FULL) * pids[1]

    async def check_disk(self) -> None:
        """Warn in the status line while the sandbox is at its process limit (a fork bomb: new
        commands cannot start, and only a reset helps) or a quota'd disk of it is (nearly) full,
        with what frees each; say "Connected" again once it is over."""
        backend = get_backend()
        pids = await blocking.to_thread(backend.pids_usage, self.sandbox.id)
        usage = await blocking.to_thread(backend.disk_usage, self.sandbox.id)
        full = [(what, used, size) for what, used, size in usage if used >= DISK_FULL * size]
        text = None
        self.pids_full = self.at_pids_limit(pids)
        self.disk_full = bool(full)
        with override(self.lang):
            if self.pids_full:
                text = str(_("Your sandbox has reached its limit of %(limit)d processes (a fork bomb, or "
                             "a program that keeps starting new ones), so commands cannot start. "
                             "Press \"Reset sandbox\": your files and images are kept.")) % {
                    "limit": pids[1]}
            elif full:
                what, used, size = full[0]
                # GiB, as `df -h` in the sandbox shows them (its "9.8G" read "10.5 GB" here).
                fill = {"used": df_gib(used), "size": df_gib(size)}
                if what == "workspace":
                    text = str(_("Your home folder is full (%(used).1f of %(size).1f GiB used). Remove "
                                 "files you no longer need from it, for example with 'rm': resetting "
                                 "the sandbox keeps them.")) % fill
                else:
                    text = str(_("Your sandbox's image storage is full (%(used).1f of %(size).1f GiB "
                                 "used). Remove images and containers you no longer need ('docker "
                                 "system prune -a' removes all that no container uses): resetting "
                                 "the sandbox keeps them.")) % fill
        if text:
            await self.status("warn", text)
            self.disk_warned = True
        elif self.disk_warned:
            self.disk_warned = False
            await self.status("ready", _("Sandbox connected."))

    async def watch_pids(self, seconds: float) -> None:
        """Wait ``seconds``, meanwhile looking at the sandbox's process count and disks every
        PIDS_EVERY seconds where the backend reads them cheaply (``pids_usage(cheap=True)``, a
        cgroup file; ``disk_usage(cheap=True)``, statvfs), and checking at once
        (:meth:`check_disk`) when either crosses its threshold, either way: a fork bomb or a
        full disk is announced, and the warning goes, within a few seconds instead of at the
        next lease update (up to LEASE_EVERY; QA: a disk-full warning came and went up to 20 s
        late). Where neither is cheap, this only waits."""
        backend = get_backend()
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            await asyncio.sleep(min(PIDS_EVERY, left))
            if self.sandbox is None:
                continue
            pids = await blocking.to_thread(backend.pids_usage, self.sandbox.id, cheap=True)
            disks = await blocking.to_thread(backend.disk_usage, self.sandbox.id, cheap=True)
            if pids is None and disks is None:
                await asyncio.sleep(max(0.0, end - loop.time()))
                return
            disk_full = any(used >= DISK_FULL * size for _w, used, size in disks or [] if size)
            if self.at_pids_limit(pids) != self.pids_full or disk_full != self.disk_full:
                await self.check_disk()

    async def lease_loop(self) -> None:
        try:
            while True:
                if not await self.session_alive():
                    await self.end_logged_out("seen by the lease update")
                    return
                left = await self.send_lease()
                if await self.stop_when_expired(left):
                    return
                await self.check_disk()
                # Wake up at the expiry too (the learner may have extended meanwhile: the lease
                # is read again then).
                await self.watch_pids(LEASE_EVERY if left is None else min(LEASE_EVERY, max(0.5, left)))
        except asyncio.CancelledError:
            return
        except Exception:  # noqa: BLE001 - a countdown glitch must never close the terminal
            log.exception("lease updates stopped")

    async def pump(self) -> None:
        """Copy the sandbox tty to the page, paced (see the module docstring) and with backpressure.

        Returns when the tty ends (EOF or a socket error) or the task is cancelled."""
        loop = asyncio.get_running_loop()
        sock = self.term.sock
        # Token bucket: one token per FRAME_S, at most FRAME_BURST; a frame takes one.
        tokens, refilled = float(FRAME_BURST), loop.time()

        def refill() -> float:
            nonlocal tokens, refilled
            now = loop.time()
            tokens, refilled = min(FRAME_BURST, tokens + (now - refilled) / FRAME_S), now
            return tokens

        tail = b""
        try:
            while True:
                data = await loop.sock_recv(sock, READ_CHUNK)
                if not data:
                    break
                # Output keeps coming (a flood, or one command's output in many writes): wait
                # for the next token, so that all that arrives meanwhile goes as one frame.
                if refill() < 1:
                    await self.pace((1 - tokens) * FRAME_S)
                    refill()
                tokens -= 1
                frame, eof = self.take_available(sock, data)
                tail = (tail + frame)[-TAIL_MAX:]
                await self.send(bytes_data=frame)
                if eof:
                    break
        except asyncio.CancelledError:
            return
        except OSError as exc:  # e.g. a reset connection: the terminal ended all the same
            log.debug("terminal of %s ended: %s", self.owner, exc)
        # The shell itself ended: a short look at the sandbox, not STOP_WAIT_S (the page said
        # "Connected" for 7 s after `exit`).
        ended = await self.sandbox_ended(SHELL_EXIT_WAIT_S if SHELL_EXITED.search(tail)
                                         else STOP_WAIT_S)
        if ended == "stopped" and self.stopped_for_time:
            await self.status("closed", _("Your sandbox reached its time limit and was stopped. Your "
                                          "files and images are kept: press Start again to go on."))
        elif ended == "stopped" and await self.stopped_by_staff(get_backend(), self.sandbox.id):
            await self.status("closed", MSG_STOPPED_BY_STAFF)
        elif ended == "stopped":
            await self.status("closed", _("Your sandbox was stopped (time limit or idle). Your files "
                                          "and images are kept: press Start again to go on."))
        elif ended == "restarted":
            # A reset: the sandbox runs again, so the page reconnects by itself (state is not
            # "closed"), to the same workspace.
            await self.status("reconnecting", _("Your sandbox was reset: reconnecting…"))
        else:
            await self.status("closed", _("The shell ended. Press Start again for a new one."))
        await self.close()

    async def leave_logout_group(self) -> None:
        """Leave the session's group that :meth:`watch_logout` joined (a failure only leaves a
        member that the channel layer expires)."""
        key = self.session_key()
        if self.logout_channel is None or key is None:
            return
        try:
            await asyncio.wait_for(
                get_channel_layer().group_discard(session_group(key), self.logout_channel),
                LAYER_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a timeout too (Redis not answering)
            log.debug("terminal for %s: could not leave its logout group", self.owner, exc_info=True)

    async def pace(self, seconds: float) -> None:
        """Hold the next frame back for ``seconds`` (the pacing of :meth:`pump`)."""
        await asyncio.sleep(seconds)

    @staticmethod
    def take_available(sock, first: bytes) -> tuple[bytes, bool]:
        """``first`` plus whatever the non-blocking ``sock`` holds already, up to FRAME_MAX bytes.

        Returns (frame, eof): eof is True when the socket reached its end meanwhile."""
        frame = bytearray(first)
        while len(frame) < FRAME_MAX:
            try:
                more = sock.recv(min(READ_CHUNK, FRAME_MAX - len(frame)))
            except (BlockingIOError, InterruptedError):
                return bytes(frame), False
            if not more:
                return bytes(frame), True
            frame += more
        return bytes(frame), False

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.logged_out:
            return  # frames already on their way when the terminal closed
        if bytes_data is not None and not self.engine_ready:
            # Typed (or click-to-run) while the sandbox or its engine starts: keep it, bounded,
            # for the shell.
            if len(self.pending) + len(bytes_data) <= PENDING_MAX:
                self.pending += bytes_data
            return
        if self.term is None:
            return
        if bytes_data is not None:
            if not await self.still_logged_in():
                return
            try:
                await asyncio.get_running_loop().sock_sendall(self.term.sock, bytes_data)
            except OSError as exc:
                # The terminal is ending (its sandbox stops or resets): pump() tells the page,
                # which holds what is typed during a reset for the next terminal.
                log.debug("input for %s not delivered: %s", self.owner, exc)
                return
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
                await blocking.to_thread(self.term.resize, cols, rows)
        elif msg.get("type") == "input" and isinstance(msg.get("data"), str):
            await self.receive(bytes_data=msg["data"].encode())

    async def disconnect(self, code: int) -> None:
        if self.start_task:
            self.start_task.cancel()
        if self.logout_task:
            self.logout_task.cancel()
        # 1012 (Service Restart, RFC 6455 7.4.1 as registered by IANA): the server itself is
        # stopping (uvicorn sends it to every socket at shutdown), not the page leaving. The
        # place is then kept by the usual STALE_S heartbeat rule, long enough for the page to
        # reconnect to the restarted server; the 8 s grace made a restart reshuffle the line.
        if self.owner and self.sandbox is None and code != CLOSE_SERVER_RESTART:
            await blocking.to_thread(admission.page_closed, self.owner)
        if self.lease_task:
            self.lease_task.cancel()
        if self.pump_task:
            self.pump_task.cancel()
        if self.term:
            await blocking.to_thread(self.term.close)
        if self.logout_task:
            # Last: the channel layer (Redis) may be slow to answer, the rest must not wait.
            await self.leave_logout_group()
