"""Keystroke echo through the browser websocket: N learners typing 10 keys a second.

Usage: python bench/echo_latency.py [--base http://127.0.0.1:8000] [--sessions 1 40] [--rounds 100]
Each session is its own learner with its own sandbox (created first, not timed). A session types a
marker and waits for it to come back through the sandbox's tty, like terminado_echo.py in
../shared/anchors does for JupyterLab's terminal backend.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

import websockets
from common import at_prompt, ensure_users, login, pct, table, ws_url

PACE_S = 0.1  # one keystroke per session every 100 ms


async def session(base: str, cookie: str, rounds: int, out: list[float], ready: asyncio.Event,
                  started: list[int], n: int) -> None:
    async with websockets.connect(ws_url(base), additional_headers={"Cookie": cookie,
                                  "Origin": base}, max_size=None) as ws:
        buf = b""
        while not at_prompt(buf):
            msg = await asyncio.wait_for(ws.recv(), 120)
            if isinstance(msg, bytes):
                buf += msg
            elif json.loads(msg).get("state") == "error":
                raise SystemExit(msg)
        # The prompt can show before the sandbox's Docker engine answers, and what is typed
        # until then is held (webapp/sandboxes/consumers.py): one untimed keystroke, echoed,
        # says the terminal is live before the clock runs.
        await ws.send(b"w0q")
        got = b""
        while b"w0q" not in got:
            msg = await asyncio.wait_for(ws.recv(), 120)
            if isinstance(msg, bytes):
                got += msg
        await ws.send(b"\x15")
        started.append(1)
        if len(started) == n:
            ready.set()
        await ready.wait()
        for i in range(rounds):
            mark = f"z{i}q".encode()
            t0 = time.perf_counter()
            await ws.send(mark)
            got = b""
            while mark not in got:
                msg = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(msg, bytes):
                    got += msg
            out.append((time.perf_counter() - t0) * 1000)
            await ws.send(b"\x15")  # ctrl-u clears the line
            await asyncio.sleep(PACE_S)


async def run(base: str, n: int, rounds: int) -> tuple:
    users = await asyncio.to_thread(ensure_users, n, "benchecho")
    cookies = [login(base, u, p) for u, p in users]
    lat: list[float] = []
    ready, started = asyncio.Event(), []
    await asyncio.gather(*(session(base, c, rounds, lat, ready, started, n) for c in cookies))
    return (n, len(lat), f"{pct(lat, .5):.2f}", f"{pct(lat, .95):.2f}", f"{max(lat):.2f}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 40])
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    rows = [await run(args.base, n, args.rounds) for n in args.sessions]
    print(table(rows, ("sessions", "samples", "p50 ms", "p95 ms", "max ms")))


if __name__ == "__main__":
    asyncio.run(main())
