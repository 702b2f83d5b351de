"""A3 graded end to end: upload -> stored submission -> Celery (real worker, real Redis) ->
fresh grading sandbox -> per-check results stored; progress streamed over the channel layer."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.utils.translation import override

from exercises import registry, services
from exercises.consumers import SubmissionProgressConsumer
from exercises.models import Submission

A3 = registry.get("a3").folder
ALL = {"compose-valid", "two-services", "named-volume", "writer-appends", "reader-follows"}
VARIANTS = [
    ("reference", set()),
    ("broken/bind-mount", {"named-volume"}),
    ("broken/reader-exits", {"reader-follows"}),
]


def _wait_finished(pk: int, timeout: float = 120) -> Submission:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sub = Submission.objects.get(pk=pk)
        if sub.finished:
            return sub
        time.sleep(0.2)
    raise AssertionError(f"submission {pk} not graded in {timeout} s (status {sub.status})")


@pytest.mark.docker
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("variant,failing", VARIANTS, ids=[v for v, _ in VARIANTS])
def test_a3_variants_through_celery(celery_worker_real, student, variant, failing):
    data = (A3 / variant / "compose.yaml").read_bytes()
    sub = services.submission_create(user=student, assignment_id="a3",
                                     filename="compose.yaml", data=data)
    stored = Path(services.settings.MEDIA_ROOT) / sub.archive_path
    assert stored.exists() and len(sub.sha256) == 64
    sub = _wait_finished(sub.pk)
    assert sub.status == "done", sub.error
    results = {r.check_id: r for r in sub.results.all()}
    assert set(results) == ALL
    lost = {cid for cid, r in results.items() if not r.passed}
    assert lost == failing, {cid: results[cid].message for cid in lost}
    assert sub.score == 100 - sum(results[c].max_points for c in failing)
    for r in results.values():
        assert r.message and (r.evidence or r.check_id == "compose-valid")


@pytest.mark.docker
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
async def test_progress_is_streamed_to_the_owner(celery_worker_real, student, other_student):
    data = (A3 / "reference" / "compose.yaml").read_bytes()
    sub = await database_sync_to_async(services.submission_create)(
        user=student, assignment_id="a3", filename="compose.yaml", data=data, language="en")

    stranger = WebsocketCommunicator(SubmissionProgressConsumer.as_asgi(), "/")
    stranger.scope["user"] = other_student
    stranger.scope["url_route"] = {"kwargs": {"submission_id": sub.pk}}
    connected, code = await stranger.connect()
    assert not connected and code == 4403

    comm = WebsocketCommunicator(SubmissionProgressConsumer.as_asgi(), "/")
    comm.scope["user"] = student
    comm.scope["url_route"] = {"kwargs": {"submission_id": sub.pk}}
    connected, _ = await comm.connect()
    assert connected
    fragments = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            msg = await asyncio.wait_for(comm.output_queue.get(), 5)
        except TimeoutError:
            continue
        fragments.append(msg.get("text") or "")
        if 'id="result"' in fragments[-1]:
            break
    await comm.disconnect()
    html = "\n".join(fragments)
    assert 'id="check-writer-appends"' in html and "checking" in html
    assert 'id="result"' in html and "100" in html


@override("en")
def test_upload_validation_errors():
    with pytest.raises(services.SubmissionError, match="Name the file"):
        services.submission_create(user=None, assignment_id="a3", filename="notes.txt",
                                   data=b"services: {}")
    with pytest.raises(services.SubmissionError, match="too large"):
        services.submission_create(user=None, assignment_id="a3", filename="compose.yaml",
                                   data=b"x" * (services.settings.BUNGEO_SUBMISSION_MAX_BYTES + 1))
    with pytest.raises(services.SubmissionError, match="empty"):
        services.submission_create(user=None, assignment_id="a3", filename="compose.yaml",
                                   data=b"")
    with pytest.raises(services.SubmissionError, match="UTF-8"):
        services.submission_create(user=None, assignment_id="a3", filename="compose.yaml",
                                   data=b"\xff\xfe\x00bad")
    with pytest.raises(services.SubmissionError, match="no such assignment"):
        services.submission_create(user=None, assignment_id="zz", filename="compose.yaml",
                                   data=b"x")


@pytest.mark.docker
def test_grade_command_json(backend, capsys):
    call_command("grade", "a3", str(A3 / "broken" / "reader-exits"), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["assignment"] == "a3" and out["passed"] is False
    assert out["score"] == 70 and out["max_score"] == 100
    assert [c["id"] for c in out["checks"] if not c["passed"]] == ["reader-follows"]
    assert set(out["checks"][0]) == {"id", "title", "passed", "advisory", "points",
                                     "max_points", "message"}


@pytest.mark.celery
async def test_channel_layer_waits_longer_than_its_blocking_pop():
    """An idle progress page must not be dropped: a receive that waits 7 s (longer than
    channels_redis' 5 s blocking pop) still gets its message (redis-py 8 regression)."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer.__class__.__name__ == "RedisChannelLayer"
    channel = await layer.new_channel()

    async def later():
        await asyncio.sleep(7)
        await layer.send(channel, {"type": "grading.progress", "html": "late"})

    task = asyncio.create_task(later())
    msg = await asyncio.wait_for(layer.receive(channel), 15)
    await task
    assert msg["html"] == "late"


@pytest.mark.docker
@override("en")
def test_image_not_in_the_classroom_is_explained(backend):
    files = {"compose.yaml": (A3 / "broken" / "image-not-offline" / "compose.yaml").read_bytes()}
    report = registry.get("a3").grader.grade(files, backend)
    checks = {c.id: c for c in report.checks}
    assert checks["compose-valid"].passed
    assert not checks["two-services"].passed
    assert "ubuntu:22.04" in checks["two-services"].message
    assert "busybox or alpine" in checks["two-services"].message


@pytest.mark.django_db
def test_staff_see_every_submission_learners_only_their_own(client, student, other_student,
                                                             django_user_model):
    teacher = django_user_model.objects.create_user("teacher", password="pw-t", is_staff=True)
    mine = Submission.objects.create(user=student, assignment="a3", sha256="0" * 64,
                                     archive_path="x.tar", filenames=["compose.yaml"])
    client.force_login(other_student)
    assert client.get(f"/assignments/submissions/{mine.pk}/").status_code == 404
    page = client.get("/assignments/a3/").content.decode()
    assert "student1" not in page
    client.force_login(teacher)
    page = client.get("/assignments/a3/").content.decode()
    staff_section = page.split('class="card staff"', 1)[1]
    assert "student1" in staff_section and f"/assignments/submissions/{mine.pk}/" in staff_section
    assert "<table" not in page.split("</title>", 1)[0]
    assert client.get(f"/assignments/submissions/{mine.pk}/").status_code == 200
