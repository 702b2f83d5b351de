"""Unit tests of the sandbox layer that need no engine."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest

from webapp.sandboxes.backend import learner_owner
from webapp.sandboxes.docker_backend import _demux


def test_owner_differs_when_a_reset_database_reuses_an_id():
    old = SimpleNamespace(pk=1, date_joined=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    new = SimpleNamespace(pk=1, date_joined=datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    assert learner_owner(old) != learner_owner(new)
    assert learner_owner(old) == learner_owner(old)


def test_demux_strips_stream_headers():
    frame = lambda stream, data: bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data  # noqa: E731
    assert _demux(frame(1, b"out ") + frame(2, b"err")) == b"out err"


@pytest.mark.django_db
def test_login_enqueues_an_expiring_warm_up(settings, django_user_model, client,
                                            django_capture_on_commit_callbacks):
    settings.BUNGEO_PRESTART_ON_LOGIN = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    user = django_user_model.objects.create_user("warm", password="pw-warm-1")
    with mock.patch("webapp.sandboxes.tasks.sandbox_prestart.apply_async") as send, \
            django_capture_on_commit_callbacks(execute=True):
        assert client.login(username="warm", password="pw-warm-1")
    send.assert_called_once_with((user.pk,), expires=60)


@pytest.mark.django_db
def test_staff_logging_in_start_no_sandbox(settings, django_user_model, client,
                                           django_capture_on_commit_callbacks):
    """An instructor logging in (to review, or to /admin/) does not take a place in the
    classroom; their sandbox starts when they open a lab."""
    settings.BUNGEO_PRESTART_ON_LOGIN = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    django_user_model.objects.create_user("teach", password="pw-teach-1", is_staff=True)
    with mock.patch("webapp.sandboxes.tasks.sandbox_prestart.apply_async") as send, \
            django_capture_on_commit_callbacks(execute=True):
        assert client.login(username="teach", password="pw-teach-1")
    send.assert_not_called()


def test_ready_file_is_created_without_following_a_learners_symlink(tmp_path):
    """The shared folder is writable from inside the sandbox: a symlink named ``ready`` must not
    make root on the host create (or touch) the file it points to."""
    from webapp.sandboxes.docker_backend import _create_nofollow

    target = tmp_path / "host" / "nologin"
    target.parent.mkdir()
    ready = tmp_path / "ready"
    ready.symlink_to(target)
    _create_nofollow(ready)
    assert not target.exists()
    assert ready.is_file() and not ready.is_symlink()


def test_start_failures_are_said_in_the_learners_language():
    """The terminal shows these (SandboxError's text, made lazy in the worker thread that runs
    the backend): they were English f-strings, also for Korean learners."""
    from django.utils.text import format_lazy
    from django.utils.translation import override

    from webapp.sandboxes import docker_backend

    exc = docker_backend.SandboxError(format_lazy(docker_backend.MSG_STOPPED_STARTING, state="exited"))
    with override("ko"):
        assert "샌드박스가 시작하는 도중에 멈췄습니다(exited)" in str(exc.args[0])
    with override("en"):
        assert str(exc.args[0]).startswith("Your sandbox stopped while it was starting (exited).")
    for msg in (docker_backend.MSG_CANNOT_CREATE, docker_backend.MSG_CANNOT_START):
        with override("ko"):
            assert str(format_lazy(msg, why="x")).startswith("샌드박스를")


def test_disk_figures_round_up_like_df():
    """The terminal bar's GiB match `df -h` in the sandbox: it said 9.7 where df said 9.8G."""
    from webapp.sandboxes.consumers import df_gib

    assert df_gib(10_464_022_528) == 9.8
    assert df_gib(10 * 2**30) == 10.0
    assert df_gib(0) == 0.0
    assert df_gib(2**30 + 1) == 1.1


def test_the_process_limit_warning_does_not_flicker_while_a_fork_bomb_respawns():
    """Warned from 95 % of the limit; once warned, said over only below 80 % (one look at 93 %
    in a running fork bomb turned the bar back to "Connected" for 3 s)."""
    from webapp.sandboxes.consumers import TerminalConsumer

    c = TerminalConsumer()
    c.pids_full = False
    assert not c.at_pids_limit((930, 1000)) and c.at_pids_limit((950, 1000))
    c.pids_full = True
    assert c.at_pids_limit((930, 1000)) and c.at_pids_limit((800, 1000))
    assert not c.at_pids_limit((790, 1000)) and not c.at_pids_limit(None)


@pytest.mark.parametrize("code,output,timed_out,no_session", [
    (1, "error connecting to /tmp/tmux-0/default (No such file or directory)\n", False, True),
    (1, "no server running on /tmp/tmux-0/default\n", False, True),
    (1, "can't find session: main\n", False, True),
    (0, "", False, True),  # a server with other sessions only prints nothing
    (125, "timeout: fork system call failed: Resource temporarily unavailable\n", False, False),
    (126, "OCI runtime exec failed: exec failed: unable to start container process: "
          "resource temporarily unavailable: unknown\n", False, False),
    (124, "", True, False),
    (1, "open terminal failed: not a terminal\n", False, False),
], ids=["no-socket", "no-server", "no-session", "empty", "fork-failed", "exec-failed",
        "timed-out", "other-error"])
def test_only_tmuxs_own_words_mean_no_session(code, output, timed_out, no_session):
    """QA: at its process limit a sandbox could not start tmux for the idle look, and that
    failure was read as "no tmux session", so the reaper counted idleness from the sandbox's
    start and stopped a sandbox whose terminals were open."""
    from webapp.sandboxes.backend import ExecResult
    from webapp.sandboxes.docker_backend import _tmux_has_no_session

    assert _tmux_has_no_session(ExecResult(code, output, timed_out=timed_out)) is no_session


def test_a_cheap_disk_look_at_a_folder_no_longer_mounted_is_empty(tmp_path):
    """After a sandbox stops, its disks' mount points are plain folders: their statvfs figures
    would be the host disk's (a nearly full host would read as the learner's full disk)."""
    from webapp.sandboxes.docker_backend import _statvfs_use

    assert _statvfs_use("workspace", tmp_path) == ("workspace", 0, 0)
    assert _statvfs_use("engine", tmp_path / "gone") == ("engine", 0, 0)
    what, used, size = _statvfs_use("root", Path("/"))  # a mount point: its own figures
    assert what == "root" and 0 < used <= size
