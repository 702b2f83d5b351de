"""Time to grade A3's reference solution (target <= 10 s), with the same code as the site.

Two figures:
* cold: the grader starts a fresh sandbox, whose empty engine pulls busybox and alpine through
  the classroom mirror during ``docker compose up``;
* pool: the grader takes a sandbox from the grading pool, whose engine already holds the stand-in
  images (``BUNGEO_GRADING_PREPULL``); Celery beat keeps the pool full between gradings, so the
  pulls happen before the clock starts ("warm caches").

Each figure is the grader's own ``duration_s``: sandbox, ``compose config`` and ``up``, the
WATCH_S-second watch of the writer and reader, and removing the sandbox.

Usage: python bench/grade_a3.py [--runs 3] [--mode cold|pool|both]
"""
from __future__ import annotations

import argparse

from common import django_setup, grading_pool_ready, pct, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=("cold", "pool", "both"), default="both")
    args = ap.parse_args()
    django_setup()
    from django.conf import settings
    from django.utils import translation

    from exercises import registry
    from webapp.sandboxes.backend import get_backend

    a3 = registry.get("a3")
    files = {"compose.yaml": (a3.folder / "reference" / "compose.yaml").read_bytes()}
    backend = get_backend()
    rows = []
    for mode in ("cold", "pool") if args.mode == "both" else (args.mode,):
        times, scores, refills = [], [], []
        settings.BUNGEO_GRADING_POOL_SIZE = 1 if mode == "pool" else 0
        for _ in range(args.runs):
            if mode == "pool":
                refills.append(grading_pool_ready(backend))
            with translation.override("en"):
                report = a3.grader.grade(files, backend, owner="bench")
            times.append(report.duration_s)
            scores.append(report.score)
        label = "a3 reference, cold" if mode == "cold" else (
            f"a3 reference, grading pool (pool refill {min(refills):.0f}-{max(refills):.0f} s)")
        rows.append((label, args.runs, f"{min(times):.2f}", f"{pct(times, .5):.2f}",
                     f"{max(times):.2f}", f"{min(scores):g}"))
    print(table(rows, ("submission", "runs", "min s", "p50 s", "max s", "score")))


if __name__ == "__main__":
    main()
