"""How many learners one host holds: N idle sandboxes plus 10 learners typing.

Usage: python bench/capacity.py [--base http://127.0.0.1:8000] [--idle 50] [--active 10]
       [--rounds 100]
Starts N idle sandboxes (each its own learner, opened once through the terminal websocket and
then left alone, as a class that opened the lab and went quiet), then runs the keystroke echo of
echo_latency.py for the active learners. Prints the sandboxes' memory (docker stats of the
sandbox engine), the host's free memory, and echo p50/p95. Target: 50 idle + 10 active with echo
p95 <= 50 ms on 2 cores, 24 GiB. Needs the server's BUNGEO_SANDBOX_CAPACITY >= idle + active.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import websockets
from common import at_prompt, django_setup, ensure_users, login, pct, table, ws_url
from echo_latency import session


async def open_once(base: str, cookie: str) -> float:
    """Open the lab terminal until the prompt (the sandbox starts), then leave."""
    t0 = time.perf_counter()
    async with websockets.connect(ws_url(base), additional_headers={"Cookie": cookie, "Origin": base},
                                  max_size=None) as ws:
        buf = b""
        while not at_prompt(buf):
            msg = await asyncio.wait_for(ws.recv(), 300)
            if isinstance(msg, bytes):
                buf += msg
            elif json.loads(msg).get("state") in ("error", "queued"):
                raise SystemExit(f"cannot start an idle sandbox: {msg}")
    return time.perf_counter() - t0


def sandbox_memory() -> list[float]:
    """MiB used by each running learner sandbox (cgroup memory usage, from docker stats)."""
    django_setup()
    from webapp.sandboxes.backend import get_backend

    b = get_backend()
    out = []
    for sb in b.list(kind="learner"):
        if sb.running:
            st = b.client.containers.get(sb.id).stats(stream=False)
            mem = st["memory_stats"]
            cache = mem.get("stats", {}).get("cache", 0)
            out.append((mem.get("usage", 0) - cache) / 2**20)
    return out


def mem_available() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return 0.0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--idle", type=int, default=50)
    ap.add_argument("--active", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    free_before = mem_available()
    idle_users = await asyncio.to_thread(ensure_users, args.idle, "benchidle")
    starts = []
    for i in range(0, args.idle, 5):  # five at a time, like a class arriving
        batch = idle_users[i:i + 5]
        cookies = [login(args.base, u, p) for u, p in batch]
        starts += await asyncio.gather(*(open_once(args.base, c) for c in cookies))
    active_users = await asyncio.to_thread(ensure_users, args.active, "benchecho")
    cookies = [login(args.base, u, p) for u, p in active_users]
    lat: list[float] = []
    ready, started, done = asyncio.Event(), [], asyncio.Event()
    done.set()  # every active session types: none waits for the others
    await asyncio.gather(*(session(args.base, c, args.rounds, lat, ready, started, args.active,
                                   done) for c in cookies))
    mems = await asyncio.to_thread(sandbox_memory)
    print(table([(args.idle, args.active, f"{pct(starts, .5):.2f}", f"{pct(starts, .95):.2f}",
                  len(mems), f"{sum(mems) / max(1, len(mems)):.1f}", f"{free_before:.1f}",
                  f"{mem_available():.1f}", f"{pct(lat, .5):.2f}", f"{pct(lat, .95):.2f}")],
                ("idle", "active", "start p50 s", "start p95 s", "running", "MiB/sandbox",
                 "GiB free before", "GiB free after", "echo p50 ms", "echo p95 ms")))


if __name__ == "__main__":
    asyncio.run(main())
