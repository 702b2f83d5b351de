"""The terminal relay (socat in the sandbox, images/sandbox/term.sh): the terminal's bytes pass
through one small process in the sandbox instead of the host's dockerd and containerd-shim.
Real engine, userns mode (the rootless mode's test is in test_rootless.py)."""
from __future__ import annotations

import itertools
import re
import select
import time

import pytest

from tests.conftest import inner_sh

pytestmark = pytest.mark.docker


def read_until(term, pattern: bytes, timeout: float = 20.0) -> bytes:
    """Read ``term`` until ``pattern`` (a regex) appears; returns what was read. Fails on timeout."""
    buf, t0 = b"", time.monotonic()
    while not re.search(pattern, buf):
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"{pattern!r} never came; got {buf[-400:]!r}")
        if select.select([term.sock], [], [], 0.2)[0]:
            chunk = term.sock.recv(65536)
            if not chunk:
                pytest.fail(f"the terminal ended before {pattern!r}; got {buf[-400:]!r}")
            buf += chunk
    return buf


def clients(backend, sandbox_id) -> int:
    out = inner_sh(backend, sandbox_id, "tmux list-clients 2>/dev/null | wc -l").output
    return int(out.split()[-1])


def assert_terminal_works(backend, sandbox, *, via: str) -> None:
    """A new terminal of ``sandbox`` goes ``via`` the relay or docker exec and runs a command."""
    term = backend.open_terminal(sandbox.id)
    try:
        assert term.via == via
        term.sock.sendall(b"echo works-$((2+2))\r")
        read_until(term, rb"works-4")
    finally:
        term.close()


@pytest.fixture
def sandbox(backend):
    sb = backend.ensure(owner="relay")
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def test_the_terminal_goes_through_the_relay_with_its_size_and_keeps_the_shell(backend, sandbox):
    term = backend.open_terminal(sandbox.id, cols=100, rows=30)
    try:
        assert term.via == "relay"
        term.sock.sendall(b"X=relay$((40+2)); tmux display -p 'size=#{client_width}x#{client_height}'\r")
        read_until(term, rb"size=100x30")
        term.resize(120, 40)
        deadline = time.monotonic() + 10
        while True:  # the resize is applied in the background
            term.sock.sendall(b"tmux display -p 'now=#{client_width}x#{client_height}'\r")
            if b"now=120x40" in read_until(term, rb"now=\d+x\d+\r\n", timeout=10):
                break
            assert time.monotonic() < deadline, "the resize was never applied"
            time.sleep(0.3)
        assert clients(backend, sandbox.id) == 1
    finally:
        term.close()
    # Closing hangs the tmux client up; the session and the learner's shell stay.
    deadline = time.monotonic() + 5
    while clients(backend, sandbox.id) != 0:
        assert time.monotonic() < deadline, "the closed terminal's tmux client is still attached"
        time.sleep(0.2)
    again = backend.open_terminal(sandbox.id)
    try:
        assert again.via == "relay"
        again.sock.sendall(b"echo \"kept=$X\"\r")
        read_until(again, rb"kept=relay42")
    finally:
        again.close()


def test_with_the_relay_off_the_terminal_uses_docker_exec(backend, sandbox, settings):
    settings.BUNGEO_TERMINAL_RELAY = False
    assert_terminal_works(backend, sandbox, via="exec")


def test_a_relay_that_does_not_answer_falls_back_to_docker_exec(backend, sandbox):
    """The learner stopped the relay (or the image has none): the terminal still works."""
    res = inner_sh(backend, sandbox.id, "rm -f /run/bungeo-host/term.sock; "
                                        ": > /run/bungeo-host/term.sock; echo done")
    assert "done" in res.output
    backend.shared_socket(sandbox.id, "term.sock").unlink(missing_ok=True)
    t0 = time.monotonic()
    assert_terminal_works(backend, sandbox, via="exec")
    assert time.monotonic() - t0 < 15


def test_two_terminals_share_the_shell_at_the_size_of_the_one_typed_in_last(backend, sandbox):
    """Two tabs of the same lab: the shell's window follows the tab the learner types in
    (tmux window-size latest), not the smallest tab (the larger one was filled with dots)."""
    small = backend.open_terminal(sandbox.id, cols=80, rows=24)
    large = backend.open_terminal(sandbox.id, cols=140, rows=40)
    tags = itertools.count()
    try:
        for term, size in ((large, b"140x40"), (small, b"80x24"), (large, b"140x40")):
            # tmux resizes the window in its next loop after the keys arrive, so the first
            # command can still run at the old size (seen once in CI): a learner's next
            # command sees the new one. Up to three commands, each must print a size.
            # Each command prints its own tag (the other tab sees this output too, and a
            # redraw repeats old lines).
            seen = []
            for _ in range(3):
                tag = b"win%d=" % next(tags)
                term.sock.sendall(b"tmux display -p '" + tag + b"#{window_width}x#{window_height}'\r")
                seen.append(re.search(tag + rb"(\d+x\d+)", read_until(term, tag + rb"\d+x\d+"))[1])
                if seen[-1] == size:
                    break
            assert seen[-1] == size, seen
    finally:
        small.close()
        large.close()


def test_history_shows_dates_and_its_file_keeps_each_commands_time(backend, sandbox):
    """'history' shows when each command ran as a date (it showed raw epoch seconds); the file
    keeps bash's "#<epoch>" lines, which the step checks read (labs.observe)."""
    term = backend.open_terminal(sandbox.id)
    try:
        term.sock.sendall(b"echo hist-$((40+2))\r")
        read_until(term, rb"hist-42")
        term.sock.sendall(b"history 2 | head -1\r")
        read_until(term, rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  echo hist-")
    finally:
        term.close()
    tail = inner_sh(backend, sandbox.id, "tail -n 6 /root/.bash_history").output
    assert re.search(r"#\d{10}\necho hist-\$\(\(40\+2\)\)", tail), tail


@pytest.mark.parametrize("prompt_command,shown", [("", True), ("PROMPT_COMMAND=", False)])
def test_output_after_an_unterminated_control_string_still_shows(backend, sandbox, prompt_command,
                                                                  shown):
    """Binary output (`cat` of /dev/urandom) often starts a device control string (ESC P) and
    never ends it: tmux then swallowed all later output, so commands ran unseen. The prompt
    ends any open string (ST), so the next command's output shows. Without that (the learner's
    own PROMPT_COMMAND, here an empty one) it stays hidden: what the fix is for."""
    term = backend.open_terminal(sandbox.id)
    try:
        first = f"{prompt_command}; " if prompt_command else ""
        term.sock.sendall(f"{first}printf 'x\\033Pq#0;2;0;0;0'\r".encode())
        time.sleep(1)
        term.sock.sendall(b"echo shown-$((40+2))\r")
        time.sleep(1.5)
        pane = inner_sh(backend, sandbox.id, "tmux capture-pane -p -t main").output
        assert ("shown-42" in pane) is shown, pane
    finally:
        term.close()


def test_the_larger_of_two_tabs_shows_blank_around_the_window_not_dots(backend, sandbox):
    """After the smaller tab typed, the larger one shows the window at that size: tmux filled
    the rest with rows of '·' (about 10 000 of them at 140x40); the sandbox's tmux fills it with
    blanks (fill-character)."""
    large = backend.open_terminal(sandbox.id, cols=140, rows=40)
    small = None
    try:
        large.sock.sendall(b"echo large-$((6*7))\r")
        read_until(large, rb"large-42")
        small = backend.open_terminal(sandbox.id, cols=80, rows=24)
        small.sock.sendall(b"echo small-$((6*7))\r")
        read_until(small, rb"small-42")
        # The larger tab is redrawn at 80x24: the echo's output reaches it too.
        seen = read_until(large, rb"small-42")
        time.sleep(0.5)
        large.sock.setblocking(False)
        try:
            while chunk := large.sock.recv(65536):
                seen += chunk
        except BlockingIOError:
            pass
        assert "\u00b7".encode() not in seen, seen[-300:]
    finally:
        large.close()
        if small is not None:
            small.close()
