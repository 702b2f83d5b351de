"""The grading line: a learner's new submission is graded before staff regrades (Celery
priorities on the real Redis broker), and a waiting submission's page shows its place in line,
updated as the line moves. A "regrade all" of a class used to hold learners who submitted after
it for minutes with no word of why (found by a QA helper)."""
from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils.translation import override

from exercises import selectors, services
from exercises.consumers import SubmissionProgressConsumer
from exercises.models import Submission
from tests.exercises.test_pipeline import _sub, fresh_channel_layer, teacher  # noqa: F401


def _regrade_all(subs):
    for s in subs:
        assert services.submission_regrade(submission_id=s.pk)


@pytest.mark.django_db
def test_learners_submissions_are_ahead_of_regrades(student, other_student):
    done = [_sub(other_student, score=10, ago_s=300 - i) for i in range(3)]
    _regrade_all(done)  # staff: "regrade all" (their tasks are queued on commit, not here)
    new = _sub(student, status="queued")
    newer = _sub(other_student, status="queued")
    assert selectors.queue_ahead(new) == 0
    assert selectors.queue_ahead(newer) == 1
    regrades = [Submission.objects.get(pk=s.pk) for s in done]
    # Regrades wait behind both learners' submissions, in the order they were asked for.
    assert [selectors.queue_ahead(s) for s in regrades] == [2, 3, 4]
    Submission.objects.filter(pk=new.pk).update(status="running")
    assert selectors.queue_ahead(Submission.objects.get(pk=newer.pk)) == 0
    assert selectors.queue_ahead(Submission.objects.get(pk=new.pk)) is None


@pytest.mark.django_db
def test_the_page_of_a_waiting_submission_shows_its_place(student, other_student):
    first = _sub(other_student, status="queued")
    mine = _sub(student, status="queued")
    c = Client()
    c.force_login(student)
    with override("en"):
        page = c.get(f"/assignments/submissions/{mine.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 submission is ahead of this one." in page
    Submission.objects.filter(pk=first.pk).update(status="running")
    page = c.get(f"/assignments/submissions/{mine.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "ahead of this one" not in page and "Waiting for a grading sandbox" in page


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_broker_hands_out_a_new_submission_before_earlier_regrades(
        student, other_student, django_capture_on_commit_callbacks):
    """The real Redis broker: three regrades are queued, then a learner submits; the first
    message a worker takes is the learner's. A test queue of its own, so that the test run's
    worker does not take them."""
    from webapp.celery import app

    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: this test needs the real Redis ('make test')")
    queue = f"bungeo-test-priority-{uuid.uuid4().hex[:8]}"
    old = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        done = [_sub(other_student, score=10, ago_s=300 - i) for i in range(3)]
        with django_capture_on_commit_callbacks(execute=True):
            _regrade_all(done)
        with django_capture_on_commit_callbacks(execute=True):
            new = _sub(student, status="queued")
            services.submission_enqueue(submission=new)
        order = []
        with app.connection_for_read() as conn:
            q = conn.SimpleQueue(queue)
            try:
                for _ in range(4):
                    msg = q.get(timeout=10)
                    order.append(msg.headers["argsrepr"])
                    msg.ack()
            finally:
                q.queue.delete()
                q.close()
    finally:
        app.conf.task_default_queue = old
    assert order[0] == f"({new.pk},)", order
    assert order[1:] == [f"({s.pk},)" for s in done], order


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
async def test_a_waiting_page_hears_that_the_line_moved(student, other_student,
                                                       fresh_channel_layer):  # noqa: F811
    first = await database_sync_to_async(_sub)(other_student, status="queued", language="en")
    mine = await database_sync_to_async(_sub)(student, status="queued", language="en")
    c = WebsocketCommunicator(SubmissionProgressConsumer.as_asgi(), "/")
    c.scope["user"] = student
    c.scope["url_route"] = {"kwargs": {"submission_id": mine.pk}}
    assert (await c.connect(timeout=20))[0]
    assert "1 submission is ahead of this one." in await c.receive_from(20)  # on connecting
    await database_sync_to_async(_sub)(other_student, status="queued", language="en")
    await database_sync_to_async(services.queue_moved)()  # a later one: not ahead
    assert "1 submission is ahead of this one." in await c.receive_from(20)
    await database_sync_to_async(Submission.objects.filter(pk=first.pk).update)(status="running")
    await database_sync_to_async(services.queue_moved)()
    html = await c.receive_from(20)
    assert 'id="grading-status"' in html and 'hx-swap-oob="true"' in html
    assert "Waiting for a grading sandbox" in html and "ahead of this one" not in html
    # Once it runs itself, the line's moves say nothing more to it.
    await database_sync_to_async(Submission.objects.filter(pk=mine.pk).update)(status="running")
    await database_sync_to_async(services.queue_moved)()
    assert await c.receive_nothing(1)
    await c.disconnect()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status,shown", [("running", "Grading in a fresh sandbox"),
                                          ("done", "Score: 7 / 10")])
async def test_a_page_that_connects_late_gets_the_status_as_it_is_now(
        student, fresh_channel_layer, status, shown):  # noqa: F811
    """The page was rendered while the submission waited; the grading started (or even ended)
    before its live connection opened, and that news went to nobody: the page showed "Waiting
    for a grading sandbox" while it was being graded (a QA helper saw it for 6 s)."""
    sub = await database_sync_to_async(_sub)(student, status=status, language="en",
                                             **({"score": 7, "max_score": 10} if status == "done" else {}))
    c = WebsocketCommunicator(SubmissionProgressConsumer.as_asgi(), "/")
    c.scope["user"] = student
    c.scope["url_route"] = {"kwargs": {"submission_id": sub.pk}}
    assert (await c.connect(timeout=20))[0]
    html = await c.receive_from(20)
    assert shown in html and "Waiting for a grading sandbox" not in html, html
    if status == "done":
        assert 'id="result"' in html
    await c.disconnect()


@pytest.mark.django_db
def test_a_new_submission_tells_waiting_regrades_that_one_more_is_ahead(
        student, django_capture_on_commit_callbacks, monkeypatch):
    moved = []
    monkeypatch.setattr(services, "queue_moved", lambda: moved.append(1))
    monkeypatch.setattr("exercises.tasks.grade_submission.apply_async", lambda *a, **k: None)
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_enqueue(submission=_sub(student, status="queued"))
    assert moved == [1]
