"""Reading a learner's workspace on a real sandbox (labs.observe.lab_state): files are read as the
learner left them but never followed out of the home folder, odd files cannot stall the reading,
a changed file is read again, and the shell history is the one the terminal's bash writes."""
from __future__ import annotations

import re

import pytest

from labs import checks, observe
from tests.conftest import inner_sh

pytestmark = pytest.mark.docker

NAMES = ["saved.tar", "saved.tar.gz", "cut.tar.gz", "fs.tar", "junk.tar", "link.tar", "fifo.tar",
         "dir.tar", "absent.tar"]
SETUP = """
set -e
cd /root
rm -rf -- *.tar *.tar.gz .bash_history
docker pull -q busybox >/dev/null
docker save busybox -o saved.tar
docker save busybox | gzip > saved.tar.gz
head -c 3000 saved.tar.gz > cut.tar.gz
docker rm -f fsrc >/dev/null 2>&1 || true
docker create --name fsrc busybox >/dev/null
docker export fsrc -o fs.tar
head -c 100000 /dev/urandom > junk.tar
ln -s /etc/shadow link.tar
mkfifo fifo.tar
mkdir dir.tar
cp saved.tar other.tar
"""


@pytest.fixture(scope="module")
def sandbox(backend):
    sb = backend.ensure(owner="observe-ws")
    res = inner_sh(backend, sb.id, SETUP, timeout=90)
    assert res.exit_code == 0, res.output
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def specs(*extra):
    return [checks.parse_spec({"type": "image_archive", "path": n, "images": ["busybox"]})
            for n in NAMES] + list(extra)


def test_files_are_read_as_what_they_are(backend, sandbox):
    state = observe.lab_state(backend, sandbox.id, specs())
    files = {f.path: f for f in state.files}
    assert files["saved.tar"].manifest and files["saved.tar"].repo_tags == ("busybox:latest",)
    assert not files["saved.tar"].gzip
    gz = files["saved.tar.gz"]
    assert gz.gzip and gz.gzip_ok and gz.tar and gz.repo_tags == ("busybox:latest",)
    assert files["cut.tar.gz"].gzip and not files["cut.tar.gz"].gzip_ok
    assert files["fs.tar"].exported and not files["fs.tar"].manifest
    assert files["junk.tar"].kind == "file" and not files["junk.tar"].tar
    # A link is reported, never followed (it points out of the workspace); a fifo is never opened.
    assert files["link.tar"].kind == "link" and files["link.tar"].repo_tags == ()
    assert files["fifo.tar"].kind == "other" and files["dir.tar"].kind == "dir"
    assert files["absent.tar"].kind == "missing"
    # Names no check of the lab asks for are listed (newest first) for "did you mean" hints,
    # and the newest is read too: is it an attempt at a file a check asks for?
    assert state.workspace == ("other.tar",)
    assert state.other_file is not None and state.other_file.path == "other.tar"
    assert state.other_file.repo_tags == ("busybox:latest",)


def test_a_changed_file_is_read_again(backend, sandbox):
    spec = [checks.parse_spec({"type": "image_archive", "path": "swap.tar", "images": ["busybox"]})]
    inner_sh(backend, sandbox.id, "cd /root && cp saved.tar swap.tar")
    first = observe.lab_state(backend, sandbox.id, spec)
    assert first.files[0].repo_tags == ("busybox:latest",)
    inner_sh(backend, sandbox.id, "cd /root && docker tag busybox bakery:flat && "
                                  "docker save bakery:flat -o swap.tar")
    again = observe.lab_state(backend, sandbox.id, spec)
    assert again.files[0].repo_tags == ("bakery:flat",)


def test_history_is_what_the_interactive_shell_wrote(backend, sandbox):
    inner_sh(backend, sandbox.id, "rm -f /root/.bash_history; "
                                  "printf 'docker version\\ndocker top fsrc || true\\n' | bash -i")
    ran = checks.parse_spec({"type": "ran_command", "command": "docker version"})
    state = observe.lab_state(backend, sandbox.id, [ran])
    assert [e.text for e in state.shell_history][-2:] == ["docker version", "docker top fsrc || true"]
    assert all(e.time > 1_600_000_000 for e in state.shell_history)
    assert ran.run(state).passed
    # No file check in the lab: no file is read, and no history without a history check.
    plain = observe.lab_state(backend, sandbox.id,
                              [checks.parse_spec({"type": "image_present", "image": "busybox"})])
    assert plain.files == () and plain.shell_history == () and plain.image_events == ()


def test_history_entries_get_the_exit_status_the_shell_noted(backend, sandbox):
    """The sandbox's bashrc notes each new history entry's exit status in ~/.bash_status (fsrc
    is only created: 'docker top fsrc' fails). An empty line and a command root's ~/.bashrc
    keeps out of the history (HISTCONTROL: a leading space) note nothing, and the learner's own
    history ('history', the arrow keys) holds only the commands."""
    inner_sh(backend, sandbox.id, "rm -f /root/.bash_history /root/.bash_status; printf "
             "'docker top fsrc\\n\\ndocker top fsrc || true\\nfalse | true\\n docker top fsrc\\n' "
             "| bash -i")
    ran = checks.parse_spec({"type": "ran_command", "command": "docker top", "container": "fsrc"})
    state = observe.lab_state(backend, sandbox.id, [ran])
    assert [(e.text, e.status, e.pipe_status) for e in state.shell_history] == [
        ("docker top fsrc", 1, (1,)), ("docker top fsrc || true", 0, (0,)),
        ("false | true", 0, (1, 0))]
    shown = inner_sh(backend, sandbox.id, "printf 'history\\n' | bash -i 2>/dev/null").output
    assert re.findall(r"\b\d+  \S+ \S+  (.*)$", shown, re.M) == [
        "docker top fsrc", "docker top fsrc || true", "false | true", "history"], shown
    # A status file that is a link is not read: the statuses are unknown.
    inner_sh(backend, sandbox.id, "ln -sf /etc/passwd /root/.bash_status")
    try:
        state = observe.lab_state(backend, sandbox.id, [ran])
        assert len(state.shell_history) == 4
        assert all(e.status is None for e in state.shell_history)
    finally:
        inner_sh(backend, sandbox.id, "rm -f /root/.bash_status")


def test_a_command_run_again_as_it_was_gets_its_new_status(backend, sandbox):
    """A failed command typed again, unchanged, once what it needed is there (root's ~/.bashrc
    has HISTCONTROL=ignoreboth, which kept the repeat out of the history: no new status, and the
    step stayed failed however often it was run). A space-prefixed command is still left out."""
    inner_sh(backend, sandbox.id, "rm -f /root/.bash_history /root/.bash_status /tmp/flag; "
             "printf 'test -e /tmp/flag\\n touch /tmp/flag\\ntest -e /tmp/flag\\n' | bash -i")
    ran = checks.parse_spec({"type": "ran_command", "command": "test"})
    state = observe.lab_state(backend, sandbox.id, [ran])
    assert [(e.text, e.status) for e in state.shell_history] == [
        ("test -e /tmp/flag", 1), ("test -e /tmp/flag", 0)]
    assert checks.ran_command(state, command="test").passed


def test_a_history_file_that_is_a_link_is_not_read(backend, sandbox):
    inner_sh(backend, sandbox.id, "rm -f /root/.bash_history && ln -s /etc/passwd /root/.bash_history")
    try:
        state = observe.lab_state(backend, sandbox.id,
                                  [checks.parse_spec({"type": "ran_command", "command": "docker info"})])
        assert state.shell_history == ()
    finally:
        inner_sh(backend, sandbox.id, "rm -f /root/.bash_history")


def test_image_events_show_pulls_and_loads(backend, sandbox):
    inner_sh(backend, sandbox.id, "docker rmi -f bakery:flat >/dev/null 2>&1; "
                                  "docker load -i /root/swap.tar >/dev/null", timeout=60)
    spec = checks.parse_spec({"type": "image_loaded", "image": "bakery:flat", "archive": "swap.tar"})
    state = observe.lab_state(backend, sandbox.id, [spec])
    assert any(e.action == "pull" for e in state.image_events)
    assert state.image_events[-1].action == "load"
    assert spec.run(state).passed
