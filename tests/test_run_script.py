"""scripts/run.sh, as `make run` starts it: the server and the Celery worker end with it (a
Ctrl-C, a `kill`, even a `kill -9`), and a second start on a port in use says so and starts
nothing. Runs a copy of the app in a temporary folder (its own SQLite database, static files,
logs and Redis database) on a free port."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.celery

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app_copy(tmp_path):
    """(folder, env, port): a copy of the app that scripts/run.sh can start without touching the
    repository's var/ (logs, beat schedule) or database."""
    for name in ("webapp", "labs", "exercises", "templates", "static", "locale", "scripts"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(ROOT / "manage.py", tmp_path)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/11"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "STATIC_ROOT": str(tmp_path / "var" / "static"), "REDIS_URL": redis,
           "BUNGEO_SANDBOX_PREFIX": "bungeotestrunsh", "BUNGEO_SANDBOX_POOL_SIZE": "0",
           "BUNGEO_GRADING_POOL_SIZE": "0", "BUNGEO_PRESTART_ON_LOGIN": "false",
           "BUNGEO_WORKERS": "1"}
    return tmp_path, env, port


def _start(folder: Path, env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(["bash", "scripts/run.sh", "127.0.0.1", str(port)], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _serving(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail("run.sh did not serve in time")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _all_gone(pids: list[int], timeout: float = 20) -> list[str]:
    """The command lines of ``pids`` still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()]
        if not alive:
            return []
        time.sleep(0.2)
    return [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
            for p in pids if Path(f"/proc/{p}").exists()]


def test_the_server_and_worker_end_with_run_sh_however_it_ends(app_copy):
    folder, env, port = app_copy
    procs = []
    try:
        first = _start(folder, env, port)
        procs.append(first)
        _serving(port, first)
        kids = _children(first.pid)
        cmds = [Path(f"/proc/{p}/cmdline").read_bytes() for p in kids]
        assert any(b"uvicorn" in c for c in cmds) and any(b"celery" in c for c in cmds), cmds
        # A second start on the same port: a clear word, and no second worker.
        second = subprocess.run(["bash", "scripts/run.sh", "127.0.0.1", str(port)], cwd=folder,
                                env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3 and f"Port {port} is already in use" in second.stderr
        assert "Celery worker started" not in second.stdout
        # kill -9 of the script alone (QA: the server and the worker went on as orphans).
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert _all_gone(kids) == []
        # Started again, then `kill` (TERM) to the script alone: it stops both before it ends.
        with open(folder / "var" / "log" / "celery.log", "a") as log:
            log.write("what the killed run's worker said\n")
        first_log = (folder / "var" / "log" / "celery.log").read_text()
        again = _start(folder, env, port)
        procs.append(again)
        _serving(port, again)
        # The worker's log of the run that was killed is kept (QA retest: it was emptied).
        assert (folder / "var" / "log" / "celery.log.1").read_text() == first_log
        kids = _children(again.pid)
        os.kill(again.pid, signal.SIGTERM)
        again.wait(30)
        assert [p for p in kids if Path(f"/proc/{p}").exists()] == []
    finally:
        # The whole group, even of a script that ended: when this test fails, its server or
        # worker may be what outlived it (start_new_session: the group is the script's pid).
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
