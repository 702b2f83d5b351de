"""Phases of a cold learner sandbox start, from nothing to the shell's prompt, with timestamps.

Usage: python bench/cold_phases.py [--trials 10] [--wait-engine]
No web server: calls the backend as the lab terminal does (``ensure`` for a learner with no
sandbox and no warm pool, then ``open_terminal``) and reads the tty until the prompt. Sandboxes
carry ``BUNGEO_SANDBOX_PREFIX`` (run it with a prefix of your own) and are removed at the end;
the workspace of the bench learner is removed too.

Each phase is the time from the start of the trial (seconds, p50 and max over the trials):
"created" (container created, storage volume made), "started" (the engine's start call
returned), "delegated" (cgroup directories handed over), "ready file" (/run/bungeo-host/ready
seen on the host), "ensure" (``ensure`` returned), "terminal" (``open_terminal`` returned),
"first byte" and "prompt" (the tty's first byte, the shell's prompt), "docker.sock" (the inner
engine's host-shared socket appeared) and "engine" (the inner engine answered ``/_ping``).
A poller thread looks at the host folder every 5 ms, so those two are +-5 ms.
``--wait-engine`` makes ``ensure`` wait for the inner engine (the behaviour before the terminal
attached early, still what every other caller gets).
"""
from __future__ import annotations

import argparse
import inspect
import os
import select
import threading
import time

from common import at_prompt, django_setup, pct, table

PHASES = ("created", "started", "delegated", "ready file", "ensure", "terminal", "first byte",
          "prompt", "docker.sock", "engine")


def trial(b, owner: str, wait_engine: bool) -> dict[str, float]:
    import docker

    from webapp.sandboxes import docker_backend as db

    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        marks.setdefault(name, time.perf_counter() - t0)

    orig_create, orig_start = db.DockerSandboxBackend._create, docker.models.containers.Container.start
    orig_delegate = db.delegate_cgroups

    def create(self, *a, **kw):
        c = orig_create(self, *a, **kw)
        mark("created")
        return c

    def start(self, *a, **kw):
        r = orig_start(self, *a, **kw)
        mark("started")
        return r

    def delegate(pid):
        r = orig_delegate(pid)
        mark("delegated")
        return r

    name = b._name(owner, "learner")
    hostdir = b.host_dir(name)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            if "ready file" not in marks and (hostdir / "ready").exists():
                mark("ready file")
            if "docker.sock" not in marks and (hostdir / "docker.sock").exists():
                mark("docker.sock")
            if "docker.sock" in marks and b._inner_answers(name):
                mark("engine")
                return
            time.sleep(0.005)

    db.DockerSandboxBackend._create, docker.models.containers.Container.start = create, start
    db.delegate_cgroups = delegate
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        kw = {}
        if "wait_engine" in inspect.signature(b.ensure).parameters:
            kw["wait_engine"] = wait_engine
        sb = b.ensure(owner=owner, **kw)
        mark("ensure")
        term = b.open_terminal(sb.id)
        mark("terminal")
        buf = b""
        sock = term.sock
        deadline = time.monotonic() + 60
        while not at_prompt(buf):
            if time.monotonic() > deadline:
                raise SystemExit(f"no prompt: {buf[-300:]!r}")
            r, _, _ = select.select([sock], [], [], 1)
            if r:
                data = sock.recv(65536)
                if not data:
                    raise SystemExit(f"tty closed: {buf[-300:]!r}")
                mark("first byte")
                buf += data
        mark("prompt")
        poller.join(60)
        term.close()
    finally:
        done.set()
        db.DockerSandboxBackend._create, docker.models.containers.Container.start = orig_create, orig_start
        db.delegate_cgroups = orig_delegate
    return marks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--wait-engine", action="store_true")
    args = ap.parse_args()
    django_setup()
    from django.conf import settings

    from webapp.sandboxes.backend import get_backend

    b = get_backend()
    owner = f"bench-cold-{os.getpid()}"
    print(f"prefix {settings.BUNGEO_SANDBOX_PREFIX}, isolation {b.mode()}")
    runs = []
    try:
        for _ in range(args.trials):
            sb = b.find(owner=owner)
            if sb:
                b.remove(sb.id)
            runs.append(trial(b, owner, args.wait_engine))
    finally:
        sb = b.find(owner=owner)
        if sb:
            b.remove(sb.id, keep_workspace=False)
    rows = []
    for ph in PHASES:
        vals = [r[ph] for r in runs if ph in r]
        if vals:
            rows.append((ph, len(vals), f"{pct(vals, .5):.3f}", f"{max(vals):.3f}"))
    print(table(rows, ("phase (s from start)", "trials", "p50 s", "max s")))


if __name__ == "__main__":
    main()
