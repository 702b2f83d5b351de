"""A3 graded on the real sandbox engine.

Every variant under reference/, broken/ and tricky/ is graded and must get exactly its expected
per-check verdicts, with the message a learner needs. Two go end to end (upload -> stored
submission -> Celery with a real worker and Redis -> fresh grading sandbox -> results stored,
progress streamed over the channel layer); the others are graded directly through the grader, as
``manage.py grade`` does, two at a time, each in its own fresh sandbox as on the site.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import override

from exercises import registry, services
from exercises.consumers import SubmissionProgressConsumer
from exercises.models import Submission
from tests.exercises.helpers import wait_finished

A3 = registry.get("a3").folder
GRADER = registry.get("a3").grader
ALL = set(GRADER.TITLES)
NOT_JUDGED = "Not judged: the writer added fewer than two new lines"

# variant -> (checks it must lose, {check: phrase its message must hold}); phrases are English
# unless the variant is graded in Korean (KOREAN).
VARIANTS: dict[str, tuple[set[str], dict[str, str]]] = {
    "reference": (set(), {"reader-follows": "is running and printed"}),
    "broken/bind-mount": ({"named-volume"}, {"named-volume": "bind mount: the host folder "
                                                      "./data appears at /shared"}),
    "broken/image-not-offline": (ALL - {"compose-valid"},
                                 {"two-services": "ubuntu:22.04 is not in the classroom",
                                  "named-volume": "Skipped"}),
    "broken/reader-exits": ({"reader-follows"},
                            {"reader-follows": "ran 'cat', which prints the file once and exits"}),
    "broken/reader-cat-restart": ({"reader-follows"},
                                   {"reader-follows": "restart policy started it again"}),
    "broken/writer-backgrounded": ({"writer-appends", "reader-follows"},
                                   {"writer-appends": "'&'로 끝나서",
                                    "reader-follows": "writer가 새 줄을 두 줄도"}),
    "broken/reader-buffered": ({"reader-follows"},
                               {"reader-follows": "'sed'에 넘기는데"}),
    "broken/writer-overwrites": ({"writer-appends", "reader-follows"},
                                 {"writer-appends": "'>' overwrites the file",
                                  "reader-follows": NOT_JUDGED}),
    "broken/writer-too-fast": ({"writer-appends"},
                               {"writer-appends": "The writer is too fast",
                                "reader-follows": "is running and printed"}),
    "broken/writer-too-slow": ({"writer-appends", "reader-follows"},
                               {"writer-appends": "The writer is too slow",
                                "reader-follows": NOT_JUDGED}),
    "broken/two-volumes": ({"named-volume", "reader-follows"},
                           {"named-volume": "different named volume (reader: a3_reader-data, "
                                            "writer: a3_writer-data)",
                            "reader-follows": "does not mount the volume the writer writes to"}),
    "broken/anonymous-volume": ({"named-volume", "reader-follows"},
                                {"named-volume": "anonymous volumes",
                                 "reader-follows": "does not mount the volume the writer"}),
    "tricky/compose-v3-different-paths": (set(), {}),
    "tricky/entrypoint-named-volume": (set(), {"named-volume": "a3-clock-lines"}),
    "tricky/awk-flush-loop-redirect": (set(), {}),
    "tricky/two-compose-files": (set(), {"compose-valid": "more than one compose file: "
                                                          "compose.yaml was graded, not "
                                                          "docker-compose.yml"}),
}
KOREAN = {"broken/writer-backgrounded", "broken/reader-buffered"}
# Graded through Celery below (reference by the progress test); the rest directly.
THROUGH_CELERY = {"reference", "broken/reader-exits"}
# A writer with no sleep keeps a core busy: graded alone, after the others.
ALONE = {"broken/writer-too-fast"}
GRADING_WORKERS = int(os.environ.get("BUNGEO_TEST_GRADING_WORKERS", "2"))


def variant_files(name: str) -> dict[str, bytes]:
    """A variant's files (each folder holds one compose file, under any accepted name; two in
    tricky/two-compose-files)."""
    folder = A3 / name
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    assert files, f"variant {name} has no files"
    return files


def judge(variant: str, checks: dict[str, tuple[bool, str, str, float]], score: float) -> None:
    """Assert one variant's verdicts; ``checks``: id -> (passed, message, evidence, max points)."""
    failing, phrases = VARIANTS[variant]
    assert set(checks) == ALL
    lost = {cid for cid, c in checks.items() if not c[0]}
    assert lost == failing, {cid: checks[cid][1] for cid in lost}
    assert score == 100 - sum(checks[c][3] for c in failing)
    for cid, (passed, message, evidence, _pts) in checks.items():
        assert message, cid
        # Paths as the learner knows them, never the grading sandbox's (grading.in_submission).
        assert "/srv/submission" not in message + evidence, (cid, message, evidence)
        if passed or not (cid == "compose-valid" or message.startswith("Skipped")):
            assert evidence, cid
    for cid, phrase in phrases.items():
        assert phrase in checks[cid][1], checks[cid][1]


def test_every_variant_folder_is_listed():
    folders = {f"{kind}/{p.name}" for kind in ("broken", "tricky")
               for p in (A3 / kind).iterdir() if p.is_dir()}
    assert folders == set(VARIANTS) - {"reference"}
    assert sum(v.startswith("broken/") for v in VARIANTS) >= 6
    assert sum(v.startswith("tricky/") for v in VARIANTS) >= 3


@pytest.fixture(scope="module")
def graded(backend):
    """variant -> GradeReport (or the exception its grading raised), for every variant not
    graded through Celery."""
    def one(variant):
        with translation.override("ko" if variant in KOREAN else "en"):
            try:
                return GRADER.grade(variant_files(variant), backend, owner="test")
            except Exception as exc:  # noqa: BLE001 - reported by the variant's own test
                return exc

    direct = [v for v in VARIANTS if v not in THROUGH_CELERY]
    rest = [v for v in direct if v not in ALONE]
    with ThreadPoolExecutor(GRADING_WORKERS) as ex:
        out = dict(zip(rest, ex.map(one, rest), strict=True))
    out.update({v: one(v) for v in direct if v in ALONE})
    return out


@pytest.mark.docker
@pytest.mark.timeout(1200)  # the first test waits for the whole module's gradings
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v not in THROUGH_CELERY])
def test_variant_gets_exactly_its_verdicts(graded, variant):
    report = graded[variant]
    if isinstance(report, Exception):
        raise report
    judge(variant, {c.id: (c.passed, c.message, c.evidence, c.max_points) for c in report.checks},
          report.score)


def _wait_finished(pk: int, timeout: float = 120) -> Submission:
    return wait_finished(pk, timeout)


@pytest.mark.docker
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("variant", sorted(THROUGH_CELERY - {"reference"}))
def test_variants_through_celery(celery_worker_real, student, variant):
    data = (A3 / variant / "compose.yaml").read_bytes()
    sub = services.submission_create(user=student, assignment_id="a3",
                                     filename="compose.yaml", data=data, language="en")
    stored = Path(services.settings.MEDIA_ROOT) / sub.archive_path
    assert stored.exists() and len(sub.sha256) == 64
    sub = _wait_finished(sub.pk)
    assert sub.status == "done", sub.error
    judge(variant, {r.check_id: (r.passed, r.message, r.evidence, r.max_points)
                    for r in sub.results.all()}, sub.score)


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

    def stored():
        done = _wait_finished(sub.pk)
        assert done.status == "done", done.error
        return done.score, {r.check_id: (r.passed, r.message, r.evidence, r.max_points)
                            for r in done.results.all()}

    score, checks = await database_sync_to_async(stored)()
    judge("reference", checks, score)


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
def test_grade_command_json_refuses_privileged_even_with_a_version_key(backend, tmp_path, capsys):
    """``docker compose config`` warns about ``version:`` on the same output as its JSON; the
    policy must still see the services (it once saw none and let this file run)."""
    (tmp_path / "docker-compose.yml").write_text(
        'version: "3.8"\n'
        "services:\n"
        "  writer: {image: alpine, privileged: true, volumes: [t:/s],\n"
        "           command: [sh, -c, 'while true; do date >> /s/t; sleep 1; done']}\n"
        "  reader: {image: busybox, volumes: [t:/s], command: [tail, -F, /s/t]}\n"
        "volumes: {t: {}}\n")
    with translation.override("ko"):
        call_command("grade", "a3", str(tmp_path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["assignment"] == "a3" and out["passed"] is False
    assert out["score"] == 0 and out["max_score"] == 100
    assert set(out["checks"][0]) == {"id", "title", "passed", "advisory", "points",
                                     "max_points", "message"}
    first = out["checks"][0]
    assert first["id"] == "compose-valid" and "privileged: true" in first["message"]
    assert "강의실" in first["message"]


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
