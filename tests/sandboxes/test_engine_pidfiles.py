"""Stale pid files of the sandbox engine: a pid reused by another process is never trusted.

A host restored from a snapshot (or whose /run survives a restart) keeps bungeo's pid files while
the pids go to unrelated processes. CI once failed exactly so: dockerd took a stranger for its
containerd and timed out. These tests use real processes, no engine.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from webapp.sandboxes import engine


@pytest.fixture
def paths(tmp_path, settings):
    settings.BUNGEO_DATA_DIR = str(tmp_path / "data")
    settings.BUNGEO_RUN_DIR = str(tmp_path / "run")
    p = engine.paths()
    (p.exec_root / "containerd").mkdir(parents=True)
    return p


def _spawn(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen(["sh", "-c", "sleep 60", *args])
    time.sleep(0.1)  # let exec finish so /proc/<pid>/cmdline shows the final command line
    return proc


def test_pid_file_is_trusted_only_when_the_process_has_the_marker(tmp_path):
    proc = _spawn("--host", "unix:///run/bungeo/engine.sock")
    try:
        pidfile = tmp_path / "x.pid"
        pidfile.write_text(f"{proc.pid}\n")
        assert engine._pid_alive(pidfile, "/run/bungeo/engine.sock") == proc.pid
        assert engine._pid_alive(pidfile, "/run/other/engine.sock") is None
    finally:
        proc.kill()
        proc.wait()


def test_pid_file_of_a_dead_process_or_garbage_is_none(tmp_path):
    proc = subprocess.Popen(["true"])
    proc.wait()
    pidfile = tmp_path / "x.pid"
    pidfile.write_text(str(proc.pid))
    assert engine._pid_alive(pidfile, "true") is None
    pidfile.write_text("not a pid")
    assert engine._pid_alive(pidfile, "") is None
    assert engine._pid_alive(tmp_path / "missing.pid", "") is None


def test_stale_containerd_pid_of_another_process_is_removed_and_that_process_left_alone(paths):
    stranger = _spawn("stranger")
    try:
        pidfile = paths.exec_root / "containerd" / "containerd.pid"
        pidfile.write_text(str(stranger.pid))
        engine._clear_stale_containerd(paths)
        assert not pidfile.exists()
        assert stranger.poll() is None, "an unrelated process was signalled"
    finally:
        stranger.kill()
        stranger.wait()


def test_orphaned_containerd_of_this_engine_is_stopped(paths):
    orphan = _spawn("containerd", "--config", str(paths.exec_root / "containerd" / "containerd.toml"))
    try:
        pidfile = paths.exec_root / "containerd" / "containerd.pid"
        pidfile.write_text(str(orphan.pid))
        engine._clear_stale_containerd(paths)
        assert not pidfile.exists()
        assert orphan.wait(timeout=5) is not None
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_stop_never_signals_a_process_that_reused_the_engine_pid(paths):
    stranger = _spawn("stranger")
    try:
        paths.pidfile.parent.mkdir(parents=True, exist_ok=True)
        paths.pidfile.write_text(str(stranger.pid))
        paths.registry_pidfile.write_text(str(stranger.pid))
        engine.stop()
        assert stranger.poll() is None, "stop() signalled an unrelated process"
        assert not paths.pidfile.exists() and not paths.registry_pidfile.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_engine_uses_the_cgroupfs_driver_whatever_the_init(paths):
    """On a cgroup v2 host with systemd (Debian 12, Ubuntu 22.04 and later), dockerd defaults to
    the systemd cgroup driver, which refuses the cgroupfs parent ``/bungeo`` and the engine never
    starts (seen in a Debian 12 VM: "cgroup-parent for systemd cgroup should be a valid slice")."""
    cmd = engine.dockerd_command(paths)
    assert "native.cgroupdriver=cgroupfs" == cmd[cmd.index("--exec-opt") + 1]
    assert "--cgroup-parent=/bungeo" in cmd
    assert "--userns-remap=default" in cmd


def test_cgroup_parents_finds_the_unified_and_the_per_controller_directories(tmp_path):
    """``/bungeo`` sits at the root of the unified hierarchy on cgroup v2 and under each
    controller on v1; the sweep and the tests look in both."""
    v2 = tmp_path / "v2"
    (v2 / "bungeo" / "sb1").mkdir(parents=True)
    (v2 / "cgroup.controllers").write_text("cpu memory pids\n")
    v1 = tmp_path / "v1"
    for ctrl in ("memory", "pids"):
        (v1 / ctrl / "bungeo").mkdir(parents=True)
    (v1 / "cpu").mkdir()
    assert engine.cgroup_parents(v2) == [v2 / "bungeo"]
    assert sorted(engine.cgroup_parents(v1)) == [v1 / "memory" / "bungeo", v1 / "pids" / "bungeo"]


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def mirror_port(settings):
    """A free port on the bridge's gateway for a throwaway mirror (the real one keeps its own)."""
    host = str(engine.network()[1])
    settings.BUNGEO_MIRROR_PORT = _free_port(host)
    return host, settings.BUNGEO_MIRROR_PORT


def _stop(p) -> None:
    pid = engine._pid_alive(p.registry_pidfile, str(p.registry_config))
    if pid:
        os.kill(pid, signal.SIGTERM)


def test_registry_mirror_starts_and_answers(paths, mirror_port):
    host, port = mirror_port
    try:
        engine._registry_start(paths)
        with urllib.request.urlopen(f"http://{host}:{port}/v2/", timeout=5) as resp:
            assert resp.status == 200
    finally:
        _stop(paths)


def test_registry_mirror_on_a_taken_port_says_so(paths, mirror_port):
    """On a systemd host, Debian's docker-registry package starts its own service on *:5000,
    and bungeo's mirror died silently at start (seen in a Debian 12 VM): every pull then failed
    with "no basic auth credentials" from the other registry."""
    host, port = mirror_port
    with socket.socket() as taken:
        taken.bind((host, port))
        taken.listen()
        with pytest.raises(RuntimeError) as err:
            engine._registry_start(paths)
    assert f"cannot listen on {host}: another program holds port {port}" in str(err.value)
    assert "systemctl disable --now docker-registry" in str(err.value)
    assert not paths.registry_pidfile.exists()
