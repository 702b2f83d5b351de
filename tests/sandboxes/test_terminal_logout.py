"""A terminal whose login session logs out takes no more input: it closes at once with 4401 (the
page says "You were logged out"), and keys typed meanwhile, even without Enter, never reach the
shell (they sat on its command line and were glued to the next command after logging in again).

The terminals get a real login session: a cookie of Django's test client, read by the websocket
stack's session and auth middleware, and the real logout view."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session as SessionRow
from django.test import Client

from labs.consumers import LabTerminalConsumer
from tests.sandboxes.test_terminal_consumer import (
    _ESC,
    _PROMPT,
    PATH,
    Session,
    _ReadyRecorder,
    _SlowEngineBackend,
)
from webapp.sandboxes import consumers
from webapp.sandboxes.backend import learner_owner

pytestmark = pytest.mark.django_db(transaction=True)


async def _login(user) -> Client:
    """A test client logged in as ``user``: a login session of its own, as a browser has."""
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    return client


async def _logout(client: Client) -> None:
    """Log ``client`` out through the site's logout view (as the Log out button does)."""
    resp = await database_sync_to_async(client.post)("/accounts/logout/")
    assert resp.status_code == 302, resp.status_code


def _terminal(client: Client, app, path: str = "/ws/x/", kwargs: dict | None = None):
    """A communicator to ``app`` behind the session and auth middleware, with ``client``'s
    session cookie: the terminal of a page open in that browser."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    comm = WebsocketCommunicator(AuthMiddlewareStack(app), path,
                                 headers=[(b"cookie", cookie.encode()), (b"accept-language", b"en")])
    if kwargs is not None:
        comm.scope["url_route"] = {"kwargs": kwargs}
    return comm


async def _close_code(comm, s: Session, timeout: float) -> int | None:
    """The code the server closes the websocket with within ``timeout`` seconds (None: still
    open); what it sends meanwhile is collected into ``s``."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await asyncio.wait_for(comm.output_queue.get(), left)
        except TimeoutError:
            return None
        if msg["type"] == "websocket.close":
            return msg.get("code")
        if msg.get("bytes") is not None:
            s.output += msg["bytes"]
        elif msg.get("text") is not None:
            s.messages.append(json.loads(msg["text"]))
    return None


async def _fake_terminal(client: Client, monkeypatch, fake):
    monkeypatch.setattr(consumers, "get_backend", lambda: fake)
    comm = _terminal(client, _ReadyRecorder.as_asgi())
    assert (await comm.connect(timeout=10))[0]
    s = Session(comm)
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=10)
    while not _ReadyRecorder.ready_calls:  # input goes to the shell from now on
        await asyncio.sleep(0.01)
    return comm, s


@pytest.fixture
def fake(student):
    _ReadyRecorder.ready_calls = []
    fake = _SlowEngineBackend(learner_owner(student))
    fake.answer.set()
    return fake


async def test_logging_out_closes_the_terminals_of_that_session_at_once(student, fake, monkeypatch):
    """The logout view ends this browser's terminal within a moment, before any input (it took
    until the next lease update, up to 20 s); a logout in another browser (another session of
    the same learner) leaves it alone, and typing in it still works."""
    mine, elsewhere = await _login(student), await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)
    await s.type("echo typed")  # no Enter: it reaches the shell's command line
    assert await asyncio.to_thread(fake.received, 0.3) == b"echo typed"

    await _logout(elsewhere)
    assert await _close_code(comm, s, 0.5) is None
    await s.type(" more\r")
    assert await asyncio.to_thread(fake.received, 0.3) == b" more\r"

    t0 = time.monotonic()
    await _logout(mine)
    assert await _close_code(comm, s, consumers.SESSION_CHECK_S) == consumers.CLOSE_UNAUTHENTICATED
    assert time.monotonic() - t0 < 1.0
    await s.type("glued")
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    await comm.disconnect()


async def test_keys_after_the_session_ended_never_reach_the_shell(student, fake, monkeypatch):
    """A session that ends without the logout view (it expired, or was removed): the next key,
    without Enter, is dropped and the terminal closes with 4401 (only Enter was looked at, so
    the keys waited on the command line for the next command)."""
    monkeypatch.setattr(consumers, "SESSION_CHECK_S", 0.3)
    mine = await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)
    await s.type("ls")
    assert await asyncio.to_thread(fake.received, 0.3) == b"ls"

    key = mine.cookies[settings.SESSION_COOKIE_NAME].value
    await database_sync_to_async(SessionRow.objects.filter(session_key=key).delete)()
    await asyncio.sleep(consumers.SESSION_CHECK_S)
    await s.type("glued")
    assert await _close_code(comm, s, 2.0) == consumers.CLOSE_UNAUTHENTICATED
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    await comm.disconnect()


async def test_an_expired_session_counts_as_ended(student, fake, monkeypatch):
    """An expired session row is still in the database until `clearsessions`: it logs nobody in,
    so the terminal takes no input from it (a look for the key alone said it was alive)."""
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr(consumers, "SESSION_CHECK_S", 0.0)
    mine = await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)
    key = mine.cookies[settings.SESSION_COOKIE_NAME].value
    await database_sync_to_async(SessionRow.objects.filter(session_key=key).update)(
        expire_date=timezone.now() - timedelta(seconds=1))
    await s.type("glued")
    assert await _close_code(comm, s, 2.0) == consumers.CLOSE_UNAUTHENTICATED
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    await comm.disconnect()


def _pane(backend, sandbox_id: str) -> str:
    """The learner's shell as tmux shows it (its window "main")."""
    return backend.exec(sandbox_id, ["tmux", "capture-pane", "-p", "-t", "main"], timeout=10).output


async def _lab_terminal(client: Client):
    comm = _terminal(client, LabTerminalConsumer.as_asgi(), PATH,
                     {"course_id": "week1", "lab_id": "images-and-containers"})
    assert (await comm.connect(timeout=60))[0]
    s = Session(comm)
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=60)
    await s.until(lambda s: _PROMPT.search(_ESC.sub(b"", bytes(s.output))), timeout=30)
    return comm, s


@pytest.mark.docker
async def test_keys_typed_after_logging_out_are_not_glued_to_the_next_command(backend, student):
    """The tester's case on a real sandbox: logged out in another tab, keys typed into the
    terminal still open (no Enter) reached the shell's command line, and after logging in again
    the next command ran with them in front of it. Now the terminal closes with 4401, the
    command line stays empty, and the next terminal's command runs as typed."""
    mine = await _login(student)
    comm, s = await _lab_terminal(mine)
    await s.type("echo before-$((6*7))\r")
    await s.until(lambda s: b"before-42" in s.output)
    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))

    await _logout(mine)
    await asyncio.sleep(0.5)  # back to the first tab
    await s.type("gluedkeys")
    await asyncio.sleep(1.0)
    assert "gluedkeys" not in await asyncio.to_thread(_pane, backend, sb.id)
    assert await _close_code(comm, s, 5.0) == consumers.CLOSE_UNAUTHENTICATED
    await comm.disconnect()

    again = await _login(student)
    comm2, s2 = await _lab_terminal(again)
    await s2.type("echo after-$((6*7))\r")
    await s2.until(lambda s: b"after-42" in s.output)
    pane = await asyncio.to_thread(_pane, backend, sb.id)
    assert "gluedkeys" not in pane, pane
    await comm2.disconnect()


class _BrokenLayer:
    """A channel layer whose Redis is down: every call fails."""

    async def new_channel(self, prefix="specific."):
        raise ConnectionError("redis is down")

    async def group_send(self, group, message):
        raise ConnectionError("redis is down")


async def test_without_a_channel_layer_terminals_and_logout_still_work(student, fake, monkeypatch):
    """Redis down: the terminal opens and takes input, the logout view still logs out, and the
    terminal then refuses the next key (the look at the session on input)."""
    from webapp.sandboxes import signals

    monkeypatch.setattr(consumers, "get_channel_layer", lambda: _BrokenLayer())
    monkeypatch.setattr(signals, "get_channel_layer", lambda: _BrokenLayer())
    monkeypatch.setattr(consumers, "SESSION_CHECK_S", 0.3)
    mine = await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)
    await s.type("ls")
    assert await asyncio.to_thread(fake.received, 0.3) == b"ls"
    await _logout(mine)
    await asyncio.sleep(consumers.SESSION_CHECK_S)
    await s.type("glued")
    assert await _close_code(comm, s, 2.0) == consumers.CLOSE_UNAUTHENTICATED
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    await comm.disconnect()


@pytest.mark.parametrize("change", ["password", "deactivated"])
async def test_a_password_change_or_deactivation_ends_the_terminal(student, fake, monkeypatch,
                                                                   change):
    """Django ends a user's other sessions when the password changes (the session's auth hash)
    and refuses a deactivated user: the terminal follows at its next input (it looked only for
    the session key, so an admin's reset left an open terminal typing)."""
    monkeypatch.setattr(consumers, "SESSION_CHECK_S", 0.0)
    mine = await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)
    await s.type("ls")
    assert await asyncio.to_thread(fake.received, 0.3) == b"ls"

    def apply():
        if change == "password":
            student.set_password("a-new-password-1234")
        else:
            student.is_active = False
        student.save()

    await database_sync_to_async(apply)()
    await s.type("glued")
    assert await _close_code(comm, s, 2.0) == consumers.CLOSE_UNAUTHENTICATED
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    await comm.disconnect()


async def test_a_session_store_failure_closes_the_terminal_instead_of_crashing(student, fake,
                                                                              monkeypatch):
    """The session store (the database) failing on a key closes the terminal (4401) and drops
    the key: the error raised out of receive() ended the consumer without its disconnect(), so
    the shell's socket and the consumer's tasks were left behind."""
    monkeypatch.setattr(consumers, "SESSION_CHECK_S", 0.0)
    mine = await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)

    def broken(key):
        raise RuntimeError("the session store is down")

    monkeypatch.setattr(consumers, "session_user_id", broken)
    await s.type("glued")
    assert await _close_code(comm, s, 2.0) == consumers.CLOSE_UNAUTHENTICATED
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    await comm.disconnect()


class _HangingLayer:
    """A channel layer whose Redis does not answer: every group call waits forever."""

    calls: list[str] = []

    async def group_discard(self, group, channel):
        self.calls.append("discard")
        await asyncio.sleep(3600)

    async def group_send(self, group, message):
        self.calls.append("send")
        await asyncio.sleep(3600)


async def test_a_channel_layer_that_hangs_holds_up_neither_the_logout_nor_the_clean_up(
        student, fake, monkeypatch):
    """Redis that takes connections but never answers (redis-py waits 30 s) delayed the logout
    view and the terminal's clean-up: each waits at most LAYER_TIMEOUT_S now."""
    from webapp.sandboxes import signals

    monkeypatch.setattr(consumers, "LAYER_TIMEOUT_S", 0.5, raising=False)  # old code: none
    mine = await _login(student)
    comm, s = await _fake_terminal(mine, monkeypatch, fake)
    await asyncio.sleep(0.5)  # the logout watch joins its group (the real layer)
    _HangingLayer.calls = []
    monkeypatch.setattr(consumers, "get_channel_layer", lambda: _HangingLayer())
    monkeypatch.setattr(signals, "get_channel_layer", lambda: _HangingLayer())
    t0 = time.monotonic()
    await _logout(mine)
    assert time.monotonic() - t0 < 2.0
    t0 = time.monotonic()
    await comm.disconnect(timeout=5)
    assert time.monotonic() - t0 < 2.0
    assert _HangingLayer.calls == ["send", "discard"]  # both waits were really met
