"""The sandbox abstraction that labs and grading use (never docker-py directly).

A backend gives each learner (and each grading run) a *sandbox*: an isolated machine with its own
Docker engine. :class:`SandboxBackend` lists what every backend implements; the Docker
implementation is :class:`webapp.sandboxes.docker_backend.DockerSandboxBackend`. A backend is
chosen by dotted path in ``BUNGEO_SANDBOX_BACKEND``, in the way Django chooses session backends.

Every operation is idempotent, as in JupyterHub's spawners: removing a sandbox that is already gone
is not an error, ensuring a running sandbox returns it unchanged.
"""
from __future__ import annotations

import functools
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

# The Docker API version bungeo speaks to sandboxes' inner engines: understood by Debian 12's
# engine (20.10) and newer ones (Docker Engine API, "API version matrix").
INNER_API_VERSION = "1.41"

KIND_LEARNER = "learner"
KIND_GRADING = "grading"
# Started, unassigned sandboxes waiting in the warm pool (see SandboxBackend.pool_fill).
KIND_POOL = "pool"
# Started grading sandboxes with the stand-in images already pulled, each used for one grading
# run only (see SandboxBackend.grading_pool_fill).
KIND_GRADING_POOL = "gpool"


MSG_NO_EXTEND = _("This sandbox cannot be extended.")


# Why a sandbox was stopped (SandboxBackend.stop's ``reason``): an instructor stopped it.
STOP_BY_STAFF = "staff"


class SandboxError(Exception):
    """A sandbox could not be started or reached. ``str(exc)`` is safe to show to a learner."""


@dataclass(frozen=True)
class Sandbox:
    """A sandbox as the backend sees it now.

    ``id`` is stable for the sandbox's life (the container name for Docker); ``address`` is its
    IPv4 address on the sandbox network, reachable from the host only, or None when stopped;
    ``started_at`` tells one run from the next (Docker's ``State.StartedAt``, RFC 3339), None
    when the backend does not know.
    """

    id: str
    owner: str
    kind: str
    state: str
    address: str | None = None
    started_at: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class Lease:
    """How long a learner's sandbox may keep running: ``started`` and ``expires`` are Unix times
    (seconds); ``extensions`` counts the learner's "extend" actions so far. The idle reaper stops
    a sandbox whose lease has expired, terminal attached or not (files and images are kept)."""

    started: float
    expires: float
    extensions: int

    def remaining(self, now: float | None = None) -> float:
        """Seconds left (negative once expired)."""
        import time

        return self.expires - (time.time() if now is None else now)

    @property
    def extensions_left(self) -> int:
        return max(0, settings.BUNGEO_SANDBOX_MAX_EXTENSIONS - self.extensions)


@dataclass(frozen=True)
class ExecResult:
    """Result of a command run in a sandbox: exit code (124 on timeout) and combined output."""

    exit_code: int
    output: str
    timed_out: bool = False


@dataclass
class Terminal:
    """An interactive tty in a sandbox: a connected socket carrying the tty's bytes both ways.

    ``resize(cols, rows)`` changes the tty size; ``close()`` closes the socket and ends this
    terminal's client (blocking: call it from a thread in async code); the shell inside keeps
    running in tmux, so the next terminal reattaches to it.
    """

    sock: socket.socket
    resize: Callable[[int, int], None]
    close: Callable[[], None]
    # How the bytes travel: "relay" (the sandbox's terminal socket) or "exec" (docker exec).
    via: str = "exec"


class SandboxBackend:
    """What every sandbox backend implements. Methods block: call them from a thread in async code."""

    def ensure(self, *, owner: str, kind: str = KIND_LEARNER, wait_engine: bool = True) -> Sandbox:
        """Return the owner's running sandbox, creating or starting it as needed.

        With ``wait_engine`` (the default) it returns once the sandbox's inner engine answers;
        without, as soon as the sandbox runs with its limits and cgroup delegation in place, while
        its inner engine may still be starting: call :meth:`wait_engine` before talking to that
        engine (the terminal does, so that the shell's prompt shows sooner).
        A stopped sandbox of an older sandbox image (bungeo was upgraded, or its image rebuilt)
        starts again on the current image, keeping the learner's workspace and inner images;
        a running one keeps its image until it stops.
        Raises :class:`SandboxError` when it cannot be started or its engine does not answer.
        """
        raise NotImplementedError("subclasses of SandboxBackend must provide an ensure() method")

    def wait_engine(self, sandbox_id: str) -> None:
        """Block until the running sandbox's inner engine answers, at most
        ``BUNGEO_SANDBOX_READY_TIMEOUT`` seconds; return at once when it already does. Raises
        :class:`SandboxError` when it does not answer in time or the sandbox is not running.
        Backends whose :meth:`ensure` always waits for the engine need not override it."""
        return None

    def create_fresh(self, *, owner: str, kind: str = KIND_GRADING,
                     images: Sequence[str] | None = None) -> Sandbox:
        """Create and start a new sandbox with nothing in it (for grading runs).

        ``images``: the image references the run will pull. ``None`` (it may need any of
        ``BUNGEO_GRADING_PREPULL``) or a list of them takes a grading-pool sandbox when there is
        one, whose pre-pull then skips the repositories not listed; an empty list skips the pool
        (a run that needs none of those images starts as fast in a cold sandbox, and leaves the
        pre-pulled ones to runs that need them). Raises :class:`SandboxError`."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a create_fresh() method")

    def get(self, sandbox_id: str) -> Sandbox | None:
        """The sandbox with this id, or None when there is none."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a get() method")

    def find(self, *, owner: str, kind: str = KIND_LEARNER) -> Sandbox | None:
        """The owner's sandbox of this kind if it exists (running or not), without starting it."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a find() method")

    def list(self, *, kind: str | None = None) -> list[Sandbox]:
        """Every sandbox this backend manages, optionally only of one kind."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a list() method")

    def stop(self, sandbox_id: str, *, reason: str | None = None) -> None:
        """Stop the sandbox; its images and workspace are kept. No error when already stopped.

        ``reason`` (``STOP_BY_STAFF``: an instructor stopped it from the classroom's sandboxes
        page) is kept until the sandbox next starts, so that its learner's terminal can say who
        stopped it (:meth:`stop_reason`)."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a stop() method")

    def stop_reason(self, sandbox_id: str) -> str | None:
        """The ``reason`` given to the :meth:`stop` that stopped the sandbox last, until it starts
        again; None when it was stopped without one (the reaper, the time limit) or is running."""
        return None

    def restart(self, sandbox_id: str) -> Sandbox:
        """Stop and start the sandbox ("reset"): every process in it ends (a fork bomb too),
        images, volumes and the workspace are kept. Raises :class:`SandboxError`."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a restart() method")

    def resetting(self, sandbox_id: str) -> bool:
        """Whether :meth:`restart` is under way for the sandbox (by any process on this host):
        a terminal that ends meanwhile waits for the sandbox to run again instead of reporting
        it stopped. False when the backend cannot tell."""
        return False

    def remove(self, sandbox_id: str, *, keep_workspace: bool = True) -> None:
        """Remove the sandbox and its engine storage; the workspace only if ``keep_workspace`` is
        False. No error when already gone."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a remove() method")

    def reconcile(self, *, grading_max_age: float, now: float | None = None) -> list[str]:
        """Remove what a crash can leave behind: grading sandboxes older than
        ``grading_max_age`` seconds (a grading run never lives that long). Learner sandboxes are
        kept, running or not (their workspace matters). Returns the ids removed."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a reconcile() method")

    def disk_usage(self, sandbox_id: str, *, cheap: bool = False) -> list[tuple[str, int, int]] | None:
        """``[(what, used bytes, size bytes)]`` of the sandbox's quota'd disks; [] without
        quotas. With ``cheap``, only what needs no call to the engine (a file system's own
        figures, for a sandbox looked up before), else None."""
        return None if cheap else []

    def disk_quota_bytes(self) -> int | None:
        """The disk quota of each sandbox and workspace in bytes, or None without quotas."""
        return None

    def pids_usage(self, sandbox_id: str, *, cheap: bool = False) -> tuple[int, int] | None:
        """``(processes now, process limit)`` of the sandbox, or None when not known (not
        running, no limit, or a backend that cannot tell). With ``cheap``, None too unless it
        can be read without asking the engine (the terminal then looks every few seconds)."""
        return None

    def workspace_path(self, owner: str) -> Path | None:
        """The host folder holding ``owner``'s workspace (their /root), or None when they have
        none yet or it is not reachable from this host. Nothing is created or mounted. The
        learner controls its content: never follow links in it."""
        return None

    def mode(self) -> str:
        """The isolation mode of this backend's sandboxes (``userns``, ``sysbox``, ``trusted``)."""
        return "unknown"

    def lease(self, sandbox_id: str) -> Lease | None:
        """The running sandbox's lease, or None when it is not running (or has none: grading
        and pool sandboxes)."""
        return None

    def extend(self, sandbox_id: str) -> Lease:
        """Add ``BUNGEO_SANDBOX_EXTEND_SECONDS`` to the lease, at most
        ``BUNGEO_SANDBOX_MAX_EXTENSIONS`` times per start, and only in the last
        ``BUNGEO_SANDBOX_WARN_BEFORE`` seconds (the warning window, where the page offers it).
        Raises :class:`SandboxError` with a learner-facing reason when the policy refuses."""
        raise SandboxError(str(MSG_NO_EXTEND))

    def pool_fill(self, size: int | None = None) -> list[str]:
        """Start unassigned sandboxes until ``size`` (default ``BUNGEO_SANDBOX_POOL_SIZE``) are
        ready for the next learner's :meth:`ensure` to claim; a claim is atomic under
        concurrency. Unassigned sandboxes of an older sandbox image are replaced. Returns the ids
        started. Backends without a pool return []."""
        return []

    def grading_pool_fill(self, size: int | None = None) -> list[str]:
        """Start grading sandboxes until ``size`` (default ``BUNGEO_GRADING_POOL_SIZE``) are
        ready or getting ready; each pulls ``BUNGEO_GRADING_PREPULL`` from the classroom mirror in
        the background, and :meth:`create_fresh` takes a ready one instead of starting a cold
        sandbox. Each is used for one grading run only, so every run still starts clean (no
        container, volume or network of an earlier run). Returns the ids started; backends
        without a pool return []."""
        return []

    def idle_seconds(self, sandbox_id: str, *, now: float | None = None) -> float | None:
        """Seconds since the learner last used the sandbox's terminal, or None while a terminal
        is attached (or the sandbox is not running)."""
        raise NotImplementedError("subclasses of SandboxBackend must provide an idle_seconds() method")

    def engine_url(self, sandbox_id: str) -> str:
        """A docker-py ``base_url`` for the sandbox's inner engine, reachable from this host.

        The learner controls that engine: treat its answers as untrusted input.
        """
        raise NotImplementedError("subclasses of SandboxBackend must provide an engine_url() method")

    def inner_api(self, sandbox_id: str, *, timeout: float | None):
        """A low-level docker-py client (``docker.APIClient``) for the sandbox's inner engine
        (:meth:`engine_url`), speaking API INNER_API_VERSION; ``timeout``: seconds per request
        (None: no limit, for an event stream). The caller closes it. Raises
        ``docker.errors.DockerException`` for a bad URL; an engine that does not answer fails
        at the first request. The learner controls that engine: treat its answers as untrusted."""
        import docker

        return docker.APIClient(base_url=self.engine_url(sandbox_id), version=INNER_API_VERSION,
                                timeout=timeout)

    def inner_client(self, sandbox_id: str, *, timeout: float):
        """As :meth:`inner_api`, a high-level ``docker.DockerClient`` (containers, images)."""
        import docker

        return docker.DockerClient(base_url=self.engine_url(sandbox_id),
                                   version=INNER_API_VERSION, timeout=timeout)

    def exec(self, sandbox_id: str, cmd: list[str], *, timeout: float = 30.0,
             workdir: str | None = None, max_output: int = 1_000_000) -> ExecResult:
        """Run ``cmd`` in the sandbox (as its root) and wait at most ``timeout`` seconds.

        Output beyond ``max_output`` bytes is dropped. Raises :class:`SandboxError` when the
        sandbox is not running.
        """
        raise NotImplementedError("subclasses of SandboxBackend must provide an exec() method")

    def put_archive(self, sandbox_id: str, path: str, data: bytes) -> None:
        """Extract the tar archive ``data`` into directory ``path`` of the sandbox (created)."""
        raise NotImplementedError("subclasses of SandboxBackend must provide a put_archive() method")

    def open_terminal(self, sandbox_id: str, *, cols: int = 80, rows: int = 24) -> Terminal:
        """Attach an interactive tty running the learner's persistent shell (tmux session)."""
        raise NotImplementedError(
            "subclasses of SandboxBackend must provide an open_terminal() method"
        )


@functools.cache
def get_backend() -> SandboxBackend:
    """The configured backend (``BUNGEO_SANDBOX_BACKEND``), one instance per process."""
    return import_string(settings.BUNGEO_SANDBOX_BACKEND)()


def learner_owner(user) -> str:
    """The owner string of a user's sandbox: ``u<pk>-<date joined, epoch seconds>``.

    The primary key alone is not enough: after a database is reset, a new account gets an old
    id, and must not inherit the old account's sandbox and home folder. Never the username:
    it may change.
    """
    return f"u{user.pk}-{int(user.date_joined.timestamp())}"
