"""Time to grade A2's reference solution (target <= 45 s with warm caches), with the same code as
the site.

Two figures:
* cold: the grader starts a fresh sandbox, which pulls every image through the classroom mirror
  and builds the API from nothing (what grading costs today);
* images warm: the grader is handed a fresh sandbox whose engine already holds the stand-in images
  the reference uses, as a pool of pre-pulled grading sandboxes would (DESIGN.md, "Images"); the
  pulls happen before the clock starts. The API is still built from nothing.

Usage: python bench/grade_a2.py [--runs 2] [--mode cold|warm|both]
"""
from __future__ import annotations

import argparse
import time

from common import django_setup, pct, table

IMAGES = ["nginx:alpine", "node:18-alpine", "redis:7-alpine", "postgres:16-alpine"]


class PrewarmedBackend:
    """A backend whose ``create_fresh`` hands out a sandbox made (and filled with IMAGES) before
    grading started; everything else goes to the real backend."""

    def __init__(self, real, owner: str):
        self.real = real
        self.ready = real.create_fresh(owner=owner)
        t0 = time.monotonic()
        res = real.exec(self.ready.id, ["sh", "-c", " & ".join(
            f"docker pull -q {i} >/dev/null" for i in IMAGES) + " & wait"], timeout=600)
        self.pull_s = time.monotonic() - t0
        if res.exit_code != 0:
            raise SystemExit(f"pre-pull failed: {res.output}")

    def create_fresh(self, **kw):
        return self.ready

    def __getattr__(self, name):
        return getattr(self.real, name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--mode", choices=("cold", "warm", "both"), default="both")
    args = ap.parse_args()
    django_setup()
    from django.utils import translation

    from exercises import registry
    from webapp.sandboxes.backend import get_backend

    a2 = registry.get("a2")
    ref = a2.folder / "reference"
    files = {str(p.relative_to(ref)): p.read_bytes() for p in ref.rglob("*") if p.is_file()}
    rows = []
    modes = ("cold", "warm") if args.mode == "both" else (args.mode,)
    for mode in modes:
        times, scores, pulls = [], [], []
        for _ in range(args.runs):
            backend = get_backend()
            if mode == "warm":
                backend = PrewarmedBackend(backend, owner="bench")
                pulls.append(backend.pull_s)
            with translation.override("en"):
                report = a2.grader.grade(files, backend, owner="bench")
            times.append(report.duration_s)
            scores.append(report.score)
        label = "a2 reference, cold" if mode == "cold" else (
            f"a2 reference, images warm (pre-pull {min(pulls):.0f}-{max(pulls):.0f} s)")
        rows.append((label, args.runs, f"{min(times):.1f}", f"{pct(times, .5):.1f}",
                     f"{max(times):.1f}", f"{min(scores):g}"))
    print(table(rows, ("submission", "runs", "min s", "p50 s", "max s", "score")))


if __name__ == "__main__":
    main()
