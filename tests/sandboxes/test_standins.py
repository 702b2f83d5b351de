"""The offline stand-in images as learners meet them: every tag listed in images/images.yaml is
served by the classroom mirror from the current recipe, and each stand-in does its basic job inside
a real sandbox with no network (python, redis, busybox and alpine here; node, nginx and postgres
are exercised by the A1/A2 graders and the labs)."""
from __future__ import annotations

import pytest

from tests.conftest import inner_sh
from webapp.sandboxes import images

pytestmark = pytest.mark.docker


def test_every_listed_tag_is_served_from_its_current_recipe(backend):
    _sandbox, standins = images.recipes()
    missing = []
    for r in standins:
        digest = r.digest()
        for public in r.tags:
            repo, _, tag = public.partition(":")
            if not images._mirror_has(repo, tag or "latest", digest):
                missing.append(public)
    assert not missing, f"not in the mirror from the current recipe: {missing}"


SCRIPT = r"""
set -e
docker pull -q python:3.12-alpine >/dev/null
docker pull -q redis:7-alpine >/dev/null
docker pull -q busybox:1.36 >/dev/null
docker pull -q alpine:3.19 >/dev/null
docker run --rm --network none python:3.12-alpine python -c \
  'import json, sqlite3, sys; print("PY", sys.version_info[0], json.dumps({"ok": True}))'
# A learner's script in a bind mount, run by the stand-in as on Docker Hub's image.
mkdir -p /tmp/app && printf 'print(sum(range(5)))\n' > /tmp/app/main.py
docker run --rm --network none -v /tmp/app:/app -w /app python:3.12-alpine python main.py \
  | sed 's/^/SUM /'
docker run -d --name cache --network none redis:7-alpine >/dev/null
for i in $(seq 50); do docker exec cache redis-cli ping 2>/dev/null | grep -q PONG && break; sleep 0.2; done
docker exec cache redis-cli set k v >/dev/null && docker exec cache redis-cli get k | sed 's/^/REDIS /'
docker rm -f cache >/dev/null
docker run --rm busybox:1.36 sh -c 'echo BUSYBOX $(date +%Y | wc -c)'
docker run --rm alpine:3.19 sh -c 'tail --help >/dev/null 2>&1; echo ALPINE ok'
docker image inspect -f '{{index .Config.Labels "org.bungeo.standin"}}' python:3.12-alpine \
  | sed 's/^/LABEL /'
"""


def test_python_redis_busybox_alpine_standins_work_offline(backend):
    sb = backend.create_fresh(owner="standins")
    try:
        res = inner_sh(backend, sb.id, SCRIPT, timeout=300)
    finally:
        backend.remove(sb.id, keep_workspace=False)
    out = res.output
    assert res.exit_code == 0, out[-3000:]
    for want in ('PY 3 {"ok": true}', "SUM 10", "REDIS v", "BUSYBOX 5", "ALPINE ok",
                 "LABEL true"):
        assert want in out, (want, out[-3000:])


def test_mirror_serves_tells_classroom_images_from_others(backend):
    assert images.mirror_serves("node:18-alpine")
    assert images.mirror_serves("docker.io/library/nginx")  # no tag: latest
    assert not images.mirror_serves("node:99-alpine")
    assert not images.mirror_serves("someone/app:1")  # only official images are mirrored


def test_rootfs_key_follows_the_rootfs_inputs_only(tmp_path, monkeypatch):
    """A Dockerfile change rebuilds on the cached rootfs; a package or hook change rebuilds it."""
    monkeypatch.setattr(images, "IMAGES_DIR", tmp_path)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "r" / "hook.sh").write_text("echo one\n")
    r = images.Recipe(name="x", recipe="r", rootfs="debian", packages=("bash",), customize="hook.sh")
    image, rootfs = r.digest(), r.rootfs_digest()
    (tmp_path / "r" / "Dockerfile").write_text("FROM scratch\nENV A=1\n")
    assert r.digest() != image and r.rootfs_digest() == rootfs
    (tmp_path / "r" / "hook.sh").write_text("echo two\n")
    assert r.rootfs_digest() != rootfs
    other = images.Recipe(name="x", recipe="r", rootfs="debian", packages=("bash", "curl"),
                          customize="hook.sh")
    assert other.rootfs_digest() != r.rootfs_digest()
    # What the hook reads counts (before, only the hook itself did: a changed npm fill script or
    # lock file kept the old npm cache); what the Dockerfile copies does not.
    (tmp_path / "r" / "Dockerfile").write_text("FROM scratch\nCOPY --chown=0 ./entry.sh conf/ /x/\n")
    (tmp_path / "r" / "entry.sh").write_text("one\n")
    (tmp_path / "r" / "conf").mkdir()
    (tmp_path / "r" / "conf" / "a.conf").write_text("one\n")
    (tmp_path / "r" / "fill.js").write_text("one\n")
    assert r.dockerfile_inputs() == {"Dockerfile", "entry.sh", "conf"}
    rootfs = r.rootfs_digest()
    (tmp_path / "r" / "entry.sh").write_text("two\n")
    (tmp_path / "r" / "conf" / "a.conf").write_text("two\n")
    assert r.rootfs_digest() == rootfs
    (tmp_path / "r" / "fill.js").write_text("two\n")
    assert r.rootfs_digest() != rootfs
