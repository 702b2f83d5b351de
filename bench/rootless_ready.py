"""Isolation mode rootless against userns: time until a sandbox's inner engine answers.

Usage: python bench/rootless_ready.py [--trials 5] [--modes rootless userns]
Needs the rootless sandbox image (manage.py images build --rootless) and bungeo's sandbox engine;
no web server. Per mode: "cold" creates and starts a new sandbox until its inner engine answers
(bungeo's own readiness probe, backend.ensure); "reset" restarts it (files and images kept);
"first run" is the learner's first `docker run --rm alpine true` (pulled from the classroom mirror
through the mode's network: slirp4netns in rootless); "run" is a second one. Sandboxes carry the
prefix bungeobench-ready and are removed at the end.
"""
from __future__ import annotations

import argparse
import time

from common import django_setup, pct, table


def measure(mode: str, trials: int) -> list[tuple]:
    from django.test import override_settings

    from webapp.sandboxes.docker_backend import DockerSandboxBackend

    rows = []
    with override_settings(BUNGEO_ISOLATION=mode, BUNGEO_SANDBOX_POOL_SIZE=0):
        b = DockerSandboxBackend(prefix="bungeobench-ready")
        b.purge()
        cold, reset, first, again = [], [], [], []
        try:
            for i in range(trials):
                t0 = time.perf_counter()
                sb = b.ensure(owner=f"t{i}")
                cold.append(time.perf_counter() - t0)
                for dest in (first, again):
                    t0 = time.perf_counter()
                    res = b.exec(sb.id, ["docker", "run", "--rm", "alpine", "true"], timeout=120)
                    if res.exit_code != 0:
                        raise SystemExit(f"{mode}: docker run failed: {res.output}")
                    dest.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                b.restart(sb.id)
                reset.append(time.perf_counter() - t0)
                b.remove(sb.id, keep_workspace=False)
        finally:
            b.purge()
    for name, vals in (("cold", cold), ("reset", reset), ("first run", first), ("run", again)):
        rows.append((mode, name, len(vals), f"{pct(vals, 0.5):.2f}", f"{max(vals):.2f}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--modes", nargs="+", default=["rootless", "userns"])
    args = ap.parse_args()
    django_setup()
    rows = []
    for mode in args.modes:
        rows += measure(mode, args.trials)
    print(table(rows, ("mode", "what", "trials", "p50 s", "max s")))


if __name__ == "__main__":
    main()
