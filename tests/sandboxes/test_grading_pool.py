"""The grading pool on the real engine: grading sandboxes started ahead with the stand-ins
pulled, each taken by one grading run only, atomically, and cleaned up like any other."""
from __future__ import annotations

import threading
import time

import pytest

from exercises import registry
from tests.conftest import inner_sh
from webapp.sandboxes.backend import KIND_GRADING

pytestmark = pytest.mark.docker


def _wait_ready(backend, names, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {n: backend._prepull_state(n) for n in names}
        if all(s == "ready" for s in states.values()):
            return
        assert "failed" not in states.values(), states
        time.sleep(0.5)
    raise AssertionError(f"grading pool not ready in {timeout} s: {states}")


@pytest.fixture
def pool(backend, settings):
    settings.BUNGEO_GRADING_POOL_SIZE = 2
    settings.BUNGEO_GRADING_PREPULL = ["busybox:latest"]
    yield settings
    for c in backend._grading_pool_members():
        backend.remove(c.name, keep_workspace=False)


def test_pool_members_get_the_images_and_each_is_claimed_once(backend, pool):
    started = backend.grading_pool_fill()
    assert len(started) == 2
    assert backend.grading_pool_fill() == []  # already full (pulling counts)
    _wait_ready(backend, started)

    got: list = []

    def claim(i):
        got.append(backend.create_fresh(owner=f"s{i}"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots = {backend._slot(sb.id) for sb in got}
    # Two claims took the two pool members; the third started a cold sandbox.
    assert len(got) == 3 and len(slots) == 3
    assert len(slots & set(started)) == 2
    for sb in got:
        assert sb.kind == KIND_GRADING and sb.running
        assert sb.owner.startswith("s")
        # The stand-in is already in the pool members' engines, not in the cold one.
        has = inner_sh(backend, sb.id, "docker image inspect -f ok busybox:latest 2>&1", timeout=30)
        assert ("ok" in has.output) == (backend._slot(sb.id) in started), has.output
    assert {sb.id for sb in backend.list(kind=KIND_GRADING)} >= {sb.id for sb in got}
    for sb in got:
        backend.remove(sb.id, keep_workspace=False)
        assert backend.get(sb.id) is None
    assert backend._grading_pool_members() == []
    # The pool fills again with new sandboxes: a used one never comes back.
    again = backend.grading_pool_fill()
    assert len(again) == 2 and not set(again) & set(started)


def test_reconcile_counts_a_claimed_member_from_its_claim(backend, pool):
    pool.BUNGEO_GRADING_POOL_SIZE = 1
    [name] = backend.grading_pool_fill()
    _wait_ready(backend, [name])
    now = time.time()
    # An unclaimed member is the pool's business, however old.
    assert backend.reconcile(grading_max_age=60, now=now + 3600) == []
    sb = backend.create_fresh(owner="late")
    assert backend._slot(sb.id) == name
    assert backend.reconcile(grading_max_age=600, now=now + 300) == []
    assert backend.reconcile(grading_max_age=600, now=time.time() + 601) == [sb.id]
    assert backend.get(sb.id) is None


def test_a_failed_prepull_is_replaced(backend, pool):
    pool.BUNGEO_GRADING_POOL_SIZE = 1
    pool.BUNGEO_GRADING_PREPULL = ["no-such-image-in-the-classroom:1"]
    [bad] = backend.grading_pool_fill()
    deadline = time.monotonic() + 60
    while backend._prepull_state(bad) == "pulling" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert backend._prepull_state(bad) == "failed"
    # Never handed to a grading run...
    sb = backend.create_fresh(owner="x")
    assert backend._slot(sb.id) != bad
    backend.remove(sb.id, keep_workspace=False)
    # ...and the next fill removes it and starts another.
    pool.BUNGEO_GRADING_PREPULL = ["busybox:latest"]
    [good] = backend.grading_pool_fill()
    assert good != bad and backend.get(bad) is None


def test_a3_grading_leaves_the_pool_to_runs_that_pull(backend, pool):
    """A3 runs busybox-sized images: it starts a cold sandbox and leaves the pre-pulled member
    (hundreds of MB of node, nginx, redis and postgres in a real pool) to A1 and A2."""
    pool.BUNGEO_GRADING_POOL_SIZE = 1
    [name] = backend.grading_pool_fill()
    _wait_ready(backend, [name])
    a3 = registry.get("a3")
    files = {"compose.yaml": (a3.folder / "reference" / "compose.yaml").read_bytes()}
    report = a3.grader.grade(files, backend, owner="pooltest")
    assert report.score == report.max_score, report.as_json()
    assert [c.name for c in backend._grading_pool_members()] == [name]
    assert backend._prepull_state(name) == "ready"
    assert [sb for sb in backend.list(kind=KIND_GRADING) if sb.owner == "pooltest"] == []


def test_a_ready_member_is_preferred_to_one_still_pulling(backend, pool):
    pool.BUNGEO_GRADING_POOL_SIZE = 1
    [ready] = backend.grading_pool_fill()
    _wait_ready(backend, [ready])
    pool.BUNGEO_GRADING_POOL_SIZE = 2
    pool.BUNGEO_GRADING_PREPULL = ["python:3.11", "busybox:latest"]  # python: ~190 MB, seconds
    [pulling] = backend.grading_pool_fill()
    assert backend._prepull_state(pulling) == "pulling"
    first = backend.create_fresh(owner="first", images=["busybox:latest"])
    assert backend._slot(first.id) == ready
    # With no ready member left, one still pulling beats a cold sandbox.
    second = backend.create_fresh(owner="second", images=["busybox:latest"])
    assert backend._slot(second.id) == pulling
    for sb in (first, second):
        backend.remove(sb.id, keep_workspace=False)


def test_a_claim_trims_the_prepull_to_the_images_the_run_needs(backend, pool):
    """An A1 run needs node only: the member finishes the image it is pulling and skips the
    rest, so a burst of A1 runs does not pull nginx, redis and postgres for nothing."""
    pool.BUNGEO_GRADING_POOL_SIZE = 1
    pool.BUNGEO_GRADING_PREPULL = ["python:3.11", "alpine:latest", "busybox:latest"]
    [name] = backend.grading_pool_fill()
    sb = backend.create_fresh(owner="trim", images=["python:3.12-slim"])  # same repository
    assert backend._slot(sb.id) == name
    done = backend.host_dir(sb.id) / "prepull.done"
    deadline = time.monotonic() + 180
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert done.exists(), "the trimmed pre-pull never finished"
    have = inner_sh(backend, sb.id, "docker image ls --format '{{.Repository}}' | sort -u", timeout=30)
    assert have.output.split() == ["python"], have.output
    backend.remove(sb.id, keep_workspace=False)


def test_repository_of():
    from webapp.sandboxes.docker_backend import repository_of
    assert repository_of("node:18-alpine") == "node"
    assert repository_of("library/node:18.20-alpine3.19") == "node"
    assert repository_of("docker.io/library/postgres@sha256:" + "a" * 64) == "postgres"
    assert repository_of("bitnami/redis:7") == "bitnami/redis"
    assert repository_of("busybox") == "busybox"
