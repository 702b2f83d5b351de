"""Anchor for output_throughput.py: the same flood through JupyterLab's terminal backend.

Usage: python bench/anchor_flood.py [--bytes 50000000] [--runs 3]
Needs terminado, tornado and websockets (a throwaway virtualenv is fine; not bungeo's own
dependencies). Starts terminado (the terminal server JupyterLab uses) on 127.0.0.1 with bash in
a process of its own, on this host, with no sandbox, no CPU limit and no tmux, like
../shared/anchors/terminado_echo.py does for keystroke echo. Then it sends
`head -c N /dev/zero | base64; echo <marker>` and times the wait for the marker, as
output_throughput.py does through bungeo. Prints a table: seconds, MB/s (the command's output
bytes, 4/3 of N plus one newline per 76 characters, over the time) and the bytes that crossed
the websocket (terminado sends every byte the command wrote, as JSON text).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import time

PORT = 8766


def serve() -> None:
    """Run terminado with bash on 127.0.0.1:PORT until killed."""
    import tornado.ioloop
    import tornado.web
    from terminado import TermSocket, UniqueTermManager

    asyncio.set_event_loop(asyncio.new_event_loop())
    mgr = UniqueTermManager(shell_command=["bash", "--norc", "--noprofile"])
    app = tornado.web.Application([(r"/ws", TermSocket, {"term_manager": mgr})])
    app.listen(PORT, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


async def flood(nbytes: int) -> tuple[float, int]:
    """One flood through a new terminal: (seconds to the marker, bytes received over the websocket)."""
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws", max_size=None) as ws:
        await asyncio.sleep(1.0)  # let bash start
        n = random.randint(10_000, 99_999)
        marker = f"FLOOD-{n * 7}"
        await ws.send(json.dumps(["stdin", f"head -c {nbytes} /dev/zero | base64; echo FLOOD-$(({n}*7))\r"]))
        t0, received, tail = time.perf_counter(), 0, ""
        while True:
            msg = await asyncio.wait_for(ws.recv(), 600)
            received += len(msg)
            kind, *rest = json.loads(msg)
            if kind != "stdout":
                continue
            text = rest[0]
            if marker in tail + text:
                return time.perf_counter() - t0, received
            tail = text[-16:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=50_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    out_bytes = args.bytes * 4 // 3
    out_bytes += out_bytes // 76
    proc = multiprocessing.Process(target=serve, daemon=True)
    proc.start()
    time.sleep(1.5)
    try:
        rows = []
        for i in range(args.runs):
            seconds, received = asyncio.run(flood(args.bytes))
            rows.append((i + 1, seconds, out_bytes / seconds / 1e6, received))
    finally:
        proc.terminate()
    print(f"{'run':>3} {'seconds':>8} {'MB/s':>6} {'websocket bytes':>16}")
    for run, seconds, rate, received in rows:
        print(f"{run:>3} {seconds:>8.2f} {rate:>6.1f} {received:>16,}")


if __name__ == "__main__":
    main()
