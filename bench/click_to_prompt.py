"""Click to usable prompt: from opening the lab's terminal websocket to the shell's prompt.

Usage: python bench/click_to_prompt.py [--base http://127.0.0.1:8000] [--trials 20]
       [--modes cold pool warm]
Runs against a server started by 'make run' (it creates a bench user in that server's database).
"warm": the learner's sandbox is already running (reattach). "pool": the sandbox was removed
before each trial and one started, unassigned sandbox waits in the warm pool (claimed: renamed and
given the learner's workspace). "cold": the sandbox and the pool were removed before each trial,
so a sandbox is created and its inner engine started (run the server with
BUNGEO_SANDBOX_POOL_SIZE=0 for clean cold figures, or the server's own refill may race).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

import websockets
from common import at_prompt, django_setup, ensure_users, login, pct, table, ws_url


async def one(base: str, cookie: str) -> float:
    t0 = time.perf_counter()
    async with websockets.connect(ws_url(base), additional_headers={"Cookie": cookie,
                                  "Origin": base}, max_size=None) as ws:
        buf = b""
        while True:
            msg = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(msg, bytes):
                buf += msg
                if at_prompt(buf):
                    return time.perf_counter() - t0
            elif json.loads(msg).get("state") == "error":
                raise SystemExit(f"sandbox error: {msg}")


def remove_sandbox(username: str) -> None:
    django_setup()
    from django.contrib.auth import get_user_model

    from webapp.sandboxes.backend import get_backend, learner_owner

    user = get_user_model().objects.get(username=username)
    b = get_backend()
    sb = b.find(owner=learner_owner(user))
    if sb:
        b.remove(sb.id)


def wait_for_warm_up(username: str, *, appear_s: float = 5.0, ready_s: float = 60.0) -> None:
    """Wait until the sandbox that logging in may start (the server's warm-up after login,
    BUNGEO_PRESTART_ON_LOGIN) has started, or ``appear_s`` seconds passed without one. Removing
    it while it started (the first cold trial did) broke that start in the server: its terminal
    relay never answered and the trial's shell "ended" after 6 s."""
    django_setup()
    from django.contrib.auth import get_user_model

    from webapp.sandboxes.backend import SandboxError, get_backend, learner_owner

    owner = learner_owner(get_user_model().objects.get(username=username))
    b = get_backend()
    deadline = time.monotonic() + appear_s
    while time.monotonic() < deadline:
        sb = b.find(owner=owner)
        if sb is not None and sb.running:
            end = time.monotonic() + ready_s
            while time.monotonic() < end:
                try:
                    b.wait_engine(sb.id)
                    return
                except SandboxError:
                    time.sleep(0.5)
            return
        time.sleep(0.2)


def set_pool(size: int) -> None:
    """Remove every unassigned pool sandbox, then start ``size`` new ones (and wait for them)."""
    django_setup()
    from webapp.sandboxes.backend import get_backend

    b = get_backend()
    for sb in b.list(kind="pool"):
        b.remove(sb.id)
    if size:
        b.pool_fill(size)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--modes", nargs="+", choices=("cold", "pool", "warm"), default=["cold", "pool", "warm"])
    args = ap.parse_args()
    (user, pw), = await asyncio.to_thread(ensure_users, 1, "benchclick")
    cookie = login(args.base, user, pw)
    await asyncio.to_thread(wait_for_warm_up, user)
    rows = []
    for mode in args.modes:
        times = []
        for _ in range(args.trials):
            if mode in ("cold", "pool"):
                await asyncio.to_thread(remove_sandbox, user)
                await asyncio.to_thread(set_pool, 1 if mode == "pool" else 0)
            times.append(await one(args.base, cookie))
        rows.append((mode, args.trials, f"{pct(times, .5):.3f}", f"{pct(times, .95):.3f}",
                     f"{max(times):.3f}"))
    await asyncio.to_thread(remove_sandbox, user)
    print(table(rows, ("mode", "trials", "p50 s", "p95 s", "max s")))


if __name__ == "__main__":
    asyncio.run(main())
