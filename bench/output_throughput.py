"""Terminal output flood through the websocket: `head -c 50000000 /dev/zero | base64`.

Usage: python bench/output_throughput.py [--base http://127.0.0.1:8000] [--bytes 50000000]
       [--slow-reader]
Measures, for one learner, the time from sending the command to seeing its end marker, the
producer's throughput (base64 output bytes / that time), the bytes that actually crossed the
websocket (tmux redraws the screen instead of replaying every line, so fewer bytes reach the page
than the command wrote), and the server process's resident memory before and at its peak
(sampled every 20 ms from /proc). With --slow-reader the client stops reading for 5 s mid-flood,
like a browser tab in the background.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import threading
import time
from pathlib import Path

import websockets
from common import ensure_users, login, table, ws_url


def server_pid(port: int) -> int:
    """The pid listening on ``port`` on this host (from ``ss -ltnp``)."""
    out = subprocess.run(["ss", "-ltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    m = re.search(r"pid=(\d+)", out)
    if not m:
        raise SystemExit(f"no process listens on port {port} here")
    return int(m.group(1))


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def flood(base: str, cookie: str, nbytes: int, slow: bool) -> tuple[float, int]:
    async with websockets.connect(ws_url(base), additional_headers={"Cookie": cookie, "Origin": base},
                                  max_size=None) as ws:
        buf = b""
        while b"# " not in buf:
            msg = await asyncio.wait_for(ws.recv(), 120)
            if isinstance(msg, bytes):
                buf += msg
            elif json.loads(msg).get("state") == "error":
                raise SystemExit(msg)
        # A marker the screen cannot hold yet: the shell computes it, so the typed command line
        # never matches, and it is new on every run (a reattach redraws the previous screen).
        n = random.randint(10_000, 99_999)
        marker = f"FLOOD-{n * 7}".encode()
        await ws.send(f"clear; head -c {nbytes} /dev/zero | base64; echo FLOOD-$(({n}*7))\r".encode())
        t0, received, tail, paused = time.perf_counter(), 0, b"", False
        while True:
            msg = await asyncio.wait_for(ws.recv(), 600)
            if not isinstance(msg, bytes):
                continue
            received += len(msg)
            if marker in tail + msg:
                return time.perf_counter() - t0, received
            tail = msg[-16:]
            if slow and not paused and received > 1_000_000:
                paused = True
                await asyncio.sleep(5)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--bytes", type=int, default=50_000_000)
    ap.add_argument("--slow-reader", action="store_true")
    args = ap.parse_args()
    pid = server_pid(int(args.base.rsplit(":", 1)[1].split("/")[0]))
    (user, pw), = await asyncio.to_thread(ensure_users, 1, "benchflood")
    cookie = login(args.base, user, pw)
    before, peak, stop = rss(pid), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss(pid))
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    seconds, received = await flood(args.base, cookie, args.bytes, args.slow_reader)
    stop.set()
    t.join()
    produced = (args.bytes + 2) // 3 * 4 * 77 // 76  # base64 with a newline every 76 characters
    print(table([(f"{args.bytes / 1e6:.0f} MB zeros", f"{seconds:.2f}", f"{produced / seconds / 1e6:.1f}",
                  f"{received / 1e6:.2f}", f"{before / 2**20:.0f}", f"{peak[0] / 2**20:.0f}",
                  "yes" if args.slow_reader else "no")],
                ("command", "seconds", "produced MB/s", "over ws MB", "server RSS MiB before",
                 "peak MiB", "slow reader")))


if __name__ == "__main__":
    asyncio.run(main())
