"""Run as ``python -m tests.exercises.sqlite_regrade_race N`` with DATABASE_URL naming a fresh
SQLite *file*: migrates it, then regrades N finished submissions, each from two threads at once
(lined up right before they write), and prints one JSON line per submission: the two results,
``true``/``false`` or the text of the exception raised. Used by test_regrade_concurrency.py
(pytest's own SQLite test database is in memory, where concurrent writers fail at once)."""
from __future__ import annotations

import json
import os
import sys
import threading
from types import SimpleNamespace
from unittest import mock


def main(n: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from exercises import services
    from exercises.models import Submission

    assert connection.vendor == "sqlite" and not connection.is_in_memory_db(), "needs a file"
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("racer")
    barrier = threading.Barrier(2, timeout=20)

    def now():
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return timezone.now()

    services.timezone = SimpleNamespace(now=now)
    for _ in range(n):
        sub = Submission.objects.create(user=user, assignment="a3", sha256="0" * 64,
                                        archive_path="x.tar", status="done")
        out: list = [None, None]

        def run(i: int, pk: int = sub.pk, out: list = out) -> None:
            try:
                out[i] = services.submission_regrade(submission_id=pk)
            except Exception as exc:  # noqa: BLE001 - printed for the test to judge
                out[i] = repr(exc)
            finally:
                connection.close()

        with mock.patch("exercises.tasks.grade_submission.apply_async"):
            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
