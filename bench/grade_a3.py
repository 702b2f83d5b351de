"""Time to grade A3's reference solution (target <= 10 s), with the same code as the site.

Usage: python bench/grade_a3.py [--runs 3]
"""
from __future__ import annotations

import argparse

from common import django_setup, pct, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    django_setup()
    from exercises import registry
    from webapp.sandboxes.backend import get_backend

    a3 = registry.get("a3")
    files = {"compose.yaml": (a3.folder / "reference" / "compose.yaml").read_bytes()}
    times, scores = [], []
    for _ in range(args.runs):
        report = a3.grader.grade(files, get_backend(), owner="bench")
        times.append(report.duration_s)
        scores.append(report.score)
    print(table([("a3 reference", args.runs, f"{min(times):.2f}", f"{pct(times, .5):.2f}",
                  f"{max(times):.2f}", f"{min(scores):g}")],
                ("submission", "runs", "min s", "p50 s", "max s", "score")))


if __name__ == "__main__":
    main()
