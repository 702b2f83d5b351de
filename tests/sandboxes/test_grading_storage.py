"""Grading sandboxes keep their inner engine's storage in a bounded tmpfs (BUNGEO_GRADING_TMPFS),
on the real engine: the inner engine pulls, runs and builds there; a submission that fills it gets
"No space left on device" while the inner engine keeps answering; learners' sandboxes, and grading
sandboxes with the setting off, keep their storage on disk."""
from __future__ import annotations

import docker.utils
import pytest
from docker.errors import NotFound

from tests.conftest import inner_sh
from webapp.sandboxes.backend import KIND_LEARNER

pytestmark = pytest.mark.docker


def _fs_type(backend, sid) -> str:
    res = inner_sh(backend, sid, "stat -f -c %T /var/lib/docker")
    assert res.exit_code == 0, res.output
    return res.output.strip()


def test_grading_storage_is_a_bounded_tmpfs_that_fails_writes_when_full(backend, settings):
    settings.BUNGEO_GRADING_POOL_SIZE = 0
    settings.BUNGEO_GRADING_TMPFS = "160m"
    sb = backend.create_fresh(owner="tmpfs", images=())
    try:
        assert _fs_type(backend, sb.id) == "tmpfs"
        c = backend._container(sb.id)
        assert c.attrs["HostConfig"]["Memory"] == (
            docker.utils.parse_bytes(settings.BUNGEO_SANDBOX_MEMORY) + 160 * 2**20)
        with pytest.raises(NotFound):  # no storage volume to clean up afterwards
            backend.client.volumes.get(f"{sb.id}-docker")
        # Image layers on the tmpfs are executable through the inner engine's overlayfs.
        res = inner_sh(backend, sb.id, "docker info --format '{{.Driver}}' && "
                       "docker pull -q busybox:latest >/dev/null && docker run --rm busybox echo ran",
                       timeout=120)
        assert res.exit_code == 0 and res.output.split()[0] == "overlay2", res.output
        assert "ran" in res.output
        res = inner_sh(backend, sb.id, "dd if=/dev/zero of=/var/lib/docker/fill bs=1M count=400", timeout=60)
        assert res.exit_code != 0 and "No space left on device" in res.output, res.output
        # Still alive: the inner engine was not OOM-killed, and works again once space is freed.
        res = inner_sh(backend, sb.id, "rm -f /var/lib/docker/fill && docker run --rm busybox echo again",
                       timeout=60)
        assert res.exit_code == 0 and "again" in res.output, res.output
        assert backend._container(sb.id).attrs["State"]["OOMKilled"] is False
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_learner_sandboxes_and_grading_with_the_setting_off_keep_storage_on_disk(backend, settings):
    settings.BUNGEO_GRADING_POOL_SIZE = 0
    settings.BUNGEO_SANDBOX_POOL_SIZE = 0
    settings.BUNGEO_GRADING_TMPFS = "160m"
    learner = backend.ensure(owner="ondisk", kind=KIND_LEARNER)
    try:
        assert _fs_type(backend, learner.id) != "tmpfs"
    finally:
        backend.remove(learner.id, keep_workspace=False)
    settings.BUNGEO_GRADING_TMPFS = ""
    settings.BUNGEO_SANDBOX_DISK = ""  # no quota: the storage is a named volume
    sb = backend.create_fresh(owner="ondisk", images=())
    try:
        assert _fs_type(backend, sb.id) != "tmpfs"
        assert backend.client.volumes.get(f"{sb.id}-docker")
        c = backend._container(sb.id)
        assert c.attrs["HostConfig"]["Memory"] == docker.utils.parse_bytes(settings.BUNGEO_SANDBOX_MEMORY)
    finally:
        backend.remove(sb.id, keep_workspace=False)
    settings.BUNGEO_SANDBOX_DISK = "256m"  # the default has a quota: the storage is a quota'd disk
    sb = backend.create_fresh(owner="ondisk", images=())
    try:
        assert _fs_type(backend, sb.id) != "tmpfs"
        assert [what for what, _used, size in backend.disk_usage(sb.id) if size <= 256 * 2**20] == ["engine"]
    finally:
        backend.remove(sb.id, keep_workspace=False)


def test_the_operators_report_says_where_grading_storage_lives(settings):
    from webapp.sandboxes import engine

    settings.BUNGEO_GRADING_TMPFS = "3g"
    assert engine.grading_storage_report("userns") == (
        "memory: tmpfs of 3072 MiB per grading sandbox (BUNGEO_GRADING_TMPFS)")
    assert engine.grading_storage_report("rootless") == "disk"
    assert engine.status()["grading_storage"].startswith("memory: tmpfs of 3072 MiB")
    settings.BUNGEO_GRADING_TMPFS = "0"
    assert engine.grading_storage_report("userns") == "disk"


def test_the_operators_report_says_whether_learners_have_a_disk_quota(settings, tmp_path):
    from webapp.sandboxes import engine

    settings.BUNGEO_DATA_DIR = tmp_path / "data"
    settings.BUNGEO_SANDBOX_DISK = "10g"
    text = engine.disk_quota_report()
    assert text.startswith("10.0 GiB per sandbox's image storage and per workspace"), text
    assert f"{tmp_path}/data/disks;" in text and "GB free there" in text
    settings.BUNGEO_SANDBOX_DISK = ""
    assert engine.disk_quota_report().startswith("off: one learner can fill this host's disk")
