"""bungeo's dedicated sandbox engine: a second dockerd beside the host's, plus the registry mirror.

The engine runs with ``--userns-remap=default`` (root in a sandbox is uid 100000+ on the host), its
own data root, exec root, socket, pid file and bridge, and ``--iptables=false``: a second engine
with iptables enabled rewrites the host engine's shared chains (DESIGN.md, "Hazards seen"), so
bungeo installs its own firewall chains instead (:func:`firewall_apply`).

The classroom registry mirror (Debian's ``docker-registry`` package) listens on the bridge's
gateway address; every inner engine uses it as ``registry-mirror``.

All functions here need root on the host. They are idempotent: starting a running engine or
applying rules twice changes nothing.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import docker
from django.conf import settings

log = logging.getLogger(__name__)

REGISTRY_START_S = 10.0  # seconds the registry mirror may take to answer once started
# Chains bungeo owns in the filter table; they are flushed and refilled on every apply.
INPUT_CHAIN = "BUNGEO-INPUT"
FORWARD_CHAIN = "BUNGEO-FORWARD"


@dataclass(frozen=True)
class EnginePaths:
    """Filesystem locations of the dedicated engine (all absolute paths on the host)."""

    data_root: Path
    exec_root: Path
    socket: Path
    pidfile: Path
    log: Path
    registry_root: Path
    registry_config: Path
    registry_pidfile: Path
    registry_log: Path


def paths() -> EnginePaths:
    """Return the engine's paths derived from ``BUNGEO_DATA_DIR`` and ``BUNGEO_RUN_DIR``."""
    data, run = Path(settings.BUNGEO_DATA_DIR), Path(settings.BUNGEO_RUN_DIR)
    return EnginePaths(
        data_root=data / "engine",
        exec_root=run / "engine-exec",
        socket=run / "engine.sock",
        pidfile=run / "engine.pid",
        log=data / "log" / "engine.log",
        registry_root=data / "registry",
        registry_config=data / "registry.yml",
        registry_pidfile=run / "registry.pid",
        registry_log=data / "log" / "registry.log",
    )


def network() -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]:
    """Return the sandbox subnet and its gateway (first host address), from settings."""
    net = ipaddress.ip_network(settings.BUNGEO_SANDBOX_SUBNET)
    return net, next(net.hosts())


def mirror_address() -> str:
    """``host:port`` of the classroom registry mirror as the sandboxes reach it (an IP address,
    never a name: a name an inner engine cannot resolve stalls pulls for seconds)."""
    _, gw = network()
    return f"{gw}:{settings.BUNGEO_MIRROR_PORT}"


def _pid_alive(pidfile: Path, marker: str) -> int | None:
    """The pid in ``pidfile`` when that process is alive *and* its command line contains
    ``marker`` (a path only our process has in its arguments); otherwise None.

    A pid file can outlive its process: a host restored from a snapshot, or one whose ``/run`` is
    not a tmpfs, keeps the files while the pids are reused by unrelated processes. Trusting such a
    file would mean signalling a stranger, or taking a dead engine for a running one.
    """
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid if marker in cmdline else None


def _clear_stale_containerd(p: EnginePaths) -> None:
    """Make sure the engine's own containerd starts fresh.

    dockerd reuses the containerd whose pid is in ``<exec-root>/containerd/containerd.pid`` when
    that pid is alive, and then times out on its socket if the pid now belongs to another process
    ("failed to start containerd: timeout waiting for containerd to start"). An orphaned containerd
    of ours (its dockerd died) is stopped; a pid file naming anything else is removed.
    """
    pidfile = p.exec_root / "containerd" / "containerd.pid"
    if not pidfile.exists():
        return
    if (pid := _pid_alive(pidfile, str(p.exec_root))) is not None:
        log.warning("stopping orphaned containerd %s of the sandbox engine", pid)
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, 20)
    pidfile.unlink(missing_ok=True)


def client(timeout: float = 30.0) -> docker.DockerClient:
    """A docker-py client for the dedicated sandbox engine.

    Raises ``docker.errors.DockerException`` when the engine does not answer.
    """
    return docker.DockerClient(base_url=settings.BUNGEO_SANDBOX_ENGINE_URL, timeout=timeout)


def engine_answers() -> bool:
    """True when the dedicated engine answers a ping within 2 seconds."""
    try:
        c = docker.DockerClient(base_url=settings.BUNGEO_SANDBOX_ENGINE_URL, timeout=2)
        c.ping()
        c.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def bridge_mac() -> str:
    """The sandbox bridge's fixed MAC address: locally administered, from the gateway address
    (``02:42:`` and its four bytes, as Docker's own bridges do)."""
    _, gw = network()
    return "02:42:" + ":".join(f"{b:02x}" for b in gw.packed)


def bridge_ensure() -> None:
    """Create the sandbox bridge with the gateway address and a fixed MAC address, if missing
    (``ip link``).

    Without a MAC of its own, a Linux bridge takes the lowest MAC among its ports, so it changes
    whenever a sandbox with a lower one joins or the port it took leaves; every sandbox then
    depends on a gratuitous ARP to keep reaching the gateway (the mirror, published-port
    answers to the grader). A fixed address never changes."""
    name = settings.BUNGEO_SANDBOX_BRIDGE
    net, gw = network()
    if _run(["ip", "link", "show", name], check=False).returncode != 0:
        _run(["ip", "link", "add", name, "address", bridge_mac(), "type", "bridge"])
    elif Path(f"/sys/class/net/{name}/address").read_text().strip() != bridge_mac():
        _run(["ip", "link", "set", name, "address", bridge_mac()])
    addrs = _run(["ip", "-4", "-o", "addr", "show", "dev", name]).stdout
    if f"{gw}/" not in addrs:
        _run(["ip", "addr", "add", f"{gw}/{net.prefixlen}", "dev", name])
    _run(["ip", "link", "set", name, "up"])


def pin_sandbox_port(pid: int, ip: str, mac: str) -> str:
    """Tie a sandbox's address to its own port on the sandbox bridge, so that no learner can take
    another's traffic at layer 2 (the firewall above filters IP only). Call it once the
    container runs (``pid``: its first process, as the host sees it; ``ip``/``mac``: the
    address Docker gave its ``eth0``) and before anything of the learner's runs. Returns the
    port's name (the host side of the container's veth pair). Raises ``OSError`` when the port
    is not found and ``subprocess.CalledProcessError`` when iproute2 refuses a setting.

    * The port's MAC address is a static entry of the bridge's forwarding table, and the port
      learns no other (``learning off``); a *locked* port (Linux 5.18 and newer) also drops
      every frame whose source is not that address, so a changed MAC reaches nobody.
    * The port is *isolated*: it exchanges frames with the host only, never with another
      sandbox's port (Linux 4.18 and newer), so an ARP reply claiming the gateway's address
      never reaches another sandbox. Unknown unicast is not flooded to it (``flood off``).
    * The host's neighbour entry for ``ip`` is permanent: ARP replies from a sandbox claiming
      another's address (ARP spoofing) no longer redirect what the host sends to a sandbox
      (previews, the grader's probes, replies from the registry mirror).

    Bridge port flags: ``bridge(8)``, "bridge link set"; neighbour states: ``ip-neighbour(8)``.
    A permanent entry stays after the sandbox stops; the next sandbox given that address
    replaces it when it starts, and the host sends nothing to an address no sandbox has."""
    bridge = settings.BUNGEO_SANDBOX_BRIDGE
    inner = json.loads(_run(["nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show", "dev",
                             "eth0"]).stdout)
    peer = inner[0].get("link_index") if inner else None
    ports = json.loads(_run(["ip", "-j", "link", "show", "master", bridge]).stdout or "[]")
    port = next((p["ifname"] for p in ports if p.get("ifindex") == peer), None)
    if port is None:
        raise OSError(f"the bridge port of the sandbox with address {ip} was not found on {bridge}")
    _run(["bridge", "fdb", "replace", mac, "dev", port, "master", "static"])
    _run(["bridge", "link", "set", "dev", port, "learning", "off", "isolated", "on", "flood", "off"])
    locked = _run(["bridge", "link", "set", "dev", port, "locked", "on"], check=False)
    if locked.returncode != 0:
        log.warning("bridge port %s cannot be locked (Linux 5.18 or newer): %s", port,
                    locked.stderr.strip())
    _run(["ip", "neigh", "replace", ip, "lladdr", mac, "dev", bridge, "nud", "permanent"])
    return port


# Destinations a sandbox never reaches, even when the operator allows the internet: private and
# shared address space (RFC 1918, RFC 6598), loopback and "this network" (RFC 1122), link-local
# including cloud metadata at 169.254.169.254 (RFC 3927), multicast and reserved (RFC 5771,
# RFC 1112), and IPv6 unique-local and link-local (RFC 4193, RFC 4291).
BLOCKED_V4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
BLOCKED_V6 = ("::1/128", "fc00::/7", "fe80::/10", "ff00::/8")
NAT_CHAIN = "BUNGEO-NAT"


def firewall_plan(*, bridge: str, subnet: str, mirror_port: int, internet: bool
                  ) -> dict[str, list[list[str]]]:
    """The rules bungeo installs, per tool (``iptables``/``ip6tables``), as argument lists
    appended to bungeo's own chains (``-A CHAIN ...``; ``-t nat`` rules included).

    Always: sandboxes reach only the registry mirror on the gateway (``mirror_port``) and replies
    to connections the host opened; never another host service, never each other. With
    ``internet``: new IPv4 connections to public addresses are forwarded and masqueraded, but
    every range in :data:`BLOCKED_V4` stays dropped (so 169.254.169.254 and the school's own
    private network are never reachable). IPv6 is never forwarded.
    """
    plan: dict[str, list[list[str]]] = {}
    for tool, blocked in (("iptables", BLOCKED_V4), ("ip6tables", BLOCKED_V6)):
        rules = [["-A", INPUT_CHAIN, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                  "-j", "ACCEPT"]]
        if tool == "iptables":
            rules.append(["-A", INPUT_CHAIN, "-p", "tcp", "--dport", str(mirror_port), "-j", "ACCEPT"])
        rules.append(["-A", INPUT_CHAIN, "-j", "REJECT"])
        rules.append(["-A", FORWARD_CHAIN, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                      "-j", "ACCEPT"])
        if internet and tool == "iptables":
            rules += [["-A", FORWARD_CHAIN, "-d", net, "-j", "DROP"] for net in blocked]
            rules.append(["-A", FORWARD_CHAIN, "!", "-o", bridge, "-j", "ACCEPT"])
            rules.append(["-t", "nat", "-A", NAT_CHAIN, "-s", subnet, "!", "-o", bridge,
                          "-j", "MASQUERADE"])
        rules.append(["-A", FORWARD_CHAIN, "-j", "DROP"])
        plan[tool] = rules
    return plan


def firewall_apply() -> None:
    """Install bungeo's own chains for the sandbox bridge (iptables, IPv4 and IPv6), rebuilt from
    scratch on every call, following :func:`firewall_plan` and the operator's
    ``BUNGEO_SANDBOX_INTERNET`` setting (off by default)."""
    bridge = settings.BUNGEO_SANDBOX_BRIDGE
    plan = firewall_plan(bridge=bridge, subnet=str(network()[0]),
                         mirror_port=settings.BUNGEO_MIRROR_PORT,
                         internet=settings.BUNGEO_SANDBOX_INTERNET)
    for tool, rules in plan.items():
        if shutil.which(tool) is None:
            log.warning("%s not found: sandbox firewall not installed", tool)
            continue
        for chain, parent in ((INPUT_CHAIN, "INPUT"), (FORWARD_CHAIN, "FORWARD")):
            if _run([tool, "-N", chain], check=False).returncode != 0:
                _run([tool, "-F", chain])
            jump = [tool, "-C", parent, "-i", bridge, "-j", chain]
            if _run(jump, check=False).returncode != 0:
                _run([tool, "-I", parent, "1", "-i", bridge, "-j", chain])
        if tool == "iptables":
            if _run([tool, "-t", "nat", "-N", NAT_CHAIN], check=False).returncode != 0:
                _run([tool, "-t", "nat", "-F", NAT_CHAIN])
            if _run([tool, "-t", "nat", "-C", "POSTROUTING", "-j", NAT_CHAIN], check=False).returncode:
                _run([tool, "-t", "nat", "-I", "POSTROUTING", "1", "-j", NAT_CHAIN])
        for rule in rules:
            _run([tool, *rule])
    # Sandboxes on the same bridge cannot talk to each other only if bridged frames pass
    # through iptables' FORWARD chain (br_netfilter).
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    if bridge_nf.exists() and bridge_nf.read_text().strip() != "1":
        bridge_nf.write_text("1\n")
    if settings.BUNGEO_SANDBOX_INTERNET:
        log.warning("sandboxes may reach the internet (BUNGEO_SANDBOX_INTERNET); private ranges "
                    "and link-local addresses stay blocked")


def firewall_rules() -> dict[str, list[str]]:
    """The installed rules of bungeo's chains, as ``iptables -S`` prints them, per tool."""
    out: dict[str, list[str]] = {}
    for tool in ("iptables", "ip6tables"):
        rules: list[str] = []
        for chain in (INPUT_CHAIN, FORWARD_CHAIN):
            res = _run([tool, "-S", chain], check=False)
            rules += res.stdout.splitlines() if res.returncode == 0 else []
        if tool == "iptables":
            res = _run([tool, "-t", "nat", "-S", NAT_CHAIN], check=False)
            rules += res.stdout.splitlines() if res.returncode == 0 else []
        out[tool] = rules
    return out


def _registry_start(p: EnginePaths) -> None:
    if _pid_alive(p.registry_pidfile, str(p.registry_config)):
        return
    exe = shutil.which("docker-registry")
    if exe is None:
        raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
    p.registry_root.mkdir(parents=True, exist_ok=True)
    p.registry_log.parent.mkdir(parents=True, exist_ok=True)
    p.registry_config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {p.registry_root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {mirror_address()}\n"
    )
    log_start = p.registry_log.stat().st_size if p.registry_log.exists() else 0
    with open(p.registry_log, "ab") as logf:
        proc = subprocess.Popen(
            [exe, "serve", str(p.registry_config)],
            stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    p.registry_pidfile.write_text(str(proc.pid))
    _registry_wait(p, proc, log_start)


MSG_MIRROR_PORT_TAKEN = (
    "the registry mirror cannot listen on {address}: another program holds port {port}. On a "
    "systemd host this is usually Debian's own docker-registry service, which its package starts "
    "on *:5000 ('systemctl disable --now docker-registry'; bungeo runs its own), or set "
    "BUNGEO_MIRROR_PORT to a free port.")


def _registry_wait(p: EnginePaths, proc: subprocess.Popen, log_start: int,
                   timeout: float = REGISTRY_START_S) -> None:
    """Wait until the mirror process ``proc`` answers ``GET /v2/`` with 200 (Docker Registry
    HTTP API V2, "API Version Check"), at most ``timeout`` seconds. Raises ``RuntimeError``
    with what its log says since ``log_start`` (bytes) when it exits first, e.g. because another
    program holds its port (:data:`MSG_MIRROR_PORT_TAKEN`)."""
    url = f"http://{mirror_address()}/v2/"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            p.registry_pidfile.unlink(missing_ok=True)
            with open(p.registry_log, "rb") as f:
                f.seek(log_start)
                tail = f.read().decode(errors="replace")[-1500:]
            if "address already in use" in tail:
                host, _, port = mirror_address().rpartition(":")
                raise RuntimeError(MSG_MIRROR_PORT_TAKEN.format(address=host, port=port))
            raise RuntimeError(f"the registry mirror exited at start ({p.registry_log}):\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (our own address)
                if resp.status == 200 and proc.poll() is None:
                    return
        except OSError:  # refused, or another registry's 401 (HTTPError is an OSError)
            pass
        if time.monotonic() > deadline:
            log.warning("registry mirror pid %s does not answer on %s yet", proc.pid, url)
            return
        time.sleep(0.1)


def dockerd_command(p: EnginePaths) -> list[str]:
    """The command line of bungeo's dedicated sandbox engine (``dockerd``), for the paths ``p``:
    its own data root, exec root, socket and bridge, no iptables rules of its own (bungeo's
    firewall applies), user-namespace remapping, and the root-owned cgroup parent ``/bungeo``
    managed with the cgroupfs driver (dockerd(8), "--exec-opt native.cgroupdriver")."""
    return [
        "dockerd",
        "--data-root", str(p.data_root),
        "--exec-root", str(p.exec_root),
        "--host", f"unix://{p.socket}",
        "--pidfile", str(p.pidfile),
        "--bridge", settings.BUNGEO_SANDBOX_BRIDGE,
        "--iptables=false",
        "--ip-masq=false",
        "--userns-remap=default",
        # cgroupfs, whatever the host's init: the parent below is a cgroupfs path. On a
        # cgroup v2 host with systemd, dockerd would default to the systemd driver and refuse
        # to start ("cgroup-parent for systemd cgroup should be a valid slice").
        "--exec-opt", "native.cgroupdriver=cgroupfs",
        "--cgroup-parent=/bungeo",
        "--insecure-registry", mirror_address(),
        "--log-opt", "max-size=10m",
        "--log-opt", "max-file=2",
    ]


def start(timeout: float = 60.0) -> None:
    """Start the dedicated sandbox engine and the registry mirror, unless already running.

    Raises ``RuntimeError`` (with the engine log's tail) when the engine does not answer within
    ``timeout`` seconds.
    """
    p = paths()
    for d in (p.data_root, p.exec_root, p.log.parent, Path(settings.BUNGEO_RUN_DIR) / "sandboxes"):
        d.mkdir(parents=True, exist_ok=True)
    bridge_ensure()
    firewall_apply()
    _ensure_cgroup_parent()
    cgroups_sweep()
    host_tune()
    if not engine_answers():
        if shutil.which("dockerd") is None:
            raise RuntimeError("dockerd is not installed (Debian package docker.io)")
        if (pid := _pid_alive(p.pidfile, str(p.socket))) is not None:
            log.warning("sandbox engine pid %s does not answer; stopping it", pid)
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 20)
        p.pidfile.unlink(missing_ok=True)
        _clear_stale_containerd(p)
        cmd = dockerd_command(p)
        with open(p.log, "ab") as logf:
            subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        deadline = time.monotonic() + timeout
        while not engine_answers():
            if time.monotonic() > deadline:
                tail = p.log.read_text(errors="replace")[-2000:] if p.log.exists() else ""
                raise RuntimeError(f"sandbox engine did not start in {timeout:.0f} s:\n{tail}")
            time.sleep(0.2)
        log.info("sandbox engine started on %s", p.socket)
    _registry_start(p)


def cgroup_parents(base: Path = Path("/sys/fs/cgroup")) -> list[Path]:
    """The ``/bungeo`` parent cgroup's directory in each hierarchy under ``base`` that has one:
    the unified hierarchy's (``/sys/fs/cgroup/bungeo``) on a cgroup v2 host, one per controller
    on v1 (and the hybrid ``unified`` hierarchy's, where runc made one)."""
    found = [base / "bungeo"] if (base / "cgroup.controllers").exists() else []
    found += list(base.glob("*/bungeo"))
    return [d for d in found if d.is_dir()]


def _ensure_cgroup_parent() -> None:
    """Create the root-owned ``/bungeo`` parent cgroup in every v1 hierarchy (or v2 root)."""
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():  # cgroup v2, unified
        (base / "bungeo").mkdir(exist_ok=True)
        return
    for h in base.iterdir():
        if h.is_dir() and not h.is_symlink() and h.name != "unified":
            try:
                (h / "bungeo").mkdir(exist_ok=True)
            except OSError as exc:
                log.debug("cgroup %s: %s", h, exc)


# Per-user kernel limits that every sandbox shares: with --userns-remap=default, root of *every*
# sandbox is the same host uid (100000), so the kernel's per-user quotas are split between all
# sandboxes. The defaults (200 keys: each container and each exec takes a session keyring; 128
# inotify instances) run out after a few dozen sandboxes, and then every new exec fails with
# "unable to create session key: disk quota exceeded". Values follow LXD's production settings
# (documentation "Production server settings"), scaled for 50+ sandboxes.
HOST_SYSCTLS = {
    "kernel/keys/maxkeys": 20000,
    "kernel/keys/maxbytes": 2_000_000,
    "fs/inotify/max_user_instances": 8192,
    "fs/inotify/max_user_watches": 524288,
}


def host_tune() -> dict[str, int]:
    """Raise the per-user kernel limits in HOST_SYSCTLS where the host's are lower.

    Returns the values in force afterwards (key -> value). Needs root; a value that cannot be
    written is logged and reported as it is.
    """
    now = {}
    for key, want in HOST_SYSCTLS.items():
        path = Path("/proc/sys") / key
        try:
            cur = int(path.read_text().split()[0])
            if cur < want:
                path.write_text(f"{want}\n")
                cur = want
        except (OSError, ValueError) as exc:
            log.warning("cannot raise %s: %s", key, exc)
            cur = -1
        now[key] = cur
    return now


def cgroups_sweep() -> int:
    """Remove unused cgroup directories under ``/bungeo`` (left by sandboxes removed while bungeo
    was not running). A directory with a process in it cannot be removed, so running sandboxes
    are safe. Returns how many directories were removed."""
    removed = 0
    for base in cgroup_parents():
        for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            try:
                d.rmdir()
                removed += 1
            except OSError:
                pass
    return removed


def _wait_gone(pid: int, seconds: float) -> None:
    """Wait up to ``seconds`` until ``pid`` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return
        if stat.rpartition(")")[2].split()[0] == "Z":
            return
        time.sleep(0.1)


def stop() -> None:
    """Stop the registry mirror and the dedicated engine (its sandboxes stop with it)."""
    p = paths()
    for pidfile, marker in ((p.registry_pidfile, str(p.registry_config)),
                            (p.pidfile, str(p.socket))):
        if (pid := _pid_alive(pidfile, marker)) is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 30)
        pidfile.unlink(missing_ok=True)


def _isolation_of(info: dict) -> str:
    from .isolation import resolve

    try:
        return resolve(info)
    except Exception as exc:  # noqa: BLE001 - a bad setting is reported, not raised, here
        return f"misconfigured: {exc}"


def grading_storage_report(mode: str) -> str:
    """Where grading sandboxes keep their inner engine's storage, for the operator's report:
    ``"memory: tmpfs of N MiB per grading sandbox"`` (``BUNGEO_GRADING_TMPFS``; its memory limit
    grows by as much) or ``"disk"`` (the setting empty, or the ``rootless`` mode)."""
    from .docker_backend import grading_tmpfs_bytes

    size = grading_tmpfs_bytes(mode)
    if not size:
        return "disk"
    return f"memory: tmpfs of {size // 2**20} MiB per grading sandbox (BUNGEO_GRADING_TMPFS)"


def disk_quota_report() -> str:
    """The learners' disk quota for the operator's report: ``"10.0 GiB per sandbox's image
    storage and per workspace (<data dir>/disks; N GB free there)"`` or, with
    ``BUNGEO_SANDBOX_DISK`` empty, a warning that one learner can fill the host's disk."""
    import shutil

    from .docker_backend import disk_quota_bytes

    size = disk_quota_bytes()
    if not size:
        return ("off: one learner can fill this host's disk (set BUNGEO_SANDBOX_DISK, e.g. 10g)")
    disks = Path(settings.BUNGEO_DATA_DIR) / "disks"
    where = disks if disks.exists() else Path(settings.BUNGEO_DATA_DIR)
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    return (f"{size / 2**30:.1f} GiB per sandbox's image storage and per workspace "
            f"({disks}; {free / 1e9:.0f} GB free there)")


def status() -> dict[str, object]:
    """A small report for operators: engine and mirror up or down, versions, counts."""
    p = paths()
    report: dict[str, object] = {
        "engine_socket": str(p.socket),
        "engine": "down",
        "mirror": mirror_address() if _pid_alive(p.registry_pidfile, str(p.registry_config)) else "down",
        "isolation_setting": settings.BUNGEO_ISOLATION,
    }
    if engine_answers():
        c = client(timeout=5)
        info = c.info()
        report.update(
            engine="up",
            engine_version=info.get("ServerVersion"),
            cgroup_version=info.get("CgroupVersion"),
            userns="name=userns" in " ".join(info.get("SecurityOptions", [])),
            isolation=_isolation_of(info),
            runtimes=sorted(info.get("Runtimes") or {}),
        )
        # sparse: no inspect per container (one removed meanwhile would raise NotFound)
        # This install's sandboxes (its BUNGEO_SANDBOX_PREFIX); others sharing the engine (a
        # test run, a second checkout) are counted apart.
        every = c.containers.list(all=True, sparse=True, filters={"label": "org.bungeo.kind"})
        mine = settings.BUNGEO_SANDBOX_PREFIX
        listed = [x for x in every if (x.attrs.get("Labels") or {}).get("org.bungeo.prefix") == mine]
        report["sandboxes"] = len(listed)
        report["sandboxes_of_other_prefixes"] = len(every) - len(listed)
        # What admission control counts (QA: "sandboxes: 5" counted stopped ones and the warm
        # pool, and nothing said how full the classroom was).
        # (the backend's view: a warm-pool sandbox keeps its pool label once a learner claims it)
        from .backend import KIND_LEARNER, KIND_POOL, get_backend

        kinds = [(sb.kind, sb.running) for sb in get_backend().list()]
        report["learners_running"] = kinds.count((KIND_LEARNER, True))
        report["learners_stopped"] = kinds.count((KIND_LEARNER, False))
        report["warm_pool"] = kinds.count((KIND_POOL, True))
        report["capacity"] = settings.BUNGEO_SANDBOX_CAPACITY
        try:
            from . import admission

            report["waiting_in_line"] = admission.queue_length()
        except Exception as exc:  # noqa: BLE001  (Redis down: say so, report the rest)
            report["waiting_in_line"] = f"unknown ({exc.__class__.__name__})"
        from .images import sandbox_image

        try:
            current = c.images.get(sandbox_image(str(report["isolation"]))).id
        except docker.errors.ImageNotFound:
            current = None
        # After an upgrade: each moves to the current image when it next starts.
        report["sandboxes_on_older_image"] = sum(
            1 for x in listed if current and x.attrs.get("ImageID") != current)
        from .isolation import fidelity_report, tun_report

        report.update(fidelity_report(str(report["isolation"]), info.get("CgroupVersion")))
        if tun := tun_report(str(report["isolation"])):
            report["tun_device"] = tun
        report["grading_storage"] = grading_storage_report(str(report["isolation"]))
        report["disk_quota"] = disk_quota_report()
        report["kernel_limits"] = {
            k: int((Path("/proc/sys") / k).read_text().split()[0]) for k in HOST_SYSCTLS
        }
        c.close()
    return report
