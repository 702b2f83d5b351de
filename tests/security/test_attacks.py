"""Attacks a learner can try from inside their sandbox, each asserting the safe outcome.

Every test runs the attack for real as the learner would (a shell in a real sandbox on bungeo's
sandbox engine). No test sends packets beyond this machine: for other private ranges and the
cloud metadata address the installed firewall rules are read instead. The first docstring line of
each test is its row in the attack table printed at the end of the run (see conftest.py).
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import platform
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import inner_sh
from webapp.sandboxes import engine

pytestmark = pytest.mark.docker

# init_module / finit_module syscall numbers (Linux: arch/x86/entry/syscalls/syscall_64.tbl,
# include/uapi/asm-generic/unistd.h for arm64).
MODULE_SYSCALLS = {"x86_64": (175, 313), "aarch64": (105, 273)}


@pytest.fixture(scope="module")
def attacker(backend):
    sb = backend.ensure(owner="attacker")
    yield sb
    backend.remove(sb.id, keep_workspace=False)


@pytest.fixture(scope="module")
def neighbour(backend):
    """Another learner's sandbox serving HTTP on its port 8080 (an inner nginx container)."""
    sb = backend.ensure(owner="neighbour")
    res = inner_sh(backend, sb.id, "docker run -d -p 8080:80 --name web nginx >/dev/null && "
                   "for i in $(seq 50); do curl -fs localhost:8080 >/dev/null && echo up && break; "
                   "sleep 0.2; done", timeout=120)
    assert "up" in res.output, res.output
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def _sandbox_pid(backend, sandbox_id: str) -> int:
    return backend.client.containers.get(sandbox_id).attrs["State"]["Pid"]


def _sandbox_ip(backend, sandbox_id: str) -> str:
    return backend.client.containers.get(sandbox_id).attrs["NetworkSettings"]["IPAddress"]


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------
# The host's kernel and devices
# ------------------------------------------------------------------------------------------------
def test_root_has_no_capability_in_the_host_user_namespace(backend, attacker):
    """Root in the sandbox is an unprivileged uid in its own user namespace"""
    res = inner_sh(backend, attacker.id, "cat /proc/self/uid_map; id -u")
    inside, outside, _count, uid = res.output.split()
    assert (inside, uid) == ("0", "0") and int(outside) >= 100000
    pid = _sandbox_pid(backend, attacker.id)
    status = Path(f"/proc/{pid}/status").read_text()
    host_uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert all(int(u) >= 100000 for u in host_uids), host_uids
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")


def test_kernel_module_load_fails(backend, attacker):
    """Loading a kernel module (init_module, finit_module) is refused"""
    numbers = MODULE_SYSCALLS.get(platform.machine())
    if numbers is None:
        pytest.skip(f"syscall numbers unknown for {platform.machine()}")
    script = "; ".join(f'$r = syscall({n}, 0, 0, 0); print "{n}:$r:", $!+0, "\\n"' for n in numbers)
    res = inner_sh(backend, attacker.id, f"perl -e '{script}'")
    for n in numbers:
        assert f"{n}:-1:1" in res.output, res.output  # -1 with EPERM


def test_no_host_block_device_even_with_mknod(backend, attacker):
    """No host block device is visible, and mknod of a disk (block 8:0, 253:0) is refused"""
    res = inner_sh(backend, attacker.id, """
      find /dev -type b 2>/dev/null | sed 's/^/blockdev /'
      for dev in "8 0" "253 0" "259 0"; do
        mknod /tmp/disk b $dev 2>/dev/null && echo "mknod-ok $dev"; rm -f /tmp/disk
      done
      echo end
    """)
    assert "blockdev" not in res.output and "mknod-ok" not in res.output, res.output
    assert res.output.strip().endswith("end")


def test_cgroup_release_agent_cannot_be_set(backend, attacker):
    """cgroup v1 release_agent escape (CVE-2022-0492): mounting a hierarchy gives no writable release_agent"""
    res = inner_sh(backend, attacker.id, """
      mkdir -p /tmp/cg
      for sub in memory pids rdma cpuset; do
        if mount -t cgroup -o $sub cgroup /tmp/cg 2>/dev/null; then
          (echo /tmp/evil.sh > /tmp/cg/release_agent) 2>/dev/null && echo "release-agent-set $sub"
          mkdir -p /tmp/cg/x 2>/dev/null
          (echo 1 > /tmp/cg/x/notify_on_release) 2>/dev/null && echo "notify-set $sub"
          rmdir /tmp/cg/x 2>/dev/null; umount /tmp/cg
        fi
      done
      for f in /sys/fs/cgroup/*/release_agent; do
        [ -e "$f" ] && (echo /tmp/evil.sh > "$f") 2>/dev/null && echo "release-agent-set $f"
      done
      echo end
    """)
    assert "release-agent-set" not in res.output, res.output
    assert res.output.strip().endswith("end")


def test_sysrq_core_pattern_and_modprobe_path_not_writable(backend, attacker):
    """/proc/sysrq-trigger, kernel.core_pattern and kernel.modprobe cannot be written"""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    res = inner_sh(backend, attacker.id, """
      for f in /proc/sysrq-trigger /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe \
               /proc/sys/kernel/panic /proc/sys/vm/drop_caches; do
        [ -e "$f" ] || { echo "absent $f"; continue; }
        (echo '|/tmp/evil.sh' > "$f") 2>/dev/null && echo "WROTE $f"
      done
      echo end
    """)
    assert "WROTE" not in res.output, res.output
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


def test_only_the_learners_own_docker_socket(backend, attacker):
    """The only Docker socket in reach is the learner's own inner engine"""
    res = inner_sh(backend, attacker.id, """
      find / /run -xdev -type s 2>/dev/null | sort -u | sed 's/^/sock /'
      echo "inner-id $(docker info -f '{{.ID}}')"
      echo "shared-id $(DOCKER_HOST=unix:///run/bungeo-host/docker.sock docker info -f '{{.ID}}')"
    """)
    socks = [line.split(" ", 1)[1] for line in res.output.splitlines() if line.startswith("sock ")]
    assert socks, res.output
    assert all(s.startswith(("/run/docker", "/run/bungeo-host/docker.sock")) for s in socks), socks
    ids = dict(line.split(" ", 1) for line in res.output.splitlines()
               if line.startswith(("inner-id ", "shared-id ")))
    sandbox_engine_id = engine.client().info()["ID"]
    assert ids["inner-id"] == ids["shared-id"] != sandbox_engine_id
    assert str(settings.BUNGEO_RUN_DIR) not in res.output


def test_a_symlink_for_the_shared_socket_never_leads_bungeo_to_a_host_socket(backend):
    """A symlink put in place of the shared docker.sock never leads bungeo's checks to a host socket"""
    import docker

    sb = backend.ensure(owner="symlinker")
    try:
        host_engine_id = engine.client().info()["ID"]
        inner_id = docker.APIClient(base_url=backend.engine_url(sb.id), timeout=10).info()["ID"]
        assert inner_id != host_engine_id
        swap = (f"mv /run/bungeo-host/docker.sock /run/bungeo-host/real.sock && "
                f"ln -s {settings.BUNGEO_RUN_DIR}/engine.sock /run/bungeo-host/docker.sock && "
                "ls -l /run/bungeo-host/docker.sock")
        res = inner_sh(backend, sb.id, swap)
        assert "->" in res.output, res.output
        # Linked before the swap: bungeo still talks to the learner's own engine.
        assert docker.APIClient(base_url=backend.engine_url(sb.id), timeout=10).info()["ID"] == inner_id
        # Never linked before the swap (as right after the inner engine restarts): no answer at
        # all, and above all not the host's engine.
        backend.engine_socket(sb.id).unlink()
        url = backend.engine_url(sb.id)
        with pytest.raises(docker.errors.DockerException):
            docker.APIClient(base_url=url, timeout=5).info()
        assert not backend._inner_answers(sb.id)
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_a_symlink_for_the_terminal_socket_never_leads_bungeo_to_a_host_socket(backend, tmp_path):
    """A symlink put in place of the terminal relay's socket never leads bungeo to a host socket"""
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    host_sock = tmp_path / "host-service.sock"  # stands for any socket of the host
    listener.bind(str(host_sock))
    listener.listen(4)
    listener.settimeout(0.5)
    sb = backend.ensure(owner="termlinker")
    try:
        swap = (f"mv /run/bungeo-host/term.sock /run/bungeo-host/real-term.sock && "
                f"ln -s {host_sock} /run/bungeo-host/term.sock && ls -l /run/bungeo-host/term.sock")
        res = inner_sh(backend, sb.id, swap)
        assert "->" in res.output, res.output
        term = backend.open_terminal(sb.id)
        try:
            # Never linked: the relay is not used, the terminal falls back to docker exec ...
            assert term.via == "exec"
        finally:
            term.close()
        # ... and nothing connected to the host's socket.
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
        backend.remove(sb.id, keep_workspace=False)


@pytest.fixture
def host_marker():
    """A file on the host that no sandbox may see."""
    d = Path(settings.BUNGEO_DATA_DIR)
    d.mkdir(parents=True, exist_ok=True)
    marker = d / f"attack-marker-{uuid.uuid4().hex[:8]}"
    marker.write_text("host only\n")
    yield marker
    marker.unlink(missing_ok=True)


def test_inner_privileged_container_mounting_root_sees_only_the_sandbox(backend, attacker, host_marker):
    """Inner `docker run --privileged -v /:/host` reaches only the sandbox's own filesystem"""
    res = inner_sh(backend, attacker.id, f"""
      docker run --rm --privileged -v /:/host busybox sh -c \
        'cat /host/etc/hostname; ls /host/run/bungeo-host/; test -e /host{host_marker} && echo HOST-FILE'
      docker run --rm -v /:/host busybox cat /host/etc/hostname
    """, timeout=120)
    assert "HOST-FILE" not in res.output, res.output
    # --privileged is refused inside (its sysfs remount needs host privileges), or it runs and
    # still sees only the sandbox; the unprivileged bind of / shows the sandbox's hostname.
    assert res.output.strip().splitlines()[-1] == "bungeo", res.output


def test_proc_1_root_and_nsenter_stay_in_the_sandbox(backend, attacker, host_marker):
    """/proc/1/root and `nsenter -t 1` lead to the sandbox's own init, not the host"""
    res = inner_sh(backend, attacker.id, f"""
      test -e /proc/1/root{host_marker} && echo HOST-FILE-VIA-PROC
      nsenter -t 1 -m -u -i -n -p sh -c 'test -e {host_marker} && echo HOST-FILE-VIA-NSENTER; hostname'
      echo "pid1 $(tr '\\0' ' ' < /proc/1/cmdline)"
    """)
    assert "HOST-FILE" not in res.output, res.output
    assert "\nbungeo\n" in f"\n{res.output}", res.output
    assert "pid1 /sbin/docker-init" in res.output or "pid1 docker-init" in res.output, res.output


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------
def test_host_services_are_unreachable(backend, attacker):
    """Redis, PostgreSQL and the web app on the host cannot be reached; the mirror can"""
    _net, gw = engine.network()
    targets = [(gw, 6379), (gw, 5432), (gw, 8000), (gw, 2375)]
    for host_addr in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split():
        if ":" not in host_addr and host_addr != gw:
            targets += [(host_addr, 6379), (host_addr, 5432)]
    script = "; ".join(f"timeout 3 bash -c 'echo > /dev/tcp/{h}/{p}' 2>/dev/null && echo 'OPEN {h}:{p}'"
                       for h, p in targets)
    script += f"; timeout 3 bash -c 'echo > /dev/tcp/{gw}/{settings.BUNGEO_MIRROR_PORT}' && echo mirror-ok"
    # Redis and PostgreSQL really listen (the test suite uses them), so "closed" means blocked.
    assert _tcp_open("127.0.0.1", 6379) and _tcp_open("127.0.0.1", 5432)
    res = inner_sh(backend, attacker.id, script, timeout=90)
    assert "OPEN" not in res.output and "mirror-ok" in res.output, res.output


def test_another_learners_sandbox_is_unreachable(backend, attacker, neighbour):
    """Another learner's sandbox (its published port 8080) cannot be reached"""
    ip = _sandbox_ip(backend, neighbour.id)
    with urllib.request.urlopen(f"http://{ip}:8080/", timeout=5) as resp:  # the host can
        assert resp.status == 200
    res = inner_sh(backend, attacker.id,
                   f"timeout 3 bash -c 'echo > /dev/tcp/{ip}/8080' 2>/dev/null && echo OPEN; "
                   f"timeout 3 curl -s -o /dev/null -w '%{{http_code}}' http://{ip}:8080/; echo end")
    assert "OPEN" not in res.output and "200" not in res.output, res.output


# Sends ARP replies from the sandbox's eth0 (a raw AF_PACKET socket, core Perl only):
# perl arp.pl <claimed ip> <to mac> <to ip> <count>: "<claimed ip> is at my MAC", to one host.
ARP_REPLY_PL = r"""
use strict;
my ($sip, $tmac, $tip, $n) = @ARGV;
open my $f, "<", "/sys/class/net/eth0/address"; my $me = <$f>; chomp $me;
open $f, "<", "/sys/class/net/eth0/ifindex"; my $idx = <$f>; chomp $idx;
sub mac { pack "H12", join "", split /:/, shift }
sub ip4 { pack "C4", split /\./, shift }
socket(my $s, 17, 3, 0) or die "socket: $!";
my $frame = mac($tmac) . mac($me) . pack("n", 0x0806) . pack("nnCCn", 1, 0x0800, 6, 4, 2)
  . mac($me) . ip4($sip) . mac($tmac) . ip4($tip);
my $to = pack("S n i S C C a8", 17, 0x0806, $idx, 1, 0, 6, mac($tmac));
for (1..$n) { send($s, $frame, 0, $to) or die "send: $!"; select(undef, undef, undef, 0.2); }
print "sent\n";
"""


def _host_neighbour_mac(ip: str) -> str | None:
    out = subprocess.run(["ip", "-j", "neigh", "show", ip, "dev", settings.BUNGEO_SANDBOX_BRIDGE],
                         capture_output=True, text=True).stdout
    entries = json.loads(out or "[]")
    return entries[0].get("lladdr") if entries else None


def _http_body(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return f"(no answer: {exc!r})"


@pytest.fixture
def spoofer(backend):
    sb = backend.ensure(owner="spoofer")
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def test_arp_spoofing_and_a_stolen_mac_take_no_other_learners_traffic(backend, neighbour, spoofer):
    """Another sandbox's or the gateway's address, claimed by ARP or a copied MAC, takes no traffic"""
    victim = backend.client.containers.get(neighbour.id).attrs["NetworkSettings"]["Networks"]["bridge"]
    vip, vmac = victim["IPAddress"], victim["MacAddress"]
    _net, gw = engine.network()
    url = f"http://{vip}:8080/"
    assert "HIJACKED" not in _http_body(url) and _host_neighbour_mac(vip) == vmac
    # The victim knows the gateway (the registry mirror) before the attack.
    res = inner_sh(backend, neighbour.id, f"curl -s -o /dev/null -w '%{{http_code}}' "
                   f"http://{gw}:{settings.BUNGEO_MIRROR_PORT}/v2/; echo; ip neigh show {gw}")
    assert res.output.startswith("200") and engine.bridge_mac() in res.output, res.output
    broken = []  # what the attacker took over
    try:
        # Take the victim's address, answer on its port 8080, and tell the host (and the victim,
        # about the gateway) that those addresses are at the attacker's MAC, for 4 s each: the
        # kernel ignores replies for a second after an entry was confirmed (locktime).
        script = (f"cat > /tmp/arp.pl <<'EOF'\n{ARP_REPLY_PL}\nEOF\n"
                  f"ip addr add {vip}/32 dev eth0 && "
                  f"(socat TCP-LISTEN:8080,bind={vip},reuseaddr,fork "
                  "SYSTEM:'echo HTTP/1.0 200 OK; echo; echo HIJACKED' >/dev/null 2>&1 &) ; sleep 0.5; "
                  f"(perl /tmp/arp.pl {gw} {vmac} {vip} 20 &) ; "
                  f"perl /tmp/arp.pl {vip} {engine.bridge_mac()} {gw} 20")
        res = inner_sh(backend, spoofer.id, script, timeout=60)
        assert "sent" in res.output, res.output
        if _host_neighbour_mac(vip) != vmac:
            broken.append(f"the host's entry for {vip} is now {_host_neighbour_mac(vip)}")
        if "HIJACKED" in _http_body(url):
            broken.append("the host's request to the victim reached the attacker")
        res = inner_sh(backend, neighbour.id, f"ip neigh show {gw}; curl -s -o /dev/null -w "
                       f"'%{{http_code}}' --max-time 5 http://{gw}:{settings.BUNGEO_MIRROR_PORT}/v2/")
        if engine.bridge_mac() not in res.output or not res.output.rstrip().endswith("200"):
            broken.append(f"the victim lost the gateway: {res.output!r}")
        # Copy the victim's MAC as well, and send through it: the bridge must not learn it on
        # the attacker's port.
        res = inner_sh(backend, spoofer.id,
                       f"ip link set eth0 down && ip link set eth0 address {vmac} && ip link set eth0 up && "
                       f"ip route replace default via {gw}; "
                       f"perl /tmp/arp.pl {vip} {engine.bridge_mac()} {gw} 5; "
                       f"curl -s -o /dev/null --max-time 3 http://{gw}:{settings.BUNGEO_MIRROR_PORT}/v2/; "
                       "echo done", timeout=60)
        assert "done" in res.output, res.output
        body = _http_body(url)
        if "HIJACKED" in body or "nginx" not in body.lower():
            broken.append(f"with the copied MAC, the host's request got {body[:80]!r}")
        assert not broken, broken
    finally:  # undo a poisoning that worked, so that later tests see a sound bridge
        subprocess.run(["ip", "neigh", "replace", vip, "lladdr", vmac, "dev",
                        settings.BUNGEO_SANDBOX_BRIDGE], capture_output=True)
        inner_sh(backend, neighbour.id, f"ip neigh del {gw} dev eth0 2>/dev/null; true")


def test_firewall_blocks_other_private_ranges_and_metadata():
    """Other private ranges and 169.254.169.254: only the mirror and replies are allowed (rules read)"""
    rules = engine.firewall_rules()
    for tool in ("iptables", "ip6tables"):
        forward = [r for r in rules[tool] if r.startswith(f"-A {engine.FORWARD_CHAIN}")]
        accepts = [r for r in forward if r.endswith("-j ACCEPT")]
        if settings.BUNGEO_SANDBOX_INTERNET:
            pytest.skip("the operator allowed the internet; the plan test covers that mode")
        assert accepts == [f"-A {engine.FORWARD_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
        assert forward[-1] == f"-A {engine.FORWARD_CHAIN} -j DROP"
        inputs = [r for r in rules[tool] if r.startswith(f"-A {engine.INPUT_CHAIN}")]
        assert inputs[-1].startswith(f"-A {engine.INPUT_CHAIN} -j REJECT")
    jumps = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    assert f"-A FORWARD -i {settings.BUNGEO_SANDBOX_BRIDGE} -j {engine.FORWARD_CHAIN}" in jumps


def test_internet_mode_still_blocks_private_ranges_and_metadata():
    """With the internet allowed, private ranges and 169.254.169.254 are still dropped (plan read)"""
    plan = engine.firewall_plan(bridge="bungeo0", subnet="10.213.0.0/24", mirror_port=5000, internet=True)
    v4 = [" ".join(r) for r in plan["iptables"]]
    accept = v4.index("-A BUNGEO-FORWARD ! -o bungeo0 -j ACCEPT")
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
                "100.64.0.0/10"):
        assert v4.index(f"-A BUNGEO-FORWARD -d {net} -j DROP") < accept, net
    assert not any("ACCEPT" in " ".join(r) and "FORWARD" in " ".join(r) and "ESTABLISHED" not in " ".join(r)
                   for r in plan["ip6tables"])
    offline = engine.firewall_plan(bridge="bungeo0", subnet="10.213.0.0/24", mirror_port=5000,
                                   internet=False)
    assert not any("MASQUERADE" in r for rule in offline["iptables"] for r in rule)


# ------------------------------------------------------------------------------------------------
# Resources
# ------------------------------------------------------------------------------------------------
def test_fork_bomb_is_held_and_neighbours_keep_answering(backend):
    """A fork bomb stays inside the pids limit; another sandbox keeps answering; reset recovers"""
    bombed = backend.ensure(owner="forkbomb")
    neighbour = backend.ensure(owner="bystander")
    inner_sh(backend, bombed.id, "docker pull -q busybox")
    backend.exec(bombed.id, ["bash", "-c", "bomb() { bomb | bomb & }; bomb"], timeout=5)
    t0 = time.monotonic()
    alive = backend.exec(neighbour.id, ["echo", "alive"], timeout=10)
    assert alive.output.strip() == "alive" and time.monotonic() - t0 < 10
    c = backend.client.containers.get(bombed.id)
    assert c.stats(stream=False)["pids_stats"]["current"] <= c.attrs["HostConfig"]["PidsLimit"]
    backend.restart(bombed.id)
    res = inner_sh(backend, bombed.id, "echo back; docker images --format '{{.Repository}}'")
    assert res.output.split()[0] == "back" and "busybox" in res.output
    backend.remove(bombed.id, keep_workspace=False)
    backend.remove(neighbour.id, keep_workspace=False)


def test_memory_bomb_is_oom_killed_inside(backend, attacker):
    """A memory bomb (3 GiB in a 2 GiB sandbox) is OOM-killed inside; the sandbox survives"""
    limit = backend.client.containers.get(attacker.id).attrs["HostConfig"]["Memory"]
    want = limit + 1024 ** 3
    res = inner_sh(backend, attacker.id,
                   f"perl -e '$x = \"a\" x {want}; print \"SURV\", \"IVED\\n\"'; echo rc=$?", timeout=120)
    assert "SURVIVED" not in res.output and "rc=137" in res.output, res.output
    assert backend.exec(attacker.id, ["echo", "alive"], timeout=10).output.strip() == "alive"
    assert backend.get(attacker.id).running


def test_learner_cannot_raise_own_limits(backend, attacker):
    """The sandbox's own memory and pids limits cannot be raised from inside"""
    res = inner_sh(backend, attacker.id, """
      (echo 99999999999 > /sys/fs/cgroup/memory/memory.limit_in_bytes) 2>/dev/null && echo RAISED-MEM
      (echo max > /sys/fs/cgroup/pids/pids.max) 2>/dev/null && echo RAISED-PIDS
      for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; do
        [ -e "$f" ] && (echo max > "$f") 2>/dev/null && echo "RAISED $f"
      done
      cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max
    """)
    assert "RAISED" not in res.output, res.output
    limit = int(res.output.strip().splitlines()[-1])
    assert limit == backend.client.containers.get(attacker.id).attrs["HostConfig"]["Memory"]


def test_disk_fill_hits_the_quota(backend, settings):
    """Filling the workspace or the image storage stops at the sandbox's disk quota"""
    from pathlib import Path as P

    settings.BUNGEO_SANDBOX_DISK = "256m"
    sb = backend.ensure(owner="diskfill")
    try:
        res = inner_sh(backend, sb.id, """
          dd if=/dev/zero of=/root/fill bs=1M count=400 2>&1 | grep -o 'No space left on device' | head -1
          dd if=/dev/zero of=/var/lib/docker/fill bs=1M count=400 2>&1 \
            | grep -o "No space left on device" | head -1
          du -sm /root/fill /var/lib/docker/fill | awk '{print "size", $1}'
          echo alive
        """, timeout=300)
        assert res.output.count("No space left on device") == 2, res.output
        sizes = [int(line.split()[1]) for line in res.output.splitlines() if line.startswith("size")]
        assert sizes and all(s <= 256 for s in sizes), res.output
        assert res.output.strip().endswith("alive")
        usage = dict((what, (used, size)) for what, used, size in backend.disk_usage(sb.id))
        assert set(usage) == {"engine", "workspace"}
        assert all(used >= 0.95 * size for used, size in usage.values()), usage
        # the host's own disk is untouched by the fill: the files live in the sparse images
        image = backend._workspace_disk("diskfill")[0]
        assert P(image).stat().st_size == 256 * 2 ** 20
    finally:
        backend.remove(sb.id, keep_workspace=False)
    assert not backend._workspace_disk("diskfill")[0].exists()
    assert not backend._storage_disk(sb.id)[0].exists()


@pytest.mark.django_db(transaction=True)
def test_terminal_output_flood_keeps_server_memory_flat(backend, student):
    """A terminal flooding output (base64 of 60 MB) keeps the server's memory flat"""
    from channels.testing import WebsocketCommunicator

    from labs.consumers import LabTerminalConsumer

    def rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    async def flood() -> tuple[int, int, int]:
        comm = WebsocketCommunicator(LabTerminalConsumer.as_asgi(),
                                     "/ws/labs/week1/images-and-containers/terminal/")
        comm.scope["user"] = student
        comm.scope["url_route"] = {"kwargs": {"course_id": "week1", "lab_id": "images-and-containers"}}
        connected, _ = await comm.connect(timeout=60)
        assert connected
        await comm.send_to(bytes_data=b"head -c 60000000 /dev/zero | base64; echo FLOOD-$((6*7))\r")
        base, peak, received, tail = rss(), 0, 0, b""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            msg = await asyncio.wait_for(comm.output_queue.get(), 60)
            data = msg.get("bytes") or b""
            received += len(data)
            tail = (tail + data)[-200:]
            peak = max(peak, rss())
            if b"FLOOD-42" in tail:
                break
        else:
            raise AssertionError("the flood did not finish in 240 s")
        await comm.disconnect()
        return base, peak, received

    base, peak, received = asyncio.run(flood())
    growth = peak - base
    assert received > 0
    assert growth < 64 * 2 ** 20, f"server memory grew {growth / 2**20:.0f} MiB for {received} bytes"
