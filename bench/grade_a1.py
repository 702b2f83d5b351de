"""Time to grade A1's reference solution (target <= 20 s with warm caches), with the same code as
the site: a fresh grading sandbox pulls the node stand-in from the classroom mirror, builds the
submission (npm ci from the offline cache), runs it and probes it; the sandbox is removed.

Two figures: "cold", where the grader starts an empty sandbox that pulls the node stand-in from
the mirror (the first run is reported apart), and "pool", where it takes a sandbox from the grading
pool whose engine already holds the stand-ins (Celery beat keeps the pool full between gradings,
so the pulls happen before the clock starts). Every run still starts with no container, volume or
build cache of an earlier one. Usage: python bench/grade_a1.py [--runs 3] [--mode cold|pool|both]
"""
from __future__ import annotations

import argparse
import time

from common import django_setup, grading_pool_ready, pct, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=("cold", "pool", "both"), default="both")
    args = ap.parse_args()
    django_setup()
    from django.conf import settings

    from exercises import registry
    from webapp.sandboxes.backend import get_backend

    a1 = registry.get("a1")
    folder = a1.folder / "reference"
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    backend = get_backend()
    rows, steps = [], []
    for mode in (("cold", "pool") if args.mode == "both" else (args.mode,)):
        settings.BUNGEO_GRADING_POOL_SIZE = 1 if mode == "pool" else 0
        times, scores, first = [], [], None
        for i in range(args.runs + (mode == "cold")):
            if mode == "pool":
                grading_pool_ready(backend)
            marks: dict[str, float] = {}
            t0 = time.monotonic()

            def progress(check_id, state, outcome, marks=marks, t0=t0):
                if state == "done":
                    marks[check_id] = time.monotonic() - t0

            report = a1.grader.grade(files, backend, progress, owner="bench")
            if mode == "cold" and i == 0:
                first = report.duration_s
                continue
            times.append(report.duration_s)
            scores.append(report.score)
            steps.append((mode, marks))
        rows.append((f"a1 reference, {mode}", args.runs, f"{first:.2f}" if first else "-",
                     f"{min(times):.2f}", f"{pct(times, .5):.2f}", f"{max(times):.2f}",
                     f"{min(scores):g}"))
    print(table(rows, ("submission", "runs", "first s", "min s", "p50 s", "max s", "score")))
    # When each check was done (seconds since the run started), median over the runs.
    for mode in dict(steps):
        marks = [m for md, m in steps if md == mode]
        print()
        print(table([(cid, f"{pct([m[cid] for m in marks if cid in m], .5):.2f}") for cid in marks[0]],
                    (f"check done ({mode})", "at p50 s")))


if __name__ == "__main__":
    main()
