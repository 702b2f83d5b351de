"""Keystroke echo through the browser websocket: N learners typing 10 keys a second.

Usage: python bench/echo_latency.py [--base http://127.0.0.1:8000] [--sessions 1 40] [--rounds 100]
       [--typing K]
Each session is its own learner with its own sandbox (created first, not timed). A session types a
marker and waits for it to come back through the sandbox's tty, like terminado_echo.py in
../shared/anchors does for JupyterLab's terminal backend. By default every open session types
(10 keys a second each: 400 a second with 40 sessions, a stress case); with --typing K only K of
them type while the others stay open and idle, as in a class where a few learners type at once.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path

import websockets
from common import at_prompt, ensure_users, login, pct, table, ws_url

PACE_S = 0.1  # one keystroke per session every 100 ms
CPU_NOTES: list[str] = []


async def session(base: str, cookie: str, rounds: int, out: list[float], ready: asyncio.Event,
                  started: list[int], n: int, done: asyncio.Event) -> None:
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
        # Learners do not type in step: each session starts at its own moment within one pace
        # interval (in step, 40 keystrokes would land together every 100 ms, a load no class makes).
        await asyncio.sleep(random.uniform(0, PACE_S))
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
        if not rounds:  # an idle session stays open until the typists are done
            await done.wait()


def cpu_by_command() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process on this host, summed by command
    name (proc(5): /proc/PID/stat fields 14 and 15), and by the whole host under "(all)"."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    out["(all)"] = (sum(map(int, cpu)) - int(cpu[3]) - int(cpu[4])) / tick
    return out


async def run(base: str, n: int, rounds: int, typing: int | None) -> tuple:
    users = await asyncio.to_thread(ensure_users, n, "benchecho")
    cookies = [login(base, u, p) for u, p in users]
    typists = n if typing is None else min(typing, n)
    lat: list[float] = []
    ready, started, done = asyncio.Event(), [], asyncio.Event()

    tasks = [asyncio.create_task(session(base, c, rounds if k < typists else 0, lat, ready,
                                         started, n, done)) for k, c in enumerate(cookies)]
    await ready.wait()
    before, t0 = cpu_by_command(), time.monotonic()
    await asyncio.gather(*tasks[:typists])
    after, wall = cpu_by_command(), time.monotonic() - t0
    done.set()
    # Where the host's CPU went while the sessions typed (processes that started meanwhile, such
    # as a new tmux client, count from zero).
    used = sorted(((after[k] - before.get(k, 0.0), k) for k in after), reverse=True)
    CPU_NOTES.append(f"{n} open, {typists} typing: {wall:.1f} s, host CPU busy "
                     f"{used[0][0] / wall * 100:.0f} % of one core; by command: "
                     + ", ".join(f"{k} {v / wall * 100:.0f} %" for v, k in used[1:8]))
    await asyncio.gather(*tasks[typists:])
    return (n, typists, len(lat), f"{pct(lat, .5):.2f}", f"{pct(lat, .95):.2f}", f"{max(lat):.2f}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 40])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--typing", type=int, default=None,
                    help="how many of the open sessions type (default: all)")
    args = ap.parse_args()
    rows = [await run(args.base, n, args.rounds, args.typing) for n in args.sessions]
    print(table(rows, ("sessions open", "typing", "samples", "p50 ms", "p95 ms", "max ms")))
    print("\n".join(CPU_NOTES))


if __name__ == "__main__":
    asyncio.run(main())
