"""Admission control: a per-host capacity, a first-come first-served queue with place and
estimate, reservations against bursts, stale places dropped; the same rules in-process and in
Redis; and a real terminal that waits in line and starts when a place frees."""
from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import translation

from webapp.sandboxes import admission
from webapp.sandboxes.backend import Sandbox, learner_owner


class FakeBackend:
    """Only what admission reads: the running learner sandboxes and their leases (``leases``:
    owner -> the lease's end, epoch seconds; none known by default)."""

    def __init__(self, *owners: str, leases: dict[str, float] | None = None) -> None:
        self.owners = set(owners)
        self.leases = leases or {}

    def list(self, *, kind=None):
        return [Sandbox(id=f"sb-{o}", owner=o, kind="learner", state="running") for o in self.owners]

    def lease(self, sandbox_id):
        from webapp.sandboxes.backend import Lease

        end = self.leases.get(sandbox_id.removeprefix("sb-"))
        return None if end is None else Lease(end - 3600, end, 0)


@pytest.fixture(params=["memory", "redis"])
def store(request, settings):
    settings.REDIS_URL = "" if request.param == "memory" else os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6379/15")
    settings.BUNGEO_SANDBOX_PREFIX = f"{settings.BUNGEO_SANDBOX_PREFIX}-adm-{request.param}"
    settings.BUNGEO_SANDBOX_CAPACITY = 2
    admission.reset()
    yield request.param
    admission.reset()


def test_queue_places_reservations_and_stale_entries(store, settings):
    full = FakeBackend("a", "b")
    t0 = 1000.0
    assert admission.try_admit(full, "a", now=t0).admitted  # already running: always in
    tickets = {o: admission.try_admit(full, o, now=t0 + i) for i, o in enumerate(["c", "d", "e"])}
    assert [(t.admitted, t.position) for t in tickets.values()] == [(False, 1), (False, 2), (False, 3)]
    assert tickets["c"].estimate_s >= 60 and tickets["e"].estimate_s == 3 * tickets["c"].estimate_s
    admission.leave("c")  # closed the tab
    assert admission.try_admit(full, "d", now=t0 + 5).position == 1
    assert admission.try_admit(full, "e", now=t0 + 5).position == 2
    # b's sandbox stops: one place. d (first in line) gets it, e waits: the reservation holds
    # d's place while d's sandbox starts, so e is not admitted into the same place.
    one_free = FakeBackend("a")
    assert admission.try_admit(one_free, "e", now=t0 + 6).position == 1
    assert admission.try_admit(one_free, "d", now=t0 + 6).admitted
    assert not admission.try_admit(one_free, "e", now=t0 + 7).admitted
    # d's sandbox is now running; the reservation is released and the count is right again
    assert not admission.try_admit(FakeBackend("a", "d"), "e", now=t0 + 8).admitted
    # a learner who stops polling leaves the line after STALE_S
    assert admission.try_admit(FakeBackend("a", "d"), "f", now=t0 + 9).position == 2
    later = t0 + 9 + admission.STALE_S + 1
    assert admission.try_admit(FakeBackend("a", "d"), "f", now=later).position == 1


def test_estimate_follows_recent_admissions(store):
    assert admission._estimate(2, [0.0, 100.0, 200.0]) == 200
    assert admission._estimate(1, [0.0, 10.0]) == 60  # at least a minute per place


def test_the_estimate_counts_down_while_nobody_moves(store, settings):
    """QA saw "about 2 min" for 172 s: the estimate now shrinks with the time waited, down to a
    minute, and starts again from the mean gap after the next admission."""
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    settings.BUNGEO_SANDBOX_IDLE_TIMEOUT, settings.BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL = 1800, 300
    assert admission._estimate(1, [], waited=120) == 180
    assert admission._estimate(1, [], waited=1000) == 60
    busy, t0 = FakeBackend("a"), 1_000_000.0
    first = admission.try_admit(busy, "b", now=t0)
    later = admission.try_admit(busy, "b", now=t0 + 120)
    assert (first.position, later.position) == (1, 1)
    assert first.estimate_s == 300 and later.estimate_s == 180


def test_the_estimate_is_never_later_than_the_running_leases_allow(store, settings):
    """With no admissions yet, the guess from the idle timeout (300 s a place here) would tell
    the first in line "5 min" although a lease ends in 30 s: the wait is the position-th
    soonest lease end plus the reaper's round, when that is sooner, never under a minute."""
    settings.BUNGEO_SANDBOX_IDLE_TIMEOUT, settings.BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL = 1800, 300
    settings.BUNGEO_SANDBOX_CAPACITY = 2
    t0 = 1_000_000.0
    soon = FakeBackend("a", "b", leases={"a": t0 + 3000, "b": t0 + 30})
    first = admission.try_admit(soon, "c", now=t0)
    second = admission.try_admit(soon, "d", now=t0)
    third = admission.try_admit(soon, "e", now=t0)
    assert (first.position, second.position, third.position) == (1, 2, 3)
    assert first.estimate_s == 30 + admission.REAP_S  # b's lease ends, the reaper stops it
    assert second.estimate_s == 300  # a's lease ends later than the guess: the guess stands
    assert third.estimate_s == 450  # no third lease to go by
    # Without any lease known, or all ending later, the estimate is the guess alone.
    admission.reset()
    assert admission.try_admit(FakeBackend("a", "b"), "c", now=t0).estimate_s == 150
    admission.reset()
    late = FakeBackend("a", "b", leases={"a": t0 + 9000, "b": t0 + 9000})
    assert admission.try_admit(late, "c", now=t0).estimate_s == 150
    admission.reset()  # a lease that has ended already: the reaper's next round, at least a minute
    ended = FakeBackend("a", "b", leases={"a": t0 - 10, "b": t0 + 9000})
    assert admission.try_admit(ended, "c", now=t0).estimate_s == max(60, admission.REAP_S)
    admission.reset()  # over capacity (lowered to 1 while 2 run): two places must free up
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    assert admission.try_admit(soon, "c", now=t0).estimate_s == 300  # not b's 30 s + the round


def test_once_the_guess_has_run_out_the_line_says_so_and_gives_the_latest(store, settings):
    """QA: "about 1 min" for minutes on end while both running learners kept working (no
    admission yet, so the guess was the idle timeout). Once the learner has waited that long,
    the ticket is overdue and carries the running leases' bound; an admission starts the count
    again; a lease that ends sooner than the guess is a sure estimate, never overdue."""
    from webapp.sandboxes.consumers import queue_text

    settings.BUNGEO_SANDBOX_IDLE_TIMEOUT, settings.BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL = 1800, 300
    settings.BUNGEO_SANDBOX_CAPACITY = 2
    t0 = 1_000_000.0
    busy = FakeBackend("a", "b", leases={"a": t0 + 1200, "b": t0 + 3000})
    fresh = admission.try_admit(busy, "c", now=t0)
    assert (fresh.estimate_s, fresh.overdue) == (150, False)
    waited = admission.try_admit(busy, "c", now=t0 + 149)
    assert (waited.estimate_s, waited.overdue) == (60, False)  # the floor, still the guess
    spent = admission.try_admit(busy, "c", now=t0 + 150)
    assert spent.overdue and spent.latest_s == int(1200 - 150 + admission.REAP_S)
    assert queue_text(fresh, "en") == (
        "All of this classroom's sandboxes are in use. You are number 1 in line (about 2 min). "
        "Keep this page open: your sandbox starts as soon as a place is free.")
    assert queue_text(spent, "en").startswith(
        "All of this classroom's sandboxes are in use. You are number 1 in line: a place frees "
        "when another learner leaves, and at the latest in about 18 min.")
    assert "다른 학습자가 나가면" in queue_text(spent, "ko") and "18분" in queue_text(spent, "ko")
    no_leases = admission.Ticket(admitted=False, position=2, estimate_s=60, overdue=True)
    assert "learner leaves. Keep this page open" in queue_text(no_leases, "en")
    assert "at the latest" not in queue_text(no_leases, "en")
    # b's sandbox stops and c is admitted; d, now first in line, starts counting from then.
    admission.try_admit(busy, "d", now=t0 + 100)
    assert admission.try_admit(FakeBackend("a", leases={"a": t0 + 1200}), "c", now=t0 + 200).admitted
    assert not admission.try_admit(FakeBackend("a", "c"), "d", now=t0 + 201).overdue
    # A lease ending sooner than the guess is the estimate itself: not overdue.
    admission.reset()
    soon = FakeBackend("a", "b", leases={"a": t0 + 30, "b": t0 + 3000})
    assert not admission.try_admit(soon, "e", now=t0).overdue
    assert not admission.try_admit(soon, "e", now=t0 + 200).overdue


def test_estimate_without_history_uses_the_idle_timeout_that_applies_while_learners_wait(settings):
    settings.BUNGEO_SANDBOX_IDLE_TIMEOUT, settings.BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL = 1800, 300
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    assert admission._estimate(1, []) == 300  # not 1800: the reaper uses 300 s once learners wait
    settings.BUNGEO_SANDBOX_CAPACITY = 2
    assert admission._estimate(2, []) == 300


def _lab_terminal(user) -> WebsocketCommunicator:
    """The lab 2 terminal's websocket for ``user`` (English), not connected yet."""
    from labs.consumers import LabTerminalConsumer

    comm = WebsocketCommunicator(LabTerminalConsumer.as_asgi(),
                                 "/ws/labs/week1/images-and-containers/terminal/",
                                 headers=[(b"accept-language", b"en")])
    comm.scope["user"] = user
    comm.scope["url_route"] = {"kwargs": {"course_id": "week1", "lab_id": "images-and-containers"}}
    return comm


async def _connected(user) -> WebsocketCommunicator:
    comm = _lab_terminal(user)
    connected, _ = await comm.connect(timeout=30)
    assert connected
    return comm


async def _until_state(comm, states: tuple[str, ...], timeout: float = 30) -> list[dict]:
    """The status messages ``comm`` gets until one has a state in ``states`` (the last one)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = await asyncio.wait_for(comm.output_queue.get(), timeout)
        m = json.loads(msg["text"]) if msg.get("text") else {}
        if m.get("type") == "status":
            seen.append(m)
            if m["state"] in states:
                return seen
    raise AssertionError(f"no status in {states}: {seen}")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_terminal_waits_in_line_then_starts(backend, student, settings):

    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    other = backend.ensure(owner="occupant")

    async def scenario():
        comm = _lab_terminal(student)
        connected, _ = await comm.connect(timeout=30)
        assert connected
        statuses = []

        async def until(state, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = await asyncio.wait_for(comm.output_queue.get(), timeout)
                if msg.get("text"):
                    m = json.loads(msg["text"])
                    if m.get("type") == "status":
                        statuses.append(m)
                        if m["state"] == state:
                            return m
            raise AssertionError(f"no {state}: {statuses}")

        queued = await until("queued", 30)
        await asyncio.to_thread(backend.stop, other.id)  # a place frees
        await until("ready", 90)
        await comm.disconnect()
        return queued

    with translation.override("en"):
        queued = asyncio.run(scenario())
    assert "number 1 in line" in queued["text"] and "min" in queued["text"]
    sb = backend.find(owner=learner_owner(student))
    assert sb is not None and sb.running
    backend.remove(sb.id, keep_workspace=False)
    backend.remove(other.id, keep_workspace=False)
    admission.reset()


def test_a_page_that_closed_keeps_its_place_for_a_reload_or_another_tab(store, settings):
    """QA: a queued learner who reloaded came back behind those who arrived after them, and
    closing one of two queued tabs sent the other to the back: the closing page left the line
    at once. Now its place is kept for LEAVE_GRACE_S; a page of theirs that polls keeps it."""
    full = FakeBackend("a", "b")
    t0 = 1000.0
    for i, o in enumerate(["c", "d", "e"]):
        admission.try_admit(full, o, now=t0 + i)
    admission.page_closed("c", now=t0 + 5)  # c reloads: the old page closes ...
    assert admission.try_admit(full, "c", now=t0 + 6).position == 1  # ... the new one polls
    assert admission.try_admit(full, "d", now=t0 + 6).position == 2
    # One of c's two tabs closes; the other goes on polling every few seconds: c stays first.
    admission.page_closed("c", now=t0 + 7)
    for t in (t0 + 9, t0 + 12, t0 + 15, t0 + 30):
        assert admission.try_admit(full, "c", now=t).position == 1
        assert admission.try_admit(full, "d", now=t).position == 2
    # c's last page closes for good: after the grace, d is first.
    admission.page_closed("c", now=t0 + 31)
    assert admission.try_admit(full, "d", now=t0 + 31 + admission.LEAVE_GRACE_S - 1).position == 2
    assert admission.try_admit(full, "d", now=t0 + 31 + admission.LEAVE_GRACE_S + 1).position == 1
    admission.page_closed("zz", now=t0 + 40)  # not in line: nothing to keep, nothing added
    assert "zz" not in [o for o, _ in admission._store().waiting()]


def test_a_start_from_outside_the_terminal_takes_nobodys_place(store, settings):
    """The Reset button's rule (admission.may_start): a running sandbox may always restart; a
    learner the queue admitted keeps that place; others start only when nobody waits and a
    place is free."""
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    busy = FakeBackend("a")
    assert admission.may_start(busy, "a")  # restarting one's own running sandbox
    assert not admission.may_start(busy, "b")  # full
    assert not admission.try_admit(busy, "b").admitted  # b waits in line
    free = FakeBackend()
    assert not admission.may_start(free, "c")  # a place frees, but b waits: c must not take it
    assert admission.try_admit(free, "b").admitted  # b gets the place (reserved) ...
    assert admission.may_start(free, "b")  # ... and may use it from the Reset button too
    assert not admission.may_start(free, "c")


def test_a_line_whose_learners_all_left_holds_no_start_back(store, settings):
    """A learner in line whose tab closed without a word (no heartbeat for STALE_S), and a
    reservation whose RESERVE_S ran out, kept the warm-up after login and the Reset button
    from starting anything, however empty the classroom, until someone else queued (CI saw
    "prestart skipped: the classroom is full" on an empty engine)."""
    settings.BUNGEO_SANDBOX_CAPACITY = 1
    t0, free, line = time.time(), FakeBackend(), admission._store()
    with line.locked():
        line.join("b", t0 - admission.STALE_S - 1)  # in line, silent for STALE_S + 1 s
        line.reserve("d", t0 - admission.RESERVE_S - 1)  # a place given long ago, unused
    assert len(line.waiting()) == 1  # the premise: b is still listed
    assert admission.room_without_waiting(free, "c")
    assert admission.may_start(free, "c")
    assert line.waiting() == [] and "d" not in line.reservations()
    with line.locked():
        line.join("e", time.time())  # someone really waiting still comes first
    assert not admission.room_without_waiting(free, "c")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_reset_does_not_start_a_sandbox_past_the_queue(backend, student, settings, client):
    """Capacity 1, taken: a learner with no sandbox pressing Reset gets the reason and no
    sandbox (it started one, past the learners in line); once the place frees, Reset starts it."""
    from django.urls import reverse

    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    other = backend.ensure(owner="occupant")
    client.force_login(student)
    try:
        body = client.post(reverse("sandboxes:reset"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'class="reset-result error"' in body and "keeps your place in line" in body
        assert backend.find(owner=learner_owner(student)) is None
        backend.stop(other.id)  # a place frees, nobody waits
        body = client.post(reverse("sandboxes:reset"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'class="reset-result done"' in body
        sb = backend.find(owner=learner_owner(student))
        assert sb is not None and sb.running
    finally:
        sb = backend.find(owner=learner_owner(student))
        if sb is not None:
            backend.remove(sb.id, keep_workspace=False)
        backend.remove(other.id, keep_workspace=False)
        admission.reset()


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_reload_while_in_line_keeps_the_place(backend, student, settings):
    """The real terminal: a learner in line reloads (the page's websocket closes, a new one
    opens) while another learner who came later waits too; the reloaded page is still number
    1 (QA: it became number 2, behind the later learner)."""

    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    other = backend.ensure(owner="occupant")

    async def queued_status():
        comm = await _connected(student)
        queued = (await _until_state(comm, ("queued",)))[-1]
        await comm.disconnect()
        return queued["text"]

    try:
        with translation.override("en"):
            first = asyncio.run(queued_status())
            later = admission.try_admit(backend, "later-learner")  # came after, waits too
            again = asyncio.run(queued_status())  # the reload
        assert "number 1 in line" in first and later.position == 2
        assert "number 1 in line" in again, again
    finally:
        backend.remove(other.id, keep_workspace=False)
        admission.reset()


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_staff_never_wait_in_line(backend, django_user_model, settings, client):
    """QA: an instructor's own lab was queued like a learner's, so a teacher could not show
    anything to a full room. Staff's terminal starts at once, and their Reset button too, while
    a learner in the same full room waits."""
    from django.urls import reverse

    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    teacher = django_user_model.objects.create_user("teacher1", password="pw-teacher-1",
                                                    is_staff=True)
    other = backend.ensure(owner="occupant")

    async def first_state():
        comm = await _connected(teacher)
        statuses = await _until_state(comm, ("ready", "queued"), timeout=60)
        await comm.disconnect()
        return [m["state"] for m in statuses]

    try:
        states = asyncio.run(first_state())
        assert "queued" not in states and states[-1] == "ready", states
        sb = backend.find(owner=learner_owner(teacher))
        assert sb is not None and sb.running
        backend.stop(sb.id)
        client.force_login(teacher)
        body = client.post(reverse("sandboxes:reset"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'class="reset-result done"' in body, body
        assert not admission.try_admit(backend, "a-learner").admitted  # learners still wait
    finally:
        sb = backend.find(owner=learner_owner(teacher))
        if sb is not None:
            backend.remove(sb.id, keep_workspace=False)
        backend.remove(other.id, keep_workspace=False)
        admission.reset()


def test_the_line_counts_only_learners_still_heard_from(store, settings):
    """QA: with nobody waiting, the line's length said 1, then 3 (learners who had left, until
    someone's poll pruned them), and the reaper kept its shorter "while anyone waits" idle
    timeout: an instructor's sandbox was stopped after 139 s idle with nobody in line."""
    now = time.time()
    with admission._store().locked():
        admission._store().join("gone", now - admission.STALE_S - 1)
    assert admission.queue_length(now=now) == 0
    admission.try_admit(FakeBackend("a", "b"), "here", now=now)
    assert admission.queue_length(now=now) == 1


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_server_restart_does_not_start_the_grace_of_a_page_in_line(backend, student, settings):
    """QA: stopping the server closed every page in line, each closing page started its 8 s
    grace, and the restart plus the pages' reconnect took longer: the line came back in the
    order the pages reconnected (l6, l4, l5 for l4, l5, l6). A close by the server itself
    (1012, uvicorn's shutdown) keeps the place under the usual STALE_S rule; a page that
    closes still starts its grace."""

    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    other = backend.ensure(owner="occupant")
    owner = learner_owner(student)

    async def queue_then_close(code):
        comm = await _connected(student)
        await _until_state(comm, ("queued",))
        await comm.disconnect(code=code)

    try:
        asyncio.run(queue_then_close(1012))  # the server shuts down
        beat = dict(admission._store().waiting())[owner]
        assert time.time() - beat < 5  # not backdated: STALE_S (20 s) to come back
        asyncio.run(queue_then_close(1001))  # the page goes away
        beat = dict(admission._store().waiting())[owner]
        assert time.time() - beat > admission.STALE_S - admission.LEAVE_GRACE_S - 1
    finally:
        backend.remove(other.id, keep_workspace=False)
        admission.reset()
