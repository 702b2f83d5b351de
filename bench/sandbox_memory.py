"""Where an idle learner sandbox's memory goes: per process and per cgroup counter.

Usage: python bench/sandbox_memory.py [--count 3] [--settle 60] [--keep]
Starts ``--count`` learner sandboxes (owners ``memN``; set BUNGEO_SANDBOX_PREFIX to a prefix of
your own), opens each one's terminal once (tmux and bash start, as when a learner opens the lab)
and closes it, waits ``--settle`` seconds, then prints for one sandbox each process's RSS (anon,
file, shmem) and PSS (/proc/<pid>/smaps_rollup), the inner engine's Go runtime settings, and for
every sandbox the figure bench/capacity.py reports (docker stats: usage minus page cache) next to
the cgroup v1 counters (memory.stat rss, cache, shmem, mapped_file; kernel memory from
memory.kmem.usage_in_bytes). The sandboxes are removed at the end unless --keep.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import django_setup, table

MiB = 2**20


def _kib_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    out = {}
    try:
        for line in path.read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in names:
                out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def processes(host_pids: list[int]) -> list[tuple]:
    """Rows (pid, command, RSS, anon, file, shmem, PSS) in MiB for each host pid."""
    rows = []
    for pid in sorted(host_pids):
        p = Path(f"/proc/{pid}")
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        st = _kib_fields(p / "status", ("VmRSS", "RssAnon", "RssFile", "RssShmem"))
        pss = _kib_fields(p / "smaps_rollup", ("Pss",)).get("Pss", 0)
        rows.append((pid, cmd[:60], *(f"{st.get(k, 0) / 1024:.1f}" for k in
                                      ("VmRSS", "RssAnon", "RssFile", "RssShmem")), f"{pss / 1024:.1f}"))
    return rows


def memory_cgroup(c) -> Path:
    """The container's cgroup v1 memory directory on the host."""
    pid = c.attrs["State"]["Pid"]
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            # The sandbox's own processes sit in nested cgroups (the inner engine makes some);
            # the container's directory is the one docker created: <parent>/<container id>.
            parts = path.strip("/").split("/")
            idx = parts.index(c.id) if c.id in parts else len(parts) - 1
            return Path("/sys/fs/cgroup/memory", *parts[: idx + 1])
    raise LookupError("no memory cgroup (is the engine on cgroup v1?)")


def cgroup_figures(d: Path) -> dict[str, float]:
    stat = {}
    for line in (d / "memory.stat").read_text().splitlines():
        k, v = line.split()
        stat[k] = int(v)
    usage = int((d / "memory.usage_in_bytes").read_text())
    kmem_file = d / "memory.kmem.usage_in_bytes"
    kmem = int(kmem_file.read_text()) if kmem_file.exists() else -1
    return {"usage": usage / MiB, "stats_fig": (usage - stat.get("total_cache", stat.get("cache", 0))) / MiB,
            "rss": stat.get("total_rss", 0) / MiB, "cache": stat.get("total_cache", 0) / MiB,
            "shmem": stat.get("total_shmem", 0) / MiB, "mapped": stat.get("total_mapped_file", 0) / MiB,
            "kmem": kmem / MiB if kmem >= 0 else float("nan")}


def host_pids(d: Path) -> list[int]:
    pids: set[int] = set()
    for procs in d.rglob("cgroup.procs"):
        pids.update(int(x) for x in procs.read_text().split())
    return sorted(pids)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--settle", type=float, default=60.0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--image", help="another sandbox image to measure (an experiment built FROM the "
                                    "current one); default: the image of the current recipe")
    args = ap.parse_args()
    django_setup()
    from webapp.sandboxes import images
    from webapp.sandboxes.backend import get_backend

    if args.image:
        images.sandbox_image = lambda mode=None: args.image

    b = get_backend()
    sbs = []
    for i in range(args.count):
        t0 = time.monotonic()
        sb = b.ensure(owner=f"mem{i}")
        term = b.open_terminal(sb.id)
        term.sock.settimeout(10)
        buf = b""
        while b"# " not in buf and b"$ " not in buf:
            buf += term.sock.recv(65536)
        term.close()
        print(f"{sb.id}: prompt after {time.monotonic() - t0:.1f} s")
        sbs.append(sb)
    try:
        time.sleep(args.settle)
        rows = []
        for sb in sbs:
            c = b.client.containers.get(sb.id)
            d = memory_cgroup(c)
            f = cgroup_figures(d)
            st = c.stats(stream=False)["memory_stats"]
            stats_fig = (st.get("usage", 0) - st.get("stats", {}).get("cache", 0)) / MiB
            rows.append((sb.id, f"{stats_fig:.1f}", *(f"{f[k]:.1f}" for k in
                                                      ("usage", "rss", "cache", "shmem", "mapped", "kmem"))))
        first = b.client.containers.get(sbs[0].id)
        print(f"\nprocesses of {sbs[0].id} (MiB):")
        print(table(processes(host_pids(memory_cgroup(first))),
                    ("pid", "command", "RSS", "anon", "file", "shmem", "PSS")))
        env = b.exec(sbs[0].id, ["sh", "-c", "tr '\\0' '\\n' </proc/$(pgrep -x dockerd)/environ | "
                                  "grep -E '^GO' || echo '(no GO* variables)'"], timeout=10)
        print(f"\ninner dockerd's Go settings: {env.output.strip()}")
        print("\nper sandbox (MiB; 'docker stats' = usage - cache, what capacity.py averages):")
        print(table(rows, ("sandbox", "docker stats", "usage", "rss", "cache", "shmem",
                           "mapped_file", "kmem")))
        vals = [float(r[1]) for r in rows]
        print(f"\nmean docker-stats figure: {sum(vals) / len(vals):.1f} MiB per idle sandbox")
    finally:
        if not args.keep:
            for sb in sbs:
                b.remove(sb.id, keep_workspace=False)


if __name__ == "__main__":
    main()
