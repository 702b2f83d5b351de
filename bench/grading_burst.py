"""A burst of mixed submissions graded by real Celery workers (target: 30 graded within 10 minutes
on 2 cores).

The bench works on its own SQLite database, Redis database and sandbox prefix, so it never
touches the site's data. It stores N submissions (A1, A2 and A3 in turn, reference and broken
variants from each assignment's folder) the way the upload form does, starts a Celery worker with
``--workers`` processes (and, with ``--pool N``, Celery beat keeping N pre-pulled grading
sandboxes, as ``make run`` does), and waits until every submission is graded.

Prints per assignment: count, verdicts, queue wait and grading time (p50/max, seconds), and the
wall time from the first submission to the last result.

Usage: python bench/grading_burst.py [--count 30] [--workers 2] [--pool 2]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, pct, table

PREFIX = "bungeobench"


def variant_files(folder: Path, reference: Path, accepted: tuple[str, ...]) -> dict[str, bytes]:
    """A variant's files: the reference's, overridden by the variant's own (A2's variants hold
    only the files that differ; a variant with its own compose file replaces the reference's)."""
    def read(d: Path) -> dict[str, bytes]:
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    files = read(reference)
    if folder == reference:
        return files
    own = read(folder)
    if any(n in own for n in accepted):
        for n in accepted:
            files.pop(n, None)
    files.update(own)
    return files


def expected_failures() -> dict[tuple[str, str], set[str]] | None:
    """{(assignment, variant folder): ids of the checks it must fail} from the grading tests'
    tables (tests/exercises/test_a*_grading.py), so a fast burst is also a right one; None when
    the tests cannot be imported (pytest not installed)."""
    try:
        from tests.exercises import test_a1_grading, test_a2_grading, test_a3_grading
    except ImportError:
        return None
    out = {("a1", name): set(fails) for name, fails in test_a1_grading.EXPECTED.items()}
    out.update({("a2", name): set(v[0]) for name, v in test_a2_grading.VARIANTS.items()})
    out.update({("a3", name): set(v[0]) for name, v in test_a3_grading.VARIANTS.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pool", type=int, default=2, help="grading pool size (0: off)")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bungeo-burst-"))
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/db.sqlite3",
               REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
               BUNGEO_SANDBOX_PREFIX=PREFIX, BUNGEO_GRADING_POOL_SIZE=str(args.pool),
               BUNGEO_SANDBOX_POOL_SIZE="0", MEDIA_ROOT=str(tmp / "media"),
               DJANGO_SETTINGS_MODULE="webapp.settings")
    os.environ.update(env)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "-c", "import redis,os; redis.Redis.from_url(os.environ['REDIS_URL'])"
                    ".flushdb()"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from exercises import registry, services
    from exercises.grading import files_to_tar
    from exercises.models import Submission
    from webapp.sandboxes.backend import get_backend

    backend = get_backend()
    backend.purge()
    worker_cmd = [py, "-m", "celery", "-A", "webapp", "worker", "--concurrency",
                  str(args.workers), "--loglevel", "WARNING"]
    if args.pool:
        worker_cmd += ["--beat", "--schedule", str(tmp / "beat-schedule")]
    log = open(tmp / "worker.log", "w")
    worker = subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        if args.pool:  # as on a site that has been up a while: the pool is full before the burst
            t0 = time.monotonic()
            while time.monotonic() - t0 < 900:
                members = backend._grading_pool_members()
                states = [backend._prepull_state(c.name) for c in members]
                if len(states) >= args.pool and all(s == "ready" for s in states):
                    break
                time.sleep(1)
            print(f"grading pool of {args.pool} ready after {time.monotonic() - t0:.0f} s")

        # The variants: reference first, then broken and tricky ones, per assignment.
        menus = {}
        for aid, a in registry.assignments().items():
            ref = a.folder / "reference"
            folders = [ref] + sorted(p for kind in ("broken", "tricky")
                                     for p in (a.folder / kind).glob("*") if p.is_dir())
            menus[aid] = [(f.relative_to(a.folder).as_posix(),
                           variant_files(f, ref, a.grader.ACCEPTED_FILENAMES)) for f in folders]
        User = get_user_model()
        ids, t_start = [], time.monotonic()
        aids = sorted(menus)
        for i in range(args.count):
            aid = aids[i % len(aids)]
            name, files = menus[aid][(i // len(aids)) % len(menus[aid])]
            user, _ = User.objects.get_or_create(username=f"burst{i}")
            data = files_to_tar(files)
            sub = services.submission_create(user=user, assignment_id=aid,
                                             filename="submission.tar", data=data, language="en")
            ids.append((sub.pk, aid, name))
        print(f"{len(ids)} submissions stored in {time.monotonic() - t_start:.1f} s; grading...")
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            left = Submission.objects.filter(pk__in=[i for i, _, _ in ids]).exclude(
                status__in=("done", "error")).count()
            if not left:
                break
            time.sleep(2)
        wall = time.monotonic() - t_start
        subs = {s.pk: s for s in Submission.objects.filter(pk__in=[i for i, _, _ in ids])}
        rows = []
        for aid in aids:
            mine = [subs[i] for i, a, _ in ids if a == aid]
            done = [s for s in mine if s.status == "done"]
            waits = [(s.started_at - s.created_at).total_seconds() for s in mine if s.started_at]
            runs = [s.duration_s for s in done if s.duration_s]
            full = sum(1 for s in done if s.score == s.max_score)
            rows.append((aid, len(mine), len(done), sum(s.status == "error" for s in mine), full,
                         f"{pct(waits, .5):.0f}" if waits else "-",
                         f"{max(waits):.0f}" if waits else "-",
                         f"{pct(runs, .5):.1f}" if runs else "-",
                         f"{max(runs):.1f}" if runs else "-"))
        print(table(rows, ("assignment", "submitted", "done", "error", "full marks", "wait p50 s",
                           "wait max s", "grade p50 s", "grade max s")))
        unfinished = sum(1 for s in subs.values() if not s.finished)
        print(f"\n{args.count} submissions, {args.workers} workers, grading pool {args.pool}: "
              f"wall time {wall:.0f} s ({wall / 60:.1f} min), unfinished {unfinished}")
        expected = expected_failures()
        if expected is None:
            print("verdicts: not checked (the tests' tables need pytest installed)")
        else:
            wrong = []
            for pk, aid, name in ids:
                sub = subs[pk]
                if sub.status != "done":
                    continue
                want = expected.get((aid, name))
                got = set(sub.results.filter(passed=False).values_list("check_id", flat=True))
                if want is not None and got != want:
                    wrong.append(f"  {aid} {name}: failed {sorted(got)}, expected {sorted(want)}")
            checked = sum(1 for pk, aid, name in ids
                          if subs[pk].status == "done" and (aid, name) in expected)
            print(f"verdicts as the grading tests expect: {checked - len(wrong)}/{checked}")
            print("\n".join(wrong))
        for s in subs.values():
            if s.status == "error":
                print(f"  error: submission {s.pk} ({s.assignment}): {s.error[:200]}")
        print(f"(media root {settings.MEDIA_ROOT}, worker log {tmp / 'worker.log'})")
    finally:
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
        backend.purge()


if __name__ == "__main__":
    main()
