"""Time to grade A2's reference solution (target <= 45 s with warm caches), with the same code as
the site.

Two figures:
* cold: the grader starts a fresh sandbox, which pulls every image through the classroom mirror
  and builds the API from nothing (what grading costs today);
* pool: the grader takes a sandbox from the grading pool, whose engine already holds the
  stand-in images (``BUNGEO_GRADING_PREPULL``); Celery beat keeps the pool full between gradings,
  so the pulls happen before the clock starts. The API is still built from nothing.

Usage: python bench/grade_a2.py [--runs 2] [--mode cold|pool|both]
"""
from __future__ import annotations

import argparse

from common import django_setup, grading_pool_ready, pct, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--mode", choices=("cold", "pool", "both"), default="both")
    args = ap.parse_args()
    django_setup()
    from django.conf import settings
    from django.utils import translation

    from exercises import registry
    from webapp.sandboxes.backend import get_backend

    a2 = registry.get("a2")
    ref = a2.folder / "reference"
    files = {str(p.relative_to(ref)): p.read_bytes() for p in ref.rglob("*") if p.is_file()}
    rows = []
    modes = ("cold", "pool") if args.mode == "both" else (args.mode,)
    backend = get_backend()
    for mode in modes:
        times, scores, pulls = [], [], []
        settings.BUNGEO_GRADING_POOL_SIZE = 1 if mode == "pool" else 0
        for _ in range(args.runs):
            if mode == "pool":
                pulls.append(grading_pool_ready(backend))
            with translation.override("en"):
                report = a2.grader.grade(files, backend, owner="bench")
            times.append(report.duration_s)
            scores.append(report.score)
        label = "a2 reference, cold" if mode == "cold" else (
            f"a2 reference, grading pool (pool refill {min(pulls):.0f}-{max(pulls):.0f} s)")
        rows.append((label, args.runs, f"{min(times):.1f}", f"{pct(times, .5):.1f}",
                     f"{max(times):.1f}", f"{min(scores):g}"))
    print(table(rows, ("submission", "runs", "min s", "p50 s", "max s", "score")))


if __name__ == "__main__":
    main()
