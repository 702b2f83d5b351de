"""The Docker sandbox backend on the real dedicated engine (userns isolation mode)."""
from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from tests.conftest import (
    assert_completion_loads_on_first_tab,
    assert_inner_engine_go_settings,
    assert_pull_from_outside_the_mirror_is_explained,
    assert_reset_stops_containers_like_a_shutdown,
    inner_sh,
    typed_in_a_login_shell,
)
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






def test_inner_engine_go_settings(backend, sandbox):
    # bench/sandbox_memory.py: 2 MiB less per idle sandbox, no measurable CPU cost.
    assert_inner_engine_go_settings(backend, sandbox.id)


def test_a_pull_from_outside_the_mirror_is_explained(backend, sandbox):
    assert_pull_from_outside_the_mirror_is_explained(backend, sandbox.id)


def test_a_refused_privileged_container_is_explained(backend, sandbox):
    """runc refuses a privileged container in a sandbox with only "error mounting sysfs ...
    operation not permitted" (QA: safe but unexplained); the learner's shell adds bungeo's hint
    in Korean and English. A container that runs, and a container that fails for its own
    reason, get none. images/sandbox/bashrc."""
    out, (first, second, third) = typed_in_a_login_shell(backend, sandbox.id, [
        "docker run --rm --privileged busybox true",
        "docker run --rm --cap-add SYS_ADMIN busybox echo capped",
        "docker run --rm busybox false; echo rc=$?"])
    assert 'error mounting "sysfs"' in first, out
    assert "bungeo: 이 교실의 샌드박스에서는 특권(--privileged) 컨테이너를 실행할 수 없습니다" in first, out
    assert "privileged containers (--privileged) cannot run in this classroom sandbox" in first, out
    assert "capped" in second and "--privileged" not in second.split("capped", 1)[1], out
    assert "rc=1" in third and "classroom sandbox" not in third and "특권" not in third, out


def test_containers_on_the_default_bridge_get_a_resolver_that_answers_at_once(backend, sandbox):
    """Offline, the inner engine's fallback resolvers (8.8.8.8) are dropped by the host and every
    lookup stalled 10-20 s (QA: 'wget http://api' on the default bridge, in the networking
    lesson). Its containers now ask the inner bridge, which refuses at once: no packet leaves
    the sandbox. Lookups on a user-defined network go to Docker's embedded resolver, as before."""
    out = inner_sh(backend, sandbox.id, "docker pull -q busybox >/dev/null; "
                   "docker run --rm busybox cat /etc/resolv.conf; "
                   "docker run --rm busybox wget -qO- -T 3 http://api; echo rc=$?", timeout=120).output
    assert "nameserver 172.17.0.1" in out and "8.8.8.8" not in out, out
    assert "bad address 'api'" in out and "rc=1" in out, out


def test_a_stop_with_the_lab_page_watching_ends_cleanly(backend):
    """A lab page follows its learner's engine events (labs.consumers). That open stream held
    the inner engine's shutdown until the sandbox's stop grace ran out: the sandbox was killed
    (exit 137), each stop took 5 s and each reset 8 s (QA). Once its containers are down, the
    engine is not waited for (images/sandbox/entry.sh)."""
    import threading

    sb = backend.ensure(owner="watched")
    api = docker.APIClient(base_url=backend.engine_url(sb.id), timeout=None)
    stream = api.events(decode=True)
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
    try:
        inner_sh(backend, sb.id, "docker run -d --name web busybox sleep 3600 >/dev/null")
        backend.stop(sb.id)
        state = backend.client.containers.get(sb.id).attrs["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), state
        # Its container was stopped first, as before (busybox's sleep ignores TERM: killed).
        backend.ensure(owner="watched")
        out = inner_sh(backend, sb.id, "docker ps -a --format '{{.Names}} {{.Status}}'").output
        assert "web Exited (137)" in out, out
    finally:
        stream.close()
        backend.remove(sb.id, keep_workspace=False)


def test_shell_loads_bash_completion_on_its_first_tab(backend, sandbox):
    assert_completion_loads_on_first_tab(backend, sandbox.id)


def test_the_bridge_keeps_its_mac_while_sandboxes_come_and_go(backend, sandbox, settings):
    """A bridge without a MAC of its own takes its lowest port's, which changes as sandboxes
    come and go (seen dozens of times in a minute of grading); bungeo fixes it."""
    address = Path(f"/sys/class/net/{settings.BUNGEO_SANDBOX_BRIDGE}/address")
    assert address.read_text().strip() == engine.bridge_mac()
    other = backend.create_fresh(owner="mac")
    assert address.read_text().strip() == engine.bridge_mac()
    backend.remove(other.id, keep_workspace=False)
    assert address.read_text().strip() == engine.bridge_mac()


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


def test_reset_shuts_the_inner_engine_down_like_a_machine(backend, sandbox):
    assert_reset_stops_containers_like_a_shutdown(backend, sandbox.id)


def test_exec_timeout_is_bounded(backend, sandbox):
    res = backend.exec(sandbox.id, ["sleep", "30"], timeout=1)
    assert res.timed_out and res.exit_code == 124


def test_remove_is_idempotent(backend):
    sb = backend.create_fresh(owner="gone")
    backend.remove(sb.id)
    backend.remove(sb.id)
    assert backend.get(sb.id) is None






def test_remove_leaves_no_cgroup_behind(backend):
    sb = backend.create_fresh(owner="cgroups")
    assert any((p / sb.id).is_dir() for p in engine.cgroup_parents())  # v1: one per controller
    backend.remove(sb.id)
    assert not any((p / sb.id).exists() for p in engine.cgroup_parents())




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


def test_the_editors_a_learner_types_are_there(backend):
    """vim (as vim-tiny: `vim` was "command not found", only `vi` named it), vi and nano."""
    sb = backend.ensure(owner="editor")
    try:
        res = backend.exec(sb.id, ["bash", "-ic", "for e in vim vi nano; do command -v $e >/dev/null "
                                   "&& echo have-$e; done; vim --version | head -1"])
        out = res.output
        assert all(f"have-{e}" in out for e in ("vim", "vi", "nano")) and "VIM - Vi IMproved" in out, out
    finally:
        backend.remove(sb.id, keep_workspace=False)


def _terminal_at_prompt(backend, sandbox_id: str):
    """(terminal, what it printed) once the learner's shell prompt shows (20 s at most per read)."""
    term = backend.open_terminal(sandbox_id)
    term.sock.settimeout(20)
    out = b""
    while b"# " not in out:
        out += term.sock.recv(65536)
    return term, out


def test_after_exit_the_sandbox_is_idle_since_its_terminal_closed_not_since_it_started(backend):
    """`exit` ends the tmux session, so tmux cannot say when the learner was last there: the
    idle time counts from the terminal's close. From the sandbox's start, an `exit` an hour in
    had the reaper stop the sandbox, and the learner's running containers, at its next round."""
    sb = backend.ensure(owner="exiter")
    try:
        time.sleep(4.0)
        term, out = _terminal_at_prompt(backend, sb.id)
        term.sock.sendall(b"exit\r")
        while True:
            chunk = term.sock.recv(65536)
            if not chunk:
                break
            out += chunk
        assert b"[exited]" in out, out[-200:]
        term.close()
        idle = backend.idle_seconds(sb.id)
        assert idle is not None and idle < 2.5, idle  # from the start it is 4 s and more
        assert backend.idle_seconds(sb.id, now=time.time() + 600) >= 600
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_a_quiet_terminal_that_closes_is_idle_since_its_close_not_its_last_key(backend):
    """QA: a learner who read for minutes without typing, then reloaded the page, was idle for
    all those minutes the moment the tab closed (tmux's last activity), and the reaper stopped
    the sandbox then, with learners waiting. Idle counts from the later of the two."""
    sb = backend.ensure(owner="reader")
    try:
        term, out = _terminal_at_prompt(backend, sb.id)
        time.sleep(5.0)  # reading the lesson: no key, no output
        assert backend.idle_seconds(sb.id) is None  # attached: in use
        term.close()
        idle = backend.idle_seconds(sb.id)
        assert idle is not None and idle < 2.5, idle  # from the last output it is 5 s and more
        assert backend.idle_seconds(sb.id, now=time.time() + 600) >= 600
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_a_sandbox_at_its_process_limit_with_its_terminal_open_is_not_idle(backend):
    """QA: a fork bomb filled the sandbox's pids limit while the learner's tabs were open; the
    idle look (tmux, started with docker exec) then often could not fork, that failure read as
    "no tmux session", and the reaper stopped the sandbox as idle since its start. A look that
    fails is now "not known", never idle."""
    sb = backend.ensure(owner="bombidle")
    term = None
    try:
        term, out = _terminal_at_prompt(backend, sb.id)
        backend.exec(sb.id, ["bash", "-c", "bomb() { bomb | bomb & }; bomb"], timeout=5)
        time.sleep(1.0)
        looks = [backend.idle_seconds(sb.id) for _ in range(12)]
        assert looks == [None] * 12, looks
    finally:
        if term is not None:
            term.close()
        backend.remove(sb.id, keep_workspace=False)


@pytest.mark.django_db
def test_prestart_starts_the_learners_sandbox(backend, student):
    from webapp.sandboxes import admission, tasks
    from webapp.sandboxes.backend import learner_owner

    admission.reset()  # no line left by an earlier test (its places would come first)
    tasks.sandbox_prestart(student.pk)
    sb = backend.find(owner=learner_owner(student))
    assert sb is not None and sb.running
    backend.remove(sb.id, keep_workspace=False)


@pytest.mark.django_db
def test_prestart_never_goes_past_the_capacity_or_ahead_of_the_line(backend, student, settings):
    from webapp.sandboxes import admission, tasks
    from webapp.sandboxes.backend import KIND_LEARNER, learner_owner

    admission.reset()
    other = backend.ensure(owner="already-in")
    try:
        # Earlier tests' learner sandboxes may still run under the prefix: they count too.
        running = sum(1 for sb in backend.list(kind=KIND_LEARNER) if sb.running)
        settings.BUNGEO_SANDBOX_CAPACITY = running  # every place taken
        tasks.sandbox_prestart(student.pk)
        assert backend.find(owner=learner_owner(student)) is None
        settings.BUNGEO_SANDBOX_CAPACITY = running + 1  # a free place, but someone waits for it
        admission._store().join("waiting-learner", time.time())
        tasks.sandbox_prestart(student.pk)
        assert backend.find(owner=learner_owner(student)) is None
        admission.reset()  # nobody waits, a place is free: the warm-up starts it
        tasks.sandbox_prestart(student.pk)
        sb = backend.find(owner=learner_owner(student))
        assert sb is not None and sb.running
        backend.remove(sb.id, keep_workspace=False)
    finally:
        admission.reset()
        backend.remove(other.id, keep_workspace=False)


def test_warm_pool_claim_is_atomic_and_attaches_the_workspace(backend, settings):
    """Six learners arrive at once with two sandboxes in the pool: two claim distinct pool
    sandboxes, four get new ones; every learner's /root is their own workspace; the workspace
    survives removal and comes back in the next (pooled) sandbox."""
    from concurrent.futures import ThreadPoolExecutor

    started = backend.pool_fill(2)
    assert len(started) == 2
    assert len([sb for sb in backend.list(kind="pool") if sb.running]) == 2
    owners = [f"pooled{i}" for i in range(6)]
    with ThreadPoolExecutor(6) as ex:
        sandboxes = list(ex.map(lambda o: backend.ensure(owner=o), owners))
    try:
        assert len({sb.id for sb in sandboxes}) == 6
        assert all(sb.running and sb.kind == "learner" for sb in sandboxes)
        assert [sb.owner for sb in sandboxes] == owners
        assert backend.list(kind="pool") == []  # both pool sandboxes were claimed
        claimed = [sb for sb in sandboxes
                   if backend.client.containers.get(sb.id).labels["org.bungeo.kind"] == "pool"]
        assert len(claimed) == 2
        for sb in sandboxes:
            inner_sh(backend, sb.id, f"echo {sb.owner} > /root/whoami")
        for sb in sandboxes:
            assert inner_sh(backend, sb.id, "cat /root/whoami; ls -a /root").output.split()[0] == sb.owner
            assert backend.find(owner=sb.owner).id == sb.id
            # the inner engine answers through the host-shared socket, under the new name too
            assert docker.DockerClient(base_url=backend.engine_url(sb.id), version="1.41").ping()
        # reset keeps the workspace of a claimed sandbox
        first = claimed[0]
        backend.restart(first.id)
        assert inner_sh(backend, first.id, "cat /root/whoami").output.strip() == first.owner
        # the workspace outlives the sandbox and is attached to the next pooled one
        slot = backend._slot(first.id)
        assert (Path(settings.BUNGEO_RUN_DIR) / "sandboxes" / f"{slot}.claim").exists()
        backend.remove(first.id)
        assert not any((p / first.id).exists() for p in engine.cgroup_parents())
        # nothing of the sandbox is left in the run folder, its claim lock neither
        assert not list((Path(settings.BUNGEO_RUN_DIR) / "sandboxes").glob(f"{slot}*"))
        backend.pool_fill(1)
        again = backend.ensure(owner=first.owner)
        assert backend.client.containers.get(again.id).labels["org.bungeo.kind"] == "pool"
        assert inner_sh(backend, again.id, "cat /root/whoami").output.strip() == first.owner
    finally:
        for o in owners:
            sb = backend.find(owner=o)
            if sb:
                backend.remove(sb.id, keep_workspace=False)
    slots = Path(settings.BUNGEO_DATA_DIR) / "slots"
    assert not [p for p in slots.iterdir() if p.name.startswith(backend.prefix)]


def test_ensure_without_waiting_runs_limited_and_delegated_then_wait_engine(backend):
    """``ensure(wait_engine=False)`` (the terminal's) returns a running sandbox whose limits,
    cgroup delegation and ready file are in place, whether or not its inner engine answers yet;
    ``wait_engine`` then returns once that engine answers through the host-shared socket, and
    at once when it already does."""
    from webapp.sandboxes.docker_backend import REMAP_ROOT, _host_cgroup_dirs

    sb = backend.ensure(owner="early", wait_engine=False)
    try:
        assert sb.running
        assert (backend.host_dir(sb.id) / "ready").exists()
        c = backend.client.containers.get(sb.id)
        assert c.attrs["HostConfig"]["Memory"] > 0 and c.attrs["HostConfig"]["PidsLimit"] > 0
        dirs = _host_cgroup_dirs(c.attrs["State"]["Pid"])
        assert dirs and all(d.stat().st_uid == REMAP_ROOT for d in dirs)
        backend.wait_engine(sb.id)
        client = docker.DockerClient(base_url=backend.engine_url(sb.id), version="1.41")
        assert client.ping()
        client.close()
        t0 = time.monotonic()
        backend.wait_engine(sb.id)
        assert time.monotonic() - t0 < 1.0
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_wait_engine_fails_when_the_inner_engine_does_not_answer(backend, settings):
    """An inner engine that does not answer (stopped with SIGSTOP) makes ``wait_engine`` raise
    the learner-facing "not ready" error after the timeout; a stopped sandbox raises at once."""
    from webapp.sandboxes.backend import SandboxError
    from webapp.sandboxes.docker_backend import MSG_NOT_READY, MSG_NOT_RUNNING

    sb = backend.ensure(owner="frozen")
    try:
        assert inner_sh(backend, sb.id, "pkill -STOP -x dockerd").exit_code == 0
        settings.BUNGEO_SANDBOX_READY_TIMEOUT = 2
        t0 = time.monotonic()
        with pytest.raises(SandboxError) as exc:
            backend.wait_engine(sb.id)
        assert exc.value.args[0] == MSG_NOT_READY and time.monotonic() - t0 < 10
        inner_sh(backend, sb.id, "pkill -CONT -x dockerd")
        backend.wait_engine(sb.id)  # answers again
        backend.stop(sb.id)
        with pytest.raises(SandboxError) as exc:
            backend.wait_engine(sb.id)
        assert exc.value.args[0] == MSG_NOT_RUNNING
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_status_counts_this_installs_sandboxes_apart_from_other_prefixes(backend, settings):
    """An engine shared by two installs (a test run beside the class, a second checkout): the
    operator's status counts this install's sandboxes, and the others apart (QA saw 9 for 5)."""
    from webapp.sandboxes import admission

    settings.BUNGEO_SANDBOX_CAPACITY = 7
    admission.reset()
    sb = backend.ensure(owner="counted")
    stopped = backend.ensure(owner="counted-stopped")
    backend.stop(stopped.id)
    try:
        with admission._store().locked():
            admission._store().join("someone-waiting", time.time())
        base = engine.status()
        admission.reset()
        settings.BUNGEO_SANDBOX_PREFIX = f"{settings.BUNGEO_SANDBOX_PREFIX}x"  # an install with none
        other = engine.status()
    finally:
        backend.remove(sb.id, keep_workspace=False)
        backend.remove(stopped.id, keep_workspace=False)
        admission.reset()
    assert base["sandboxes"] >= 2
    # What admission counts: running learners' sandboxes only, against the capacity, and the line.
    running = len([s for s in backend.list(kind="learner") if s.running])
    assert base["learners_running"] == running + 1  # "counted" ran then; the stopped one never counts
    assert base["learners_stopped"] >= 1 and base["capacity"] == 7 and base["waiting_in_line"] == 1
    assert other["sandboxes"] == 0
    assert other["sandboxes_of_other_prefixes"] >= 1  # ours, seen from the other install
