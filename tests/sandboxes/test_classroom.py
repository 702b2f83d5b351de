"""The staff's classroom page: whose sandbox runs (time left, idle for), who waits, whose is
stopped; an instructor stops a learner's sandbox to free its place, and that learner's terminal
says an instructor stopped it (not "time limit or idle"). Real engine for the page and the stop;
the browser test is tests/e2e/test_classroom_in_browser.py."""
from __future__ import annotations

import asyncio
import os
import time

import pytest
from django.urls import reverse

from webapp.sandboxes import admission
from webapp.sandboxes.backend import STOP_BY_STAFF, learner_owner
from webapp.sandboxes.classroom import clock, overview, users_by_owner

from .test_admission import _connected, _until_state


@pytest.fixture
def instructor(django_user_model):
    return django_user_model.objects.create_user("teacher1", password="pw-teacher-1", is_staff=True)


@pytest.fixture(params=["memory", "redis"])
def line_store(request, settings):
    settings.REDIS_URL = "" if request.param == "memory" else os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6379/15")
    settings.BUNGEO_SANDBOX_PREFIX = f"{settings.BUNGEO_SANDBOX_PREFIX}-room-{request.param}"
    admission.reset()
    yield request.param
    admission.reset()


class _Full:
    """A backend with one running learner sandbox ("a"): the line forms behind it."""

    def list(self, *, kind=None):
        from webapp.sandboxes.backend import Sandbox

        return [Sandbox(id="sb-a", owner="a", kind="learner", state="running")]

    def lease(self, sandbox_id):
        return None


def test_the_line_lists_who_waits_first_in_line_first(line_store, settings):
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    t0 = 5000.0
    for i, o in enumerate(["c", "d", "e"]):
        assert not admission.try_admit(_Full(), o, now=t0 + i).admitted
    assert admission.line(now=t0 + 10) == [("c", 10.0), ("d", 9.0), ("e", 8.0)]
    # d keeps polling, c and e do not: after STALE_S only d is still in line.
    admission.try_admit(_Full(), "d", now=t0 + 15)
    later = t0 + 2 + admission.STALE_S + 1
    assert admission.line(now=later) == [("d", later - (t0 + 1))]
    assert admission.queue_length(now=later) == 1


def test_clock_reads_like_the_lab_pages_countdown():
    assert [clock(s) for s in (None, 0, 59.9, 61, 3599, 3600, 3725)] == [
        "", "0:00", "0:59", "1:01", "59:59", "1:00:00", "1:02:05"]


@pytest.mark.django_db
def test_owner_strings_map_to_their_accounts_only(student, django_user_model):
    owner = learner_owner(student)
    stale = f"u{student.pk}-12345"  # an older account with the same id (a database reset)
    assert users_by_owner([owner, stale, "occupant", "u999999-1"]) == {owner: student}


@pytest.mark.django_db
def test_learners_may_neither_see_the_page_nor_stop_a_sandbox(client, student, other_student):
    assert "/login/" in client.get(reverse("sandboxes:classroom"))["Location"]
    client.force_login(student)
    assert client.get(reverse("sandboxes:classroom")).status_code == 403
    assert client.post(reverse("sandboxes:classroom_stop", args=["bungeotest-learner-x"])).status_code == 403
    assert b"Sandboxes</a>" not in client.get(reverse("labs:index"), HTTP_ACCEPT_LANGUAGE="en").content


class _Room:
    """A stand-in backend: one learner sandbox "sb-a" (owner "a", running) and one grading
    sandbox; ``broken`` makes the idle look fail as a sandbox stopping meanwhile does (409)."""

    def __init__(self, *, down: bool = False, broken: bool = False) -> None:
        self.down, self.broken, self.stopped = down, broken, []

    def list(self, *, kind=None):
        from webapp.sandboxes.backend import Sandbox, SandboxError

        if self.down:
            raise SandboxError("The sandbox service is not running. Please tell your instructor.")
        return [Sandbox(id="sb-a", owner="a", kind="learner", state="running"),
                Sandbox(id="sb-g", owner="g", kind="grading", state="running")]

    def get(self, sandbox_id):
        return next((sb for sb in self.list() if sb.id == sandbox_id), None)

    def lease(self, sandbox_id):
        return None

    def idle_seconds(self, sandbox_id, *, now=None):
        if self.broken:
            import docker.errors

            raise docker.errors.APIError("409 Client Error: Container sb-a is not running")
        return 42.0

    def stop(self, sandbox_id, *, reason=None):
        self.stopped.append((sandbox_id, reason))


@pytest.mark.django_db
def test_a_stop_of_what_is_not_a_learner_sandbox_is_404(client, instructor, monkeypatch):
    from webapp.sandboxes import views

    room = _Room()
    monkeypatch.setattr(views, "get_backend", lambda: room)
    client.force_login(instructor)
    assert client.post(reverse("sandboxes:classroom_stop", args=["sb-nope"])).status_code == 404
    assert client.post(reverse("sandboxes:classroom_stop", args=["sb-g"])).status_code == 404
    assert client.get(reverse("sandboxes:classroom_stop", args=["sb-a"])).status_code == 405
    assert room.stopped == []
    # A sandbox whose account is gone (owner "a" matches none) is stopped all the same (QA).
    resp = client.post(reverse("sandboxes:classroom_stop", args=["sb-a"]), HTTP_HX_REQUEST="true",
                       HTTP_ACCEPT_LANGUAGE="en")
    assert room.stopped == [("sb-a", STOP_BY_STAFF)]
    assert "a&#x27;s sandbox was stopped" in resp.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("down,broken", [(True, False), (False, True)])
def test_the_page_survives_an_engine_down_or_a_look_that_fails(client, instructor, monkeypatch,
                                                              down, broken):
    """QA: a bare 500 when the engine was down, and when a sandbox stopped between the list and
    its idle look (409). The page says the engine could not be asked; one row's look failing
    leaves only that row's figures empty."""
    from webapp.sandboxes import views

    monkeypatch.setattr(views, "get_backend", lambda: _Room(down=down, broken=broken))
    client.force_login(instructor)
    resp = client.get(reverse("sandboxes:classroom"), HTTP_ACCEPT_LANGUAGE="en")
    page = resp.content.decode()
    assert resp.status_code == 200
    if down:
        assert "The sandbox engine could not be asked: The sandbox service is not running" in page
    else:
        assert 'data-learner="a"' in page and "in use" in page  # no idle figure for that row
        assert "1 of 1 place in use" not in page and "places in use" in page


def test_the_engine_not_answering_is_a_sandbox_error(monkeypatch):
    """docker-py lets the HTTP library's errors through (a refused connection, a read timeout):
    they are SandboxError (MSG_ENGINE_DOWN), not a 500 or the learner's "error in bungeo"."""
    import requests

    from webapp.sandboxes.backend import SandboxError
    from webapp.sandboxes.docker_backend import DockerSandboxBackend

    class _Refusing:
        def list(self, **_kw):
            raise requests.exceptions.ConnectionError("Connection aborted.")

        def get(self, _name):
            raise requests.exceptions.ReadTimeout("Read timed out.")

    backend = object.__new__(DockerSandboxBackend)
    backend.prefix = "bungeotest"
    backend._client = type("C", (), {"containers": _Refusing()})()
    for call in (lambda: backend.list(), lambda: backend.get("bungeotest-learner-x")):
        with pytest.raises(SandboxError, match="sandbox service is not running"):
            call()


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_staff_see_the_classroom_and_stop_a_learners_sandbox(backend, client, instructor, student,
                                                            other_student, settings):
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    sb = backend.ensure(owner=learner_owner(student))
    # other_student waits for the one place (as their lab terminal's poll would put them).
    assert not admission.try_admit(backend, learner_owner(other_student)).admitted
    try:
        room = overview(backend)
        assert [r.name for r in room.running] == ["student1"] and room.free == 0
        row = room.running[0]
        assert row.lease_left_s is not None and 0 < row.lease_left_s <= settings.BUNGEO_SANDBOX_MAX_LIFETIME
        assert row.idle_s is not None  # no terminal was ever opened: idle since its start
        assert [(w.position, w.name) for w in room.waiting] == [(1, "student2")]

        client.force_login(instructor)
        page = client.get(reverse("sandboxes:classroom"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'data-learner="student1"' in page and "1 of 1 place in use" in page
        settings.BUNGEO_SANDBOX_CAPACITY = 2  # the plural follows the places (QA: "1 of 2 place")
        assert "1 of 2 places in use" in client.get(reverse("sandboxes:classroom"),
                                                    HTTP_ACCEPT_LANGUAGE="en").content.decode()
        settings.BUNGEO_SANDBOX_CAPACITY = 1
        assert "1 learner waiting" in page and 'id="classroom-waiting"' in page
        assert reverse("sandboxes:classroom_stop", args=[sb.id]) in page
        assert 'hx-trigger="every 10s"' in page and ">Sandboxes</a>" in page

        # The stop, as the page's button sends it (htmx): the section comes back refreshed.
        resp = client.post(reverse("sandboxes:classroom_stop", args=[sb.id]),
                           HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
        body = resp.content.decode()
        assert resp.status_code == 200 and body.startswith('<section class="card staff" id="classroom"')
        assert "student1&#x27;s sandbox was stopped. Their files and images are kept." in body
        assert 'id="classroom-running"' not in body and "No learner's sandbox is running." in body
        assert 'id="classroom-stopped"' in body and 'data-learner="student1"' in body
        assert not backend.get(sb.id).running
        assert backend.stop_reason(sb.id) == STOP_BY_STAFF
        # A second stop says so and changes nothing.
        again = client.post(reverse("sandboxes:classroom_stop", args=[sb.id]),
                            HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "student1&#x27;s sandbox was not running." in again
        # Started again, it is no longer "stopped by staff"; a stop without a reason (the reaper,
        # the time limit) gives none.
        backend.ensure(owner=learner_owner(student))
        assert backend.stop_reason(sb.id) is None
        backend.stop(sb.id)
        assert backend.stop_reason(sb.id) is None
    finally:
        admission.reset()


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("by_staff", [True, False])
def test_the_learners_terminal_says_who_stopped_the_sandbox(backend, student, settings, by_staff):
    settings.BUNGEO_SANDBOX_CAPACITY = 5
    admission.reset()

    async def scenario():
        comm = await _connected(student)
        await _until_state(comm, ("ready",), timeout=60)
        sb = await asyncio.to_thread(backend.find, owner=learner_owner(student))
        t0 = time.monotonic()
        await asyncio.to_thread(backend.stop, sb.id, reason=STOP_BY_STAFF if by_staff else None)
        seen = await _until_state(comm, ("closed",), timeout=30)
        await comm.disconnect()
        return seen[-1]["text"], time.monotonic() - t0

    text, _took = asyncio.run(scenario())
    if by_staff:
        assert text.startswith("An instructor stopped your sandbox.") and "Start again" in text
    else:
        assert "time limit or idle" in text and "instructor" not in text
