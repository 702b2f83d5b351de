"""Time to grade A1's reference solution (target <= 20 s with warm caches), with the same code as
the site: a fresh grading sandbox pulls the node stand-in from the classroom mirror, builds the
submission (npm ci from the offline cache), runs it and probes it; the sandbox is removed.

Warm caches means the mirror already holds the node stand-in (`manage.py images build`) and the
host's page cache has seen it; every run still starts from an empty grading sandbox. The first
run is reported apart. Usage: python bench/grade_a1.py [--runs 3]
"""
from __future__ import annotations

import argparse
import time

from common import django_setup, pct, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    django_setup()
    from exercises import registry
    from webapp.sandboxes.backend import get_backend

    a1 = registry.get("a1")
    folder = a1.folder / "reference"
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    times, scores, steps = [], [], []
    for i in range(args.runs + 1):
        marks: dict[str, float] = {}
        t0 = time.monotonic()

        def progress(check_id, state, outcome, marks=marks, t0=t0):
            if state == "done":
                marks[check_id] = time.monotonic() - t0

        report = a1.grader.grade(files, get_backend(), progress, owner="bench")
        if i == 0:
            first = report.duration_s
            continue
        times.append(report.duration_s)
        scores.append(report.score)
        steps.append(marks)
    print(table([("a1 reference", args.runs, f"{first:.2f}", f"{min(times):.2f}",
                  f"{pct(times, .5):.2f}", f"{max(times):.2f}", f"{min(scores):g}")],
                ("submission", "runs", "first s", "min s", "p50 s", "max s", "score")))
    # When each check was done (seconds since the run started), median over the runs.
    order = list(steps[0])
    print()
    print(table([(cid, f"{pct([s[cid] for s in steps], .5):.2f}") for cid in order],
                ("check done", "at p50 s")))


if __name__ == "__main__":
    main()
