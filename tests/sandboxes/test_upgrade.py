"""After bungeo's sandbox image changes (an upgrade, a rebuilt recipe), sandboxes move to the new
image without losing the learner's work, and old images can be pruned. Real engine."""
from __future__ import annotations

import io

import docker
import pytest

from tests.conftest import inner_sh
from webapp.sandboxes import images

pytestmark = pytest.mark.docker




@pytest.fixture
def old_image(backend, monkeypatch):
    """Make the sandbox image "the old one" until the returned function is called; then the
    current recipe's image is the sandbox image again. Yields (switch_to_current, old image ID)."""
    ref = f"bungeo/sandbox:{backend.prefix}-old"
    old_id = _derived_from(backend.client, images.sandbox_image(), ref, "old")
    real = images.sandbox_image
    monkeypatch.setattr(images, "sandbox_image", lambda mode=None: ref)
    yield (lambda: monkeypatch.setattr(images, "sandbox_image", real)), old_id
    monkeypatch.setattr(images, "sandbox_image", real)
    try:
        backend.client.images.remove(ref, force=True)
    except docker.errors.NotFound:
        pass


def _image_of(backend, sandbox_id: str) -> str:
    return backend.client.containers.get(sandbox_id).attrs["Image"]


@pytest.mark.parametrize("pooled", [False, True], ids=["created", "claimed-from-pool"])
def test_a_stopped_sandbox_of_an_old_image_restarts_on_the_new_one_keeping_work(
        backend, old_image, pooled):
    """The learner's files in /root and their inner engine's images and volumes survive the move;
    a sandbox that is running keeps its image (the learner is not cut off)."""
    to_current, old_id = old_image
    owner = f"upgrade{int(pooled)}"
    try:
        if pooled:
            backend.pool_fill(1)
        sb = backend.ensure(owner=owner)
        c = backend.client.containers.get(sb.id)
        assert (c.labels["org.bungeo.kind"] == "pool") is pooled
        assert _image_of(backend, sb.id) == old_id
        res = inner_sh(backend, sb.id, "mkdir -p /root/work && echo kept > /root/work/upgrade.txt "
                                       "&& docker volume create keepme >/dev/null && echo ok")
        assert res.output.strip().endswith("ok"), res.output
        to_current()
        current = backend.client.images.get(images.sandbox_image()).id
        assert current != old_id
        # Running: left alone.
        assert backend.ensure(owner=owner).id == sb.id
        assert _image_of(backend, sb.id) == old_id
        # Stopped (idle reaping, lifetime): the next start is on the current image.
        backend.stop(sb.id)
        again = backend.ensure(owner=owner)
        assert again.id == sb.id and again.running
        assert _image_of(backend, sb.id) == current
        c2 = backend.client.containers.get(sb.id)
        assert c2.labels == c.labels
        assert c2.attrs["HostConfig"]["CgroupParent"] == c.attrs["HostConfig"]["CgroupParent"]
        out = inner_sh(backend, sb.id, "cat /root/work/upgrade.txt; docker volume ls -q").output
        assert "kept" in out and "keepme" in out, out
    finally:
        found = backend.find(owner=owner)
        if found:
            backend.remove(found.id, keep_workspace=False)


def test_a_rootless_sandbox_moves_to_the_new_image_too(backend, monkeypatch):
    """Mode rootless: the learner is uid 1000 and the sandbox has extra binds (subuid/subgid);
    the move keeps the workspace, the inner engine's volumes and those binds."""
    from django.test import override_settings

    from webapp.sandboxes.docker_backend import DockerSandboxBackend

    real = images.sandbox_image
    if not images._exists(backend.client, real("rootless")):
        pytest.skip("the rootless sandbox image is not built (manage.py images build --rootless)")
    ref = f"bungeo/sandbox-rootless:{backend.prefix}-old"
    old_id = _derived_from(backend.client, real("rootless"), ref, "old")
    with override_settings(BUNGEO_ISOLATION="rootless"):
        b = DockerSandboxBackend(prefix=backend.prefix)
        monkeypatch.setattr(images, "sandbox_image", lambda mode=None: ref)
        sb = b.ensure(owner="upgraderootless")
        try:
            c = b.client.containers.get(sb.id)
            assert c.attrs["Image"] == old_id
            res = inner_sh(b, sb.id, "id -u; echo kept > /root/work/upgrade.txt && "
                                     "docker volume create keepme >/dev/null && echo ok", timeout=90)
            assert res.output.split()[0] == "1000" and res.output.strip().endswith("ok"), res.output
            monkeypatch.setattr(images, "sandbox_image", real)
            b.stop(sb.id)
            again = b.ensure(owner="upgraderootless")
            c2 = b.client.containers.get(again.id)
            assert again.id == sb.id and c2.attrs["Image"] == b.client.images.get(real("rootless")).id
            assert sorted(c2.attrs["HostConfig"]["Binds"]) == sorted(c.attrs["HostConfig"]["Binds"])
            out = inner_sh(b, sb.id, "id -u; cat /root/work/upgrade.txt; docker volume ls -q",
                           timeout=90).output
            assert out.split()[:2] == ["1000", "kept"] and "keepme" in out, out
        finally:
            b.remove(sb.id, keep_workspace=False)
            backend.client.images.remove(ref, force=True)


def test_the_warm_pool_replaces_unassigned_sandboxes_of_an_old_image(backend, old_image):
    to_current, old_id = old_image
    [old] = backend.pool_fill(1)
    assert _image_of(backend, old) == old_id
    assert backend.pool_fill(1) == []  # same image: the pool is full
    to_current()
    try:
        [new] = backend.pool_fill(1)
        assert new != old
        assert [sb.id for sb in backend.list(kind="pool")] == [new]
        assert _image_of(backend, new) == backend.client.images.get(images.sandbox_image()).id
    finally:
        backend.pool_fill(0)
        for sb in backend.list(kind="pool"):
            backend.remove(sb.id, keep_workspace=False)


def test_prune_removes_images_of_earlier_recipes_but_not_current_or_used_ones(backend):
    """Other stale images of this machine may be removed or kept too; only ours are asserted."""
    sandbox, standins = images.recipes()
    busybox = next(r for r in standins if r.name == "busybox")
    current = {r.image_ref for r in (sandbox, *standins)}
    old, old_rootfs, used = ("bungeo/busybox:000000000000", "bungeo/rootfs-busybox:000000000000",
                             "bungeo/busybox:0000000000ff")
    c = backend.client
    _derived_from(c, busybox.image_ref, old, "old")
    _derived_from(c, busybox.image_ref, old_rootfs, "old-rootfs")
    used_id = _derived_from(c, busybox.image_ref, used, "used")
    # Building a tag again leaves the earlier image untagged (dangling): a build leftover.
    dangling_id = _derived_from(c, busybox.image_ref, old, "old-again-a")
    _derived_from(c, busybox.image_ref, old, "old-again-b")
    user = c.containers.create(used, name=f"{backend.prefix}-prune-user",
                               labels={"org.bungeo.prefix": backend.prefix})
    try:
        assert {old, old_rootfs, used} <= set(images.stale_tags(c))
        assert not current & set(images.stale_tags(c))
        rep = images.prune(c)
        assert {old, old_rootfs} <= set(rep.removed)
        assert used in rep.in_use and used not in rep.removed
        tags = {t for img in c.images.list() for t in img.tags}
        assert current <= tags  # the current recipes' images stay
        assert old not in tags and old_rootfs not in tags and used in tags
        with pytest.raises(docker.errors.ImageNotFound):
            c.images.get(dangling_id)
    finally:
        user.remove(force=True)
    # Once no sandbox uses it, the next prune removes it.
    assert used in images.prune(c).removed
    with pytest.raises(docker.errors.ImageNotFound):
        c.images.get(used_id)


def _derived_from(c, base: str, ref: str, label: str) -> str:
    """Build ``ref``: image ``base`` plus one label (a different image ID, in a second).
    Returns its ID."""
    dockerfile = f"FROM {base}\nLABEL org.bungeo.test={label}\n"
    img, _ = c.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True)
    return img.id
