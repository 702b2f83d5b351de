"""``manage.py sandbox-engine purge``: an operator removes the sandboxes of this installation
(for example those ``make run`` left), keeping learners' workspaces unless told otherwise, and
touching no other installation's sandboxes. Real engine."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import inner_sh
from webapp.sandboxes.docker_backend import DockerSandboxBackend

pytestmark = pytest.mark.docker


def _purge(*flags: str) -> str:
    out = io.StringIO()
    call_command("sandbox-engine", "purge", *flags, stdout=out)
    return out.getvalue()


@pytest.fixture
def other_install(backend):
    """A sandbox of another installation (another prefix) on the same engine."""
    other = DockerSandboxBackend(prefix=f"{backend.prefix}x")
    sb = other.ensure(owner="neighbour", wait_engine=False)
    yield other, sb
    other.purge()


def test_purge_lists_first_then_removes_and_keeps_workspaces(backend, other_install):
    sb = backend.ensure(owner="purged")
    res = inner_sh(backend, sb.id, "echo kept-note > /root/work/note && cat /root/work/note")
    assert "kept-note" in res.output, res.output

    out = _purge()  # no --yes: a list, nothing removed
    assert sb.id in out and "--yes" in out and "would be removed" in out
    assert backend.find(owner="purged") is not None

    # Files a sandbox removed long ago left in the run folder (QA: they stayed after a purge),
    # and another installation's, which must stay.
    from django.conf import settings

    run = Path(settings.BUNGEO_RUN_DIR)
    ours = [run / "detached" / f"{backend.prefix}-learner-ghost",
            run / "sandboxes" / f"{backend.prefix}-gpool-fill.lock"]
    theirs = run / "detached" / f"{backend.prefix}x-learner-ghost"
    for f in [*ours, theirs]:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("1")

    n = len(backend.list())  # earlier tests' sandboxes of this prefix may still be there
    out = _purge("--yes")
    noun = "sandbox" if n == 1 else "sandboxes"
    assert f"removed {n} {noun} of prefix '{backend.prefix}'" in out and "workspaces kept" in out
    assert backend.list() == []
    assert [f for f in ours if f.exists()] == [] and theirs.exists()
    theirs.unlink()
    other, neighbour = other_install
    assert [s.id for s in other.list()] == [neighbour.id]  # another prefix: untouched

    again = backend.ensure(owner="purged")
    try:
        assert "kept-note" in inner_sh(backend, again.id, "cat /root/work/note").output
    finally:
        backend.remove(again.id, keep_workspace=False)


def test_purge_with_workspaces_removes_the_learners_files(backend):
    sb = backend.ensure(owner="wiped")
    inner_sh(backend, sb.id, "echo gone-note > /root/work/note")
    out = _purge("--yes", "--workspaces")
    assert "learners' workspaces" in out and backend.list() == []
    again = backend.ensure(owner="wiped")
    try:
        res = inner_sh(backend, again.id, "cat /root/work/note 2>&1 || echo no-note")
        assert "no-note" in res.output and "gone-note" not in res.output, res.output
    finally:
        backend.remove(again.id, keep_workspace=False)


def test_removing_a_sandbox_removes_its_files_in_the_run_folder(backend):
    """A terminal's close leaves a file per sandbox in the run folder (when it was last
    detached, for idle reaping); removing the sandbox removed its lease but not this one, so
    they piled up (QA found one per sandbox ever started)."""
    from django.conf import settings

    sb = backend.ensure(owner="runfiles")
    backend.open_terminal(sb.id).close()
    detached = Path(settings.BUNGEO_RUN_DIR) / "detached" / sb.id
    assert detached.exists()
    backend.remove(sb.id, keep_workspace=False)
    assert not detached.exists()
