"""Shared fixtures. Real-engine tests use their own sandbox prefix (label org.bungeo.prefix=
bungeotest) and remove everything with that prefix before and after the session, never touching
other sandboxes."""
from __future__ import annotations

import os
import shlex
import time

import pytest
from django.conf import settings

# Never let tests reach real learners' sandboxes, whatever the environment says. Two test runs
# on one machine at once need different prefixes (BUNGEO_TEST_PREFIX), or they remove each
# other's sandboxes.
TEST_PREFIX = os.environ.get("BUNGEO_TEST_PREFIX", "bungeotest")
assert TEST_PREFIX.startswith("bungeotest"), "test sandboxes must carry a bungeotest* prefix"
settings.BUNGEO_SANDBOX_PREFIX = TEST_PREFIX
# Tests start sandboxes themselves; a warm-up on every login would race with them.
settings.BUNGEO_PRESTART_ON_LOGIN = False
# No warm pool unless a test asks for one (pool sandboxes would be claimed by other tests).
settings.BUNGEO_SANDBOX_POOL_SIZE = 0
settings.BUNGEO_GRADING_POOL_SIZE = 0


@pytest.fixture(scope="session")
def backend():
    """The Docker sandbox backend with the test prefix; leftovers of earlier runs are removed
    first, and everything this session created is removed at the end."""
    from webapp.sandboxes import engine
    from webapp.sandboxes.backend import get_backend

    if not engine.engine_answers():
        pytest.fail("bungeo's sandbox engine does not answer: run 'make test' (it starts it)")
    get_backend.cache_clear()
    b = get_backend()
    assert b.prefix == TEST_PREFIX
    b.purge()
    yield b
    b.purge()


@pytest.fixture
def student(django_user_model):
    return django_user_model.objects.create_user("student1", password="pw-student-1")


@pytest.fixture
def other_student(django_user_model):
    return django_user_model.objects.create_user("student2", password="pw-student-2")


def inner_sh(backend, sandbox_id: str, script: str, timeout: float = 60):
    """Run a shell script in a sandbox as the learner would, returning the ExecResult."""
    return backend.exec(sandbox_id, ["bash", "-c", script], timeout=timeout)


def serve_in_sandbox(backend, sandbox_id: str, name: str, port: int, script: str) -> None:
    """Run ``script`` (sh) in a busybox container ``name`` of the sandbox's inner engine,
    publishing ``port`` on the same port, and wait until something answers there (10 s)."""
    quoted = "'" + script.replace("'", "'\"'\"'") + "'"
    res = inner_sh(backend, sandbox_id, f"docker rm -f {name} >/dev/null 2>&1; "
                   f"docker run -d --name {name} -p {port}:{port} busybox sh -c {quoted} >/dev/null && "
                   f"for i in $(seq 50); do curl -fs localhost:{port} >/dev/null && echo up && break; "
                   "sleep 0.2; done", timeout=120)
    assert "up" in res.output, res.output


def assert_inner_engine_go_settings(backend, sandbox_id: str) -> None:
    """The inner engine's Go runtime settings: dockerd and containerd run with GOMAXPROCS of the
    sandbox's CPU limit (isolation.engine_gomaxprocs; 1 by default); containerd, started by
    dockerd through images/sandbox/containerd.sh, with GOGC=20 as dockerd's direct child (the
    wrapper exec'd it), dockerd with Go's default GOGC."""
    script = r"""
      d=$(pgrep -x dockerd | head -1); c=$(pgrep -x containerd | head -1)
      go() { tr '\0' '\n' </proc/$1/environ | sed -n "s/^$2=//p"; }
      echo "dockerd=$d containerd_parent=$(ps -o ppid= -p "$c" | tr -d ' ')"
      echo "containerd_gogc=[$(go "$c" GOGC)] dockerd_gogc=[$(go "$d" GOGC)]"
      echo "containerd_procs=[$(go "$c" GOMAXPROCS)] dockerd_procs=[$(go "$d" GOMAXPROCS)]"
    """
    out = inner_sh(backend, sandbox_id, script).output
    lines = dict(kv.split("=", 1) for kv in out.split())
    assert lines["containerd_gogc"] == "[20]" and lines["dockerd_gogc"] == "[]", out
    assert lines["dockerd"] and lines["containerd_parent"] == lines["dockerd"], out
    assert lines["dockerd_procs"] == lines["containerd_procs"] == "[1]", out


def assert_reset_stops_containers_like_a_shutdown(backend, sandbox_id: str) -> None:
    """A reset (``backend.restart``) shuts the inner engine down instead of killing it: a
    container that stops on TERM shows its own exit code (nginx: 0), one that ignores TERM is
    killed after the entry script's grace (137, as after ``docker stop``), none shows 255 (an
    engine that died), and a container with ``--restart unless-stopped`` runs again after the
    reset (a shutdown is not a manual stop). images/sandbox/entry.sh."""
    setup = """
      set -e
      docker rm -f polite stubborn comeback >/dev/null 2>&1 || true
      docker pull -q nginx >/dev/null; docker pull -q busybox >/dev/null
      docker run -d --name polite nginx >/dev/null
      docker run -d --name stubborn busybox sleep 1000 >/dev/null
      docker run -d --name comeback --restart unless-stopped busybox sleep 1000 >/dev/null
      docker ps --format '{{.Names}}' | sort | tr '\\n' ' '
    """
    out = inner_sh(backend, sandbox_id, setup, timeout=180).output
    assert out.split() == ["comeback", "polite", "stubborn"], out
    backend.restart(sandbox_id)
    status = "docker ps -a --filter name=polite --filter name=stubborn --filter name=comeback " \
             "--format '{{.Names}}={{.State}}:{{.Status}}'"
    deadline = time.monotonic() + 30
    while True:  # the restart policy brings "comeback" back shortly after the engine answers
        out = inner_sh(backend, sandbox_id, status).output
        states = dict(line.split("=", 1) for line in out.split("\n") if "=" in line)
        if states.get("comeback", "").startswith("running") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert states["polite"].startswith("exited:Exited (0)"), out
    assert states["stubborn"].startswith("exited:Exited (137)"), out
    assert states["comeback"].startswith("running"), out
    inner_sh(backend, sandbox_id, "docker rm -f polite stubborn comeback >/dev/null")


def typed_in_a_login_shell(backend, sandbox_id: str, commands: list[str]) -> tuple[str, list[str]]:
    """Type ``commands`` into a login bash in tmux inside the sandbox (as the terminal starts the
    learner's shell: PROMPT_COMMAND and its hints run), 1.5 s apart, and wait (up to 30 s) for
    the last to end. Returns (the pane's text, the output of each command): each command after
    the first is typed after ``echo CUT-$((6*7))``, and the text is split at its output CUT-42."""
    typed = "\n".join(
        "k " + shlex.quote(("echo CUT-$((6*7)); " if i else "") + c) + " Enter"
        for i, c in enumerate(commands))
    script = f"""
      k() {{ tmux -L typed send-keys "$@"; sleep 1.5; }}
      tmux -L typed new-session -d -x 250 -y 80 bash -l; sleep 0.5
      {typed}
      k 'echo END-$((6*7))' Enter
      # On a busy host 1.5 s per command can be too short (seen in CI): wait for the end marker.
      for _ in $(seq 60); do
        tmux -L typed capture-pane -p -S -80 | grep -q '^END-42' && break; sleep 0.5
      done
      tmux -L typed capture-pane -p -S -80 | grep -v '^$'
      tmux -L typed kill-server
    """
    out = inner_sh(backend, sandbox_id, script, timeout=60 + 5 * len(commands)).output
    return out, out.split("END-42")[0].split("CUT-42")


def assert_pull_from_outside_the_mirror_is_explained(backend, sandbox_id: str) -> None:
    """In the learner's shell (a login bash in tmux, as the terminal starts it), a pull of an
    image the classroom mirror lacks ends with bungeo's two-line hint (Korean, English) under
    Docker's DNS error; a pull that works, and a later failing command, get none; and
    ``bungeo-images`` lists what the mirror holds. images/sandbox/bashrc, bungeo-images.sh."""
    out, (first, second, third) = typed_in_a_login_shell(backend, sandbox_id, [
        "docker pull nginx:no-such-tag", "docker pull -q busybox; sleep 1; ls /no/such/file",
        "bungeo-images | grep -xc -e nginx:latest -e node:18-alpine"])
    assert "registry-1.docker.io" in first, out
    assert "bungeo: 이 이미지(또는 태그)는 교실 미러에 없고" in first, out
    assert "not in the classroom mirror" in first and "bungeo-images" in first, out
    assert "busybox:latest" in second and "No such file" in second, out
    assert "classroom mirror" not in second, out  # neither after the pull that worked nor after ls
    # The count's line, not the first word: on a busy host the next typed command can be echoed
    # before the pipeline's output (seen in CI: "echo END-$((6*7))" above "2").
    counts = [line.strip() for line in third.split("\n") if line.strip().isdigit()]
    assert counts[:1] == ["2"], out


def assert_completion_loads_on_first_tab(backend, sandbox_id: str) -> None:
    """A new login shell (as the terminal's tmux starts it) has not loaded bash-completion: the
    library costs every idle shell about 1.5 MiB (images/sandbox/bash_completion). The first Tab
    loads it and completes at once, as the library loaded at start did."""
    script = r"""
      k() { tmux -L tabtest send-keys "$@"; sleep 1; }
      probe='echo "LOADED=$(declare -F _comp_complete_load >/dev/null && echo y || echo n)x"'
      tmux -L tabtest new-session -d -x 150 -y 20 bash -l; sleep 0.5
      k "$probe" Enter
      k 'docker system pr' Tab
      # On a busy host 1 s can be too short (seen in CI): wait for the completion, then the probe.
      for _ in $(seq 30); do
        tmux -L tabtest capture-pane -p | grep -q 'docker system prune' && break; sleep 0.5
      done
      tmux -L tabtest capture-pane -p | grep 'docker system'
      k C-u "$probe" Enter
      for _ in $(seq 30); do
        tmux -L tabtest capture-pane -p | grep -q 'LOADED=yx' && break; sleep 0.5
      done
      tmux -L tabtest capture-pane -p
      tmux -L tabtest kill-server
    """
    out = inner_sh(backend, sandbox_id, script, timeout=90).output
    assert "LOADED=nx" in out, out
    assert "docker system prune" in out, out
    assert out.index("LOADED=nx") < out.index("LOADED=yx"), out


def reset_inner_engine(backend, sandbox_id: str, *, images: bool = True) -> None:
    """Remove every container, volume and user-defined network of a sandbox's inner engine, and
    its images too unless ``images`` is False (pulling them again costs seconds)."""
    rmi = "docker rmi -f $(docker images -aq) >/dev/null 2>&1; " if images else ""
    res = inner_sh(backend, sandbox_id,
                   "docker rm -f $(docker ps -aq) >/dev/null 2>&1; " + rmi +
                   "docker volume prune -af >/dev/null 2>&1; docker network prune -f >/dev/null 2>&1; "
                   "docker ps -aq | wc -l")
    assert res.output.strip().endswith("0"), res.output


@pytest.fixture(scope="session")
def celery_worker_real(backend):
    """A real Celery worker (solo pool, in a thread) on the real Redis broker: one per test run.

    Defined here, once, for every test folder: a second definition (a module importing this
    fixture) started a second worker in the same process, and two workers share kombu's one
    event loop, so one closed the other's poller ("I/O operation on closed epoll object")."""
    from celery.contrib.testing.worker import start_worker

    from webapp.celery import app

    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: the grading tests need a real Redis ('make test')")
    app.conf.task_always_eager = False
    app.control.purge()  # tasks queued by an earlier, interrupted run
    # The worker stops once its current task ends: a grading queued by a test that did not wait
    # for it can take minutes on a busy host, so allow that (and drop what is still queued).
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=420) as worker:
        yield worker
        app.control.purge()


@pytest.fixture
def no_preview_places_held():
    """The test starts with no preview request to any sandbox counted as under way
    (webapp.sandboxes.views._streams). Django's test client leaves a streamed answer it did not
    read open until it is collected (the real server closes it), and user ids repeat from test
    to test, so an earlier test's unread answer could hold a place of this test's learner."""
    import gc

    from webapp.sandboxes import views

    gc.collect()  # an unread answer's relay gives its place back when collected
    views._streams.clear()
