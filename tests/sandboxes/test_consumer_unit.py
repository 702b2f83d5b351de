"""A sandbox removed while its terminal starts: the backend says so as a SandboxError, and any
other error of a start reaches the page as an error with Start again instead of leaving it on
"Starting…" (stand-in backends: no engine needed)."""
from __future__ import annotations

import asyncio
import logging

import docker.errors
import pytest
from django.utils import translation

from webapp.sandboxes import consumers
from webapp.sandboxes.backend import SandboxError
from webapp.sandboxes.docker_backend import DockerSandboxBackend

from .test_admission import _lab_terminal, _until_state


class _RemovedContainer:
    """A container that is removed from the engine as the wait looks at it again."""

    name = "bungeotest-learner-gone"
    status = "running"

    def reload(self):
        raise docker.errors.NotFound("No such container: bungeotest-learner-gone")


def test_a_sandbox_removed_during_the_engine_wait_is_a_sandbox_error(monkeypatch, settings):
    """bench/click_to_prompt.py removed a sandbox while its terminal waited for the inner engine:
    docker's NotFound went up through the terminal's start, which expects SandboxError only, and
    asyncio logged "Task exception was never retrieved"."""
    settings.BUNGEO_SANDBOX_READY_TIMEOUT = 5
    backend = object.__new__(DockerSandboxBackend)
    monkeypatch.setattr(DockerSandboxBackend, "_inner_answers", lambda self, name: False)
    with pytest.raises(SandboxError) as err:
        backend._wait_ready(_RemovedContainer())
    with translation.override("en"):
        assert "stopped while it was starting (removed)" in str(err.value)


class _Broken:
    """A backend whose start fails with ``error``, not a SandboxError."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def list(self, *, kind=None):
        return []

    def find(self, *, owner, kind="learner"):
        return None

    def ensure(self, *, owner, kind="learner", wait_engine=True):
        raise self.error


@pytest.mark.django_db(transaction=True)
def test_an_engine_that_stops_answering_during_a_start_is_said_as_such(monkeypatch, student):
    """QA: with the engine down, the page said "an error in bungeo" instead of the engine-down
    message (a refused connection is the HTTP library's error, not docker-py's)."""
    import requests

    monkeypatch.setattr(consumers, "get_backend",
                        lambda: _Broken(requests.exceptions.ConnectionError("Connection refused")))
    from webapp.sandboxes import admission

    admission.reset()

    async def scenario():
        comm = _lab_terminal(student)
        assert (await comm.connect(timeout=30))[0]
        seen = await _until_state(comm, ("error", "ready"), timeout=20)
        await comm.disconnect()
        return seen[-1]

    last = asyncio.run(scenario())
    assert last["state"] == "error" and "sandbox service is not running" in last["text"], last


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_in_a_start_reaches_the_page(monkeypatch, student, caplog):
    monkeypatch.setattr(consumers, "get_backend", lambda: _Broken(
        docker.errors.NotFound("No such container: bungeotest-learner-x")))
    from webapp.sandboxes import admission

    admission.reset()

    async def scenario():
        comm = _lab_terminal(student)
        connected, _ = await comm.connect(timeout=30)
        assert connected
        seen = await _until_state(comm, ("error", "ready"), timeout=20)
        await comm.disconnect()
        return seen[-1]

    with caplog.at_level(logging.ERROR, logger="webapp.sandboxes.consumers"):
        last = asyncio.run(scenario())
    assert last["state"] == "error" and last["text"].startswith(
        "Your sandbox could not be started because of an error in bungeo"), last
    assert any(r.exc_info and "No such container" in str(r.exc_info[1]) for r in caplog.records)
