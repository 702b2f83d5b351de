"""The lab terminal websocket on a real sandbox: auth before accept, live output, steps ticking
by themselves (and a near miss getting its hint, and a container whose command ends at once
never ticking one), tmux reattach on reconnect (shell and screen),
and a flood in bounded frames; plus the pump's pacing and backpressure on a local socket pair."""
from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import translation

from labs.consumers import LabTerminalConsumer
from labs.models import StepCompletion
from webapp.sandboxes import consumers
from webapp.sandboxes.backend import Terminal, learner_owner
from webapp.sandboxes.consumers import TerminalConsumer

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

PATH = "/ws/labs/week1/images-and-containers/terminal/"


def _communicator(user, lab="images-and-containers", query=""):
    comm = WebsocketCommunicator(LabTerminalConsumer.as_asgi(), PATH + (f"?{query}" if query else ""),
                                 headers=[(b"accept-language", b"en")])
    comm.scope["user"] = user
    comm.scope["url_route"] = {"kwargs": {"course_id": "week1", "lab_id": lab}}
    return comm


class Session:
    """Collects everything the server sends: terminal bytes and JSON messages."""

    def __init__(self, comm):
        self.comm, self.output, self.messages = comm, bytearray(), []

    async def until(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # Not receive_output(timeout=...): on a timeout it cancels the application.
                msg = await asyncio.wait_for(self.comm.output_queue.get(),
                                             max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                break
            if msg["type"] == "websocket.close":
                raise AssertionError(f"closed: {msg}")
            if msg.get("bytes") is not None:
                self.output += msg["bytes"]
            elif msg.get("text") is not None:
                self.messages.append(json.loads(msg["text"]))
            found = predicate(self)
            if found:
                return found
        raise AssertionError(f"timed out; output tail: {bytes(self.output[-500:])!r}, "
                             f"messages: {self.messages[-3:]}")

    def step(self, step_id):
        for m in reversed(self.messages):
            if m["type"] == "steps":
                for s in m["steps"]:
                    if s["id"] == step_id:
                        return s
        return None

    async def type(self, text):
        await self.comm.send_to(bytes_data=text.encode())

    async def during(self, seconds):
        """Collect what arrives for ``seconds``."""
        try:
            await self.until(lambda s: False, timeout=seconds)
        except AssertionError:
            pass

    def statuses(self, step_id):
        """Every status of ``step_id`` the page got, oldest first."""
        return [st for m in self.messages if m["type"] == "steps"
                for st in m["steps"] if st["id"] == step_id]


async def _ready(comm, cols=None) -> Session:
    """Connect ``comm`` and wait until its terminal is ready; with ``cols``, resize it to
    ``cols`` x 30 then."""
    connected, _ = await comm.connect(timeout=60)
    assert connected
    s = Session(comm)
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=60)
    if cols:
        await comm.send_to(text_data=json.dumps({"type": "resize", "cols": cols, "rows": 30}))
    return s


async def test_unauthenticated_is_refused_before_accept(backend):
    comm = _communicator(AnonymousUser())
    connected, code = await comm.connect()
    assert not connected and code == 4401
    # The browser then drops the connection: that ends quietly (disconnect() raised
    # AttributeError on the lab consumer's event stream, a traceback per refused attempt).
    await comm.disconnect()


async def test_unknown_lab_is_refused(backend, student):
    comm = _communicator(student, lab="no-such-lab")
    connected, code = await comm.connect()
    assert not connected and code == 4403


async def test_step_ticks_by_itself_and_near_miss_gets_hint(backend, student):
    comm = _communicator(student)
    s = await _ready(comm, cols=100)

    await s.type("docker run -d --name my-web -p 8081:80 nginx\r")
    # Not just "8081": the status's data-observed time in ms held it once (1796282808171).
    miss = await s.until(lambda s: (st := s.step("run-nginx")) and "port 8081" in st["html"]
                         and st)
    assert miss["completed"] is False and "not 8080" in miss["html"]

    t0 = time.monotonic()
    await s.type("docker rm -f my-web; docker run -d --name my-web -p 8080:80 nginx\r")
    done = await s.until(lambda s: (st := s.step("run-nginx")) and st["completed"] and st)
    assert done["passed"] and time.monotonic() - t0 < 10
    assert b"my-web" in s.output
    assert await database_sync_to_async(
        StepCompletion.objects.filter(user=student, step_id="run-nginx").exists)()

    # The same shell survives a reconnect (tmux): a variable set before is still there, and the
    # screen is redrawn as it was (the shell computes the text, so the typed line never matches).
    await s.type("export BUNGEO_MARK=reattach-$((6*7)); echo screen-$((5*7))\r")
    await s.until(lambda s: b"screen-35" in s.output)
    await comm.disconnect()

    comm2 = _communicator(student)
    connected, _ = await comm2.connect(timeout=60)
    assert connected
    s2 = Session(comm2)
    # Before typing anything: tmux redraws the screen on attach.
    await s2.until(lambda s: any(m.get("state") == "ready" for m in s.messages)
                   and b"screen-35" in s.output, timeout=60)
    await s2.type("echo mark=$BUNGEO_MARK\r")
    await s2.until(lambda s: b"mark=reattach-42" in s.output)
    await comm2.disconnect()
    # Closed terminals leave no tmux client behind (they would slow every keystroke).
    from webapp.sandboxes.backend import learner_owner

    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    res = await asyncio.to_thread(backend.exec, sb.id, ["tmux", "list-clients"], timeout=10)
    assert res.output.strip() == "", res.output


async def test_a_container_whose_command_ends_at_once_never_ticks_the_run_step(backend, student):
    """QA, 3 of 3: 'docker run --name my-web -p 8080:80 nginx true' ticked "run-nginx" for good,
    the page having looked while my-web ran for its few milliseconds. A container that started
    just now is looked at again once it has run for STARTED_SETTLE_S: here it has exited by then,
    and the step stays not done with the message that says so. 'docker run -d' then ticks it
    soon after Enter."""
    from labs import checks
    from labs.consumers import AFTER_ENTER_S

    comm = _communicator(student)
    s = await _ready(comm, cols=100)
    await s.type("docker rm -f my-web >/dev/null 2>&1; docker pull -q nginx >/dev/null; "
                 "echo ready-$((6*7))\r")
    await s.until(lambda s: b"ready-42" in s.output, timeout=120)
    await s.during(max(AFTER_ENTER_S))  # the checks of that line are over
    s.messages.clear()

    # QA's command, then one whose container surely runs when the page first looks (the events
    # of its start bring a look 0.15 s later): it ends 1 s after its start, within the settle.
    for n, run in enumerate(["docker run --name my-web -p 8080:80 nginx true",
                             "docker run -d --name my-web -p 8080:80 nginx sleep 1"]):
        await s.type(f"docker rm my-web >/dev/null 2>&1; {run}; echo ran-$((6*{n}))\r")
        await s.until(lambda s, n=n: f"ran-{6 * n}".encode() in s.output)
        # The page's looks after Enter, then the look again of a settling verdict.
        await s.during(max(AFTER_ENTER_S) + checks.STARTED_SETTLE_S + 1)
        seen = s.statuses("run-nginx")
        assert seen and not any(st["completed"] or st["passed"] for st in seen), (run, seen)
        assert "my-web exists but is exited" in seen[-1]["html"], seen[-1]
        assert not await database_sync_to_async(
            StepCompletion.objects.filter(user=student, step_id="run-nginx").exists)()
        s.messages.clear()

    t0 = time.monotonic()
    await s.type("docker rm my-web; docker run -d --name my-web -p 8080:80 nginx\r")
    done = await s.until(lambda s: (st := s.step("run-nginx")) and st["completed"] and st)
    took = time.monotonic() - t0
    print(f"run-nginx ticked {took:.2f} s after Enter")  # shown with -s, or when it fails
    assert done["passed"] and took < 10
    # On the way there: never "created, not running: start it" (a look between the create and
    # the start, QA saw it for a moment), and the wait shows as checking, not as a miss.
    waits = [st["html"] for st in s.statuses("run-nginx") if not st["completed"]]
    assert not any("exists but is created" in h for h in waits), waits
    assert any("started just now" in h for h in waits), waits
    assert all('class="check-message pending"' in h for h in waits if "just now" in h), waits
    await comm.disconnect()


async def test_a_start_the_learner_ends_at_once_still_ticks_the_start_step(backend, student):
    """QA clicked the lesson's commands 0.7 s apart: 'docker start life' was still settling
    when 'docker kill life' ended it, and start-life stayed undone for good. A container the
    learner stopped while it ran is known to keep running: the look on its start event ticks the
    step. The kill step ticks too."""
    from labs.consumers import AFTER_ENTER_S

    comm = _communicator(student, lab="container-lifecycle")
    s = await _ready(comm, cols=100)
    await s.type("docker rm -f life >/dev/null 2>&1; docker pull -q nginx >/dev/null; "
                 "docker run -d --name life nginx >/dev/null; sleep 2; docker stop life; "
                 "echo ready-$((6*7))\r")
    await s.until(lambda s: b"ready-42" in s.output, timeout=120)
    await s.during(max(AFTER_ENTER_S))
    assert not await database_sync_to_async(
        StepCompletion.objects.filter(user=student, step_id="start-life").exists)()
    s.messages.clear()

    await s.type("docker start life; sleep 0.7; docker kill life; echo done-$((6*7))\r")
    await s.until(lambda s: b"done-42" in s.output)
    await s.during(max(AFTER_ENTER_S) + 1)
    done = await database_sync_to_async(lambda: set(StepCompletion.objects.filter(
        user=student, step_id__in=["start-life", "kill-life"]).values_list("step_id", flat=True)))()
    assert done == {"start-life", "kill-life"}, (done, s.statuses("start-life")[-1:])
    await comm.disconnect()


async def test_flood_arrives_in_bounded_frames_and_the_shell_stays_usable(backend, student):
    """A flood through the real sandbox ends with its marker, no frame is larger than FRAME_MAX,
    and the shell answers afterwards."""
    comm = _communicator(student)
    s = await _ready(comm)
    sizes = []
    s.output.clear()
    await s.type("head -c 3000000 /dev/zero | base64; echo flood-end-$((6*7))\r")

    deadline = time.monotonic() + 120
    while b"flood-end-42" not in s.output:
        assert time.monotonic() < deadline, bytes(s.output[-300:])
        msg = await asyncio.wait_for(comm.output_queue.get(), 60)
        assert msg["type"] != "websocket.close", msg
        if msg.get("bytes") is not None:
            sizes.append(len(msg["bytes"]))
            s.output += msg["bytes"]
    assert sizes and max(sizes) <= consumers.FRAME_MAX, max(sizes)
    await s.type("echo after-$((2*3))\r")
    await s.until(lambda s: b"after-6" in s.output)
    await comm.disconnect()


class _FakeTermConsumer(TerminalConsumer):
    """A TerminalConsumer whose pump reads a local socket and records what it sends."""

    def __init__(self, sock, gate=None):
        super().__init__()
        self.term = Terminal(sock=sock, resize=lambda c, r: None, close=lambda: None)
        self.frames: list[bytes] = []
        self.gate = gate

    async def send(self, text_data=None, bytes_data=None, close=False):
        self.frames.append(bytes_data)
        if self.gate is not None:
            await self.gate.wait()


def _writer(sock, lines: int, pause: float = 0.0) -> threading.Thread:
    """Write ``lines`` 77-byte lines to ``sock``, one write each (like a program on a tty), with
    ``pause`` seconds between writes."""
    def run():
        try:
            for i in range(lines):
                sock.sendall(b"%076d\n" % i)
                if pause:
                    time.sleep(pause)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


async def test_pump_coalesces_a_flood_without_losing_or_reordering_bytes():
    a, b = socket.socketpair()
    b.setblocking(False)
    consumer = _FakeTermConsumer(b)
    # A line every millisecond or so: each would be read (and sent) on its own without pacing.
    lines = 400
    writer = _writer(a, lines, pause=0.001)
    task = asyncio.create_task(consumer.pump())
    expected = b"".join(b"%076d\n" % i for i in range(lines))
    while sum(map(len, consumer.frames)) < len(expected):
        await asyncio.sleep(0.01)
    task.cancel()
    writer.join()
    a.close(), b.close()
    assert b"".join(consumer.frames) == expected
    assert max(map(len, consumer.frames)) <= consumers.FRAME_MAX
    # One write per line, far fewer frames: the output was gathered for FRAME_S each time (the
    # writer needs at least lines * 1 ms, so at most about that / FRAME_S + 1 frames).
    assert len(consumer.frames) < lines / 4, len(consumer.frames)


async def test_an_echo_in_pieces_after_a_quiet_moment_is_never_held_back():
    """tmux may write a keystroke's echo in two or three pieces: after a quiet moment, up to
    FRAME_BURST frames go out without any pacing wait; a flood is paced as before."""
    a, b = socket.socketpair()
    b.setblocking(False)
    waits: list[float] = []

    class Spy(_FakeTermConsumer):
        async def pace(self, seconds):
            waits.append(seconds)
            await super().pace(seconds)

    consumer = Spy(b)
    task = asyncio.create_task(consumer.pump())
    for piece in (b"z1", b"2", b"q"):  # each written once the previous one was sent
        n = len(consumer.frames)
        a.sendall(piece)
        while len(consumer.frames) == n:
            await asyncio.sleep(0.001)
    assert b"".join(consumer.frames) == b"z12q" and waits == []
    writer = _writer(a, 200, pause=0.001)
    while sum(map(len, consumer.frames)) < 4 + 200 * 77:
        await asyncio.sleep(0.01)
    task.cancel()
    writer.join()
    a.close(), b.close()
    assert waits, "a flood was not paced"


async def test_pump_reads_nothing_more_while_the_page_does_not_read():
    """Backpressure: while a send is pending, the pump leaves the tty unread (the server holds
    one frame at most); once the page reads again, everything comes through."""
    a, b = socket.socketpair()
    b.setblocking(False)
    gate = asyncio.Event()
    consumer = _FakeTermConsumer(b, gate)
    lines = 40000  # 3 MB: far more than the socket buffers hold
    writer = _writer(a, lines)
    task = asyncio.create_task(consumer.pump())
    while not consumer.frames:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # let the pump run on if it (wrongly) did not wait for the send
    assert len(consumer.frames) == 1
    assert len(consumer.frames[0]) <= consumers.FRAME_MAX
    assert writer.is_alive()  # the writer is blocked: nothing drains the tty
    gate.set()
    expected = lines * 77
    while sum(map(len, consumer.frames)) < expected:
        await asyncio.sleep(0.01)
    task.cancel()
    writer.join()
    a.close(), b.close()
    assert sum(map(len, consumer.frames)) == expected


_PROMPT = re.compile(rb"bungeo:[^\r\n]*?# ")
_ESC = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-9A-Za-z]|[@-Z\\-_=>])")


async def test_docker_command_typed_as_soon_as_the_prompt_shows_on_a_cold_start_works(backend, student):
    """Cold start (no sandbox): the terminal attaches before the inner engine necessarily
    answers; a docker command typed the moment the prompt shows runs against the engine (it is
    held until the engine answers), and the step checks run too."""
    from webapp.sandboxes.backend import learner_owner

    old = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    if old:
        await asyncio.to_thread(backend.remove, old.id, keep_workspace=False)
    comm = _communicator(student)
    connected, _ = await comm.connect(timeout=60)
    assert connected
    s = Session(comm)
    await s.until(lambda s: _PROMPT.search(_ESC.sub(b"", bytes(s.output))), timeout=60)
    await s.type("docker info --format 'srv={{.ServerVersion}}'; echo rc=$((0+$?))\r")
    await s.until(lambda s: b"rc=" in _ESC.sub(b"", bytes(s.output)).split(b"echo rc=")[-1], timeout=60)
    out = _ESC.sub(b"", bytes(s.output))
    assert re.search(rb"srv=\d+\.", out) and b"rc=0" in out, out[-500:]
    assert b"Cannot connect" not in out
    await s.until(lambda s: s.step("run-nginx") is not None)  # the checks reached the engine
    await comm.disconnect()


class _SlowEngineBackend:
    """A fake backend (unit test): one running sandbox whose terminal is a socket pair and whose
    inner engine answers when ``answer`` is set (or fails with ``error``)."""

    def __init__(self, owner, error=None):
        from webapp.sandboxes.backend import Sandbox

        self.sb = Sandbox(id="fake", owner=owner, kind="learner", state="running")
        self.shell, self.tty = socket.socketpair()
        self.answer, self.error = threading.Event(), error

    def list(self, kind=None):
        return [self.sb]

    def get(self, sandbox_id):
        return self.sb

    def ensure(self, *, owner, kind="learner", wait_engine=True):
        assert wait_engine is False
        return self.sb

    def open_terminal(self, sandbox_id, cols=80, rows=24):
        return Terminal(sock=self.tty, resize=lambda c, r: None, close=lambda: None)

    def wait_engine(self, sandbox_id):
        if self.error:
            time.sleep(consumers.ENGINE_QUIET_S + 0.2)
            raise self.error
        self.answer.wait(30)

    def lease(self, sandbox_id):
        return None

    def disk_usage(self, sandbox_id):
        return []

    def pids_usage(self, sandbox_id, *, cheap=False):
        return None

    def received(self, wait=0.5) -> bytes:
        self.shell.settimeout(wait)
        out = b""
        try:
            while True:
                out += self.shell.recv(65536)
        except TimeoutError:
            return out


def _english(text) -> str:
    with translation.override("en"):
        return str(text)


class _ReadyRecorder(TerminalConsumer):
    ready_calls: list = []

    async def on_ready(self):
        self.ready_calls.append(time.monotonic())


def _fake_session(student, monkeypatch, fake):
    monkeypatch.setattr(consumers, "get_backend", lambda: fake)
    _ReadyRecorder.ready_calls = []
    comm = WebsocketCommunicator(_ReadyRecorder.as_asgi(), "/ws/x/", headers=[(b"accept-language", b"en")])
    comm.scope["user"] = student
    return comm, Session(comm)


async def test_input_waits_for_the_inner_engine_then_reaches_the_shell_in_order(student, monkeypatch):
    from webapp.sandboxes.backend import learner_owner

    fake = _SlowEngineBackend(learner_owner(student))
    comm, s = _fake_session(student, monkeypatch, fake)
    assert (await comm.connect(timeout=10))[0]
    # The engine is slow: the page is told (state "ready": the terminal takes input)...
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=10)
    assert [m.get("text") for m in s.messages if m.get("state") == "ready"] == [
        _english(consumers.MSG_ENGINE_STARTING)]
    await s.type("docker ps\r")
    # ... nothing reached the shell, no step check ran.
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    assert _ReadyRecorder.ready_calls == []
    await s.type("echo two\r")
    # "Connected" is not said before it is true (it flickered: Connected, Docker is starting,
    # Connected).
    assert not any(m.get("text") == "Sandbox connected." for m in s.messages), s.messages
    fake.answer.set()
    await s.until(lambda s: s.messages[-1].get("text") == "Sandbox connected.", timeout=5)
    await s.type("echo three\r")
    got = await asyncio.to_thread(fake.received, 0.5)
    assert got == b"docker ps\recho two\recho three\r"
    assert len(_ReadyRecorder.ready_calls) == 1
    fake.shell.sendall(b"bungeo:~# ")
    await s.until(lambda s: b"bungeo:~# " in s.output)
    await comm.disconnect()


async def test_input_passes_at_once_when_the_engine_already_answers(student, monkeypatch):
    from webapp.sandboxes.backend import learner_owner

    fake = _SlowEngineBackend(learner_owner(student))
    fake.answer.set()
    comm, s = _fake_session(student, monkeypatch, fake)
    assert (await comm.connect(timeout=10))[0]
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=10)
    while not _ReadyRecorder.ready_calls:
        await asyncio.sleep(0.01)
    await s.type("ls\r")
    assert await asyncio.to_thread(fake.received, 0.3) == b"ls\r"
    await asyncio.sleep(consumers.ENGINE_QUIET_S + 0.1)
    assert not any(m.get("text") == _english(consumers.MSG_ENGINE_STARTING) for m in s.messages)
    assert [m.get("text") for m in s.messages if m.get("state") == "ready"] == [
        "Sandbox connected."]
    await comm.disconnect()


async def test_an_engine_that_never_answers_shows_the_error_and_runs_nothing(student, monkeypatch):
    from webapp.sandboxes.backend import SandboxError, learner_owner
    from webapp.sandboxes.docker_backend import MSG_NOT_READY

    fake = _SlowEngineBackend(learner_owner(student), error=SandboxError(MSG_NOT_READY))
    comm, s = _fake_session(student, monkeypatch, fake)
    assert (await comm.connect(timeout=10))[0]
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=10)
    await s.type("docker ps\r")
    with pytest.raises(AssertionError, match="closed"):
        await s.until(lambda s: False, timeout=5)
    assert s.messages[-1]["state"] == "error"
    assert s.messages[-1]["text"] == ("Your sandbox did not become ready in time. Please try again "
                                      "in a moment.")
    assert await asyncio.to_thread(fake.received, 0.3) == b""
    assert _ReadyRecorder.ready_calls == []


async def test_a_full_disk_is_given_in_gib_as_df_shows_it(student, monkeypatch):
    """A 10g quota's file system holds about 10.5e9 bytes: `df -h` in the sandbox says 9.8G,
    and so does the bar (it said "10.5 GB", a third figure beside the README's "10 GB")."""
    from webapp.sandboxes.backend import learner_owner

    class FullDisk(_SlowEngineBackend):
        def disk_usage(self, sandbox_id):
            return [("workspace", 10_450_000_000, 10_520_000_000)]

    fake = FullDisk(learner_owner(student))
    fake.answer.set()
    comm, s = _fake_session(student, monkeypatch, fake)
    assert (await comm.connect(timeout=10))[0]
    warn = await s.until(lambda s: next((m for m in s.messages if m.get("state") == "warn"), None),
                         timeout=10)
    # 10.45e9 bytes used is 9.73 GiB, which `df -h` rounds up to 9.8G as well.
    assert "Your home folder is full (9.8 of 9.8 GiB used)" in warn["text"], warn["text"]
    await comm.disconnect()


async def _until_closed(comm, s, timeout=60.0) -> None:
    """Collect what the server sends into ``s`` until it closes the websocket."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(comm.output_queue.get(), max(0.05, deadline - time.monotonic()))
        if msg["type"] == "websocket.close":
            return
        if msg.get("bytes") is not None:
            s.output += msg["bytes"]
        elif msg.get("text") is not None:
            s.messages.append(json.loads(msg["text"]))


async def _at_prompt(student):
    """(communicator, Session): the student's terminal, connected, ready and at the prompt."""
    comm = _communicator(student)
    s = await _ready(comm)
    await s.until(lambda s: _PROMPT.search(_ESC.sub(b"", bytes(s.output))), timeout=30)
    return comm, s


async def test_exit_says_at_once_that_the_shell_ended(backend, student):
    """`exit` in the shell: the page is told within about a second that the shell ended (it
    said "Connected" for 7 s, the time a stopping sandbox may take)."""
    comm, s = await _at_prompt(student)
    await s.type("exit\r")
    t0 = time.monotonic()
    await _until_closed(comm, s)
    took = time.monotonic() - t0
    last = [m for m in s.messages if m.get("type") == "status"][-1]
    assert last["state"] == "closed" and last["text"].startswith("The shell ended"), last
    assert took < 3.0, took
    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    assert sb is not None and sb.running  # the sandbox itself keeps running


async def test_a_stop_after_output_that_looks_like_tmux_exiting_still_says_stopped(backend, student):
    """The learner's own output ends with tmux's "[exited]" line when their sandbox is stopped:
    the page says the sandbox stopped, not that the shell ended."""
    comm, s = await _at_prompt(student)
    await s.type("clear; printf '[exi''ted]\\r\\n'; sleep 600\r")
    await s.until(lambda s: b"[exited]" in bytes(s.output))
    await asyncio.sleep(0.5)  # tmux has drawn it: nothing comes after it
    # The terminal's output does end as a shell's exit does (else this test would prove nothing).
    assert consumers.SHELL_EXITED.search(bytes(s.output[-consumers.TAIL_MAX:])), bytes(s.output[-100:])
    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    stop = asyncio.create_task(asyncio.to_thread(backend.stop, sb.id))
    await _until_closed(comm, s)
    await stop
    last = [m for m in s.messages if m.get("type") == "status"][-1]
    assert last["state"] == "closed" and last["text"].startswith("Your sandbox was stopped"), last


@pytest.mark.parametrize("by_staff", [False, True])
async def test_a_reconnect_after_the_sandbox_stopped_meanwhile_does_not_start_it(backend, student,
                                                                                by_staff):
    """QA: the server restarted while a learner's tab was open, the reaper stopped the sandbox
    at the end of its lease meanwhile, and the tab's reconnect started a fresh one with a new
    lease, unasked. A reconnect of an attached terminal (``?resume=1``, terminal.js) now says
    the sandbox stopped and starts nothing; Start again (no resume) starts it, and a resume to a
    sandbox that still runs attaches as before. Stopped by an instructor (the classroom page),
    it says so instead."""
    from webapp.sandboxes.backend import STOP_BY_STAFF

    comm, s = await _at_prompt(student)
    await comm.disconnect()  # the connection dropped without a word from the server
    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    # the reaper, or an instructor, while the page was away
    await asyncio.to_thread(backend.stop, sb.id, reason=STOP_BY_STAFF if by_staff else None)

    again = _communicator(student, query="resume=1")
    connected, _ = await again.connect(timeout=60)
    assert connected
    s2 = Session(again)
    await _until_closed(again, s2)
    last = [m for m in s2.messages if m.get("type") == "status"][-1]
    assert last["state"] == "closed", last
    if by_staff:
        assert last["text"].startswith("An instructor stopped your sandbox."), last
    else:
        assert "stopped while this page was away" in last["text"], last
    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    assert sb is not None and not sb.running

    start = _communicator(student)  # Start again
    await _ready(start)
    await start.disconnect()
    resumed = _communicator(student, query="resume=1")
    await _ready(resumed)  # still running: it attaches
    await resumed.disconnect()
    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    assert sb is not None and sb.running


@pytest.mark.parametrize("threads,prompt", [(6, False), (64, True)])
async def test_slow_calls_of_other_pages_do_not_hold_a_new_terminal(backend, student, settings,
                                                                     monkeypatch, threads, prompt):
    """Terminals and lab pages run their blocking calls in a pool of their own
    (BUNGEO_BLOCKING_THREADS, 64). With the 6 threads Python's default pool has on a 2-core host,
    eight slow calls of other pages (a learner's engine slow to read) held a new terminal on
    "Connecting to your sandbox…" until they ended; with 64 it starts at once."""
    from webapp.sandboxes import blocking

    monkeypatch.setattr(blocking, "_pool", None)
    settings.BUNGEO_BLOCKING_THREADS = threads
    slow = [asyncio.ensure_future(blocking.to_thread(time.sleep, 6)) for _ in range(8)]
    await asyncio.sleep(0.2)
    comm = _communicator(student)
    t0 = time.monotonic()
    try:
        connected, _ = await comm.connect(timeout=10)
        assert connected
        s = Session(comm)
        await s.until(lambda s: any(m.get("state") == "starting" for m in s.messages), timeout=10)
        waited = time.monotonic() - t0
        assert (waited < 2.0) is prompt, f"{waited:.1f} s with {threads} threads"
        if not prompt:
            assert waited > 4.0, waited
    finally:
        await comm.disconnect()
        await asyncio.gather(*slow)
        blocking.pool().shutdown(wait=False)


@pytest.mark.parametrize("tail,exited", [
    (b"root@bungeo:~# exit\r\n[exited]\r\n", True),
    (b"[exited]", True),
    # CI once saw tmux send cursor modes after the "[exited]" line as it redrew.
    (b"\x1b[H\x1b[J[exited]\r\n\x1b[?25l\x1b[?12l\x1b[?25h", True),
    (b"[exited]\r\nroot@bungeo:~# ", False),  # a prompt after it: the shell goes on
    (b"[exited] and more", False),
    (b"\x1b[?25h", False),
])
def test_what_counts_as_a_shell_that_exited(tail, exited):
    assert bool(consumers.SHELL_EXITED.search(tail)) is exited
