"""Disk quotas (BUNGEO_SANDBOX_DISK): a full disk is announced in the terminal's status line and
the warning goes once space is freed; quota'd workspaces work with the warm pool and keep an
existing workspace's files when quotas are turned on."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import translation

from tests.conftest import inner_sh
from webapp.sandboxes import consumers
from webapp.sandboxes.backend import learner_owner

pytestmark = pytest.mark.docker


def _warned_then_cleared(backend, student, monkeypatch, fill: str, free: str,
                         lease_every: float = 0.5, timeout: float = 60) -> dict:
    """The terminal's first "warn" status after ``fill`` runs in the student's sandbox; raises
    unless it comes within ``timeout`` seconds, or unless the status goes back to "ready" after
    ``free`` (within ``timeout`` too). The terminal's lease updates (and full checks) come
    every ``lease_every`` seconds."""
    from labs.consumers import LabTerminalConsumer

    monkeypatch.setattr(consumers, "LEASE_EVERY", lease_every)
    owner = learner_owner(student)

    async def scenario():
        comm = WebsocketCommunicator(LabTerminalConsumer.as_asgi(),
                                     "/ws/labs/week1/images-and-containers/terminal/",
                                     headers=[(b"accept-language", b"en")])
        comm.scope["user"] = student
        comm.scope["url_route"] = {"kwargs": {"course_id": "week1", "lab_id": "images-and-containers"}}
        assert (await comm.connect(timeout=60))[0]

        async def until(state, timeout=60):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = await asyncio.wait_for(comm.output_queue.get(), timeout)
                if msg.get("text"):
                    m = json.loads(msg["text"])
                    if m.get("type") == "status" and m["state"] == state:
                        return m
            raise AssertionError(f"no {state}")

        await until("ready")
        sb = await asyncio.to_thread(backend.find, owner=owner)
        await asyncio.to_thread(inner_sh, backend, sb.id, fill)
        warn = await until("warn", timeout)
        if free:
            await asyncio.to_thread(inner_sh, backend, sb.id, free)
        await until("ready", timeout)
        await comm.disconnect()
        return warn

    try:
        with translation.override("en"):
            return asyncio.run(scenario())
    finally:
        sb = backend.find(owner=owner)
        if sb:
            backend.remove(sb.id, keep_workspace=False)


@pytest.mark.django_db(transaction=True)
def test_full_home_folder_is_announced_then_cleared(backend, student, settings, monkeypatch):
    """The workspace (/root) is its own disk: the advice is to remove files there, not images
    ('docker system prune -a' frees nothing in /root and deletes the learner's images)."""
    settings.BUNGEO_SANDBOX_DISK = "128m"
    warn = _warned_then_cleared(backend, student, monkeypatch,
                                "dd if=/dev/zero of=/root/big bs=1M count=200 2>/dev/null; true",
                                "rm -f /root/big")
    # 128 MiB less the file system's own share, in GiB rounded up as `df -h` rounds.
    assert "Your home folder is full (0.2 of 0.2 GiB used)" in warn["text"], warn["text"]
    assert "'rm'" in warn["text"] and "prune" not in warn["text"]


@pytest.mark.django_db(transaction=True)
def test_full_image_storage_is_announced_then_cleared(backend, student, settings, monkeypatch):
    settings.BUNGEO_SANDBOX_DISK = "128m"
    warn = _warned_then_cleared(backend, student, monkeypatch,
                                "dd if=/dev/zero of=/var/lib/docker/big bs=1M count=200 2>/dev/null; true",
                                "rm -f /var/lib/docker/big")
    assert "image storage is full" in warn["text"] and "docker system prune -a" in warn["text"], warn["text"]
    assert "home folder" not in warn["text"]


@pytest.mark.django_db(transaction=True)
def test_process_limit_reached_is_announced_then_cleared(backend, student, settings, monkeypatch):
    """A fork bomb (here: processes started until the limit refuses more) leaves the sandbox
    unable to start commands: the bar says so and points to Reset; once the processes end, it
    says "Connected" again. Below the limit nothing is said (the other tests' 'ready')."""
    settings.BUNGEO_SANDBOX_PIDS = 120
    warn = _warned_then_cleared(backend, student, monkeypatch,
                                "for i in $(seq 150); do sleep 8 >/dev/null 2>&1 & done 2>/dev/null; true",
                                "")
    assert "reached its limit of 120 processes" in warn["text"], warn["text"]
    assert '"Reset sandbox"' in warn["text"]


@pytest.mark.django_db(transaction=True)
def test_a_fork_bomb_is_announced_within_seconds_not_at_the_next_lease_update(
        backend, student, settings, monkeypatch):
    """Between lease updates (here a minute apart) the terminal looks at the process count
    every PIDS_EVERY seconds (a cgroup file): the warning comes, and goes, within seconds."""
    settings.BUNGEO_SANDBOX_PIDS = 120
    warn = _warned_then_cleared(backend, student, monkeypatch,
                                "for i in $(seq 150); do sleep 8 >/dev/null 2>&1 & done 2>/dev/null; true",
                                "", lease_every=60, timeout=20)
    assert "reached its limit of 120 processes" in warn["text"], warn["text"]


@pytest.mark.django_db(transaction=True)
def test_a_full_disk_is_announced_within_seconds_not_at_the_next_lease_update(
        backend, student, settings, monkeypatch):
    """QA: the disk-full warning came, and went, up to LEASE_EVERY (20 s) late. Between lease
    updates (here a minute apart) the terminal looks at the disks every PIDS_EVERY seconds
    (statvfs of their mount points): within seconds both ways."""
    settings.BUNGEO_SANDBOX_DISK = "128m"
    t0 = time.monotonic()
    warn = _warned_then_cleared(backend, student, monkeypatch,
                                "dd if=/dev/zero of=/root/big bs=1M count=200 2>/dev/null; true",
                                "rm -f /root/big", lease_every=60, timeout=20)
    assert "Your home folder is full" in warn["text"], warn["text"]
    assert time.monotonic() - t0 < 60  # not a lease update's doing


@pytest.mark.django_db(transaction=True)
def test_process_count_is_read_from_the_sandbox_cgroup_and_matches_the_engine(backend, settings,
                                                                              monkeypatch):
    """The cheap reading (the container's pids cgroup on the host) counts what runs inside,
    inner containers included, against the sandbox's limit, as the engine's stats do; where the
    cgroup cannot be found, ``cheap`` gives None and the engine is asked instead."""
    settings.BUNGEO_SANDBOX_PIDS = 300
    sb = backend.ensure(owner="counting")
    try:
        before = backend.pids_usage(sb.id, cheap=True)
        assert before is not None and before[1] == 300, before
        inner_sh(backend, sb.id, "for i in $(seq 40); do sleep 30 >/dev/null 2>&1 & done; "
                                 "docker run -d --rm busybox sleep 30 >/dev/null")
        during = backend.pids_usage(sb.id, cheap=True)
        assert during[0] >= before[0] + 41, (before, during)
        monkeypatch.setattr(backend, "_pids_from_cgroup", lambda _sid: None)
        assert backend.pids_usage(sb.id, cheap=True) is None
        engine = backend.pids_usage(sb.id)  # the engine's stats
        assert engine[1] == 300 and abs(engine[0] - during[0]) <= 10, (engine, during)
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_quota_with_warm_pool_and_existing_workspace(backend, settings):
    # A learner who used bungeo before quotas were on: their files are in a named volume.
    settings.BUNGEO_SANDBOX_DISK = ""
    before = backend.ensure(owner="migrating")
    inner_sh(backend, before.id, "echo kept > /root/notes.txt")
    backend.remove(before.id)  # workspace kept
    settings.BUNGEO_SANDBOX_DISK = "128m"
    backend.pool_fill(1)
    sb = backend.ensure(owner="migrating")  # claimed from the pool, quota'd workspace attached
    try:
        assert backend.client.containers.get(sb.id).labels["org.bungeo.kind"] == "pool"
        res = inner_sh(backend, sb.id, "cat /root/notes.txt; df -m /root | tail -1 | awk '{print $2}'")
        notes, size_mb = res.output.split()
        assert notes == "kept" and int(size_mb) <= 128
        assert {what for what, _u, _s in backend.disk_usage(sb.id)} == {"engine", "workspace"}
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_space_freed_in_a_quotad_disk_goes_back_to_the_host(backend, settings):
    """The disks are sparse files: what the learner deletes is handed back to the host's disk
    (mounted with discard), not kept at its high-water mark for as long as the file exists."""
    settings.BUNGEO_SANDBOX_DISK = "256m"
    sb = backend.ensure(owner="freeing")
    image = backend._workspace_disk("freeing")[0]

    def allocated() -> int:
        return image.stat().st_blocks * 512

    try:
        inner_sh(backend, sb.id, "dd if=/dev/urandom of=/root/big bs=1M count=100 2>/dev/null; sync")
        full = allocated()
        assert full > 100e6, full
        inner_sh(backend, sb.id, "rm /root/big; sync")
        deadline = time.monotonic() + 30
        while allocated() > full - 80e6 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert allocated() <= full - 80e6, (full, allocated())
    finally:
        backend.remove(sb.id, keep_workspace=False)
