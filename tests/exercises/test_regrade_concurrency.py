"""Concurrent regrades (a double click on "regrade", two "regrade all" at once) and two workers
receiving the same grading task: every submission is queued once, graded by one run at a time,
and its result is kept. Real concurrency: two threads, each with its own database connection,
lined up by a barrier right before they write, so both have read the submission before either
changes it (run on PostgreSQL in the main test run)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone as django_timezone

from exercises import registry, services
from exercises.grading import CheckOutcome, GradeReport
from exercises.models import CheckResult, Submission


def _finished(user, n: int) -> list[Submission]:
    subs = []
    for _ in range(n):
        sub = Submission.objects.create(user=user, assignment="a3", sha256="0" * 64,
                                        archive_path="x.tar", filenames=["compose.yaml"],
                                        status="done", score=70, max_score=100)
        CheckResult.objects.create(submission=sub, order=0, check_id="old", title="old",
                                   passed=True, points=70, max_points=100, message="old")
        subs.append(sub)
    return subs


@pytest.fixture
def lined_up(monkeypatch, transactional_db):
    """Skip on SQLite's test database: it is in memory with a shared cache, where a second writer
    fails at once ("database table is locked") instead of waiting, whatever the code does; the
    main test run uses PostgreSQL (DATABASE_URL). Otherwise make the two threads meet at every
    ``timezone.now()`` the services call (it is evaluated just before each conditional UPDATE is
    sent), so they write at the same moment."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("concurrent writers need a server database (DATABASE_URL=postgres://...)")
    barrier = threading.Barrier(2, timeout=30)
    workers: set[int] = set()

    def now():
        if threading.get_ident() in workers:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # the other thread already ended (it did fewer calls): go on alone
        return django_timezone.now()

    monkeypatch.setattr(services, "timezone", SimpleNamespace(now=now))
    return workers


def _twice(workers: set[int], fn) -> list:
    """Run ``fn()`` in two threads at once; their results (or the exception raised), in order."""
    out: list = [None, None]

    def run(i: int) -> None:
        workers.add(threading.get_ident())
        try:
            out[i] = fn()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            out[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    return out


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("teacher", password="pw-t", is_staff=True)


def _post(user, url: str, data=None):
    c = Client()
    c.force_login(user)
    return c.post(url, data or {}).status_code


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_regrade_queues_one_run(student, staff, lined_up):
    [sub] = _finished(student, 1)
    with mock.patch("exercises.tasks.grade_submission.apply_async") as delay:
        codes = _twice(lined_up, lambda: _post(staff, f"/assignments/submissions/{sub.pk}/regrade/"))
        assert codes == [302, 302]
        assert delay.call_args_list == [mock.call((sub.pk,), priority=services.PRIORITY_REGRADE)]
        # Straight to the service: one of two concurrent calls wins, the other changes nothing.
        Submission.objects.filter(pk=sub.pk).update(status="done")
        won = _twice(lined_up, lambda: services.submission_regrade(submission_id=sub.pk))
        assert sorted(won) == [False, True], won
        assert delay.call_count == 2
    sub.refresh_from_db()
    assert sub.status == "queued" and sub.attempt == 3 and not sub.results.exists()


@pytest.mark.django_db(transaction=True)
def test_two_regrade_all_at_once_queue_each_submission_once(student, other_student, staff,
                                                             lined_up):
    subs = _finished(student, 3) + _finished(other_student, 2)
    with mock.patch("exercises.tasks.grade_submission.apply_async") as delay:
        codes = _twice(lined_up, lambda: _post(staff, "/assignments/a3/regrade/", {"scope": "all"}))
        assert codes == [302, 302]
        assert sorted(c.args[0][0] for c in delay.call_args_list) == sorted(s.pk for s in subs)
        Submission.objects.filter(assignment="a3").update(status="error")
        counts = _twice(lined_up, lambda: services.assignment_regrade(assignment_id="a3",
                                                                      scope="all"))
        assert sum(counts) == len(subs), counts
    for sub in Submission.objects.filter(assignment="a3"):
        assert sub.status == "queued" and sub.attempt == 3 and not sub.results.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_the_same_task_grade_once_and_keep_the_result(student, lined_up,
                                                                       monkeypatch):
    """acks_late may deliver a task twice: the run that claims the submission grades it and
    stores its result; the other returns without touching it."""
    [sub] = _finished(student, 1)
    Submission.objects.filter(pk=sub.pk).update(status="queued")
    CheckResult.objects.filter(submission=sub).delete()
    calls = []

    def grade(files, backend, progress, owner):
        calls.append(owner)
        return GradeReport("a3", [CheckOutcome("compose-valid", "valid", 10, True, 10, "ok")])

    monkeypatch.setattr(registry.Assignment, "grader", SimpleNamespace(
        TITLES={"compose-valid": ("valid", 10)}, ACCEPTED_FILENAMES=("compose.yaml",), grade=grade))
    monkeypatch.setattr(services, "submission_files", lambda s: {})
    monkeypatch.setattr(services, "_notify", lambda *a, **k: None)
    done = _twice(lined_up, lambda: services.submission_grade(submission_id=sub.pk,
                                                              backend=object()))
    assert not any(isinstance(d, Exception) for d in done), done
    assert calls == [f"s{sub.pk}"]
    sub.refresh_from_db()
    assert sub.status == "done" and sub.score == 10
    assert list(sub.results.values_list("check_id", flat=True)) == ["compose-valid"]


def test_a_double_click_on_a_sqlite_file_database_queues_one_run_without_error(tmp_path):
    """SQLite (``make run``'s default) in a real file, in a separate process: the second of two
    concurrent regrades waits for the first writer and then finds nothing to do, instead of
    failing with "database is locked" (as it did when the transaction read before it wrote)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    proc = subprocess.run([sys.executable, "-m", "tests.exercises.sqlite_regrade_race", "5"],
                          cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]
    assert len(rows) == 5 and all(sorted(r, key=str) == [False, True] for r in rows), rows
