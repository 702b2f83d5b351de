"""The lab terminal websocket on a real sandbox: auth before accept, live output, steps ticking
by themselves (and a near miss getting its hint), and tmux reattach on reconnect."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from labs.consumers import LabTerminalConsumer
from labs.models import StepCompletion

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

PATH = "/ws/labs/week1/images-and-containers/terminal/"


def _communicator(user, lab="images-and-containers"):
    comm = WebsocketCommunicator(LabTerminalConsumer.as_asgi(), PATH,
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


async def test_unauthenticated_is_refused_before_accept(backend):
    comm = _communicator(AnonymousUser())
    connected, code = await comm.connect()
    assert not connected and code == 4401


async def test_unknown_lab_is_refused(backend, student):
    comm = _communicator(student, lab="no-such-lab")
    connected, code = await comm.connect()
    assert not connected and code == 4403


async def test_step_ticks_by_itself_and_near_miss_gets_hint(backend, student):
    comm = _communicator(student)
    connected, _ = await comm.connect(timeout=60)
    assert connected
    s = Session(comm)
    await s.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=60)
    await comm.send_to(text_data=json.dumps({"type": "resize", "cols": 100, "rows": 30}))

    await s.type("docker run -d --name my-web -p 8081:80 nginx\r")
    miss = await s.until(lambda s: (st := s.step("run-nginx")) and "8081" in st["html"] and st)
    assert miss["completed"] is False and "not 8080" in miss["html"]

    t0 = time.monotonic()
    await s.type("docker rm -f my-web; docker run -d --name my-web -p 8080:80 nginx\r")
    done = await s.until(lambda s: (st := s.step("run-nginx")) and st["completed"] and st)
    assert done["passed"] and time.monotonic() - t0 < 10
    assert b"my-web" in s.output
    assert await database_sync_to_async(
        StepCompletion.objects.filter(user=student, step_id="run-nginx").exists)()

    # The same shell survives a reconnect (tmux): a variable set before is still there.
    await s.type("export BUNGEO_MARK=reattach-$((6*7))\r")
    await s.until(lambda s: b"reattach-" in s.output)
    await comm.disconnect()

    comm2 = _communicator(student)
    connected, _ = await comm2.connect(timeout=60)
    assert connected
    s2 = Session(comm2)
    await s2.until(lambda s: any(m.get("state") == "ready" for m in s.messages), timeout=60)
    await s2.type("echo mark=$BUNGEO_MARK\r")
    await s2.until(lambda s: b"mark=reattach-42" in s.output)
    await comm2.disconnect()
    # Closed terminals leave no tmux client behind (they would slow every keystroke).
    from webapp.sandboxes.backend import learner_owner

    sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
    res = await asyncio.to_thread(backend.exec, sb.id, ["tmux", "list-clients"], timeout=10)
    assert res.output.strip() == "", res.output
