"""Maximum lifetime: each start gets a lease; the learner may extend it within policy; the reaper
stops a sandbox whose lease expired even with a terminal attached; the page is told the time
left over the terminal websocket."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import translation

from webapp.sandboxes import tasks
from webapp.sandboxes.backend import SandboxError, learner_owner

pytestmark = pytest.mark.docker


def test_lease_extend_reset_stop_and_expiry(backend, settings):
    settings.BUNGEO_SANDBOX_MAX_LIFETIME = 3600
    settings.BUNGEO_SANDBOX_EXTEND_SECONDS = 600
    settings.BUNGEO_SANDBOX_MAX_EXTENSIONS = 1
    settings.BUNGEO_SANDBOX_WARN_BEFORE = 600
    sb = backend.ensure(owner="leased")
    try:
        lease = backend.lease(sb.id)
        assert lease is not None and 3590 < lease.remaining() <= 3600 and lease.extensions_left == 1
        # Outside the warning window Extend is refused (the page does not offer it there).
        with pytest.raises(SandboxError, match="only in its last 10 minutes"), translation.override("en"):
            backend.extend(sb.id)
        assert backend.lease(sb.id) == lease
        settings.BUNGEO_SANDBOX_WARN_BEFORE = 3600
        longer = backend.extend(sb.id)
        assert abs(longer.expires - lease.expires - 600) < 1 and longer.extensions_left == 0
        with pytest.raises(SandboxError, match="every extension"), translation.override("en"):
            backend.extend(sb.id)
        backend.restart(sb.id)  # a reset keeps the lease (it is not a way to extend)
        assert backend.lease(sb.id) == longer
        # The lease file lives outside the folder shared with the sandbox: not writable inside.
        res = backend.exec(sb.id, ["sh", "-c", "ls /run/bungeo-host/"], timeout=10)
        assert "lease" not in res.output
        # expired: the reaper stops it although a terminal is attached
        backend._lease_write(sb.id, type(longer)(longer.started, time.time() - 1, 1))
        term = backend.open_terminal(sb.id)
        try:
            time.sleep(0.5)
            assert sb.id in tasks.sandboxes_reap_idle()
        finally:
            term.close()
        assert not backend.get(sb.id).running and backend.lease(sb.id) is None
        again = backend.ensure(owner="leased")  # a new start gets a new lease
        assert backend.lease(again.id).remaining() > 3500
        # A lease that ran out while the sandbox was down without stop() (the engine stopped it)
        # is not kept by the next start: it stopped that start at once (learner let in from the
        # queue saw "the sandbox stopped while starting").
        backend._container(again.id).stop(timeout=5)
        backend._lease_write(again.id, type(longer)(time.time() - 7200, time.time() - 60, 0))
        third = backend.ensure(owner="leased")
        assert backend.get(third.id).running and backend.lease(third.id).remaining() > 3500
    finally:
        backend.remove(sb.id, keep_workspace=False)


@pytest.mark.django_db
def test_extend_view_answers_json_within_policy(client, student, backend, settings):
    settings.BUNGEO_SANDBOX_MAX_EXTENSIONS = 1
    settings.BUNGEO_SANDBOX_MAX_LIFETIME = 3600
    settings.BUNGEO_SANDBOX_WARN_BEFORE = 600
    client.force_login(student)
    url = reverse("sandboxes:extend")
    assert client.post(url).status_code == 409  # no sandbox yet
    sb = backend.ensure(owner=learner_owner(student))
    try:
        with translation.override("en"):
            early = client.post(url, HTTP_ACCEPT_LANGUAGE="en")
            settings.BUNGEO_SANDBOX_WARN_BEFORE = 3600
            ok = client.post(url, HTTP_ACCEPT_LANGUAGE="en").json()
            refused = client.post(url, HTTP_ACCEPT_LANGUAGE="en")
        assert early.status_code == 409 and "when the countdown warns you" in early.json()["message"]
        assert ok["ok"] and ok["extensions_left"] == 0 and ok["message"].startswith("Extended by")
        assert refused.status_code == 409 and "every extension" in refused.json()["message"]
        assert client.get(url).status_code == 405
    finally:
        backend.remove(sb.id, keep_workspace=False)


@pytest.mark.django_db(transaction=True)
def test_terminal_tells_the_page_the_time_left(backend, student, settings):
    from labs.consumers import LabTerminalConsumer

    settings.BUNGEO_SANDBOX_MAX_LIFETIME = 5000

    async def first_lease():
        comm = WebsocketCommunicator(LabTerminalConsumer.as_asgi(),
                                     "/ws/labs/week1/images-and-containers/terminal/")
        comm.scope["user"] = student
        comm.scope["url_route"] = {"kwargs": {"course_id": "week1", "lab_id": "images-and-containers"}}
        connected, _ = await comm.connect(timeout=60)
        assert connected
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                msg = await asyncio.wait_for(comm.output_queue.get(), 60)
                if msg.get("text") and json.loads(msg["text"]).get("type") == "lease":
                    return json.loads(msg["text"])
            raise AssertionError("no lease message")
        finally:
            await comm.disconnect()

    msg = asyncio.run(first_lease())
    assert 4900 < msg["expires_in"] <= 5000
    assert msg["extensions_left"] == settings.BUNGEO_SANDBOX_MAX_EXTENSIONS
    assert msg["warn_before"] == settings.BUNGEO_SANDBOX_WARN_BEFORE
    sb = backend.find(owner=learner_owner(student))
    backend.remove(sb.id, keep_workspace=False)
