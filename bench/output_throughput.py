"""Terminal output flood through the websocket: `head -c 50000000 /dev/zero | base64`.

Usage: python bench/output_throughput.py [--base http://127.0.0.1:8000] [--bytes 50000000]
       [--slow-reader] [--stages] [--cpu] [--sandbox-cpus N]
Measures, for one learner, the time from sending the command to seeing its end marker, the
producer's throughput (base64 output bytes / that time), the bytes that actually crossed the
websocket (tmux redraws the screen instead of replaying every line, so fewer bytes reach the page
than the command wrote), and the server process's resident memory before and at its peak
(sampled every 20 ms from /proc). With --slow-reader the client stops reading for 5 s once the
flood's first 64 kB have arrived, like a browser tab in the background (tmux then falls behind
on purpose; the server must not buffer what the page does not read). The server's CPU seconds
during the flood are printed too: on a shared host they vary far less than the wall time.

--stages breaks the path down, each stage timing the same flood (run on the server's host, with
the same settings as the server, e.g. the same BUNGEO_SANDBOX_PREFIX):
  pipe           in the sandbox, output to a pipe (no tty): the producer alone
  host pty       on this host, a tty read by Python as fast as it can (no sandbox, no tmux)
  host tmux, 1 CPU  on this host, the sandbox's tmux configuration with no client, pinned to one
                 CPU (taskset) like a sandbox with the default 1-CPU limit: tmux's own bound
  tmux alone     in the sandbox, a tmux session that no client is attached to
  tmux + client  the same with a headless client attached (script(1) reading its tty)
  exec socket    the terminal's exec socket read by Python (tmux and docker exec, no websocket)

--cpu also prints where the CPU went during the flood: the sandbox's own total (its cgroup's
CPU counter, which keeps what ended processes used) and the time the kernel held the sandbox back
at its CPU limit (CFS throttling), then each process in the sandbox by name (sampled every 50 ms
from /proc; a process's last 50 ms before it ends can be missed).

--sandbox-cpus N runs the flood with the learner's sandbox limited to N CPUs instead of
BUNGEO_SANDBOX_CPUS (the engine's container update, as `docker update --cpus N` does) and puts
the limit back afterwards: what an operator who gives learners more CPU would see.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pty
import random
import re
import subprocess
import threading
import time
from pathlib import Path

import websockets
from common import at_prompt, ensure_users, login, table, ws_url

# Bytes received before the slow reader pauses. Not 1 MB: tmux sends far fewer bytes than the
# command writes, so a pause after 1 MB never came in most runs.
SLOW_AFTER = 65536


def server_pid(port: int) -> int:
    """The pid listening on ``port`` on this host (from ``ss -ltnp``)."""
    out = subprocess.run(["ss", "-ltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    m = re.search(r"pid=(\d+)", out)
    if not m:
        raise SystemExit(f"no process listens on port {port} here")
    return int(m.group(1))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by ``pid`` (/proc/PID/stat, proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def flood(base: str, cookie: str, nbytes: int, slow: bool) -> tuple[float, int]:
    async with websockets.connect(ws_url(base), additional_headers={"Cookie": cookie, "Origin": base},
                                  max_size=None) as ws:
        buf = b""
        while not at_prompt(buf):
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
            if slow and not paused and received > SLOW_AFTER:
                paused = True
                await asyncio.sleep(5)


def learner_sandbox(username: str):
    """(backend, sandbox) of the bench learner, started if it is not running."""
    from django.contrib.auth import get_user_model

    from webapp.sandboxes.backend import get_backend, learner_owner

    backend = get_backend()
    return backend, backend.ensure(owner=learner_owner(get_user_model().objects.get(username=username)))


def set_sandbox_cpus(backend, sandbox_id: str, cpus: float) -> float:
    """Set the sandbox container's CPU limit (Engine API ``POST /containers/{id}/update`` with
    ``NanoCpus``, as ``docker update --cpus`` does; docker-py's ``update_container`` has no such
    field); returns the limit it had, in CPUs."""
    api = backend.client.api
    c = backend.client.containers.get(sandbox_id)
    before = (c.attrs.get("HostConfig") or {}).get("NanoCpus") or 0
    res = api._post_json(api._url("/containers/{0}/update", c.id), data={"NanoCpus": int(cpus * 1e9)})
    api._raise_for_status(res)
    return before / 1e9


class SandboxCpu:
    """CPU used in one sandbox container between :meth:`start` and :meth:`stop`: the cgroup's
    total and throttled time (cgroup v1 ``cpuacct.usage``/``cpu.stat``, or v2 ``cpu.stat``), and
    per process name, sampled every 50 ms from ``/proc/<pid>/stat`` (utime + stime) for the
    processes listed in the container's cgroup and those below it. Seconds throughout."""

    def __init__(self, container_id: str, host_pid: int):
        self.cid = container_id
        lines = Path(f"/proc/{host_pid}/cgroup").read_text().splitlines()
        v2 = [ln.split(":", 2)[2] for ln in lines if ln.startswith("0::")]

        def v1(controller: str) -> Path | None:
            """The container's cgroup folder in the v1 hierarchy holding ``controller``."""
            rel = [ln.split(":", 2)[2] for ln in lines if controller in ln.split(":")[1].split(",")]
            for m in Path("/proc/self/mountinfo").read_text().splitlines():
                pre, _, post = m.partition(" - ")
                if rel and post.split()[0] == "cgroup" and controller in post.split()[-1].split(","):
                    return Path(pre.split()[4]) / rel[0].lstrip("/")
            return None

        acct, cpu = v1("cpuacct"), v1("cpu")
        self.folder = acct or Path("/sys/fs/cgroup") / (v2 or ["/"])[0].lstrip("/")
        if acct and cpu:
            self.usage = lambda: int((acct / "cpuacct.usage").read_text()) / 1e9
            self.throttled = lambda: self._stat(cpu / "cpu.stat", "throttled_time") / 1e9
        else:
            d = Path("/sys/fs/cgroup") / v2[0].lstrip("/")
            self.usage = lambda: self._stat(d / "cpu.stat", "usage_usec") / 1e6
            self.throttled = lambda: self._stat(d / "cpu.stat", "throttled_usec") / 1e6
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid -> (name, first, last)
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _stat(path: Path, key: str) -> int:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
        return 0

    def _pids(self) -> list[str]:
        """Every process in the container's cgroup and the cgroups below it (its inner engine's
        containers)."""
        pids = []
        for d, _dirs, files in os.walk(self.folder):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    pids += Path(d, "cgroup.procs").read_text().split()
        return pids

    def _sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self.halt.is_set():
            for p in self._pids():
                try:
                    st = Path(f"/proc/{p}/stat").read_text()
                except OSError:
                    continue
                f = st[st.rindex(")") + 2:].split()
                t = (int(f[11]) + int(f[12])) / tick
                name = st[st.index("(") + 1: st.rindex(")")]
                first = self.seen.get(int(p), (name, t, t))[1]
                self.seen[int(p)] = (name, first, t)
            time.sleep(0.05)

    def start(self) -> None:
        self.u0, self.t0 = self.usage(), self.throttled()
        self.thread.start()

    def stop(self) -> list[tuple[str, float]]:
        """Stop sampling; returns rows (what, seconds): the total, the throttled time, then each
        process name that used at least 10 ms, most first."""
        self.halt.set()
        self.thread.join()
        by_name: dict[str, float] = {}
        for name, first, last in self.seen.values():
            by_name[name] = by_name.get(name, 0.0) + last - first
        rows = [("sandbox total (cgroup)", self.usage() - self.u0),
                ("held back at the CPU limit", self.throttled() - self.t0)]
        return rows + [(n, v) for n, v in sorted(by_name.items(), key=lambda kv: -kv[1]) if v >= 0.01]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--bytes", type=int, default=50_000_000)
    ap.add_argument("--slow-reader", action="store_true")
    ap.add_argument("--stages", action="store_true", help="also time the flood at each stage of the path")
    ap.add_argument("--cpu", action="store_true", help="also print the CPU seconds used in the sandbox")
    ap.add_argument("--sandbox-cpus", type=float, help="run with the sandbox limited to this many CPUs")
    args = ap.parse_args()
    pid = server_pid(int(args.base.rsplit(":", 1)[1].split("/")[0]))
    (user, pw), = await asyncio.to_thread(ensure_users, 1, "benchflood")
    cookie = login(args.base, user, pw)
    before, peak, stop = rss(pid), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss(pid))
            time.sleep(0.02)

    backend = sb = meter = None
    restore = None
    if args.cpu or args.sandbox_cpus:
        backend, sb = await asyncio.to_thread(learner_sandbox, user)
    if args.sandbox_cpus:
        restore = await asyncio.to_thread(set_sandbox_cpus, backend, sb.id, args.sandbox_cpus)
    if args.cpu:
        c = await asyncio.to_thread(backend.client.containers.get, sb.id)
        meter = SandboxCpu(c.id, c.attrs["State"]["Pid"])
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    cpu0 = cpu_seconds(pid)
    if meter:
        meter.start()
    try:
        seconds, received = await flood(args.base, cookie, args.bytes, args.slow_reader)
    finally:
        if restore is not None:
            await asyncio.to_thread(set_sandbox_cpus, backend, sb.id, restore)
    cpu = cpu_seconds(pid) - cpu0
    in_sandbox = meter.stop() if meter else []
    stop.set()
    t.join()
    produced = (args.bytes + 2) // 3 * 4 * 77 // 76  # base64 with a newline every 76 characters
    print(table([(f"{args.bytes / 1e6:.0f} MB zeros", f"{seconds:.2f}", f"{produced / seconds / 1e6:.1f}",
                  f"{received / 1e6:.2f}", f"{cpu:.2f}", f"{before / 2**20:.0f}", f"{peak[0] / 2**20:.0f}",
                  "yes" if args.slow_reader else "no", f"{args.sandbox_cpus or 'default'}")],
                ("command", "seconds", "produced MB/s", "over ws MB", "server CPU s",
                 "server RSS MiB before", "peak MiB", "slow reader", "sandbox CPUs")))
    if in_sandbox:
        print()
        print(table([(what, f"{sec:.2f}") for what, sec in in_sandbox], ("CPU in the sandbox", "seconds")))
    if args.stages:
        rows = await asyncio.to_thread(stages, user, args.bytes)
        print()
        print(table([(name, f"{sec:.2f}", f"{produced / sec / 1e6:.1f}") for name, sec in rows],
                    ("stage (same flood)", "seconds", "produced MB/s")))


FLOOD = "head -c {n} /dev/zero | base64"


def stages(username: str, nbytes: int) -> list[tuple[str, float]]:
    """Time the flood at each stage of the path (see the module docstring); returns (stage, s)."""
    from django.contrib.auth import get_user_model

    from webapp.sandboxes.backend import get_backend, learner_owner

    backend = get_backend()
    sb = backend.ensure(owner=learner_owner(get_user_model().objects.get(username=username)))
    flood_cmd = FLOOD.format(n=nbytes)

    def in_sandbox(script: str) -> float:
        res = backend.exec(sb.id, ["bash", "-c", script], timeout=600)
        try:
            return int(res.output.strip().splitlines()[-1]) / 1e9
        except (IndexError, ValueError):
            raise SystemExit(f"a stage failed in the sandbox: {res.output[-500:]}") from None

    timed = 's=$(date +%s%N); {cmd}; e=$(date +%s%N); echo $((e - s))'
    rows = [("pipe", in_sandbox(timed.format(cmd=f"{flood_cmd} >/dev/null")))]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", flood_cmd])
    t0 = time.perf_counter()
    while True:
        try:
            if not os.read(fd, 1 << 20):
                break
        except OSError:  # EIO: the tty's last writer is gone
            break
    rows.append(("host pty", time.perf_counter() - t0))
    os.waitpid(pid, 0)
    os.close(fd)

    def tmux_flood(attach: bool, conf: str = "") -> str:
        """A script timing the flood in a new tmux server, with or without a client attached.
        The client's script(1) reads a pipe that never ends: an ended stdin would reach the
        shell as Ctrl-D and end the session."""
        tag = f"bench{random.randint(10_000, 99_999)}"
        client = (f"(sleep 600 | script -q -c 'tmux -L {tag} attach -t b' /dev/null >/dev/null 2>&1 &); "
                  "sleep 1; " if attach else "")
        return (f"tmux -L {tag} {conf} new-session -d -s b -x 80 -y 24; {client}"
                f"tmux -L {tag} send-keys -t b '{timed.format(cmd=flood_cmd)} >/tmp/{tag}; "
                f"tmux -L {tag} wait-for -S done' Enter; timeout 600 tmux -L {tag} wait-for done; "
                f"tmux -L {tag} kill-server; tail -1 /tmp/{tag}; rm -f /tmp/{tag}")

    # The same tmux (same configuration) on this host, outside any sandbox, held to one CPU like
    # a sandbox with the default BUNGEO_SANDBOX_CPUS=1: the bound tmux itself sets.
    conf = Path(__file__).resolve().parent.parent / "images" / "sandbox" / "tmux.conf"
    host = subprocess.run(["taskset", "-c", "0", "bash", "-c", tmux_flood(False, f"-f {conf}")],
                          capture_output=True, text=True, timeout=600)
    rows.append(("host tmux, 1 CPU", int(host.stdout.strip().splitlines()[-1]) / 1e9))
    for attach in (False, True):
        rows.append(("tmux + client" if attach else "tmux alone", in_sandbox(tmux_flood(attach))))

    term = backend.open_terminal(sb.id)
    try:
        sock, buf = term.sock, b""
        sock.settimeout(120)
        while not at_prompt(buf):
            buf += sock.recv(65536)
        n = random.randint(10_000, 99_999)
        marker = f"STAGE-{n * 7}".encode()
        sock.sendall(f"clear; {flood_cmd}; echo STAGE-$(({n}*7))\r".encode())
        t0, tail = time.perf_counter(), b""
        while True:
            data = sock.recv(1 << 20)
            if not data or marker in tail + data:
                break
            tail = data[-16:]
        rows.append(("exec socket", time.perf_counter() - t0))
    finally:
        term.close()
    return rows


if __name__ == "__main__":
    asyncio.run(main())
