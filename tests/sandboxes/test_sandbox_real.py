"""The Docker sandbox backend on the real dedicated engine (userns isolation mode)."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import inner_sh
from webapp.sandboxes import engine

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def sandbox(backend):
    sb = backend.ensure(owner="lifecycle")
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def test_engine_runs_with_user_namespaces():
    st = engine.status()
    assert st["engine"] == "up" and st["userns"] is True


def test_ensure_is_idempotent_and_labelled(backend, sandbox):
    again = backend.ensure(owner="lifecycle")
    assert again.id == sandbox.id and again.running
    c = backend.client.containers.get(sandbox.id)
    assert c.labels["org.bungeo.kind"] == "learner"
    assert c.labels["org.bungeo.owner"] == "lifecycle"
    assert c.labels["org.bungeo.prefix"] == backend.prefix
    hc = c.attrs["HostConfig"]
    assert hc["Privileged"] is False
    assert hc["CgroupParent"] == f"/bungeo/{sandbox.id}"
    assert hc["Memory"] > 0 and hc["PidsLimit"] > 0 and hc["NanoCpus"] > 0


def test_learner_is_root_only_in_a_user_namespace(backend, sandbox):
    res = inner_sh(backend, sandbox.id, "cat /proc/self/uid_map")
    inside, outside, _count = res.output.split()
    assert inside == "0" and int(outside) >= 100000


def test_inner_engine_pause_top_stats_and_memory_limit(backend, sandbox):
    script = """
      set -e
      docker pull -q busybox >/dev/null
      docker run -d --name sleeper --memory 64m busybox sleep 300 >/dev/null
      docker pause sleeper >/dev/null
      echo "state=$(docker inspect -f '{{.State.Status}}' sleeper)"
      docker unpause sleeper >/dev/null
      docker top sleeper | grep -c 'sleep 300' | sed 's/^/top=/'
      docker stats --no-stream --format 'limit={{.MemUsage}}' sleeper
      set +e
      docker run --rm --memory 32m busybox sh -c 'x=a; while true; do x=$x$x; done'
      echo "oom_exit=$?"
      docker rm -f sleeper >/dev/null
    """
    res = inner_sh(backend, sandbox.id, script, timeout=120)
    out = res.output
    assert "state=paused" in out, out
    assert "top=1" in out, out
    assert "64MiB" in out, out
    assert "oom_exit=137" in out, out


def test_learner_cannot_raise_own_limits_or_reach_host_disk(backend, sandbox):
    res = inner_sh(backend, sandbox.id, """
      echo 99999999999 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; echo "limit_rc=$?"
      echo max > /sys/fs/cgroup/pids/pids.max 2>/dev/null; echo "pids_rc=$?"
      mknod /tmp/hostdisk b 253 0 2>/dev/null; echo "mknod_rc=$?"
      cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    """)
    out = res.output
    assert "limit_rc=0" not in out and "pids_rc=0" not in out and "mknod_rc=0" not in out, out
    limit = int(out.strip().splitlines()[-1])
    assert limit == backend.client.containers.get(sandbox.id).attrs["HostConfig"]["Memory"]


def test_inner_privileged_mount_of_root_sees_only_the_sandbox(backend, sandbox):
    res = inner_sh(backend, sandbox.id,
                   "docker run --rm -v /:/host busybox ls /host/run/bungeo-host/ 2>&1; "
                   "docker run --rm -v /:/host busybox cat /host/etc/hostname", timeout=60)
    assert "docker.sock" in res.output  # the sandbox's own shared folder, not the host's /run
    assert "bungeo" in res.output.splitlines()[-1]


def test_host_reads_inner_engine_through_shared_socket(backend, sandbox):
    client = docker.DockerClient(base_url=backend.engine_url(sandbox.id), version="1.41")
    assert client.ping()
    client.close()


def test_stop_then_ensure_restarts_with_images_kept(backend, sandbox):
    inner_sh(backend, sandbox.id, "docker pull -q busybox")
    backend.stop(sandbox.id)
    assert not backend.get(sandbox.id).running
    sb = backend.ensure(owner="lifecycle")
    assert sb.running
    res = inner_sh(backend, sb.id, "docker images --format '{{.Repository}}'")
    assert "busybox" in res.output


def test_exec_timeout_is_bounded(backend, sandbox):
    res = backend.exec(sandbox.id, ["sleep", "30"], timeout=1)
    assert res.timed_out and res.exit_code == 124


def test_remove_is_idempotent(backend):
    sb = backend.create_fresh(owner="gone")
    backend.remove(sb.id)
    backend.remove(sb.id)
    assert backend.get(sb.id) is None


def test_firewall_chains_are_installed():
    rules = engine.firewall_rules()["iptables"]
    text = "\n".join(rules)
    assert "-A BUNGEO-INPUT -p tcp -m tcp --dport 5000 -j ACCEPT" in text
    assert "-A BUNGEO-INPUT -j REJECT" in text
    assert "-A BUNGEO-FORWARD -j DROP" in text
    jumps = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    assert "-j BUNGEO-INPUT" in jumps


def test_sandbox_cannot_reach_host_services(backend, sandbox):
    """Redis listens on the host; from the sandbox its port on the gateway must be refused."""
    _net, gw = engine.network()
    res = inner_sh(backend, sandbox.id,
                   f"timeout 3 bash -c 'echo > /dev/tcp/{gw}/6379' 2>&1; echo rc=$?; "
                   f"timeout 3 bash -c 'echo > /dev/tcp/{gw}/{json.dumps(5000)}' && echo mirror=ok")
    assert "rc=0" not in res.output and "mirror=ok" in res.output, res.output


def test_remove_leaves_no_cgroup_behind(backend):
    sb = backend.create_fresh(owner="cgroups")
    assert any(Path("/sys/fs/cgroup").glob(f"*/bungeo/{sb.id}"))
    backend.remove(sb.id)
    assert not any(Path("/sys/fs/cgroup").glob(f"*/bungeo/{sb.id}"))


def test_fork_bomb_is_held_and_reset_recovers(backend):
    """A fork bomb stays inside the pids limit (another sandbox keeps answering), and "reset
    sandbox" brings the bombed one back with its images."""
    bombed = backend.ensure(owner="forkbomb")
    neighbour = backend.ensure(owner="neighbour")
    inner_sh(backend, bombed.id, "docker pull -q busybox")
    backend.exec(bombed.id, ["bash", "-c", "bomb() { bomb | bomb & }; bomb"], timeout=5)
    time_limit = backend.exec(neighbour.id, ["echo", "alive"], timeout=10)
    assert time_limit.output.strip() == "alive"
    pids = backend.client.containers.get(bombed.id).stats(stream=False)["pids_stats"]
    assert pids["current"] <= backend.client.containers.get(bombed.id).attrs["HostConfig"]["PidsLimit"]
    backend.restart(bombed.id)
    res = inner_sh(backend, bombed.id, "echo back; docker images --format '{{.Repository}}'")
    assert res.output.split()[0] == "back" and "busybox" in res.output
    backend.remove(bombed.id, keep_workspace=False)
    backend.remove(neighbour.id, keep_workspace=False)


def test_host_limits_shared_by_all_sandboxes_are_raised():
    """Every sandbox's root is the same host uid, so per-user kernel quotas (keyrings, inotify)
    must be large enough for a whole class (the default 200 keys fail after a few dozen)."""
    st = engine.status()
    for key, want in engine.HOST_SYSCTLS.items():
        assert st["kernel_limits"][key] >= want, key


def test_reconcile_removes_only_stale_grading_sandboxes(backend):
    learner = backend.ensure(owner="keepme")
    grading = backend.create_fresh(owner="crashed")
    assert backend.reconcile(grading_max_age=3600) == []
    removed = backend.reconcile(grading_max_age=3600, now=time.time() + 3601)
    assert removed == [grading.id]
    assert backend.get(grading.id) is None and backend.get(learner.id) is not None
    backend.remove(learner.id, keep_workspace=False)


def test_idle_reaper_stops_only_unattached_idle_sandboxes(backend, settings):
    from webapp.sandboxes import tasks

    busy = backend.ensure(owner="busy")
    idle = backend.ensure(owner="idle")
    term = backend.open_terminal(busy.id)
    try:
        time.sleep(1.0)  # the tmux session exists and the busy one has a client attached
        assert backend.idle_seconds(busy.id) is None
        assert backend.idle_seconds(idle.id) is not None
        settings.BUNGEO_SANDBOX_IDLE_TIMEOUT = 0
        stopped = tasks.sandboxes_reap_idle()
        assert idle.id in stopped and busy.id not in stopped
        assert not backend.get(idle.id).running and backend.get(busy.id).running
    finally:
        term.close()
    backend.remove(busy.id, keep_workspace=False)
    backend.remove(idle.id, keep_workspace=False)


@pytest.mark.django_db
def test_prestart_starts_the_learners_sandbox(backend, student):
    from webapp.sandboxes import tasks
    from webapp.sandboxes.backend import learner_owner

    tasks.sandbox_prestart(student.pk)
    sb = backend.find(owner=learner_owner(student))
    assert sb is not None and sb.running
    backend.remove(sb.id, keep_workspace=False)
