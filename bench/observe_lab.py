"""What one observation of a learner's sandbox costs (labs.observe), with and without the
workspace reads that some labs add: the shell history, image events and archive files.

The lab page observes on every engine event and every Enter, so these figures bound how fast a
step ticks. The script starts its own sandbox (owner "bench-observe") and removes it at the end.

Usage: BUNGEO_SANDBOX_PREFIX=bungeobench python bench/observe_lab.py [--runs 20]
"""
from __future__ import annotations

import argparse
import time

from common import django_setup, pct, table

SETUP = """
set -e
cd /root
docker pull -q busybox >/dev/null && docker pull -q nginx >/dev/null
docker save busybox -o busybox.tar
docker save nginx -o nginx.tar
docker save nginx | gzip > nginx.tar.gz
for i in $(seq 1 200); do echo "#$(date +%s)"; echo "docker ps -a --filter name=web$i"; done \
  >> .bash_history
"""


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    django_setup()
    from labs import checks, content, observe
    from webapp.sandboxes.backend import get_backend

    backend = get_backend()
    sb = backend.ensure(owner="bench-observe")
    try:
        res = backend.exec(sb.id, ["bash", "-c", SETUP], timeout=300)
        assert res.exit_code == 0, res.output
        url = backend.engine_url(sb.id)
        save_lab = [s.check for s in content.get_lab("week1", "save-and-load").steps]
        arch_lab = [s.check for s in content.get_lab("week1", "docker-architecture").steps]
        rows = []
        for name, fn in (
            ("engine only (any lab)", lambda: observe.engine_state(url)),
            ("docker-architecture (+ history)", lambda: observe.lab_state(backend, sb.id, arch_lab)),
            ("save-and-load (+ files, events, cached)",
             lambda: observe.lab_state(backend, sb.id, save_lab)),
        ):
            fn()  # warm: the archive reads are cached after the first observation
            t = timed(fn, args.runs)
            rows.append((name, args.runs, f"{pct(t, .5) * 1000:.0f}", f"{pct(t, .95) * 1000:.0f}"))
        for path in ("busybox.tar", "nginx.tar", "nginx.tar.gz"):
            spec = [checks.parse_spec({"type": "image_archive", "path": path, "images": ["x"]})]
            first = []
            for _ in range(3):
                observe._ARCHIVE_CACHE.clear()
                first += timed(lambda spec=spec: observe.lab_state(backend, sb.id, spec), 1)
            size = backend.exec(sb.id, ["stat", "-c", "%s", f"/root/{path}"]).output.strip()
            rows.append((f"first read of {path} ({int(size) / 1e6:.0f} MB)", 3,
                         f"{pct(first, .5) * 1000:.0f}", f"{max(first) * 1000:.0f}"))
        print(table(rows, ("observation", "runs", "p50 ms", "p95/max ms")))
    finally:
        backend.remove(sb.id, keep_workspace=False)


if __name__ == "__main__":
    main()
