"""Step checks: small, pure functions over an observed engine state.

A check never talks to Docker. :mod:`labs.observe` gathers an :class:`EngineState` (I/O), and a
check judges it (pure), so every check is unit-testable without an engine. Each check returns a
:class:`CheckResult` whose message speaks to the learner, with a specific hint for near misses.

A step's check is declared in its lab.yaml as ``{type: <name>, ...params}``; :data:`REGISTRY` maps
names to functions, and :func:`parse_spec` validates the parameters when content is loaded.
"""
from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import get_language, ngettext_lazy, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from webapp.josa import format_ko

# ------------------------------------------------------------------------------
# Observed state (filled by labs.observe from the learner's engine)
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortBinding:
    """A published port: ``container_port`` like ``"80/tcp"``, bound on ``host_ip:host_port``."""

    container_port: str
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class MountObs:
    """Something mounted into a container: ``type`` is ``volume``, ``bind`` or ``tmpfs`` (the
    tmpfs of the short ``--tmpfs`` flag only for the containers a check names, read by an
    inspect: :meth:`CheckSpec.tmpfs_containers`), ``name`` the volume's
    name, ``source`` the host folder of a bind mount, ``rw`` False when mounted read-only."""

    type: str
    destination: str
    name: str = ""
    source: str = ""
    rw: bool = True


@dataclass(frozen=True)
class ContainerObs:
    """One container as the engine lists it. ``image`` is the reference given to ``docker run``
    (``nginx``, ``nginx:latest``, or an id); ``state`` is Docker's (running, exited, paused ...).

    ``exit_code`` is set once it has exited. ``history`` holds its recent lifecycle events from
    the engine, oldest first (``create``, ``start``, ``pause``, ``unpause``, ``die``, ``stop``,
    ``restart``), so a check can tell "running again after a stop" from "running since it was
    created", and a ``docker restart`` (``restart`` right after its ``start``) from a stop and a
    start; ``died_at`` is when it last died. ``http_requests`` counts the HTTP requests in the
    recent log of a running container that publishes a port (the access log lines a web server
    such as nginx writes). ``command`` is the command it runs,
    ``networks`` the names of the networks it is attached to (``bridge``, ``none``, ``host`` or a
    user-defined one), and ``mounts`` its volumes, bind mounts and tmpfs mounts. ``labels`` are
    its labels (Docker Compose marks its containers with ``com.docker.compose.*`` labels)."""

    name: str
    image: str
    image_id: str
    state: str
    ports: tuple[PortBinding, ...] = ()
    id: str = ""
    exit_code: int | None = None
    history: tuple[str, ...] = ()
    http_requests: int = 0
    command: str = ""
    networks: tuple[str, ...] = ()
    network_mode: str = ""
    mounts: tuple[MountObs, ...] = ()
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    created: int = 0  # when it was created, epoch seconds (0: unknown)
    died_at: float = 0.0  # its latest 'die' event, epoch seconds (0: none in the engine's buffer)
    # Its latest 'start' event, epoch seconds (0: none in the engine's buffer).
    started_at: float = 0.0
    # Its latest 'kill' event (a signal sent by docker kill, stop or rm -f), epoch seconds; 0:
    # none. 'docker kill' returns once the signal is sent, before the container has ended.
    signalled_at: float = 0.0
    # Why a container left in the created state could not start (its 'docker run' or 'docker
    # start' failed, e.g. on a host port already taken); empty for one never asked to start.
    start_error: str = ""
    # What a container in the created state asked to publish (its HostConfig.PortBindings;
    # ``ports`` lists only what a running container has bound). Host port 0: any free one.
    requested_ports: tuple[PortBinding, ...] = ()


@dataclass(frozen=True)
class ImageObs:
    """One image: its id, repository tags (``nginx:latest``) and labels. ``layers`` are the ids
    of its filesystem layers, base first (read for a few images only, empty otherwise): an image
    built ``FROM nginx`` starts with nginx's layers, and a rebuild that reused the build cache
    shares more layers with the first build than the base alone."""

    id: str
    tags: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    layers: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()  # its CMD, read with the layers (empty: none, or not inspected)
    size: int = 0  # bytes, its base image's layers included, as 'docker images' counts them
    created: int = 0  # when it was built, Unix seconds ('Created' of the engine's image list); 0: unknown


@dataclass(frozen=True)
class NetworkObs:
    """One network: its name, driver (``bridge``, ``host``, ``null`` for ``none``) and labels."""

    name: str
    driver: str = "bridge"
    labels: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class VolumeObs:
    """One volume; ``anonymous`` when Docker named it itself (``-v /data`` without a name)."""

    name: str
    driver: str = "local"
    anonymous: bool = False
    labels: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ImageEvent:
    """An image event from the engine's buffer: ``action`` is ``pull``, ``load``, ``import`` or
    ``delete``; ``ref`` is what the engine names: the reference for a pull (``busybox:latest``),
    the image id (``sha256:...``) for the others."""

    action: str
    ref: str


@dataclass(frozen=True)
class FileObs:
    """A file that a check names in the learner's workspace; ``path`` is relative to the home
    folder /root. ``kind`` is ``missing``, ``file`` (regular), ``dir``, ``link`` (never
    followed) or ``other``. For a regular file: ``size`` in bytes; ``gzip`` when it starts with
    gzip's magic bytes, and ``gzip_ok`` when ``gzip -t`` passed too; ``tar`` when it lists as a
    tar archive with at least one member; ``exported`` when that archive holds ``.dockerenv``
    (a container filesystem written by ``docker export`` does); ``manifest`` when it holds
    ``manifest.json`` (``docker save`` writes one), whose ``RepoTags`` are ``repo_tags``;
    ``unread`` when it could not be read in time."""

    path: str
    kind: str = "missing"
    size: int = 0
    gzip: bool = False
    gzip_ok: bool = False
    tar: bool = False
    exported: bool = False
    manifest: bool = False
    repo_tags: tuple[str, ...] = ()
    unread: bool = False
    # The names of the files (not folders) at the top of the archive, such as ``.dockerenv`` or
    # a file the learner wrote at the root of the exported container (at most 50).
    top_files: tuple[str, ...] = ()
    # For a file a check reads as text (:meth:`CheckSpec.workspace_texts`, such as a
    # .dockerignore): its first TEXT_MAX bytes, decoded as UTF-8; None when not read.
    text: str | None = None


@dataclass(frozen=True)
class ContainerFileObs:
    """A file a check names inside a container (running or not), as the engine reports it:
    ``path`` is absolute in the container (a volume mounted there is seen), ``kind`` is
    ``missing``, ``file``, ``dir`` or ``other``, ``size`` in bytes."""

    container: str
    path: str
    kind: str = "missing"
    size: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    """One command from the learner's bash history: ``time`` in epoch seconds (0 when the file
    gives none) and ``text`` as typed (several lines for a here-document). ``status`` is how it
    ended (bash's ``$?``; None when unknown: a history from before the sandbox noted it), and
    ``pipe_status`` the exit status of each command of the last pipeline it ran (bash's
    ``PIPESTATUS``: ``docker info | head`` gives two)."""

    time: int
    text: str
    status: int | None = None
    pipe_status: tuple[int, ...] = ()


@dataclass(frozen=True)
class EngineState:
    """What a learner's engine holds at one moment, and the names of the containers, networks
    and volumes it removed recently (oldest first): a removal leaves no other trace."""

    containers: tuple[ContainerObs, ...] = ()
    images: tuple[ImageObs, ...] = ()
    removed: tuple[str, ...] = ()
    networks: tuple[NetworkObs, ...] = ()
    volumes: tuple[VolumeObs, ...] = ()
    removed_networks: tuple[str, ...] = ()
    removed_volumes: tuple[str, ...] = ()
    # Workspace and image history, for the labs that need them (see the classes above).
    image_events: tuple[ImageEvent, ...] = ()
    files: tuple[FileObs, ...] = ()
    workspace: tuple[str, ...] = ()
    # The newest name in ``workspace``, read as an archive as ``files`` are (None: not read):
    # a check names it only when it is an attempt at the check's own file under another name.
    other_file: FileObs | None = None
    shell_history: tuple[HistoryEntry, ...] = ()
    observed_at: float = 0.0  # when the engine was read, epoch seconds (0: unknown)
    # Containers removed recently, as the engine's events remember them (name, id, history,
    # exit code of their last 'die', when it died), oldest removal first: a 'docker kill'
    # followed by 'docker rm' leaves no other trace of the kill.
    gone: tuple[ContainerObs, ...] = ()
    # Files inside containers, for the checks that name one (CheckSpec.container_paths).
    container_files: tuple[ContainerFileObs, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """A verdict: ``passed`` and a learner-facing ``message`` (lazy translation + parameters)."""

    passed: bool
    msg: Any
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The message in the active language; in Korean, the particle after each value takes
        the form that value needs ("my-web이라는", "life라는": webapp.josa). A container state
        in ``params["state"]`` (Docker's word: ``running``, ``exited`` ...) is named in the
        active language (:data:`STATE_NAMES`)."""
        if not self.params:
            return str(self.msg)
        params = self.params
        msg = self.msg
        if hasattr(msg, "_get_number_value"):
            # ngettext_lazy(singular, plural, key): the form for params[key] ("1 layer", "3
            # layers"); str.format leaves a %-template as it is (plural messages have no braces).
            msg = msg.format(**params)
        if params.get("state") in STATE_NAMES:
            params = {**params, "state": STATE_NAMES[params["state"]]}
        if (get_language() or "").startswith("ko"):
            return format_ko(str(msg), params)
        return str(msg) % params

    @property
    def pending(self) -> bool:
        """True when this verdict waits for a state to settle (:func:`settling`): the page
        shows it as "checking", not as a miss."""
        return settling(self)


# Docker's container states, as messages name them: the English text keeps Docker's word, the
# Korean one says it in Korean with Docker's word after it ("종료됨(exited)"), as the labs'
# tables of states teach them (https://docs.docker.com/reference/cli/docker/container/ls/,
# the status filter).
STATE_NAMES = {
    "created": pgettext_lazy("container state", "created"),
    "restarting": pgettext_lazy("container state", "restarting"),
    "running": pgettext_lazy("container state", "running"),
    "removing": pgettext_lazy("container state", "removing"),
    "paused": pgettext_lazy("container state", "paused"),
    "exited": pgettext_lazy("container state", "exited"),
    "dead": pgettext_lazy("container state", "dead"),
}


class CheckSpecError(ValueError):
    """A check declaration in lab.yaml is wrong (unknown type, missing parameter)."""


@dataclass(frozen=True)
class CheckSpec:
    """A parsed check declaration: its type and parameters."""

    type: str
    params: tuple[tuple[str, Any], ...]

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def run(self, state: EngineState) -> CheckResult:
        return REGISTRY[self.type].func(state, **self.kwargs())

    def workspace_paths(self) -> tuple[str, ...]:
        """The workspace files (relative to /root) this check reads; empty for most checks."""
        return (str(self.kwargs()["path"]),) if "files" in REGISTRY[self.type].reads else ()

    def workspace_texts(self) -> tuple[str, ...]:
        """The workspace files (relative to /root) this check reads the text of
        (:attr:`FileObs.text`); empty for most checks."""
        ct = REGISTRY[self.type]
        return ct.workspace_texts(**self.kwargs()) if ct.workspace_texts else ()

    def container_paths(self) -> tuple[tuple[str, str], ...]:
        """The files inside containers this check reads, as (container, absolute path)."""
        ct = REGISTRY[self.type]
        return ct.container_paths(**self.kwargs()) if ct.container_paths else ()

    def image_refs(self) -> tuple[str, ...]:
        """The images this check names (``image``, ``base``, ``reuses``), normalized: the
        observation reads their layers whatever their age (:func:`labs.observe.engine_state`)."""
        kw = self.kwargs()
        return tuple(normalize_ref(str(kw[k])) for k in ("image", "base", "reuses")
                     if isinstance(kw.get(k), str) and kw[k])

    def tmpfs_containers(self) -> tuple[str, ...]:
        """The container this check expects a tmpfs mount in (``mount: tmpfs``): the
        observation inspects it for ``docker run --tmpfs`` mounts, which the container list
        does not show (:func:`labs.observe.engine_state`)."""
        kw = self.kwargs()
        return (str(kw["name"]),) if kw.get("mount") == "tmpfs" and kw.get("name") else ()

    def reads(self, state: EngineState | None = None) -> frozenset[str]:
        """What this check reads besides the engine's lists (see :attr:`CheckType.reads`);
        given the engine's ``state``, also what it needs in that state only
        (:attr:`CheckType.reads_if`)."""
        ct = REGISTRY[self.type]
        if state is None or ct.reads_if is None:
            return ct.reads
        return ct.reads | ct.reads_if(state, **self.kwargs())


# ------------------------------------------------------------------------------
# Image references (Docker's rules: docker.io/library is implied, the tag defaults to latest)
# https://docs.docker.com/reference/cli/docker/image/tag/
# ------------------------------------------------------------------------------


def normalize_ref(ref: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``; digests and explicit tags are kept, and
    ``docker.io/nginx`` is ``docker.io/library/nginx`` as for Docker (its reference package,
    ParseNormalizedNamed)."""
    ref = ref.strip()
    name, tag = ref, "latest"
    if "@" in ref:
        name, tag = ref.split("@", 1)[0], ref.split("@", 1)[1]
        sep = "@"
    else:
        sep = ":"
        last = ref.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = ref.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        if "/" not in name:
            name = f"library/{name}"
        name = f"docker.io/{name}"
    elif first in ("docker.io", "index.docker.io"):
        # Docker Hub's official images: docker.io/busybox is docker.io/library/busybox.
        rest = name.split("/", 1)[1]
        name = f"docker.io/{rest}" if "/" in rest else f"docker.io/library/{rest}"
    return f"{name}{sep}{tag}"


def repo_of(ref: str) -> str:
    """The repository part of a normalized reference: ``docker.io/library/nginx``."""
    n = normalize_ref(ref)
    return n.split("@", 1)[0].rsplit(":", 1)[0] if "@" not in n else n.split("@", 1)[0]


def _image_ids_for(state: EngineState, image: str) -> set[str]:
    want = repo_of(image)
    return {i.id for i in state.images if any(repo_of(t) == want for t in i.tags)}


def container_uses_image(state: EngineState, c: ContainerObs, image: str) -> bool:
    """True when container ``c`` was created from ``image`` (any tag of that repository), by the
    reference it was run with or by the image id it runs."""
    if repo_of(c.image) == repo_of(image):
        return True
    return c.image_id in _image_ids_for(state, image)


# ------------------------------------------------------------------------------
# Messages (module constants, so tests can import them)
# ------------------------------------------------------------------------------
MSG_IMAGE_OK = _("The %(image)s image is in your engine.")
MSG_IMAGE_MISSING = _("There is no %(image)s image yet. Pull it with 'docker pull %(image)s'.")
MSG_IMAGE_TYPO = _("You have %(found)s, but this step needs %(image)s.")
# image_present with full_name: the pull must write the reference in full.
MSG_IMAGE_FULL_OK = _("You pulled %(image)s by its full name: '%(entry)s'.")
MSG_IMAGE_SHORT_NAME = _(
    "You ran '%(entry)s', which leaves parts of the name for Docker to fill in. This step asks "
    "for every part (registry/namespace/repository:tag): run 'docker pull %(image)s'."
)
MSG_IMAGE_NOT_PULLED_FULL = _(
    "The %(image)s image is in your engine, but no 'docker pull' with its full name was found "
    "in your shell history. Run 'docker pull %(image)s'."
)

MSG_RUNNING_OK = _("%(name)s is running from %(image)s and publishes %(ports)s.")
MSG_NO_CONTAINER = _("There is no container named %(name)s yet.")
MSG_CONTAINER_REMOVED = _(
    "There is no container named %(name)s any more: it has been removed. Run it again to do "
    "this step over."
)
MSG_OTHER_NAME = _(
    "A container from %(image)s is running as %(other)s. Name it %(name)s with --name %(name)s."
)
MSG_WRONG_IMAGE = _("%(name)s runs the image %(actual)s, but this step needs %(image)s.")
MSG_WRONG_TAG = _(
    "%(name)s was made from %(actual)s, not %(image)s: the tag is part of the image's name (no "
    "tag means :latest). Remove it ('docker rm %(name)s') and run '%(example)s'."
)
MSG_NOT_RUNNING = _(
    "%(name)s exists but is %(state)s, not running. Start it with 'docker start %(name)s'."
)
MSG_NOT_PUBLISHED = _(
    "%(name)s is running, but container port %(cport)s is not published. "
    "Remove it and run it again with -p %(hport)s:%(cport_num)s."
)
MSG_WRONG_PORT = _(
    "%(name)s is running, but port %(cport)s is published on host port %(actual)s, not "
    "%(hport)s. Remove it ('docker rm -f %(name)s') and run it again with -p %(hport)s:%(cport_num)s."
)
MSG_STARTED_SETTLING = _(
    "%(name)s started just now: checking in a moment that it keeps running (a container whose "
    "command ends at once is up for only a moment)."
)
MSG_CREATED_STARTING = _(
    "%(name)s was created just now: checking again in a moment whether it has started."
)
# Seconds a container must have been running to count as running (:func:`started_settling`):
# one whose command ends at once ('docker run --name my-web -p 8080:80 nginx true', busybox
# without a command) is listed as running for a moment, and a look then passed its step, which
# stays done for good.
STARTED_SETTLE_S = 1.5

MSG_COUNT_OK = _("%(count)s containers are running from the %(image)s image.")
MSG_COUNT_LOW = ngettext_lazy(
    "%(count)s container running from %(image)s; this step needs at least %(min)s at once.",
    "%(count)s containers running from %(image)s; this step needs at least %(min)s at once.",
    "count",
)
MSG_COUNT_STOPPED = ngettext_lazy(
    "%(count)s container running from %(image)s, and %(stopped)s more stopped. "
    "This step needs at least %(min)s running at the same time.",
    "%(count)s containers running from %(image)s, and %(stopped)s more stopped. "
    "This step needs at least %(min)s running at the same time.",
    "count",
)
MSG_COUNT_NEVER_STARTED = ngettext_lazy(
    "%(count)s container running from %(image)s; %(names)s was created but never started, "
    "so its 'docker run' failed (a host port already taken, for example: see the error it "
    "printed). Remove it with 'docker rm %(first)s' and run it again. This step needs at least "
    "%(min)s running at the same time.",
    "%(count)s containers running from %(image)s; %(names)s was created but never started, "
    "so its 'docker run' failed (a host port already taken, for example: see the error it "
    "printed). Remove it with 'docker rm %(first)s' and run it again. This step needs at least "
    "%(min)s running at the same time.",
    "count",
)

# Lifecycle (container_lifecycle): one success message per command, then the near misses.
MSG_LC_RUN_OK = _("%(name)s is running from %(image)s.")
MSG_LC_PAUSE_OK = _("%(name)s is paused: its processes are frozen, but it still exists.")
MSG_LC_UNPAUSE_OK = _("%(name)s was paused and is running again.")
MSG_LC_STOP_OK = _("%(name)s is stopped (exit code %(code)s). It still exists, only stopped.")
MSG_LC_STOPPED_EARLIER = _("%(name)s was stopped with 'docker stop', and started again since.")
MSG_LC_START_OK = _("%(name)s was stopped and is running again.")
MSG_LC_KILL_OK = _("%(name)s was killed: exit code 137 means it ended by SIGKILL (128 + 9).")
MSG_LC_RM_OK = _("%(name)s has been removed.")
MSG_LC_CREATED = _(
    "%(name)s has been created but never started. Start it with 'docker start %(name)s'."
)
MSG_LC_START_FAILED_PORT = _(
    "%(name)s has been created but never started: its start failed because the host port it "
    "publishes is already taken ('port is already allocated'; 'docker ps' shows by which "
    "container). 'docker start' would fail the same way: remove it with 'docker rm %(name)s' and "
    "run it again without -p, or with a free host port."
)
MSG_LC_START_FAILED = _(
    "%(name)s has been created but never started: its start failed (%(error)s). Remove it with "
    "'docker rm %(name)s', fix what the error names, and run it again."
)
MSG_LC_PAUSED = _("%(name)s is paused; unpause it with 'docker unpause %(name)s'.")
MSG_LC_NOT_PAUSED = _("%(name)s is running, not paused. Pause it with 'docker pause %(name)s'.")
MSG_LC_PAUSE_STOPPED = _(
    "%(name)s is %(state)s, and only a running container can be paused. "
    "Start it with 'docker start %(name)s', then pause it."
)
MSG_LC_NOT_UNPAUSED = _(
    "%(name)s is running, but it has not been paused and unpaused yet. "
    "Pause it with 'docker pause %(name)s' first."
)
MSG_LC_STOPPED_NOT_UNPAUSED = _(
    "%(name)s was paused, then stopped and started again: that ends its processes and starts "
    "new ones, which is not an unpause. Pause it with 'docker pause %(name)s', then run "
    "'docker unpause %(name)s'."
)
MSG_LC_STOP_FIRST = _("%(name)s is still %(state)s. Stop it with 'docker stop %(name)s'.")
MSG_LC_KILLED_NOT_STOPPED = _(
    "%(name)s ended with exit code 137: it was killed, not stopped gracefully. "
    "Start it again ('docker start %(name)s') and stop it with 'docker stop %(name)s'."
)
MSG_LC_NOT_RESTARTED = _(
    "%(name)s is running, but it has not been stopped and started again yet. "
    "Run 'docker stop %(name)s', then 'docker start %(name)s'."
)
MSG_LC_RESTART_COMMAND = _(
    "%(name)s was restarted with 'docker restart', which stops and starts it in one go. This "
    "step wants the two moves one by one: run 'docker stop %(name)s', then "
    "'docker start %(name)s'."
)
MSG_LC_SIGNALLED_SETTLING = _(
    "%(name)s was sent a signal just now: checking in a moment whether it has ended."
)
MSG_LC_EXITED_SETTLING = _(
    "%(name)s ended just now: checking in a moment that it stays stopped ('docker restart' "
    "would start it again at once)."
)
# Seconds a container must have stayed exited to count as stopped or killed: 'docker restart'
# stops a container and starts it again, and a look in between would take it for a stop.
EXITED_SETTLE_S = 1.5
MSG_LC_KILL_FIRST = _("%(name)s is still %(state)s. Kill it with 'docker kill %(name)s'.")
MSG_LC_STOPPED_NOT_KILLED = _(
    "%(name)s ended with exit code %(code)s, so it was stopped gracefully, not killed. "
    "Start it again ('docker start %(name)s') and use 'docker kill %(name)s'."
)
MSG_LC_KILLED_BY_STOP = _(
    "%(name)s was ended by 'docker stop', which sends SIGKILL only once its grace time is up; "
    "this step asks for 'docker kill', which sends it at once. Get %(name)s running again "
    "('docker start %(name)s', or 'docker run -d --name %(name)s %(image)s' if it was removed), "
    "then use 'docker kill %(name)s'."
)
MSG_LC_RM_RUNNING = _(
    "%(name)s is still %(state)s, and 'docker rm' refuses to remove a running container. "
    "Stop it first, or force it with 'docker rm -f %(name)s'."
)
MSG_LC_RM_STILL_THERE = _(
    "%(name)s still exists (%(state)s). Remove it with 'docker rm %(name)s'."
)
MSG_LC_NOTHING_REMOVED = _(
    "There is no container named %(name)s, and none has been removed yet. "
    "Create it in the earlier steps, then remove it."
)
MSG_LC_RM_NEVER_RAN = _(
    "%(name)s has been removed, but it never ran: it was only created (a 'docker run' whose "
    "start failed leaves it so). This step removes the %(name)s that went through the earlier "
    "steps: run it with 'docker run -d --name %(name)s %(image)s', take it through them, then "
    "remove it."
)
MSG_LC_KILLED_BY_RM = _(
    "%(name)s was killed and removed in one go, as 'docker rm -f' does, but this step asks for "
    "'docker kill' on its own. Run %(name)s again ('docker run -d --name %(name)s %(image)s'), "
    "then use 'docker kill %(name)s'."
)
# How long before a container's SIGKILL death the 'docker kill' that caused it may have been
# typed (the history's times are whole seconds; the command waits for the container to end).
MSG_LC_ENDED_NOT_STOPPED = _(
    "%(name)s ended without 'docker stop' (exit code %(code)s): Ctrl+C in a 'docker run' without "
    "-d, or its program finished. Start it again ('docker start %(name)s') and stop it with "
    "'docker stop %(name)s'."
)
MSG_LC_RM_WHILE_RUNNING = _(
    "%(name)s was removed while it still ran ('docker rm -f' kills it first), before it went "
    "through the earlier steps. This step removes the %(name)s of those steps: run it again with "
    "'docker run -d --name %(name)s %(image)s', take it through them, then remove it with "
    "'docker rm %(name)s'."
)
KILL_COMMAND_WINDOW_S = 10

# Several containers from one image (containers_published)
MSG_PUB_OK = _("%(names)s run from %(image)s on host ports %(ports)s.")
MSG_PUB_ANSWERED = _("%(names)s each answered HTTP requests: one image, %(count)s web servers.")
MSG_PUB_CREATED = _(
    "%(name)s was created but could not start, often because its host port was already taken. "
    "Remove it with 'docker rm %(name)s' and run it again with -p %(hport)s:%(cport_num)s."
)
MSG_PUB_SILENT = _(
    "%(name)s has not answered any request yet. Send it one with 'curl localhost:%(hport)s'."
)

# Networks (network_exists, containers_on_network, published_on)
MSG_NET_OK = _("The %(name)s network exists and uses the %(driver)s driver.")
MSG_NET_MISSING = _(
    "There is no network named %(name)s yet. Create it with 'docker network create %(name)s'."
)
MSG_NET_OTHER = _(
    "You have a network named %(other)s, but this step needs one named %(name)s. "
    "Create it with 'docker network create %(name)s'."
)
MSG_NET_DRIVER = _(
    "%(name)s uses the %(actual)s driver, not %(driver)s. Remove it ('docker network rm "
    "%(name)s') and create it again with 'docker network create --driver %(driver)s %(name)s'."
)
MSG_ONNET_OK = _("%(names)s are running on the %(network)s network.")
MSG_ONNET_OK_ONE = _("%(names)s is running on the %(network)s network.")
MSG_ONNET_ANSWERED = _("%(names)s answered a request sent to its name on the %(network)s network.")
MSG_ONNET_WRONG = _(
    "%(name)s is on %(actual)s, not %(network)s; remove it ('docker rm -f %(name)s') and run it "
    "again with --network %(network)s."
)
MSG_ONNET_DETACHED = _(
    "%(name)s is on no network now (it was disconnected from %(actual)s), but it was not started "
    "on %(network)s; remove it ('docker rm -f %(name)s') and run it again with --network "
    "%(network)s."
)
MSG_ONNET_EXITED = _(
    "%(name)s is not running: it exited with code %(code)s because its command ended. Remove it "
    "('docker rm %(name)s') and run it again with a command that keeps going, such as 'sleep 3600'."
)
MSG_ONNET_SILENT = _(
    "%(name)s has not answered any request yet. Ask it by its name from %(client)s: "
    "'docker exec %(client)s wget -qO- http://%(name)s'."
)
MSG_ONNET_BY_ADDRESS = _(
    "%(name)s answered, but your latest request went to %(address)s, not to its name. On a "
    "network you create, Docker finds containers by name: ask for it by name from %(client)s, "
    "'docker exec %(client)s wget -qO- http://%(name)s'."
)
MSG_PUBON_OK = _("%(name)s publishes container port %(cport)s on %(host_ip)s:%(hport)s.")
MSG_PUBON_MISSING = _(
    "%(name)s does not publish container port %(cport)s on host port %(hport)s (published: "
    "%(actual)s). Remove it ('docker rm -f %(name)s') and run it again with "
    "-p %(host_ip)s:%(hport)s:%(cport_num)s."
)
MSG_PUBON_IP = _(
    "%(name)s publishes %(hport)s on %(actual)s, not %(host_ip)s. Remove it ('docker rm -f "
    "%(name)s') and run it again with -p %(host_ip)s:%(hport)s:%(cport_num)s."
)

# Storage (volume_exists, volume_mounted)
MSG_VOL_OK = _("The volume %(name)s exists.")
MSG_VOL_MISSING = _(
    "There is no volume named %(name)s yet. Create it with 'docker volume create %(name)s'."
)
MSG_VOL_OTHER = _(
    "You have a volume named %(other)s, but this step needs one named %(name)s. "
    "Create it with 'docker volume create %(name)s'."
)
MSG_MOUNT_OK = _("%(name)s mounts %(what)s at %(destination)s (type %(type)s).")
MSG_MOUNT_NONE = _(
    "%(name)s has nothing mounted at %(destination)s. Remove it ('docker rm -f %(name)s') and "
    "run it again with %(flag)s."
)
MSG_MOUNT_TYPE = _(
    "%(name)s has a mount of type %(actual)s at %(destination)s, but this step needs type "
    "%(type)s. Remove it ('docker rm -f %(name)s') and run it again with %(flag)s."
)
MSG_MOUNT_ANON = _(
    "%(name)s mounts an anonymous volume at %(destination)s, not %(volume)s: without a name, "
    "-v makes a new empty volume. Remove it ('docker rm -f %(name)s') and run it again with "
    "%(flag)s."
)
MSG_MOUNT_VOLUME = _(
    "%(name)s mounts the volume %(actual)s at %(destination)s, not %(volume)s. Remove it "
    "('docker rm -f %(name)s') and run it again with %(flag)s."
)
MSG_MOUNT_SOURCE = _(
    "%(name)s mounts the folder %(actual)s at %(destination)s, not %(source)s. Remove it "
    "('docker rm -f %(name)s') and run it again with %(flag)s."
)
MSG_MOUNT_WRITABLE = _(
    "%(name)s can write to %(destination)s, but this step mounts it read-only. Remove it "
    "('docker rm -f %(name)s') and run it again with %(flag)s."
)
MSG_MOUNT_FAILED = _(
    "%(name)s ended with exit code %(code)s: its command failed. See why with "
    "'docker logs %(name)s', then remove it and run it again."
)
MSG_MOUNT_COMMAND = _(
    "%(name)s ran '%(actual)s', but this step needs a command with '%(command)s'."
)
MSG_MOUNT_NO_FILE = _(
    "%(name)s mounts %(what)s at %(destination)s, but there is no %(file)s in it: its command "
    "wrote nothing there. Remove it ('docker rm -f %(name)s') and run it again with a command "
    "that writes %(file)s, as the step shows."
)
MSG_MOUNT_EMPTY_FILE = _(
    "%(name)s mounts %(what)s at %(destination)s, but %(file)s in it is empty. Remove it "
    "('docker rm -f %(name)s') and run it again with a command that writes something into "
    "%(file)s, as the step shows."
)
MSG_MOUNT_UNFINISHED = _(
    "%(name)s is still running, so whether its command works is not known yet: this step is "
    "checked once the command has ended (exit code 0 shows it worked). Wait for it, or remove "
    "it ('docker rm -f %(name)s') and run the step's command, which ends by itself."
)
# Seconds after its creation during which a container whose command must have ended
# (volume_mounted's finished) but still runs is looked at again (SETTLE_RECHECK_S apart).
UNFINISHED_RECHECK_S = 10
MSG_MOUNT_GONE = _(
    "%(other)s still exists. Remove it with 'docker rm %(other)s': the point is that the data "
    "outlives the container that wrote it."
)

# Building images (image_built)
MSG_BUILD_OK = _("%(image)s has been built from your Dockerfile.")
MSG_BUILD_OK_BASE = ngettext_lazy(
    "%(image)s has been built from your Dockerfile: %(own)s layer of its own on top of "
    "%(base)s's layers.",
    "%(image)s has been built from your Dockerfile: %(own)s layers of its own on top of "
    "%(base)s's layers.",
    "own",
)
MSG_BUILD_REUSED = ngettext_lazy(
    "%(image)s reuses %(shared)s layer of %(reuses)s from the build cache; only the layers "
    "after your change were built again.",
    "%(image)s reuses %(shared)s layers of %(reuses)s from the build cache; only the layers "
    "after your change were built again.",
    "shared",
)
MSG_BUILD_MISSING = _(
    "There is no %(image)s image yet. In the folder with your Dockerfile, run "
    "'docker build -t %(image)s .'."
)
MSG_BUILD_OTHER_TAG = _(
    "You built %(found)s, but this step needs the name %(image)s. Build it again with "
    "'docker build -t %(image)s .'."
)
MSG_BUILD_UNTAGGED = _(
    "You built an image without a name, so there is no %(image)s. Build it again with "
    "'docker build -t %(image)s .': -t gives it its name and tag."
)
MSG_BUILD_BASE = _(
    "%(image)s is not built on %(base)s. The first line of its Dockerfile must be "
    "'FROM %(base)s'; fix it and build again."
)
MSG_BUILD_BASE_OTHER = _(
    "%(image)s is built on %(other)s, not %(base)s. The first line of its Dockerfile must be "
    "'FROM %(base)s'; fix it and build again."
)
MSG_BUILD_LABEL = _(
    "%(image)s has no label %(key)s=\"%(value)s\". Add the line 'LABEL %(key)s=\"%(value)s\"' "
    "to your Dockerfile and build again."
)
MSG_BUILD_LABEL_VALUE = _(
    "%(image)s has the label %(key)s=\"%(actual)s\", not %(key)s=\"%(value)s\". Change that "
    "line of your Dockerfile to 'LABEL %(key)s=\"%(value)s\"' and build again."
)
MSG_BUILD_NO_BASE = _(
    "%(image)s exists, but the %(base)s image is not in your engine, so what %(image)s is built "
    "on cannot be compared. Pull it with 'docker pull %(base)s'."
)
MSG_BUILD_SAME = _(
    "%(image)s is the same image as %(reuses)s: nothing changed, so the whole build came from "
    "the cache. Change index.html first, then build again."
)
MSG_BUILD_NO_CACHE = _(
    "%(image)s shares no layer with %(reuses)s beyond %(base)s: every step was built again, as "
    "--no-cache does. Clear the build cache ('docker builder prune -af'), build %(reuses)s "
    "again, change index.html, then build %(image)s again."
)
MSG_BUILD_TOO_BIG = _(
    "%(image)s is %(added)s bigger than %(base)s; this step expects at most %(max)s. Files you "
    "meant to leave out went into the image: list them in .dockerignore and build again."
)
MSG_BUILD_NO_IGNORE_FILE = _(
    "%(image)s was built, but %(context)s has no .dockerignore, so %(file)s went into the image, "
    "where anyone who gets the image can read it. Write %(context)s/.dockerignore and build "
    "again."
)
MSG_BUILD_NOT_IGNORED = _(
    "%(image)s was built, but %(context)s/.dockerignore does not leave out %(file)s, so it went "
    "into the image, where anyone who gets the image can read it. Add a line '%(file)s' to "
    ".dockerignore and build again."
)
MSG_BUILD_OWN_LAYERS = ngettext_lazy(
    "%(image)s has %(own)s layer of its own on top of %(base)s, but this step expects "
    "%(want)s. Compare your Dockerfile with the step's and build again.",
    "%(image)s has %(own)s layers of its own on top of %(base)s, but this step expects "
    "%(want)s. Compare your Dockerfile with the step's and build again.",
    "own",
)
MSG_BUILD_SAME_LINE = _(
    "%(image)s is the same image as %(reuses)s: nothing changed, so every layer came from the "
    "cache. Change the line this step asks for, then build again."
)
MSG_BUILD_SHARES = _(
    "%(image)s shares %(actual)s of its own layers with %(reuses)s, but this step expects "
    "%(shares)s: every line from the changed one down is built again. Change the line this step "
    "asks for (and only that one), then build again."
)
MSG_BUILD_SHARES_NO_CACHE = _(
    "%(image)s shares %(actual)s of its own layers with %(reuses)s, but this step expects "
    "%(shares)s: you built with --no-cache, which builds every line again, and later builds take "
    "those new layers from the cache instead of %(reuses)s's. Start over: clear the build cache "
    "('docker builder prune -af'), build %(reuses)s from the first Dockerfile again, make this "
    "step's change, then build %(image)s without --no-cache."
)

# Image tags, loading and importing (image_present with a tag, image_loaded, image_imported)
MSG_IMAGE_OTHER_TAG = _(
    "You have %(found)s, but this step needs the tag %(image)s. Pull it with "
    "'docker pull %(image)s'."
)
MSG_LOAD_OK = _("%(image)s is back in your engine, loaded from a file with 'docker load'.")
MSG_LOAD_MISSING = _(
    "There is no %(image)s image in your engine. Load it back from your file with "
    "'docker load -i %(archive)s'."
)
MSG_LOAD_PULLED = _(
    "%(image)s came from the registry ('docker pull'), not from your file. Remove it "
    "('docker rmi %(image)s') and load it with 'docker load -i %(archive)s'."
)
MSG_LOAD_WHILE_THERE = _(
    "%(image)s was still in your engine when you loaded %(archive)s, so nothing came from the "
    "file ('docker load' printed only 'Loaded image'). Remove it first ('docker rmi %(image)s'), "
    "then load it again."
)
MSG_LOAD_NOT_YET = _(
    "%(image)s is in your engine, but no 'docker load' of it has been seen yet. Remove it "
    "('docker rmi %(image)s'), then load it with 'docker load -i %(archive)s'."
)
MSG_IMPORT_OK = _(
    "%(image)s was made by 'docker import': a single layer and no CMD, none of the original "
    "image's history or settings."
)
MSG_IMPORT_MISSING = _(
    "There is no %(image)s image yet. Make it from the filesystem archive with "
    "'docker import %(archive)s %(image)s'."
)
MSG_IMPORT_UNTAGGED = _(
    "You imported an image without a name, so there is no %(image)s. Import it again with "
    "'docker import %(archive)s %(image)s': the last word names it."
)
MSG_IMPORT_LAYERS = _(
    "%(image)s has %(count)s layers, so it was not made by 'docker import', which writes the "
    "whole filesystem as one layer. Remove it ('docker rmi %(image)s') and run "
    "'docker import %(archive)s %(image)s'."
)
MSG_IMPORT_CMD = _(
    "%(image)s has a CMD (%(cmd)s), so it is not a plain import: 'docker import' keeps no "
    "settings. Remove it ('docker rmi %(image)s') and run 'docker import %(archive)s %(image)s'."
)

# Files in the workspace (image_archive, filesystem_archive)
MSG_FILE_MISSING = _("There is no file %(path)s yet. Make it with '%(example)s'.")
MSG_FILE_OTHER = _(
    "There is no %(path)s, but there is %(found)s. This step looks for the name %(path)s: "
    "'%(example)s'."
)
MSG_FILE_NOT_REGULAR = _(
    "%(path)s is not a regular file (it is a %(kind)s). Remove it ('rm -r %(path)s') and run "
    "'%(example)s'."
)
MSG_FILE_UNREAD = _(
    "%(path)s could not be read in time. Wait until the command that writes it has ended, then "
    "press Check."
)
MSG_FILE_NOT_GZIP = _(
    "%(path)s is not gzip-compressed: 'docker save -o' writes a plain tar whatever the name. "
    "Pipe it through gzip: '%(example)s'."
)
MSG_FILE_BAD_GZIP = _(
    "%(path)s is not a complete gzip file ('gzip -t %(path)s' fails): it was cut short or is "
    "still being written. Make it again: '%(example)s'."
)
MSG_FILE_NOT_TAR = _(
    "%(path)s is not a tar archive. Make it again: '%(example)s'."
)
MSG_ARCHIVE_OK = _("%(path)s holds %(images)s, ready for 'docker load' on another machine.")
MSG_ARCHIVE_OK_GZ = _(
    "%(path)s is a valid gzip file (%(size)s) holding %(images)s; 'docker load' reads it as it is."
)
MSG_ARCHIVE_EXPORTED = _(
    "%(path)s holds a container's filesystem (made by 'docker export'), not an image. Save the "
    "image instead: '%(example)s'."
)
MSG_ARCHIVE_NO_MANIFEST = _(
    "%(path)s is a tar archive, but not one made by 'docker save' (it has no manifest.json). "
    "Make it with '%(example)s'."
)
MSG_ARCHIVE_LACKS = _(
    "%(path)s holds %(found)s, but not %(missing)s. Save every image this step names in one "
    "file: '%(example)s'."
)
MSG_FS_OK = _(
    "%(path)s holds a container's whole filesystem as plain files, as 'docker export' writes it."
)
MSG_FS_IS_IMAGE = _(
    "%(path)s holds an image saved with 'docker save' (layers and metadata), not a container's "
    "filesystem. Export the container instead: '%(example)s'."
)
MSG_FS_OTHER_CONTAINER = _(
    "%(path)s holds a container's filesystem, but not %(container)s's: it has no /%(holds)s, "
    "which %(container)s wrote. Export %(container)s: '%(example)s'."
)
MSG_FS_NOT_EXPORT = _(
    "%(path)s is a tar archive, but not a container's filesystem from 'docker export' (it has no "
    ".dockerenv). Make it with '%(example)s'."
)

# Shell history (ran_command)
MSG_RAN_OK = _("You ran '%(entry)s'.")
MSG_RAN_NONE = _(
    "Run '%(example)s' in the terminal: this step looks for that command in your shell history."
)
MSG_RAN_OTHER = _("Your latest command was '%(last)s', but this step needs '%(example)s'.")
MSG_RAN_TARGET = _(
    "You ran '%(entry)s', but this step needs it on %(target)s: '%(example)s'."
)
MSG_RAN_ARGS_MISSING = _(
    "You ran '%(entry)s', but this step needs '%(example)s'. Look closely at '%(missing)s': "
    "yours does not have it as written."
)
MSG_RAN_ARGS_MISSING_FAILED = _(
    "You ran '%(entry)s', but this step needs '%(example)s'. Look closely at '%(missing)s': "
    "yours does not have it as written. Yours also failed (exit status %(status)s), even if it "
    "printed no error."
)
MSG_RAN_CUT = _(
    "You ran '%(entry)s', so its output went to %(reader)s, which does not show all of it. This "
    "step has you read all of it: run '%(example)s' without '| %(reader)s'."
)
# The commands that may read the output of a command whose whole output a step asks for
# (ran_command's whole_output): pagers, and copies that still print all of it.
WHOLE_OUTPUT_READERS = frozenset({"less", "more", "most", "cat", "tee"})
# A 'head' that shows at least this many lines shows all of the outputs whole_output is for
# ('docker info' prints about 60 lines): 'docker info | head -n 200' is read whole.
WHOLE_OUTPUT_LINES = 80
MSG_RAN_FAILED = _(
    "You ran '%(entry)s', but it failed (exit status %(status)s). Read the error it printed, "
    "then run '%(example)s' again."
)
MSG_RAN_NOT_RUNNING = _(
    "You ran '%(entry)s', but it failed (exit status %(status)s): %(target)s is %(state)s, not "
    "running, and '%(command)s' needs a running container. Start it first with 'docker start "
    "%(target)s', then run '%(example)s' again."
)
# The docker commands that fail on a container that is not running ('docker top' answers
# "container ... is not running").
RUNNING_ONLY = frozenset({"top", "exec", "pause", "kill", "attach"})
MSG_RAN_HELP = _(
    "You ran '%(entry)s', which only shows how to use '%(command)s'. Run '%(example)s' itself."
)
MSG_RAN_COUNTED = _(
    "You ran '%(entry)s', so its output went to wc, which shows only how many lines, words or "
    "bytes it had. This step has you read it: run '%(example)s' without '| wc'."
)
MSG_RAN_FORMATTED = _(
    "You ran '%(entry)s', which prints only what its --format asks for. This step has you read "
    "all of it: run '%(example)s' without --format."
)
MSG_RAN_DISCARDED = _(
    "You ran '%(entry)s', but its output went to /dev/null, so nothing was shown. This step has "
    "you read it: run '%(example)s' without sending its output to /dev/null."
)
MSG_RAN_EARLY = _(
    "You ran '%(entry)s' before %(target)s was created. Run it again now: '%(example)s'."
)

# A container that is created but not started (container_created)
MSG_CREATED_OK = _(
    "%(name)s has been created from %(image)s: its writable layer, settings and name are ready, "
    "but no process runs yet."
)
MSG_CREATED_STARTED = _(
    "%(name)s is already %(state)s: 'docker run' creates and starts in one go. To see the "
    "created state, remove it ('docker rm -f %(name)s') and run '%(example)s'."
)
MSG_CREATED_THEN_STARTED = _(
    "%(name)s was created with 'docker create' (writable layer, settings and name, but no "
    "process yet) and has been started since with 'docker start'."
)
MSG_CREATED_SETTLING = _(
    "%(name)s was created just now: checking in a moment that it stays created and is not "
    "started as well (as 'docker run' would)."
)
# Seconds a container must have been in the created state to count as made by 'docker create':
# 'docker run' creates a container and then starts it, and a look in between (seen on a busy
# host) would take it for one made by 'docker create'. Docker lists creation times in whole
# seconds, so this is compared with an age that may be up to 1 s too large.
CREATED_SETTLE_S = 2.5
MSG_CREATED_NOT_PUBLISHED = _(
    "%(name)s was created without publishing container port %(cport)s, which the next step "
    "needs. Remove it ('docker rm %(name)s') and run '%(example)s'."
)
MSG_CREATED_WRONG_PORT = _(
    "%(name)s was created to publish port %(cport)s on host port %(actual)s, not %(hport)s. "
    "Remove it ('docker rm %(name)s') and run '%(example)s'."
)
# The start step after 'docker create' (container_running with created_first): a wrong port is
# fixed by creating the container again, not by 'docker run', which that step refuses.
MSG_STARTED_NOT_PUBLISHED = _(
    "%(name)s is running, but container port %(cport)s is not published. Remove it ('docker rm "
    "-f %(name)s'), create it again with '%(example)s', then 'docker start %(name)s'."
)
MSG_STARTED_WRONG_PORT = _(
    "%(name)s is running, but port %(cport)s is published on host port %(actual)s, not "
    "%(hport)s. Remove it ('docker rm -f %(name)s'), create it again with '%(example)s', then "
    "'docker start %(name)s'."
)
MSG_CREATED_OTHER = _(
    "A container from %(image)s was created as %(other)s. Name it %(name)s: remove it "
    "('docker rm %(other)s') and run '%(example)s'."
)
MSG_RUN_NOT_STARTED = _(
    "%(name)s runs, but it was made with 'docker run', which creates and starts in one go: "
    "this step starts a container made by 'docker create'. Remove it ('docker rm -f "
    "%(name)s'), run '%(example)s', then 'docker start %(name)s'."
)
MSG_CREATED_REMOVED = _(
    "There is no container named %(name)s any more: it has been removed. Create it again with "
    "'%(example)s'."
)

# Compose (compose_project_running, compose_project_stopped, compose_project_down)
MSG_COMPOSE_UP_OK = _("The %(project)s project is up: %(services)s are running.")
MSG_COMPOSE_ANSWERED_OK = _(
    "The %(project)s project is up, and %(answered)s answered your requests: "
    "'docker compose logs %(answered)s' shows them."
)
MSG_COMPOSE_STARTED_AGAIN_OK = _(
    "%(services)s were stopped and are running again: the same containers, started again."
)
MSG_COMPOSE_RESTARTED_OK = _(
    "%(restarted)s restarted, and the whole %(project)s project is running."
)
MSG_COMPOSE_NONE = _(
    "There is no Compose project named %(project)s yet. In %(folder)s, run 'docker compose up -d'."
)
MSG_COMPOSE_OTHER_PROJECT = _(
    "Compose started %(found)s under the project name %(other)s (from the folder "
    "%(other_folder)s), not %(project)s: Compose names a project after the folder that holds its "
    "compose file. Take it down with 'docker compose down' in %(other_folder)s, then run "
    "'docker compose up -d' in %(folder)s."
)
MSG_COMPOSE_NO_SERVICE = _(
    "The %(project)s project has no %(service)s service (it has: %(found)s). Add %(service)s "
    "under services: in the compose file and run 'docker compose up -d' again."
)
MSG_COMPOSE_EXITED = _(
    "%(service)s (container %(name)s) is not running: it exited with code %(code)s. If it "
    "stopped on its own, 'docker compose logs %(service)s' shows why; to start it again, run "
    "'docker compose start %(service)s'."
)
MSG_COMPOSE_CREATED = _(
    "%(service)s (container %(name)s) was created but never started, often because its host "
    "port is taken by another container ('docker ps' shows which). Free the port, then run "
    "'docker compose up -d' again."
)
MSG_COMPOSE_PAUSED = _(
    "%(service)s (container %(name)s) is paused. Run 'docker compose unpause %(service)s'."
)
MSG_COMPOSE_STATE = _(
    "%(service)s (container %(name)s) is %(state)s, not running. See why with "
    "'docker compose logs %(service)s'."
)
MSG_COMPOSE_NO_VOLUME = _(
    "The %(project)s project has no volume %(volume)s (Compose would name it %(full)s). Declare "
    "it under the top-level volumes: of the compose file, mount it in a service, and run "
    "'docker compose up -d' again."
)
MSG_COMPOSE_VOLUME_UNUSED = _(
    "The volume %(full)s exists, but no container of %(project)s mounts it. Mount it in a "
    "service (under that service's volumes:, as '%(volume)s:PATH') and run "
    "'docker compose up -d' again."
)
MSG_COMPOSE_SILENT = _(
    "%(service)s has not answered any request yet. Send it one with 'curl localhost:%(port)s', "
    "then look at 'docker compose logs %(service)s'."
)
MSG_COMPOSE_SILENT_NOPORT = _(
    "%(service)s has not answered any request yet, and it publishes no port. Publish one under "
    "ports: in the compose file, send it a request with curl, then look at "
    "'docker compose logs %(service)s'."
)
MSG_COMPOSE_NOT_STARTED_AGAIN = _(
    "%(service)s is running, but its container has not been stopped and started again since it "
    "was created (after 'docker compose down' and 'up', the containers are new ones). Run "
    "'docker compose stop', then 'docker compose start'."
)
MSG_COMPOSE_NOT_RESTARTED = _(
    "%(service)s is running but has not been restarted yet. Run "
    "'docker compose restart %(service)s'."
)
MSG_COMPOSE_RESTARTED_OTHERS = _(
    "%(others)s restarted as well as %(services)s: 'docker compose restart' without a service "
    "name restarts every service. This step restarts %(services)s alone while the rest keep "
    "running: run 'docker compose restart %(services)s'."
)
MSG_COMPOSE_RESTARTED_NAMED = _(
    "Your latest restart, '%(entry)s', restarted %(others)s as well as %(services)s. This step "
    "restarts %(services)s alone while the rest keep running: run 'docker compose restart "
    "%(services)s'."
)
MSG_CSTOP_OK = _(
    "Every service of %(project)s is stopped (%(services)s). The containers are still there, "
    "only stopped."
)
MSG_CSTOP_RUNNING = _(
    "Some services of %(project)s are still up: %(running)s. Without a service name, "
    "'docker compose stop' stops every service of the project."
)
MSG_CSTOP_REMOVED = _(
    "The containers of %(project)s are gone: they were removed, not stopped. "
    "'docker compose down' removes containers; 'stop' keeps them. Start the project again with "
    "'docker compose up -d', then run 'docker compose stop'."
)
MSG_CDOWN_KEPT_OK = _(
    "The containers and networks of %(project)s are gone, and the volume %(volumes)s is kept, "
    "as 'docker compose down' does."
)
MSG_CDOWN_REMOVED_OK = _(
    "The containers, networks and volume %(volumes)s of %(project)s are gone, as "
    "'docker compose down -v' does: the data in that volume is gone too."
)
MSG_CDOWN_UP = _(
    "The %(project)s project is still up: %(running)s running. Run '%(command)s' in %(folder)s."
)
MSG_CDOWN_STOPPED = _(
    "The containers of %(project)s still exist, stopped (%(names)s): 'docker compose stop' only "
    "stops them. Run '%(command)s' in %(folder)s: it removes the containers and the network."
)
MSG_CDOWN_BY_HAND = _(
    "The containers of %(project)s are gone, but its network %(network)s is still there, so they "
    "were removed one by one (as 'docker rm' does), not by 'docker compose down', which removes "
    "the project's networks too. Run '%(command)s' in %(folder)s."
)
MSG_CDOWN_VOLUME_GONE = _(
    "The volume %(volume)s is gone, and the data in it with it: 'down -v' removes volumes too. "
    "This step keeps it: run 'docker compose up -d' in %(folder)s, then 'docker compose down' "
    "without -v."
)
MSG_CDOWN_VOLUME_KEPT = _(
    "The containers and networks of %(project)s are gone, but the volume %(volume)s is still "
    "there: plain 'down' keeps volumes. Run 'docker compose down -v' in %(folder)s."
)
MSG_CDOWN_NOT_SEEN = _(
    "Nothing of the %(project)s project is left, but the removal of its volume %(volume)s was "
    "not seen. Start it again with 'docker compose up -d' in %(folder)s, then run "
    "'docker compose down -v'."
)

# ------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------


def _has_tag(ref: str) -> bool:
    """True when ``ref`` names a tag or digest (``nginx:1.27``), not just a repository."""
    return "@" in ref or ":" in ref.rsplit("/", 1)[-1]


def _other_tag(c: ContainerObs, image: str) -> bool:
    """True when container ``c`` was made by name from another tag than ``image``'s (which names
    one): ``nginx`` (that is ``nginx:latest``) for ``nginx:1.27``. Two tags of one image have the
    same id (the classroom's mirror serves one image under several tags), so only the name the
    container was made with tells them apart; a container made by image id is not judged."""
    ref = c.image.strip()
    by_id = ref.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{12,64}", ref) is not None
    return (_has_tag(image) and bool(ref) and not by_id
            and repo_of(ref) == repo_of(image) and normalize_ref(ref) != normalize_ref(image))


def written_in_full(ref: str) -> bool:
    """True when an image reference spells out every part of Docker's naming scheme:
    ``REGISTRY/NAMESPACE/REPOSITORY:TAG`` (or ``@DIGEST``), the registry being a host name
    (it has a ``.`` or a ``:port``, or is ``localhost``), as ``docker.io/library/busybox:latest``.
    Source: https://docs.docker.com/reference/cli/docker/image/tag/ (a name's components)."""
    path = ref.split("@", 1)[0]
    if "@" not in ref and ":" in path.rsplit("/", 1)[-1]:
        path = path.rsplit(":", 1)[0]
    parts = path.split("/")
    first = parts[0]
    registry = "." in first or ":" in first or first == "localhost"
    return _has_tag(ref) and registry and len(parts) >= 3 and all(parts)


# Options of 'docker pull' that take a value (https://docs.docker.com/reference/cli/docker/image/pull/).
_PULL_VALUE_OPTIONS = frozenset({"--platform"})


def _pull_refs(state: EngineState) -> list[tuple[str, str]]:
    """``(reference, command line)`` of every ``docker pull`` in the shell history, latest first."""
    out = []
    for entry in reversed(state.shell_history):
        line = _first_line(entry.text)
        for words in reversed(shell_commands(line)):
            if words[:2] != ["docker", "pull"]:
                continue
            rest, i = words[2:], 0
            while i < len(rest) and rest[i].startswith("-"):
                i += 2 if rest[i] in _PULL_VALUE_OPTIONS else 1
            if i < len(rest):
                out.append((rest[i], line))
    return out


def image_present_reads(state: EngineState, *, image: str, full_name: bool = False,
                        **_: Any) -> frozenset[str]:
    """What :func:`image_present` needs besides the engine's lists: the shell history when it
    must see how the image was pulled (``full_name``) and the image is there."""
    if full_name and _image_there(state, image=image).passed:
        return frozenset({"history"})
    return frozenset()


def image_present(state: EngineState, *, image: str, full_name: bool = False) -> CheckResult:
    """Pass when an image of repository ``image`` is in the engine: any tag, unless ``image``
    names one (``nginx:1.27``); then that tag, and another tag of it is a near miss.

    With ``full_name`` (``image`` then written in full, such as
    ``docker.io/library/busybox:latest``), the shell history must also hold a ``docker pull`` of
    that image whose reference is :func:`written_in_full`; a pull by a short name
    (``docker pull busybox``) fails and says so."""
    there = _image_there(state, image=image)
    if not full_name or not there.passed:
        return there
    want = normalize_ref(image)
    same = [(ref, line) for ref, line in _pull_refs(state) if normalize_ref(ref) == want]
    for ref, line in same:
        if written_in_full(ref):
            return CheckResult(True, MSG_IMAGE_FULL_OK, {"image": image, "entry": _shown(line)})
    if same:
        return CheckResult(False, MSG_IMAGE_SHORT_NAME, {"image": image,
                                                         "entry": _shown(same[0][1])})
    return CheckResult(False, MSG_IMAGE_NOT_PULLED_FULL, {"image": image})


def _image_there(state: EngineState, *, image: str) -> CheckResult:
    """:func:`image_present` without ``full_name``: the engine's image list only."""
    if _has_tag(image):
        if _tagged(state, image) is not None:
            return CheckResult(True, MSG_IMAGE_OK, {"image": image})
        other = next((t for i in state.images for t in i.tags if repo_of(t) == repo_of(image)),
                     None)
        if other is not None:
            return CheckResult(False, MSG_IMAGE_OTHER_TAG, {"found": other, "image": image})
    elif _image_ids_for(state, image):
        return CheckResult(True, MSG_IMAGE_OK, {"image": image})
    short = image.split(":", 1)[0]
    for i in state.images:
        for t in i.tags:
            name = t.rsplit("/", 1)[-1].split(":", 1)[0]
            if _similar(name, short):
                return CheckResult(False, MSG_IMAGE_TYPO, {"found": t, "image": image})
    return CheckResult(False, MSG_IMAGE_MISSING, {"image": image})


def _similar(a: str, b: str) -> bool:
    """Same letters in another order, or one letter off: a likely typo (ngnix for nginx)."""
    if a == b:
        return False
    if sorted(a) == sorted(b):
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    diff = sum(1 for x, y in zip(a, b, strict=False) if x != y) + abs(len(a) - len(b))
    return diff <= 1


def no_container(state: EngineState, name: str) -> CheckResult:
    """The verdict when no container is named ``name``: removed since (the engine reported its
    removal), or not made yet."""
    return CheckResult(False, MSG_CONTAINER_REMOVED if name in state.removed else MSG_NO_CONTAINER,
                       {"name": name})


# Verdicts that say "look again in a moment": the lab page checks once more after SETTLE_RECHECK_S,
# or sooner when the verdict knows when its state will have settled (:func:`recheck_after`).
SETTLE_RECHECK_S = 3.0
# Seconds added to the rest of a settle time before that look, so that it falls after its end.
SETTLE_MARGIN_S = 0.1


def settling(result: CheckResult) -> bool:
    """True when ``result`` waits for a state to settle (a container created, started or ended
    just now, or one whose command may be about to end)."""
    return (result.msg is MSG_CREATED_SETTLING or result.msg is MSG_LC_EXITED_SETTLING
            or result.msg is MSG_CREATED_STARTING
            or result.msg is MSG_STARTED_SETTLING or result.msg is MSG_LC_SIGNALLED_SETTLING
            or (result.msg is MSG_MOUNT_UNFINISHED and result.params.get("recheck") is True))


def recheck_after(result: CheckResult) -> float:
    """Seconds after which to look again at a :func:`settling` verdict: its ``recheck_s`` when
    it has one (:func:`started_settling`), else SETTLE_RECHECK_S."""
    return float(result.params.get("recheck_s", SETTLE_RECHECK_S))


def started_settling(state: EngineState, c: ContainerObs) -> CheckResult | None:
    """The "look again in a moment" verdict (MSG_STARTED_SETTLING) for running container ``c``
    when it started less than STARTED_SETTLE_S seconds before ``state.observed_at``, else None.

    A step that wants a container running passes only on one that has run that long: one whose
    command ends at once is listed as running for a few milliseconds, and a look then would
    mark the step done for good. Its start is its latest 'start' event (``c.started_at``);
    without one (started after the engine's events were read, or before the oldest event it
    keeps), its creation time, which is in whole seconds: one second is added for the rounding.
    An unknown time passes. ``recheck_s`` in the verdict is when the settle time is over
    (seconds from the look, SETTLE_MARGIN_S included).

    A container started again after the learner stopped or paused it (:func:`_kept_running`)
    does not wait: its command is known to keep running, and a learner who goes on at once
    (``docker start life`` then ``docker kill life`` 0.7 s later, a ``docker compose restart
    api`` then ``down``) had the start judged only after it had ended, and missed for good."""
    if _kept_running(c):
        return None
    started = c.started_at or (c.created + 1 if c.created else 0.0)
    if not state.observed_at or not started:
        return None
    left = started + STARTED_SETTLE_S - state.observed_at
    if left <= 0:
        return None
    return CheckResult(False, MSG_STARTED_SETTLING,
                       {"name": c.name, "recheck_s": round(left + SETTLE_MARGIN_S, 3)})


def _kept_running(c: ContainerObs) -> bool:
    """Whether container ``c``'s history shows, before its latest start, that its command kept
    running: a ``stop`` or ``pause`` event (the engine sends them only for a container that is
    up: ``docker stop`` of an exited container changes nothing and reports nothing). A container
    that ended by itself (a ``die`` alone) proves nothing."""
    starts = [i for i, action in enumerate(c.history) if action == "start"]
    return len(starts) > 1 and any(a in ("stop", "pause") for a in c.history[:starts[-1]])


def created_settling(state: EngineState, c: ContainerObs) -> CheckResult | None:
    """The "look again in a moment" verdict (MSG_CREATED_STARTING) for container ``c`` in the
    created state when it was created less than CREATED_SETTLE_S seconds before
    ``state.observed_at`` and the engine keeps no error from starting it, else None.

    'docker run' creates a container and then starts it; a look in between (the page looks on
    every engine event, 'create' included) saw it "created, not running" and told the learner
    to start it a moment before it ran. A failed start (a host port already taken) leaves its
    error at once (``c.start_error``), so that verdict is not held back. Creation times are in
    whole seconds, so the age compared may be up to 1 s too large (CREATED_SETTLE_S allows for
    it). ``recheck_s`` is when the settle time is over (seconds from the look)."""
    if c.state != "created" or c.start_error or not state.observed_at or not c.created:
        return None
    left = c.created + CREATED_SETTLE_S - state.observed_at
    if left <= 0:
        return None
    return CheckResult(False, MSG_CREATED_STARTING,
                       {"name": c.name, "recheck_s": round(left + SETTLE_MARGIN_S, 3)})


# The names Docker makes up for a container run without --name: adjective_surname, with a digit
# after a clash (moby pkg/namesgenerator).
_GENERATED_NAME = re.compile(r"^[a-z]+_[a-z]+[0-9]?$")


def _attempt_at(other: str, name: str) -> bool:
    """Whether a container named ``other`` looks like an attempt at one named ``name``: Docker
    named it (no --name given) or its name is a likely typo of ``name``. A container the learner
    named otherwise on purpose (another lab's step-web) is no attempt at this step."""
    return bool(_GENERATED_NAME.match(other)) or _similar(other, name)


def _fmt_ports(publish: dict[str, int]) -> str:
    return ", ".join(f"{h}->{c}" for c, h in publish.items())


def container_running(
    state: EngineState, *, name: str, image: str, publish: dict[str, int] | None = None,
    created_first: bool = False,
) -> CheckResult:
    """Pass when container ``name`` runs from ``image`` (any tag of its repository) and publishes
    every ``publish`` entry (container port like ``"80/tcp"`` -> host port). Messages name the
    image a container really runs (``nginx`` for a step that asks for ``nginx:1.27``).

    With ``created_first`` (the step after ``docker create``: ``docker start``), a container the
    shell history shows was made by ``docker run`` does not pass (:func:`_made_by`; unknown
    counts as created), and a removed one is to be created again, not run. A container that
    started just now does not pass yet (:func:`started_settling`)."""
    publish = publish or {}
    c = next((c for c in state.containers if c.name == name), None)
    ports = "".join(f" -p {h}:{str(cp).split('/', 1)[0]}" for cp, h in publish.items())
    create = {"name": name, "example": f"docker create --name {name}{ports} {image}"}
    if c is None and created_first and name in state.removed:
        return CheckResult(False, MSG_CREATED_REMOVED, create)
    if c is None:
        other = next(
            (o for o in state.containers
             if o.state == "running" and container_uses_image(state, o, image)
             and _attempt_at(o.name, name)),
            None,
        )
        if other is not None:
            # Named by the image it really runs: the check takes any tag of ``image``.
            return CheckResult(False, MSG_OTHER_NAME, {"image": other.image or image,
                                                       "other": other.name, "name": name})
        return no_container(state, name)
    if not container_uses_image(state, c, image):
        return CheckResult(False, MSG_WRONG_IMAGE, {"name": name, "actual": c.image,
                                                    "image": image})
    if c.state != "running":
        return created_settling(state, c) or CheckResult(False, MSG_NOT_RUNNING,
                                                         {"name": name, "state": c.state})
    for cport, hport in publish.items():
        bound = sorted({p.host_port for p in c.ports if p.container_port == cport})
        params = {"name": name, "cport": cport, "hport": hport,
                  "cport_num": cport.split("/", 1)[0], "example": create["example"]}
        if not bound:
            return CheckResult(False, MSG_STARTED_NOT_PUBLISHED if created_first
                               else MSG_NOT_PUBLISHED, params)
        if int(hport) not in bound:
            params["actual"] = ", ".join(str(b) for b in bound)
            return CheckResult(False, MSG_STARTED_WRONG_PORT if created_first
                               else MSG_WRONG_PORT, params)
    if created_first and _made_by(state, name) == "run":
        return CheckResult(False, MSG_RUN_NOT_STARTED, create)
    just_started = started_settling(state, c)
    if just_started is not None:
        return just_started
    return CheckResult(True, MSG_RUNNING_OK, {"name": name, "image": c.image or image,
                                              "ports": _fmt_ports(publish) or "-"})


def containers_from_image(state: EngineState, *, image: str, min_running: int = 2) -> CheckResult:
    """Pass when at least ``min_running`` containers run from ``image`` at the same time.

    A miss names the containers of ``image`` that are not running: stopped ones (state
    ``exited``: they ran and ended) apart from ones that were never started (state
    ``created``: a ``docker run`` whose start failed, such as on a host port already taken,
    leaves its container so). A container that started just now counts only once it has kept
    running (:func:`started_settling`)."""
    mine = [c for c in state.containers if container_uses_image(state, c, image)]
    running = [c for c in mine if c.state == "running"]
    if len(running) >= min_running:
        just_started = sorted((v for v in (started_settling(state, c) for c in running)
                               if v is not None), key=recheck_after)
        missing = min_running - (len(running) - len(just_started))
        if missing > 0:
            return just_started[missing - 1]  # the one whose settle completes the count
        return CheckResult(True, MSG_COUNT_OK, {"count": len(running), "image": image})
    starting = sorted((v for v in (created_settling(state, c) for c in mine) if v is not None),
                      key=recheck_after)
    if starting and len(running) + len(starting) >= min_running:
        return starting[min_running - len(running) - 1]  # the one whose start completes it
    never = [c.name for c in mine if c.state == "created"]
    stopped = sum(1 for c in mine if c.state == "exited")
    params = {"count": len(running), "image": image, "min": min_running, "stopped": stopped}
    if never:
        return CheckResult(False, MSG_COUNT_NEVER_STARTED,
                           {**params, "names": ", ".join(never), "first": never[0]})
    return CheckResult(False, MSG_COUNT_STOPPED if stopped else MSG_COUNT_LOW, params)


def _named(state: EngineState, name: str) -> ContainerObs | None:
    return next((c for c in state.containers if c.name == name), None)


# The docker commands a lifecycle step can ask for, each judged by the state it leaves behind.
LIFECYCLE_COMMANDS = ("run", "pause", "unpause", "stop", "start", "kill", "rm")
UP_STATES = ("running", "paused", "restarting")
SIGKILL_EXIT = 137  # 128 + signal 9


def container_lifecycle(
    state: EngineState, *, name: str, command: str, image: str | None = None,
    rerun_image: str | None = None,
) -> CheckResult:
    """Pass when container ``name`` shows the effect of ``docker <command> <name>``.

    ``image`` is the image ``name`` must run from. ``rerun_image`` is only the image the advice
    names when it says to run ``name`` again (default: ``image``): a step that takes ``name``
    from any image must not advise running it again from a wrong one the learner used.

    Commands whose end states look alike are told apart by the container's history: ``unpause``
    needs a past unpause, ``start`` a past stop (a ``die`` event before its latest ``start``, and
    no ``restart`` event after it: ``docker restart`` is not a stop and a start), ``stop`` and
    ``kill`` differ by the exit code (137 after SIGKILL) and by the ``stop`` event only
    ``docker stop`` leaves (:func:`_stop_command`: ``docker stop -t 0`` kills, yet is no
    ``docker kill``), and ``rm`` needs the engine to report
    the removal of a container that ran: one that never existed, or one only created (its
    ``docker run`` failed to start it, and 'docker rm' cleared it away), does not count as
    removed. A ``kill`` seen only in a removed container's events (``docker kill`` then
    ``docker rm`` before a look) also needs a ``docker kill`` in the shell history:
    ``docker rm -f`` leaves the same events (:func:`_kill_typed`), and ``rm`` of a container
    removed that way while it ran does not pass unless it went through the earlier steps
    (:func:`_removed_running`, :func:`_went_through`: step 1's advice for a wrong image is
    ``docker rm -f``, and the lab allows it for a life that is running again at the end). ``stop``
    needs the ``stop`` event: a container that ended on its own or at Ctrl+C (exit code 0 or
    130, no ``stop`` event) was not stopped with ``docker stop``. A container that
    died less than EXITED_SETTLE_S seconds before ``state.observed_at`` does not pass ``stop`` or
    ``kill`` yet (MSG_LC_EXITED_SETTLING): it may be in the middle of a ``docker restart``. A
    container stopped and started again at once (``docker stop life; docker start life``) still
    passes ``stop``: its history shows the ``stop`` event and a start that is not a restart.
    ``run``, ``unpause`` and ``start`` do not pass on a container that started just now
    (:func:`started_settling`): its command may end at once.
    """
    p: dict[str, Any] = {"name": name}
    c = _named(state, name)
    if command == "rm":
        if c is None:
            if name not in state.removed:
                return CheckResult(False, MSG_LC_NOTHING_REMOVED, p)
            last = next((g for g in reversed(state.gone) if g.name == name), None)
            if last is not None and "create" in last.history and "start" not in last.history:
                # Created (its events are all there, from its 'create' on) and never started.
                return CheckResult(False, MSG_LC_RM_NEVER_RAN,
                                   {**p, "image": image or last.image or "IMAGE"})
            if last is not None and _removed_running(state, last) and not _went_through(last):
                return CheckResult(False, MSG_LC_RM_WHILE_RUNNING,
                                   {**p, "image": image or last.image or "IMAGE"})
            return CheckResult(True, MSG_LC_RM_OK, p)
        p["state"] = c.state
        return CheckResult(False, MSG_LC_RM_RUNNING if c.state in UP_STATES
                           else MSG_LC_RM_STILL_THERE, p)
    if c is None:
        other = next(
            (o for o in state.containers
             if image and o.state == "running" and container_uses_image(state, o, image)
             and _attempt_at(o.name, name)),
            None,
        ) if command == "run" else None
        if other is not None:
            return CheckResult(False, MSG_OTHER_NAME, {**p, "image": other.image or image,
                                                       "other": other.name})
        ended = _ended_before_removal(state, name) if command in ("stop", "kill") else None
        if ended is not None:
            p["code"] = ended.exit_code
            killed, by_stop = ended.exit_code == SIGKILL_EXIT, _stop_command(ended.history)
            if command == "stop" and by_stop:
                return CheckResult(True, MSG_LC_STOP_OK, p)
            if command == "kill" and killed:
                again = {**p, "image": rerun_image or image or ended.image or "IMAGE"}
                if by_stop:
                    return CheckResult(False, MSG_LC_KILLED_BY_STOP, again)
                if not _kill_typed(state, ended):
                    # 'docker rm -f' sends the same SIGKILL, with the same events.
                    return CheckResult(False, MSG_LC_KILLED_BY_RM, again)
                return CheckResult(True, MSG_LC_KILL_OK, p)
        return no_container(state, name)
    if image and not container_uses_image(state, c, image):
        return CheckResult(False, MSG_WRONG_IMAGE, {**p, "actual": c.image, "image": image})
    p["state"] = c.state
    if c.state == "created":
        return created_settling(state, c) or not_started(c)

    if command == "pause":
        if c.state == "paused":
            return CheckResult(True, MSG_LC_PAUSE_OK, p)
        return CheckResult(False, MSG_LC_NOT_PAUSED if c.state == "running"
                           else MSG_LC_PAUSE_STOPPED, p)

    if command in ("run", "unpause", "start"):
        if c.state == "paused":
            return CheckResult(False, MSG_LC_PAUSED, p)
        if c.state != "running":
            return CheckResult(False, MSG_NOT_RUNNING, p)
        if command == "unpause":
            # The pause and the unpause must both come after its latest start: stopping a
            # paused container unpauses it too (the engine reports an unpause), and a start
            # after that is no unpause.
            starts = [i for i, action in enumerate(c.history) if action == "start"]
            since = c.history[starts[-1] + 1:] if starts else c.history
            if not ("pause" in since and "unpause" in since[since.index("pause"):]):
                paused_before = "pause" in c.history[:starts[-1]] if starts else False
                return CheckResult(False, MSG_LC_STOPPED_NOT_UNPAUSED if paused_before
                                   else MSG_LC_NOT_UNPAUSED, p)
        if command == "start":
            starts = [i for i, action in enumerate(c.history) if action == "start"]
            if starts and "restart" in c.history[starts[-1]:]:
                return CheckResult(False, MSG_LC_RESTART_COMMAND, p)
            if not starts or "die" not in c.history[:starts[-1]]:
                return CheckResult(False, MSG_LC_NOT_RESTARTED, p)
        just_started = started_settling(state, c)
        if just_started is not None:
            return just_started
        ok = {"run": MSG_LC_RUN_OK, "unpause": MSG_LC_UNPAUSE_OK, "start": MSG_LC_START_OK}
        return CheckResult(True, ok[command], {**p, "image": image or c.image})

    # stop and kill: the container has exited; the exit code and a stop event tell how.
    if command == "stop" and c.state in UP_STATES and _stopped_then_started(c.history):
        return CheckResult(True, MSG_LC_STOPPED_EARLIER, p)
    if c.state in UP_STATES:
        if (c.state == "running" and state.observed_at and c.signalled_at
                and state.observed_at - c.signalled_at < EXITED_SETTLE_S):
            # Seen between 'docker kill' returning and the container's end (CI saw it once).
            return CheckResult(False, MSG_LC_SIGNALLED_SETTLING, p)
        return CheckResult(False, MSG_LC_STOP_FIRST if command == "stop" else MSG_LC_KILL_FIRST, p)
    p["code"] = "?" if c.exit_code is None else c.exit_code
    killed, by_stop = c.exit_code == SIGKILL_EXIT, _stop_command(c.history)
    passes = by_stop if command == "stop" else (killed and not by_stop)
    if passes and state.observed_at and c.died_at and state.observed_at - c.died_at < EXITED_SETTLE_S:
        return CheckResult(False, MSG_LC_EXITED_SETTLING, p)
    if command == "stop":
        if passes:
            return CheckResult(True, MSG_LC_STOP_OK, p)
        if (not killed and state.observed_at and c.died_at
                and state.observed_at - c.died_at < EXITED_SETTLE_S):
            # Ended a moment ago: the 'stop' event of a 'docker stop' may still be on its way.
            return CheckResult(False, MSG_LC_EXITED_SETTLING, p)
        return CheckResult(False, MSG_LC_KILLED_NOT_STOPPED if killed else MSG_LC_ENDED_NOT_STOPPED, p)
    if passes:
        return CheckResult(True, MSG_LC_KILL_OK, p)
    if killed:
        return CheckResult(False, MSG_LC_KILLED_BY_STOP,
                           {**p, "image": rerun_image or image or c.image or "IMAGE"})
    return CheckResult(False, MSG_LC_STOPPED_NOT_KILLED, p)


def not_started(c: ContainerObs) -> CheckResult:
    """The verdict on container ``c`` left in the created state: its start failed (a host port
    already taken, or another error the engine kept), or it was never asked to start."""
    p: dict[str, Any] = {"name": c.name, "state": c.state}
    if not c.start_error:
        return CheckResult(False, MSG_LC_CREATED, p)
    if "port is already allocated" in c.start_error or "address already in use" in c.start_error:
        return CheckResult(False, MSG_LC_START_FAILED_PORT, p)
    # The end of the engine's error says what went wrong (its start names the layers it passed).
    error = re.sub(r"(: unknown)+$", "", c.start_error.strip())
    if len(error) > MAX_SHOWN:
        error = "…" + error[-(MAX_SHOWN - 1):]
    return CheckResult(False, MSG_LC_START_FAILED, {**p, "error": error})


def _ended_before_removal(state: EngineState, name: str) -> ContainerObs | None:
    """The latest removed container named ``name`` when the engine's events show how it ended:
    a 'die' with an exit code and no start after it (so no 'docker restart' was under way)."""
    ended = next((g for g in reversed(state.gone) if g.name == name), None)
    if ended is None or ended.exit_code is None or "die" not in ended.history:
        return None
    last_die = len(ended.history) - 1 - ended.history[::-1].index("die")
    return None if "start" in ended.history[last_die:] else ended


def _kill_typed(state: EngineState, ended: ContainerObs) -> bool:
    """Whether the shell history holds a ``docker kill`` (or ``docker container kill``) typed
    shortly before the removed container ``ended`` died by SIGKILL.

    The engine cannot tell ``docker kill`` from ``docker rm -f``: both send SIGKILL through the
    same code and leave the same events (``kill`` with signal 9, ``die`` with exit code 137,
    and ``destroy`` for the removal, at once or after a separate ``docker rm``). Only the
    command typed tells them apart. A time of 0 (a history without times, a container whose
    death time is not known) does not rule an entry out."""
    for entry in reversed(state.shell_history):
        if entry.time and ended.died_at and not (
                ended.died_at - KILL_COMMAND_WINDOW_S <= entry.time <= ended.died_at + 1):
            continue
        if entry.time and ended.started_at and entry.time + 1 < ended.started_at:
            continue  # typed before this container's last start (history times are whole seconds)
        if any(words[:2] == ["docker", "kill"] for words in shell_commands(_first_line(entry.text))):
            return True
    return False


def _removed_running(state: EngineState, gone: ContainerObs) -> bool:
    """Whether the removed container ``gone`` was removed while it still ran: its last end was
    a SIGKILL (exit code 137) with no ``docker stop`` behind it, and no ``docker kill`` was typed
    then (:func:`_kill_typed`), so the kill was the one ``docker rm -f`` sends first. The events
    alone cannot tell ``docker kill life; docker rm life`` from ``docker rm -f life``."""
    return (gone.exit_code == SIGKILL_EXIT and "die" in gone.history
            and not _stop_command(gone.history) and not _kill_typed(state, gone))


def _went_through(gone: ContainerObs) -> bool:
    """Whether the removed container ``gone`` went through the lab's earlier steps as far as its
    events tell: it was paused, or stopped (or killed) and started again."""
    return "pause" in gone.history or gone.history.count("start") > 1


def container_lifecycle_reads(state: EngineState, *, name: str, command: str,
                              **_: Any) -> frozenset[str]:
    """What :func:`container_lifecycle` needs besides the engine's lists: the shell history for
    the ``kill`` and ``rm`` steps once container ``name`` is gone and its events show it ended by
    SIGKILL (was it ``docker kill``, or ``docker rm -f``?)."""
    if command in ("kill", "rm") and _named(state, name) is None:
        ended = _ended_before_removal(state, name)
        if ended is not None and ended.exit_code == SIGKILL_EXIT:
            return frozenset({"history"})
    return frozenset()


def _stop_command(history: tuple[str, ...]) -> bool:
    """True when ``history`` shows a ``stop`` event after its latest ``start``: the container's
    last end came from ``docker stop`` (or ``docker compose stop``), which the engine reports
    with a ``stop`` event whether the process ended at SIGTERM (or the image's STOPSIGNAL) or
    at the SIGKILL sent when the grace time ran out (``docker stop -t 0``). ``docker kill``, a
    process that exits by itself and ``docker rm -f`` leave no ``stop`` event (Docker Engine
    API, "Monitor events": container events ``kill``, ``die``, ``stop``)."""
    starts = [i for i, action in enumerate(history) if action == "start"]
    return "stop" in history[starts[-1] + 1:] if starts else "stop" in history


def _stopped_then_started(history: tuple[str, ...]) -> bool:
    """True when ``history`` shows a ``docker stop`` (a ``stop`` event) and later a start of its
    own: one not followed by a ``restart`` event, which ``docker restart`` adds right after the
    start it makes."""
    for i, action in enumerate(history):
        if action == "stop" and "start" in history[i + 1:]:
            j = history.index("start", i + 1)
            if history[j + 1:j + 2] != ("restart",):
                return True
    return False


def containers_published(
    state: EngineState, *, image: str, publish: dict[str, int], container_port: str = "80/tcp",
    answered: bool = False,
) -> CheckResult:
    """Pass when every container named in ``publish`` runs from ``image`` and publishes
    ``container_port`` on its host port, and has run for a moment (:func:`started_settling`);
    with ``answered``, each must also have served an HTTP request (seen in its log)."""
    cport_num = container_port.split("/", 1)[0]
    serving: list[tuple[ContainerObs, int]] = []
    for name, hport in publish.items():
        p: dict[str, Any] = {"name": name, "image": image, "cport": container_port,
                             "hport": hport, "cport_num": cport_num}
        c = _named(state, name)
        if c is None:
            other = next(
                (o for o in state.containers
                 if o.name not in publish and o.state == "running"
                 and container_uses_image(state, o, image)
                 and any(b.host_port == int(hport) for b in o.ports)),
                None,
            )
            if other is not None:
                return CheckResult(False, MSG_OTHER_NAME, {**p, "image": other.image or image,
                                                           "other": other.name})
            return no_container(state, name)
        if not container_uses_image(state, c, image):
            return CheckResult(False, MSG_WRONG_IMAGE, {**p, "actual": c.image})
        p["state"] = c.state
        if c.state == "created":
            settling = created_settling(state, c)
            if settling is not None:
                return settling
            # Only a start that failed is about a port (QA: a 'docker create' of web3, never
            # started, was blamed on a taken host port).
            if not c.start_error:
                return not_started(c)
            return CheckResult(False, MSG_PUB_CREATED, p)
        if c.state == "paused":
            return CheckResult(False, MSG_LC_PAUSED, p)
        if c.state != "running":
            return CheckResult(False, MSG_NOT_RUNNING, p)
        bound = sorted({b.host_port for b in c.ports if b.container_port == container_port})
        if not bound:
            return CheckResult(False, MSG_NOT_PUBLISHED, p)
        if int(hport) not in bound:
            return CheckResult(False, MSG_WRONG_PORT,
                               {**p, "actual": ", ".join(str(b) for b in bound)})
        just_started = started_settling(state, c)
        if just_started is not None:
            return just_started
        serving.append((c, hport))
    if answered:
        for c, hport in serving:
            if not c.http_requests:
                return CheckResult(False, MSG_PUB_SILENT, {"name": c.name, "hport": hport})
    names = ", ".join(publish)
    if answered:
        return CheckResult(True, MSG_PUB_ANSWERED, {"names": names, "count": len(publish)})
    return CheckResult(True, MSG_PUB_OK, {"names": names, "image": image,
                                          "ports": ", ".join(str(h) for h in publish.values())})


# Networks ---------------------------------------------------------------------
DEFAULT_NETWORKS = ("bridge", "host", "none")


def network_exists(state: EngineState, *, name: str, driver: str = "bridge") -> CheckResult:
    """Pass when a network ``name`` exists with ``driver``; a user-defined network by another
    name is the likely near miss (a typo)."""
    net = next((n for n in state.networks if n.name == name), None)
    if net is None:
        other = next((n.name for n in state.networks if n.name not in DEFAULT_NETWORKS), None)
        if other is not None:
            return CheckResult(False, MSG_NET_OTHER, {"name": name, "other": other})
        return CheckResult(False, MSG_NET_MISSING, {"name": name})
    if net.driver != driver:
        return CheckResult(False, MSG_NET_DRIVER, {"name": name, "actual": net.driver,
                                                   "driver": driver})
    return CheckResult(True, MSG_NET_OK, {"name": name, "driver": driver})


def containers_on_network_reads(state: EngineState, *, answered: list[str] | None = None,
                                **_: Any) -> frozenset[str]:
    """What :func:`containers_on_network` needs besides the engine's lists: with ``answered``,
    the shell history once those containers have answered (by name, or by address?)."""
    answering = [c for n in answered or [] if (c := _named(state, n)) is not None]
    return frozenset({"history"}) if answering and all(c.http_requests for c in answering) \
        else frozenset()


def containers_on_network(
    state: EngineState, *, network: str, names: list[str], answered: list[str] | None = None
) -> CheckResult:
    """Pass when every container in ``names`` runs attached to ``network`` (a user-defined
    network, or ``none``/``host``); with ``answered``, those must also have served an HTTP
    request (seen in their log), which on a user-defined network can be asked for by name, and
    the learner's latest request to them in the shell history must not have gone to an address
    (:func:`_asked_by_address`). A container that started less than STARTED_SETTLE_S seconds
    before ``state.observed_at`` does not pass yet (:func:`started_settling`): its command may be
    about to end."""
    for name in names:
        p: dict[str, Any] = {"name": name, "network": network}
        c = _named(state, name)
        if c is None:
            return no_container(state, name)
        if network not in c.networks:
            actual = ", ".join(c.networks) or c.network_mode or "-"
            if not c.networks and c.network_mode and network == "none":
                # 'docker network disconnect': no network left, yet its mode is still bridge.
                return CheckResult(False, MSG_ONNET_DETACHED, {**p, "actual": actual})
            return CheckResult(False, MSG_ONNET_WRONG, {**p, "actual": actual})
        if c.state == "created":
            return created_settling(state, c) or not_started(c)
        if c.state == "paused":
            return CheckResult(False, MSG_LC_PAUSED, p)
        if c.state == "exited":
            return CheckResult(False, MSG_ONNET_EXITED,
                               {**p, "code": "?" if c.exit_code is None else c.exit_code})
        if c.state != "running":
            return CheckResult(False, MSG_NOT_RUNNING, {**p, "state": c.state})
        just_started = started_settling(state, c)
        if just_started is not None:
            return just_started
    for name in answered or []:
        c = _named(state, name)
        client = next((n for n in names if n != name), name)
        if c is not None and not c.http_requests:
            return CheckResult(False, MSG_ONNET_SILENT, {"name": name, "client": client})
        address = _asked_by_address(state, name)
        if address is not None:
            return CheckResult(False, MSG_ONNET_BY_ADDRESS,
                               {"name": name, "client": client, "address": address})
    if answered:
        return CheckResult(True, MSG_ONNET_ANSWERED, {"names": ", ".join(answered),
                                                      "network": network})
    return CheckResult(True, MSG_ONNET_OK if len(names) > 1 else MSG_ONNET_OK_ONE,
                       {"names": ", ".join(names), "network": network})


# A command that sends an HTTP request to another container (the networking lab's 'call by
# name'; a ping by address after it sends no request and changes nothing).
_REQUEST_TOOL = re.compile(r"(?:^|[\s;|&(`'\"])(?:wget|curl)\s")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_LOOKED_UP = re.compile(r"\$\(\s*docker\s+(?:container\s+)?inspect|`\s*docker\s+(?:container\s+)?inspect")


def _asked_by_address(state: EngineState, name: str) -> Any:
    """The address by which the learner's latest request to container ``name`` went, when it
    went to an address instead of the name: the IPv4 literal in the command, or "its IP
    address" (a lazy text) for one looked up with ``$(docker inspect ...)``. None when the
    latest request in
    the shell history names ``name`` as its host, or when the history shows none (a request
    typed in a shell inside a container leaves no trace there; the log's requests count then).
    QA: a 'wget' to api's address passed the step that teaches reaching it by name."""
    by_name = re.compile(rf"(?:^|[\s/@'\"=]){re.escape(name)}(?::\d+)?(?:[/\s'\";|&)]|$)")
    for entry in reversed(state.shell_history[-50:]):
        line = _first_line(entry.text)
        tool = _REQUEST_TOOL.search(" " + line)
        if tool is None:
            continue
        # What the request names: the words after the tool ('docker exec api wget ...' runs in
        # api, and names it before the tool).
        target = (" " + line)[tool.end() - 1:]
        looked_up = _LOOKED_UP.search(target)
        literal = next((m for m in _IPV4.findall(target) if not m.startswith("127.")), None)
        if by_name.search(target) and not looked_up and literal is None:
            return None
        if looked_up:
            return _("its IP address")  # lazy: said in the language the message is shown in
        if literal is not None:
            return literal
    return None


ALL_INTERFACES = ("0.0.0.0", "::", "")


def published_on(
    state: EngineState, *, name: str, host_port: int, host_ip: str, port: str = "80/tcp"
) -> CheckResult:
    """Pass when running container ``name`` publishes container ``port`` on ``host_port`` of
    ``host_ip`` only: ``127.0.0.1`` for this machine alone, ``0.0.0.0`` for every interface.
    A container that started just now does not pass yet (:func:`started_settling`)."""
    c = _named(state, name)
    p: dict[str, Any] = {"name": name, "cport": port, "hport": host_port, "host_ip": host_ip,
                         "cport_num": port.split("/", 1)[0]}
    if c is None:
        return no_container(state, name)
    if c.state == "created":
        return created_settling(state, c) or CheckResult(False, MSG_PUB_CREATED, p)
    if c.state != "running":
        return CheckResult(False, MSG_NOT_RUNNING, {**p, "state": c.state})
    ips = [b.host_ip for b in c.ports if b.container_port == port and b.host_port == int(host_port)]
    if not ips:
        actual = ", ".join(f"{b.host_ip}:{b.host_port}->{b.container_port}" for b in c.ports)
        return CheckResult(False, MSG_PUBON_MISSING, {**p, "actual": actual or "-"})
    if host_ip in ALL_INTERFACES:
        wrong = [] if any(ip in ALL_INTERFACES for ip in ips) else ips
    else:
        wrong = [ip for ip in ips if ip != host_ip]
    if wrong:
        return CheckResult(False, MSG_PUBON_IP, {**p, "actual": wrong[0] or "0.0.0.0"})
    just_started = started_settling(state, c)
    if just_started is not None:
        return just_started
    return CheckResult(True, MSG_PUBON_OK, p)


# Storage ----------------------------------------------------------------------
MOUNT_TYPES = ("volume", "bind", "tmpfs")


def _anonymous(volume_name: str) -> bool:
    """Docker names an anonymous volume with 64 hex digits."""
    return len(volume_name) == 64 and all(ch in "0123456789abcdef" for ch in volume_name)


def volume_exists(state: EngineState, *, name: str) -> CheckResult:
    """Pass when a volume ``name`` exists; another named (not anonymous) volume is a near miss."""
    if any(v.name == name for v in state.volumes):
        return CheckResult(True, MSG_VOL_OK, {"name": name})
    other = next((v.name for v in state.volumes
                  if not v.anonymous and not _anonymous(v.name)), None)
    if other is not None:
        return CheckResult(False, MSG_VOL_OTHER, {"name": name, "other": other})
    return CheckResult(False, MSG_VOL_MISSING, {"name": name})


def _mount_flag(mount: str, destination: str, volume: str | None, source: str | None,
                read_only: bool) -> str:
    """The docker run option a learner would type for the expected mount."""
    if mount == "tmpfs":
        return f"--mount type=tmpfs,destination={destination} (or --tmpfs {destination})"
    src = volume if mount == "volume" else source or "FOLDER"
    if src and src.startswith("/root/"):
        src = "~/" + src[len("/root/"):]
    return f"-v {src}:{destination}" + (":ro" if read_only else "")


def volume_mounted(
    state: EngineState, *, name: str, destination: str, mount: str, volume: str | None = None,
    source: str | None = None, read_only: bool = False, command: str | None = None,
    gone: list[str] | None = None, holds: str | None = None, finished: bool = False,
) -> CheckResult:
    """Pass when container ``name`` has a mount of kind ``mount`` (volume, bind, tmpfs) at
    ``destination`` (of ``volume``, or of host folder ``source``; read-only with ``read_only``)
    and is running or exited with
    code 0: a command that ran to its end with the mount proves it worked (a ``cat`` of a file
    in the volume succeeds only when the file is there). With ``finished``, it must have exited
    (code 0): a command still running has proved nothing yet. ``command`` must appear in its
    command, the containers in ``gone`` must have been removed, and with ``holds`` (a path
    under ``destination``) the mount must hold that file, not empty (read through the engine,
    :attr:`EngineState.container_files`): the container wrote what the step asks for."""
    flag = _mount_flag(mount, destination, volume, source, read_only)
    p: dict[str, Any] = {"name": name, "destination": destination, "type": mount,
                         "volume": volume or "", "source": source or "", "flag": flag}
    c = _named(state, name)
    if c is None:
        return no_container(state, name)
    m = next((m for m in c.mounts if m.destination.rstrip("/") == destination.rstrip("/")), None)
    if m is None:
        return CheckResult(False, MSG_MOUNT_NONE, p)
    if m.type != mount:
        return CheckResult(False, MSG_MOUNT_TYPE, {**p, "actual": m.type})
    if mount == "volume" and volume and m.name != volume:
        msg = MSG_MOUNT_ANON if _anonymous(m.name) else MSG_MOUNT_VOLUME
        return CheckResult(False, msg, {**p, "actual": m.name})
    if mount == "bind" and source and m.source.rstrip("/") != source.rstrip("/"):
        return CheckResult(False, MSG_MOUNT_SOURCE, {**p, "actual": m.source})
    if read_only and m.rw:
        return CheckResult(False, MSG_MOUNT_WRITABLE, p)
    if command and not _runs(c.command, command):
        return CheckResult(False, MSG_MOUNT_COMMAND, {**p, "actual": c.command,
                                                      "command": command})
    if c.state == "created":
        return created_settling(state, c) or not_started(c)
    if c.state == "paused":
        return CheckResult(False, MSG_LC_PAUSED, p)
    if c.state not in ("running", "exited"):
        return CheckResult(False, MSG_NOT_RUNNING, {**p, "state": c.state})
    if c.state == "exited" and c.exit_code != 0:
        return CheckResult(False, MSG_MOUNT_FAILED,
                           {**p, "code": "?" if c.exit_code is None else c.exit_code})
    for other in gone or []:
        if _named(state, other) is not None:
            return CheckResult(False, MSG_MOUNT_GONE, {"other": other})
    if finished and c.state != "exited":
        # Looked at again soon while it may be about to end: the engine lists a container
        # as running for a moment after its 'docker run' returned (and its 'die' event).
        starts = [i for i, action in enumerate(c.history) if action == "start"]
        died = "die" in c.history[starts[-1]:] if starts else "die" in c.history
        recent = bool(state.observed_at and c.created
                      and state.observed_at - c.created < UNFINISHED_RECHECK_S)
        return CheckResult(False, MSG_MOUNT_UNFINISHED, {**p, "recheck": died or recent})
    what = {"volume": m.name, "bind": m.source, "tmpfs": "tmpfs"}[mount]
    if holds:
        path = _inside(destination, holds)
        f = next((f for f in state.container_files if f.container == name and f.path == path),
                 None)
        fp = {**p, "what": what, "file": path}
        if f is None or f.kind != "file":
            return CheckResult(False, MSG_MOUNT_NO_FILE, fp)
        if f.size == 0:
            return CheckResult(False, MSG_MOUNT_EMPTY_FILE, fp)
    return CheckResult(True, MSG_MOUNT_OK, {**p, "what": what})


_TAR_MODES = {"c": "--create", "x": "--extract", "t": "--list"}


def _runs(command: str, wanted: str) -> bool:
    """Whether a container's ``command`` runs ``wanted``: a part of it, except for a tar mode
    (``"tar c"``, ``"tar x"``, ``"tar t"``): tar with that mode in any of its spellings, the
    bundled first word (``tar czf``), a dash cluster (``tar -czf``, ``tar -zcf``), a separate
    option (``tar -c -z -f``) or the long one (``tar --create``); GNU tar's and BusyBox's tar
    manuals. QA: ``tar -czf`` was refused for lacking "tar c"."""
    m = re.fullmatch(r"tar ([ctx])", wanted)
    if m is None:
        return wanted in command
    mode = m.group(1)
    words = command.split()
    for i, w in enumerate(words):
        if w.rsplit("/", 1)[-1] != "tar":
            continue
        args = words[i + 1:]
        if args and not args[0].startswith("-") and mode in args[0]:
            return True
        if any(a == _TAR_MODES[mode] or (a.startswith("-") and not a.startswith("--")
                                          and mode in a[1:]) for a in args):
            return True
    return False


def _inside(destination: str, holds: str) -> str:
    """The absolute path of ``holds`` under the mount point ``destination``."""
    return destination.rstrip("/") + "/" + holds.lstrip("/")


def volume_mounted_paths(*, name: str, destination: str, holds: str | None = None,
                         **_: Any) -> tuple[tuple[str, str], ...]:
    """The file :func:`volume_mounted` reads inside its container (with ``holds``)."""
    return ((name, _inside(destination, holds)),) if holds else ()


# Building images ----------------------------------------------------------------


def _tagged(state: EngineState, ref: str) -> ImageObs | None:
    """The image that carries tag ``ref`` (``hello:1``), if any."""
    want = normalize_ref(ref)
    return next((i for i in state.images if any(normalize_ref(t) == want for t in i.tags)), None)


def _built_last_without_a_name(state: EngineState) -> bool:
    """Whether the newest image of the engine has no name (a ``docker build`` without ``-t``).
    An older unnamed image is no sign of it: a rebuild under the same tag leaves the previous
    image without a name (a "dangling" image). Build times unknown (0): any unnamed image."""
    unnamed = [i.created for i in state.images if not i.tags]
    if not unnamed:
        return False
    named = [i.created for i in state.images if i.tags]
    if not any(unnamed) and not any(named):
        return True
    return max(unnamed) > max(named, default=0)


def dockerignore_excludes(text: str, name: str) -> bool:
    """Whether a .dockerignore with ``text`` leaves the file ``name`` (a path relative to the
    build context) out of the build context. The file is read as docker-py reads it (one pattern
    per line, blank lines and ``#`` comments skipped) and matched with docker-py's
    ``PatternMatcher``, which follows Docker's rules (``*``, ``**``, ``!`` exceptions, the last
    matching line wins: https://docs.docker.com/build/concepts/context/#dockerignore-files)."""
    from docker.utils.build import PatternMatcher

    patterns = [line.strip() for line in text.splitlines()]
    patterns = [x for x in patterns if x and not x.startswith("#")]
    try:
        return bool(patterns) and PatternMatcher(patterns).matches(name)
    except Exception:  # noqa: BLE001 - a pattern the matcher cannot read: nothing is left out
        return False


def _built_without_cache_since(state: EngineState, since: int) -> bool:
    """Whether the shell history holds a ``docker build`` with ``--no-cache`` run at or after
    ``since`` (epoch seconds; 0, or an entry without a time: any). BuildKit keeps the layers of
    such a build in its cache, and later builds of the same lines reuse them, so an image built
    before it shares no layer with the ones built after (measured on the sandbox's engine)."""
    for entry in reversed(state.shell_history):
        if since and entry.time and entry.time < since:
            break
        for words in shell_commands(_first_line(entry.text)):
            if words[:2] == ["docker", "build"] and any(
                    w == "--no-cache" or w in ("--no-cache=true", "--no-cache=1")
                    for w in words[2:]):
                return True
    return False


def image_built_reads(state: EngineState, *, image: str, reuses: str | None = None,
                      shares: int | None = None, **_: Any) -> frozenset[str]:
    """What :func:`image_built` needs besides the engine's lists: with ``reuses`` and
    ``shares``, the shell history once ``image`` exists (was it built with --no-cache?)."""
    return frozenset({"history"}) if reuses and shares is not None \
        and _tagged(state, image) is not None else frozenset()


def image_built_texts(*, context: str | None = None, ignores: list[str] | None = None,
                      stages: int | None = None, **_: Any) -> tuple[str, ...]:
    """The .dockerignore of the build folder ``context``, when the check names files it must
    leave out (``ignores``), and its Dockerfile, when it counts the build's ``stages``."""
    texts = (f"{context}/.dockerignore",) if context and ignores else ()
    return texts + ((f"{context}/Dockerfile",) if context and stages else ())


def dockerfile_stages(text: str) -> tuple[int, bool]:
    """(how many stages, whether a COPY takes files from another stage) of a Dockerfile's
    ``text``: its FROM instructions, and a ``COPY --from=...`` (Dockerfile reference,
    "Multi-stage builds"). Parsed with dockerfile-parse (comments, line continuations)."""
    import io

    from dockerfile_parse import DockerfileParser

    structure = DockerfileParser(fileobj=io.BytesIO(text.encode())).structure
    froms = sum(1 for i in structure if i["instruction"] == "FROM")
    copies = any(i["instruction"] == "COPY" and re.search(r"(?:^|\s)--from[=\s]", i["value"])
                 for i in structure)
    return froms, copies


def image_built(
    state: EngineState, *, image: str, base: str | None = None,
    label: dict[str, str] | None = None, reuses: str | None = None,
    own_layers: int | None = None, shares: int | None = None, max_added: int | None = None,
    context: str | None = None, ignores: list[str] | None = None, stages: int | None = None,
) -> CheckResult:
    """Pass when an image tagged ``image`` exists, built on the layers of ``base`` and carrying
    every ``label``. With ``reuses`` (the tag of an earlier build of the same Dockerfile), it
    must differ from that image yet share more layers with it than the base alone: the build
    cache gave back the layers before the changed line; with ``shares`` too, exactly that many
    of its own layers (above the base) must be shared, which tells which line was changed.
    ``own_layers`` is the exact number of layers it must add on top of ``base`` (a multi-stage
    build adds only what its last stage copies), and ``max_added`` the most bytes it may add to
    the base's size (what ``.dockerignore`` keeps out of the build context stays out of it).
    ``ignores`` names files (such as ``.env``) that the ``.dockerignore`` of the build folder
    ``context`` (relative to /root) must leave out: a secret too small to show in the size
    (:func:`dockerignore_excludes`; that file is read from the workspace as text). With
    ``stages``, the Dockerfile in ``context`` must have at least that many stages and copy from
    one of them (:func:`dockerfile_stages`; QA: a one-stage build of the same page passed the
    multi-stage step); a Dockerfile that is not there (built with -f from elsewhere) is not
    held against it."""
    p: dict[str, Any] = {"image": image, "base": base or "", "reuses": reuses or ""}
    img = _tagged(state, image)
    if img is None:
        repo = repo_of(image)
        skip = normalize_ref(reuses) if reuses else ""
        other = next((t for i in state.images for t in i.tags
                      if repo_of(t) == repo and normalize_ref(t) != skip), None)
        if other is not None:
            return CheckResult(False, MSG_BUILD_OTHER_TAG, {**p, "found": other})
        same_repo = any(repo_of(t) == repo for i in state.images for t in i.tags)
        if not same_repo and _built_last_without_a_name(state):
            return CheckResult(False, MSG_BUILD_UNTAGGED, p)
        return CheckResult(False, MSG_BUILD_MISSING, p)
    base_img = _tagged(state, base) if base else None
    if base and base_img is None:
        return CheckResult(False, MSG_BUILD_NO_BASE, p)
    base_layers = base_img.layers if base_img else ()
    if base_layers and img.layers and img.layers[: len(base_layers)] != base_layers:
        return CheckResult(False, MSG_BUILD_BASE, p)
    for key, value in (label or {}).items():
        if key in img.labels and img.labels[key] != str(value):
            return CheckResult(False, MSG_BUILD_LABEL_VALUE, {**p, "key": key, "value": value,
                                                              "actual": img.labels[key]})
        if img.labels.get(key) != str(value):
            return CheckResult(False, MSG_BUILD_LABEL, {**p, "key": key, "value": value})
    if max_added is not None and base_img is not None and img.size - base_img.size > max_added:
        return CheckResult(False, MSG_BUILD_TOO_BIG, {**p, "added": _megabytes(
            img.size - base_img.size), "max": _megabytes(max_added)})
    if ignores and context:
        f = _file(state, f"{context}/.dockerignore")
        left_in = [n for n in ignores if not dockerignore_excludes(f.text or "", n)]
        if f.kind == "missing" and left_in:
            return CheckResult(False, MSG_BUILD_NO_IGNORE_FILE, {**p, "context": context,
                                                                 "file": left_in[0]})
        if f.text is not None and left_in:
            return CheckResult(False, MSG_BUILD_NOT_IGNORED, {**p, "context": context,
                                                              "file": left_in[0]})
    own = len(img.layers) - len(base_layers)
    if own_layers is not None and img.layers and own != own_layers:
        on = _built_on_other(state, img, base_layers)
        if on is not None:
            return CheckResult(False, MSG_BUILD_BASE_OTHER, {**p, "other": on})
        return CheckResult(False, MSG_BUILD_OWN_LAYERS, {**p, "own": own, "want": own_layers})
    if stages and context:
        f = _file(state, f"{context}/Dockerfile")
        if f.text is not None:
            found, copies = dockerfile_stages(f.text)
            if found < stages or not copies:
                return CheckResult(False, MSG_BUILD_ONE_STAGE, {**p, "file": f"~/{context}/Dockerfile",
                                                                "stages": found})
    if reuses:
        prev = _tagged(state, reuses)
        if prev is None:
            return CheckResult(False, MSG_BUILD_MISSING, {**p, "image": reuses})
        if prev.id == img.id:
            return CheckResult(False, MSG_BUILD_SAME if shares is None else MSG_BUILD_SAME_LINE, p)
        shared = 0
        for mine, theirs in zip(img.layers, prev.layers, strict=False):
            if mine != theirs:
                break
            shared += 1
        if shares is not None:
            own_shared = max(shared - len(base_layers), 0)
            if own_shared != shares:
                no_cache = own_shared < shares and _built_without_cache_since(state, prev.created)
                return CheckResult(False, MSG_BUILD_SHARES_NO_CACHE if no_cache
                                   else MSG_BUILD_SHARES, {**p, "actual": own_shared,
                                                           "shares": shares})
            return CheckResult(True, MSG_BUILD_REUSED, {**p, "shared": own_shared})
        if shared <= len(base_layers):
            return CheckResult(False, MSG_BUILD_NO_CACHE, p)
        return CheckResult(True, MSG_BUILD_REUSED, {**p, "shared": shared - len(base_layers)})
    if base_layers:
        return CheckResult(True, MSG_BUILD_OK_BASE, {**p, "own": own})
    return CheckResult(True, MSG_BUILD_OK, p)


MSG_BUILD_ONE_STAGE = ngettext_lazy(
    "%(image)s was built, but %(file)s has %(stages)d stage (FROM) and no 'COPY --from=...': "
    "this step builds the page in a first stage and copies only the result into the last one.",
    "%(image)s was built, but %(file)s has %(stages)d stages (FROM) and no 'COPY --from=...': "
    "this step builds the page in a first stage and copies only the result into the last one.",
    "stages")


def _built_on_other(state: EngineState, img: ImageObs, base_layers: tuple[str, ...]) -> str | None:
    """The tag of another image (of another repository) that ``img`` is built on and that is
    itself built on the base (``base_layers``): here the alpine stand-in extends the busybox
    one, so a Dockerfile 'FROM alpine' seemed to add its layers to busybox (QA: "stack:1 has 4
    layers of its own on top of busybox"). The one with the most layers; None when none is."""
    repo = {repo_of(t) for t in img.tags}
    best: ImageObs | None = None
    for other in state.images:
        if other.id == img.id or not other.tags or {repo_of(t) for t in other.tags} & repo:
            continue
        n = len(other.layers)
        if len(base_layers) < n < len(img.layers) and img.layers[:n] == other.layers \
                and (best is None or n > len(best.layers)):
            best = other
    return None if best is None else best.tags[0]


def _megabytes(n: int) -> str:
    """A size as 'docker images' prints it (decimal megabytes): ``4.2MB``."""
    return f"{n / 1e6:.1f}MB"


# Compose ------------------------------------------------------------------------
# Labels Docker Compose v2 puts on what it creates (docker/compose, pkg/api/labels.go):
# containers carry the project, service, container number and working folder; networks and
# volumes carry the project and their key in the compose file. Compose names a container
# PROJECT-SERVICE-N, a network PROJECT_KEY and a volume PROJECT_KEY; the project name defaults
# to the name of the folder that holds the compose file, lowercased
# (https://docs.docker.com/compose/how-tos/project-name/).
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
COMPOSE_WORKDIR = "com.docker.compose.project.working_dir"
COMPOSE_VOLUME = "com.docker.compose.volume"


def _compose_containers(state: EngineState, project: str) -> dict[str, list[ContainerObs]]:
    """The service containers of ``project`` by service name, lowest container number first
    (one-off containers of ``docker compose run`` are left out)."""
    by_service: dict[str, list[ContainerObs]] = {}
    for c in state.containers:
        if c.labels.get(COMPOSE_PROJECT) != project or c.labels.get(COMPOSE_ONEOFF) == "True":
            continue
        by_service.setdefault(c.labels.get(COMPOSE_SERVICE, "?"), []).append(c)
    for cs in by_service.values():
        cs.sort(key=lambda c: c.labels.get(COMPOSE_NUMBER, ""))
    return by_service


def _compose_volume(state: EngineState, project: str, key: str) -> VolumeObs | None:
    """The volume Compose made for ``key`` of ``project`` (by its labels, or by its name)."""
    full = f"{project}_{key}"
    return next((v for v in state.volumes if v.name == full or (
        v.labels.get(COMPOSE_PROJECT) == project and v.labels.get(COMPOSE_VOLUME) == key)), None)


def _compose_seen(state: EngineState, project: str) -> bool:
    """Whether the engine recently removed something that belonged to ``project``."""
    return (any(n.startswith(f"{project}-") for n in state.removed)
            or any(n.startswith(f"{project}_") for n in state.removed_networks)
            or any(n.startswith(f"{project}_") for n in state.removed_volumes))


def _compose_absent(state: EngineState, project: str, services: list[str] | tuple[str, ...],
                    folder: str) -> CheckResult:
    """The verdict when ``project`` has no containers: another project that runs the same
    services (its compose file sits in another folder), or nothing yet."""
    p: dict[str, Any] = {"project": project, "folder": folder}
    others: dict[str, list[ContainerObs]] = {}
    for c in state.containers:
        other = c.labels.get(COMPOSE_PROJECT)
        if other and other != project and c.labels.get(COMPOSE_SERVICE) in services:
            others.setdefault(other, []).append(c)
    if others:
        other, cs = max(others.items(), key=lambda kv: len(kv[1]))
        found = ", ".join(sorted({c.labels.get(COMPOSE_SERVICE, "?") for c in cs}))
        where = cs[0].labels.get(COMPOSE_WORKDIR, "") or "?"
        if where.startswith("/root/"):
            where = "~/" + where[len("/root/"):]
        return CheckResult(False, MSG_COMPOSE_OTHER_PROJECT,
                           {**p, "other": other, "found": found, "other_folder": where})
    return CheckResult(False, MSG_COMPOSE_NONE, p)


def _compose_service_state(state: EngineState, service: str,
                           cs: list[ContainerObs]) -> CheckResult | None:
    """None when a container of ``service`` runs, else why not (the first container's state;
    one created just now is looked at again: :func:`created_settling`)."""
    if any(c.state == "running" for c in cs):
        return None
    c = cs[0]
    p: dict[str, Any] = {"service": service, "name": c.name, "state": c.state}
    if c.state == "exited":
        return CheckResult(False, MSG_COMPOSE_EXITED,
                           {**p, "code": "?" if c.exit_code is None else c.exit_code})
    if c.state == "created":
        return created_settling(state, c) or CheckResult(False, MSG_COMPOSE_CREATED, p)
    if c.state == "paused":
        return CheckResult(False, MSG_COMPOSE_PAUSED, p)
    return CheckResult(False, MSG_COMPOSE_STATE, p)


def compose_project_running(
    state: EngineState, *, project: str, services: list[str], volumes: list[str] | None = None,
    answered: list[str] | None = None, started_again: bool = False,
    restarted: list[str] | None = None, folder: str | None = None,
) -> CheckResult:
    """Pass when the Compose project ``project`` (seen by the labels Compose puts on its
    containers) runs a container for every service in ``services``.

    Optional conditions: every volume key in ``volumes`` exists as the project's volume
    (``PROJECT_KEY``) and a container of the project mounts it; each service in ``answered``
    has served an HTTP request (seen in its log); with ``started_again``, every service's
    container was stopped and started again (a ``die`` in its history: the same container,
    not a new one); each service in ``restarted`` was restarted (a ``restart`` event, as
    ``docker compose restart`` makes), and on its own: the latest ``docker compose restart`` of
    the project in the shell history named no other service of ``services`` (without a service
    name it restarts every one; a ``restart api`` after it passes). ``folder`` is where the
    learner keeps the compose file, for messages (default ``~/PROJECT``). A service whose
    containers all started just now does not count yet (:func:`started_settling`): a service
    whose command fails at once is up for a moment only.
    """
    folder = folder or f"~/{project}"
    p: dict[str, Any] = {"project": project, "folder": folder}
    by_service = _compose_containers(state, project)
    if not by_service:
        return _compose_absent(state, project, services, folder)
    for service in services:
        if service not in by_service:
            return CheckResult(False, MSG_COMPOSE_NO_SERVICE,
                               {**p, "service": service, "found": ", ".join(sorted(by_service))})
    for service in services:
        why = _compose_service_state(state, service, by_service[service])
        if why is not None:
            return why
    for key in volumes or []:
        full = f"{project}_{key}"
        vol = _compose_volume(state, project, key)
        if vol is None:
            return CheckResult(False, MSG_COMPOSE_NO_VOLUME, {**p, "volume": key, "full": full})
        mine = [c for cs in by_service.values() for c in cs]
        if not any(m.type == "volume" and m.name == vol.name for c in mine for m in c.mounts):
            return CheckResult(False, MSG_COMPOSE_VOLUME_UNUSED,
                               {**p, "volume": key, "full": vol.name})
    running = {s: [c for c in by_service[s] if c.state == "running"] for s in services}
    if started_again:
        for service in services:
            if not any("die" in c.history for c in running[service]):
                return CheckResult(False, MSG_COMPOSE_NOT_STARTED_AGAIN, {"service": service})
    for service in restarted or []:
        cs = running.get(service) or by_service.get(service) or []
        if not any("restart" in c.history for c in cs):
            return CheckResult(False, MSG_COMPOSE_NOT_RESTARTED, {"service": service})
    latest = _latest_restart(state, project) if restarted else None
    if latest is not None:  # unknown without it: the engine's restart events alone then count
        also = [s for s in services if s not in restarted and (not latest or s in latest)]
        if also:
            p = {"services": ", ".join(restarted), "others": ", ".join(also)}
            if latest:
                return CheckResult(False, MSG_COMPOSE_RESTARTED_NAMED,
                                   {**p, "entry": "docker compose restart " + " ".join(latest)})
            return CheckResult(False, MSG_COMPOSE_RESTARTED_OTHERS, p)
    for service in answered or []:
        cs = by_service.get(service) or []
        if not any(c.http_requests for c in cs):
            port = next((b.host_port for c in cs for b in c.ports), None)
            if port is None:
                return CheckResult(False, MSG_COMPOSE_SILENT_NOPORT, {"service": service})
            return CheckResult(False, MSG_COMPOSE_SILENT, {"service": service, "port": port})
    for service in services:
        # A service counts once one of its running containers has kept running.
        just_started = [started_settling(state, c) for c in running[service]]
        if just_started and all(v is not None for v in just_started):
            return min(just_started, key=recheck_after)
    if restarted:
        return CheckResult(True, MSG_COMPOSE_RESTARTED_OK, {**p, "restarted": ", ".join(restarted)})
    if started_again:
        return CheckResult(True, MSG_COMPOSE_STARTED_AGAIN_OK, {"services": ", ".join(services)})
    if answered:
        return CheckResult(True, MSG_COMPOSE_ANSWERED_OK, {**p, "answered": ", ".join(answered)})
    return CheckResult(True, MSG_COMPOSE_UP_OK, {**p, "services": ", ".join(services)})


def compose_project_stopped(
    state: EngineState, *, project: str, services: list[str], folder: str | None = None
) -> CheckResult:
    """Pass when every service of ``services`` in Compose project ``project`` still has its
    container, and none of them is up (``docker compose stop``: the containers stay, stopped).
    Containers that are gone after a recent removal mean ``down`` (or ``rm``) instead."""
    folder = folder or f"~/{project}"
    p: dict[str, Any] = {"project": project, "folder": folder}
    by_service = _compose_containers(state, project)
    if not by_service:
        if _compose_seen(state, project):
            return CheckResult(False, MSG_CSTOP_REMOVED, p)
        return _compose_absent(state, project, services, folder)
    for service in services:
        if service not in by_service:
            return CheckResult(False, MSG_COMPOSE_NO_SERVICE,
                               {**p, "service": service, "found": ", ".join(sorted(by_service))})
    up = [s for s in services if any(c.state in UP_STATES for c in by_service[s])]
    if up:
        return CheckResult(False, MSG_CSTOP_RUNNING, {**p, "running": ", ".join(up)})
    for service in services:
        c = by_service[service][0]
        if c.state == "created":
            return CheckResult(False, MSG_COMPOSE_CREATED, {"service": service, "name": c.name})
    return CheckResult(True, MSG_CSTOP_OK, {**p, "services": ", ".join(services)})


def compose_project_down(
    state: EngineState, *, project: str, volumes: list[str], keep_volumes: bool,
    services: list[str] | None = None, folder: str | None = None,
) -> CheckResult:
    """Pass when Compose project ``project`` was taken down: no container and no network of
    the project is left (a network still there means the containers were removed one by one,
    not by ``docker compose down``). With ``keep_volumes`` (plain ``down``) every volume key in
    ``volumes`` must still exist as the project's volume; without it (``down -v``) each must be
    gone. A project that never existed leaves the same end state, so ``down -v`` also needs proof
    that the project was there and taken down: the volumes' removal in the engine's recent events
    (the engine keeps only its last 256 events, so a busy learner can push it out), or else the
    shell history (:func:`compose_history`): a ``docker compose ... down -v`` (or ``--volumes``)
    after a ``docker compose ... up``. ``services`` only helps spot the project under another
    name; ``folder`` is used in messages (default ``~/PROJECT``)."""
    folder = folder or f"~/{project}"
    command = "docker compose down" if keep_volumes else "docker compose down -v"
    p: dict[str, Any] = {"project": project, "folder": folder, "command": command}
    by_service = _compose_containers(state, project)
    if by_service:
        mine = [c for cs in by_service.values() for c in cs]
        up = sorted({s for s, cs in by_service.items() if any(c.state in UP_STATES for c in cs)})
        if up:
            return CheckResult(False, MSG_CDOWN_UP, {**p, "running": ", ".join(up)})
        return CheckResult(False, MSG_CDOWN_STOPPED, {**p, "names": ", ".join(c.name for c in mine)})
    net = next((n for n in state.networks if n.labels.get(COMPOSE_PROJECT) == project), None)
    if net is not None:
        return CheckResult(False, MSG_CDOWN_BY_HAND, {**p, "network": net.name})
    names = [f"{project}_{key}" for key in volumes]
    p["volumes"] = ", ".join(names)
    kept = [(key, _compose_volume(state, project, key)) for key in volumes]
    if keep_volumes:
        gone = [f"{project}_{key}" for key, vol in kept if vol is None]
        if not gone:
            return CheckResult(True, MSG_CDOWN_KEPT_OK, p)
        if not _compose_seen(state, project) and not compose_history(state, project).up:
            return _compose_absent(state, project, services or [], folder)
        return CheckResult(False, MSG_CDOWN_VOLUME_GONE, {**p, "volume": gone[0]})
    left = [vol.name for _, vol in kept if vol is not None]
    if left:
        return CheckResult(False, MSG_CDOWN_VOLUME_KEPT, {**p, "volume": left[0]})
    if all(n in state.removed_volumes for n in names) and _compose_seen(state, project):
        return CheckResult(True, MSG_CDOWN_REMOVED_OK, p)
    ran = compose_history(state, project)
    others = _compose_others(state, project, services or [])
    if ran.down_volumes and not others:
        return CheckResult(True, MSG_CDOWN_REMOVED_OK, p)
    if others or not (_compose_seen(state, project) or ran.up):
        return _compose_absent(state, project, services or [], folder)
    unseen = [n for n in names if n not in state.removed_volumes]
    return CheckResult(False, MSG_CDOWN_NOT_SEEN, {**p, "volume": (unseen or names or [project])[0]})


def compose_down_reads(state: EngineState, *, project: str, volumes: list[str],
                       **_: Any) -> frozenset[str]:
    """What :func:`compose_project_down` needs besides the engine's lists in ``state``: the shell
    history when nothing of ``project`` is left, a volume of it is gone, and the engine's recent
    events do not show all of that (the history then tells a project taken down from one that
    never was). Reading the history costs an exec in the sandbox (``bench/observe_lab.py``), so
    only then."""
    if _compose_containers(state, project) or any(
            n.labels.get(COMPOSE_PROJECT) == project for n in state.networks):
        return frozenset()
    gone = [f"{project}_{k}" for k in volumes if _compose_volume(state, project, k) is None]
    if not gone or (_compose_seen(state, project) and all(n in state.removed_volumes for n in gone)):
        return frozenset()
    return frozenset({"history"})


@dataclass(frozen=True)
class ComposeRan:
    """What the shell history says of a Compose project: ``up`` when a ``docker compose ... up``
    was run, ``down_volumes`` when a ``docker compose ... down -v`` (or ``--volumes``) came after
    such an ``up``."""

    up: bool = False
    down_volumes: bool = False


# Options of 'docker compose' (before the subcommand) that take a value
# (https://docs.docker.com/reference/cli/docker/compose/).
_COMPOSE_VALUE_OPTIONS = frozenset({"-f", "--file", "-p", "--project-name", "--project-directory",
                                    "--env-file", "--profile", "--ansi", "--parallel",
                                    "--progress"})


def _compose_command(words: list[str]) -> tuple[str | None, str, list[str]]:
    """A simple command as Compose reads it: (project given with ``-p``, or None; subcommand;
    its arguments). The subcommand is empty when ``words`` is no Compose command
    (``docker compose ...`` or ``docker-compose ...``)."""
    if words[:2] == ["docker", "compose"]:
        rest = words[2:]
    elif words[:1] == ["docker-compose"]:
        rest = words[1:]
    else:
        return None, "", []
    named = None
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        opt, _, value = rest[i].partition("=")
        if opt in ("-p", "--project-name"):
            named = value or (rest[i + 1] if i + 1 < len(rest) else "")
        i += 1 if value or opt not in _COMPOSE_VALUE_OPTIONS else 2
    return (named, rest[i], rest[i + 1:]) if i < len(rest) else (named, "", [])


HOME = "/root"  # the learner's home folder, where each terminal starts


def _cd(cwd: str | None, words: list[str]) -> str | None:
    """The folder after ``cd`` with ``words`` (its arguments) from ``cwd``: None when it cannot
    be known from the words alone (``cd -``, a variable, a folder already unknown)."""
    target = words[0] if words else "~"
    if target == "~" or target.startswith("~/"):
        target = HOME + target[1:]
    if target == "-" or "$" in target or "`" in target or target.startswith("~"):
        return None
    if not target.startswith("/"):
        if cwd is None:
            return None
        target = posixpath.join(cwd, target)
    return posixpath.normpath(target)


def _compose_folder(cwd: str | None, words: list[str]) -> str | None:
    """The project folder of a Compose command typed in ``cwd``: its ``--project-directory``,
    else the folder of its first ``-f`` file, else ``cwd`` (Compose's own rule); None when
    unknown."""
    rest = words[2:] if words[:2] == ["docker", "compose"] else words[1:]
    folder = file = None
    for i, w in enumerate(rest):
        opt, _, value = w.partition("=")
        value = value or (rest[i + 1] if i + 1 < len(rest) else "")
        if opt == "--project-directory" and folder is None:
            folder = value
        elif opt in ("-f", "--file") and file is None:
            file = value
        elif not w.startswith("-"):
            break
    path = folder or (posixpath.dirname(file) if file else None)
    return _cd(cwd, [path]) if path is not None else cwd


def _project_name(folder: str) -> str:
    """The Compose project a folder gives: its name in lower case, with only letters, digits,
    '-' and '_' kept (Compose's normalization of a project name)."""
    return re.sub(r"[^a-z0-9_-]", "", posixpath.basename(folder).lower())


def compose_history(state: EngineState, project: str) -> ComposeRan:
    """Read the shell history (oldest first) for Compose commands that act on ``project``:
    those that name it with ``-p``, or name no project and run in a folder that gives it (the
    folder is followed through the ``cd`` commands of the history, from the home folder; a
    command whose folder cannot be known counts). ``-v`` may lead a group of short flags
    (``-vt 5``; in ``-tv`` the ``v`` is ``-t``'s value). An ``up`` typed in another folder
    (Compose then finds no compose.yaml there) is no ``up`` of the project."""
    up = down_v = False
    for sub, args in _project_commands(state, project):
        if sub == "up":
            up = True
        elif sub == "down" and up:
            down_v = down_v or any(a in ("--volumes", "--volumes=true")
                                   or (a.startswith("-v") and a[1:].isalpha()) for a in args)
    return ComposeRan(up=up, down_volumes=down_v)


def compose_project_running_reads(state: EngineState, *, restarted: list[str] | None = None,
                                  **_: Any) -> frozenset[str]:
    """What :func:`compose_project_running` needs besides the engine's lists: the shell history
    for a step that restarts services (which did the latest ``docker compose restart`` name?)."""
    return frozenset({"history"}) if restarted else frozenset()


def _project_commands(state: EngineState, project: str):
    """Yield (subcommand, its arguments) for each Compose command of the shell history (oldest
    first) that acts on ``project``, by the rules of :func:`compose_history`."""
    cwd: str | None = HOME
    for entry in state.shell_history:
        for words in shell_commands(_first_line(entry.text)):
            if words[0] == "cd":
                cwd = _cd(cwd, words[1:])
                continue
            named, sub, args = _compose_command(words)
            if not sub or named not in (None, project):
                continue
            if named is None:
                folder = _compose_folder(cwd, words)
                if folder is not None and _project_name(folder) != project:
                    continue
            yield sub, args


def _latest_restart(state: EngineState, project: str) -> tuple[str, ...] | None:
    """The services the latest ``docker compose restart`` of ``project`` in the shell history
    named (empty: it named none, so it restarted every service), or None when the history holds
    no such command. ``-t``/``--timeout`` take a value; other options none
    (https://docs.docker.com/reference/cli/docker/compose/restart/)."""
    latest = None
    for sub, args in _project_commands(state, project):
        if sub != "restart":
            continue
        named, skip = [], False
        for a in args:
            if skip:
                skip = False
            elif a in ("-t", "--timeout"):
                skip = True
            elif not a.startswith("-"):
                named.append(a)
        latest = tuple(named)
    return latest


def _compose_others(state: EngineState, project: str, services: list[str] | tuple[str, ...]
                    ) -> bool:
    """Whether another Compose project runs containers of the same ``services`` (the learner's
    compose file sits in another folder)."""
    return any(c.labels.get(COMPOSE_PROJECT) not in (None, project)
               and c.labels.get(COMPOSE_SERVICE) in services for c in state.containers)


# A container created but not started ---------------------------------------------


def container_created(state: EngineState, *, name: str, image: str,
                      publish: dict[str, int] | None = None) -> CheckResult:
    """Pass when container ``name`` exists from ``image`` in the ``created`` state: made by
    ``docker create`` (writable layer, settings, name) and never started. A container created
    less than CREATED_SETTLE_S seconds before ``state.observed_at`` does not pass yet
    (MSG_CREATED_SETTLING): it may be 'docker run' between creating and starting it.

    A container started since passes too when the shell history shows it was made by
    ``docker create``: the latest ``docker create`` or ``docker run`` that names it (with
    ``--name``) is a create (the engine's events and times cannot tell ``docker run`` from
    ``docker create`` then ``docker start``). ``publish`` (container port -> host port, as the
    lab's next step needs) must be what the container asked to publish (its
    ``requested_ports``), and goes into the command the messages suggest."""
    ports = "".join(f" -p {h}:{str(c).split('/', 1)[0]}" for c, h in (publish or {}).items())
    p: dict[str, Any] = {"name": name, "image": image,
                         "example": f"docker create --name {name}{ports} {image}"}
    c = _named(state, name)
    if c is None:
        other = next((o for o in state.containers
                      if o.state == "created" and container_uses_image(state, o, image)), None)
        if other is not None:
            return CheckResult(False, MSG_CREATED_OTHER, {**p, "other": other.name})
        if name in state.removed:
            # Not no_container's "run it again": this step's container is created, not run.
            return CheckResult(False, MSG_CREATED_REMOVED, p)
        return no_container(state, name)
    if not container_uses_image(state, c, image):
        return CheckResult(False, MSG_WRONG_IMAGE, {**p, "actual": c.image})
    if _other_tag(c, image):
        return CheckResult(False, MSG_WRONG_TAG, {**p, "actual": c.image})
    if c.state != "created":
        if _made_by(state, name) == "create":
            return CheckResult(True, MSG_CREATED_THEN_STARTED, p)
        return CheckResult(False, MSG_CREATED_STARTED, {**p, "state": c.state})
    if state.observed_at and c.created and state.observed_at - c.created < CREATED_SETTLE_S:
        return CheckResult(False, MSG_CREATED_SETTLING, p)
    # QA: a container created with another port, or none, passed, and the start step then had
    # the learner remove it and make it again.
    for cport, hport in (publish or {}).items():
        asked = sorted({b.host_port for b in c.requested_ports if b.container_port == cport})
        params = {**p, "cport": cport, "hport": hport}
        if not asked:
            return CheckResult(False, MSG_CREATED_NOT_PUBLISHED, params)
        if int(hport) not in asked:
            return CheckResult(False, MSG_CREATED_WRONG_PORT,
                               {**params, "actual": ", ".join(str(a) for a in asked)})
    return CheckResult(True, MSG_CREATED_OK, p)


def container_running_reads(state: EngineState, *, name: str, created_first: bool = False,
                            **_: Any) -> frozenset[str]:
    """What :func:`container_running` needs besides the engine's lists: with ``created_first``,
    the shell history once container ``name`` runs (was it made by ``docker run``?)."""
    c = _named(state, name)
    return frozenset({"history"}) if created_first and c is not None and c.state == "running" \
        else frozenset()


def container_created_reads(state: EngineState, *, name: str, **_: Any) -> frozenset[str]:
    """What :func:`container_created` needs besides the engine's lists: the shell history when
    container ``name`` exists and is no longer in the created state (was it made by
    ``docker create``?)."""
    c = _named(state, name)
    return frozenset({"history"}) if c is not None and c.state != "created" else frozenset()


def _made_by(state: EngineState, name: str) -> str | None:
    """``create`` or ``run``: the latest of those docker commands in the shell history that
    names a container ``name`` (``--name NAME`` or ``--name=NAME``); None when there is none."""
    for entry in reversed(state.shell_history):
        for words in reversed(shell_commands(_first_line(entry.text))):
            if words[:1] != ["docker"] or words[1:2] not in (["create"], ["run"]):
                continue
            rest = words[2:]
            named = any(w == f"--name={name}" or (w == "--name" and rest[i + 1:i + 2] == [name])
                        for i, w in enumerate(rest))
            if named:
                return words[1]
    return None


# Images loaded from a file, or imported ------------------------------------------


def _home(path: str) -> str:
    """A workspace path as the learner writes it: ``busybox.tar`` -> ``~/busybox.tar``."""
    return f"~/{path}"


def _resolve_image(state: EngineState, ref: str) -> ImageObs | None:
    """The image ``ref`` names, as docker would find it: by tag (``nginx`` is ``nginx:latest``)
    or by a prefix of its id (``f07b``, ``sha256:f07b...``; at least 4 hex digits)."""
    tagged = _tagged(state, ref)
    if tagged is not None:
        return tagged
    hexid = ref.removeprefix("sha256:")
    if len(hexid) >= 4 and _HEX.fullmatch(hexid):
        return next((i for i in state.images if i.id.removeprefix("sha256:").startswith(hexid)),
                    None)
    return None


_HEX = re.compile(r"[0-9a-f]+")


def image_loaded(state: EngineState, *, image: str, archive: str) -> CheckResult:
    """Pass when ``image`` is in the engine and the newest event that brought it there is a
    ``docker load`` (of its id), not a ``docker pull`` (of its reference), and the image was not
    there already when it was loaded: before that load the engine's events show its removal
    (``delete``), or neither a pull of it nor an earlier load (events pushed out of the engine's
    buffer cannot tell, and count as removed). ``archive`` is the workspace file the learner
    loads it from (named in the messages only)."""
    p: dict[str, Any] = {"image": image, "archive": _home(archive)}
    img = _resolve_image(state, image)
    if img is None:
        return CheckResult(False, MSG_LOAD_MISSING, p)
    want = normalize_ref(image)
    events = list(state.image_events)
    for i in range(len(events) - 1, -1, -1):
        ev = events[i]
        if ev.action == "load" and ev.ref == img.id:
            # Was it there already? Before this load: its removal (fine), or its pull or an
            # earlier load with no removal in between (it was: the load added nothing).
            for before in reversed(events[:i]):
                if before.action == "delete" and before.ref == img.id:
                    break
                if (before.action == "pull" and normalize_ref(before.ref) == want) or (
                        before.action == "load" and before.ref == img.id):
                    return CheckResult(False, MSG_LOAD_WHILE_THERE, p)
            return CheckResult(True, MSG_LOAD_OK, p)
        if ev.action == "pull" and normalize_ref(ev.ref) == want:
            return CheckResult(False, MSG_LOAD_PULLED, p)
    return CheckResult(False, MSG_LOAD_NOT_YET, p)


def image_imported(state: EngineState, *, image: str, archive: str) -> CheckResult:
    """Pass when an image tagged ``image`` has a single layer and no CMD, as ``docker import``
    makes one from a filesystem archive (measured with Docker 26: one layer, Cmd null, a fresh
    creation time); a copy of a real image (``docker tag``) keeps its CMD, and ``docker commit``
    adds a layer. ``archive`` is the workspace file to import (named in the messages only)."""
    p: dict[str, Any] = {"image": image, "archive": _home(archive)}
    img = _tagged(state, image)
    if img is None:
        if any(not i.tags and len(i.layers) == 1 and not i.cmd for i in state.images):
            return CheckResult(False, MSG_IMPORT_UNTAGGED, p)
        return CheckResult(False, MSG_IMPORT_MISSING, p)
    if img.layers and len(img.layers) != 1:
        return CheckResult(False, MSG_IMPORT_LAYERS, {**p, "count": len(img.layers)})
    if img.cmd:
        return CheckResult(False, MSG_IMPORT_CMD, {**p, "cmd": " ".join(img.cmd)[:MAX_SHOWN]})
    return CheckResult(True, MSG_IMPORT_OK, p)


# Files in the workspace -----------------------------------------------------------
# A file a check may name: a plain name at the top of the home folder /root, so that reading it
# can never pass through a link out of the workspace (the file itself is never followed).
WORKSPACE_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def _file(state: EngineState, path: str) -> FileObs:
    return next((f for f in state.files if f.path == path), FileObs(path=path))


def _file_problem(state: EngineState, f: FileObs, p: dict[str, Any],
                  attempt: Callable[[FileObs], bool]) -> CheckResult | None:
    """The first reason why ``f`` is not a readable archive (missing, not a regular file, a
    broken gzip, not a tar), or None. When ``f`` is missing, the newest other archive in the
    home folder is named only if ``attempt`` says it is the kind of archive ``f`` should be (an
    image saved elsewhere is no attempt at an export): another step's file is not this one's."""
    if f.kind == "missing":
        other = state.other_file
        if other is not None and state.workspace[:1] == (other.path,) and attempt(other):
            return CheckResult(False, MSG_FILE_OTHER, {**p, "found": _home(other.path)})
        return CheckResult(False, MSG_FILE_MISSING, p)
    if f.kind != "file":
        return CheckResult(False, MSG_FILE_NOT_REGULAR, {**p, "kind": f.kind})
    if f.unread:
        return CheckResult(False, MSG_FILE_UNREAD, p)
    if f.gzip and not f.gzip_ok:
        return CheckResult(False, MSG_FILE_BAD_GZIP, p)
    if not f.tar:
        return CheckResult(False, MSG_FILE_NOT_TAR, p)
    return None


def image_archive(
    state: EngineState, *, path: str, images: list[str], gzip: bool = False
) -> CheckResult:
    """Pass when the workspace file ``path`` is a tar made by ``docker save`` (it holds
    ``manifest.json``) whose manifest tags every image in ``images``; with ``gzip``, the file
    must also be gzip-compressed and pass ``gzip -t``. Image names compare as Docker does
    (``busybox`` is ``docker.io/library/busybox:latest``). The manifest format is Docker's
    (moby ``image/tarexport``: a JSON list of ``{Config, RepoTags, Layers}``)."""
    saved = " ".join(images)
    example = (f"docker save {saved} | gzip > {_home(path)}" if gzip
               else f"docker save {saved} -o {_home(path)}")
    p: dict[str, Any] = {"path": _home(path), "images": ", ".join(images), "example": example}
    f = _file(state, path)
    problem = _file_problem(state, f, p, attempt=lambda other: other.manifest)
    if problem is not None:
        if gzip and problem.msg is MSG_FILE_NOT_TAR and not f.gzip:
            return CheckResult(False, MSG_FILE_NOT_GZIP, p)
        return problem
    if gzip and not f.gzip:
        return CheckResult(False, MSG_FILE_NOT_GZIP, p)
    if f.exported:
        return CheckResult(False, MSG_ARCHIVE_EXPORTED, p)
    if not f.manifest:
        return CheckResult(False, MSG_ARCHIVE_NO_MANIFEST, p)
    have = {normalize_ref(t) for t in f.repo_tags}
    missing = [i for i in images if normalize_ref(i) not in have]
    if missing:
        return CheckResult(False, MSG_ARCHIVE_LACKS, {**p, "missing": ", ".join(missing),
                                                      "found": ", ".join(f.repo_tags) or "-"})
    if gzip:
        return CheckResult(True, MSG_ARCHIVE_OK_GZ, {**p, "size": _megabytes(f.size)})
    return CheckResult(True, MSG_ARCHIVE_OK, p)


def filesystem_archive(state: EngineState, *, path: str, container: str,
                       holds: str | None = None) -> CheckResult:
    """Pass when the workspace file ``path`` is a tar of a container's filesystem as
    ``docker export`` writes it: it holds ``.dockerenv`` (Docker puts that file at the root of
    every container) and no ``manifest.json``. ``container`` is the container to export; with
    ``holds`` (a file the lab has that container write at its root, such as ``filling.txt``),
    the archive must hold that file too, so the export of another container does not count."""
    p: dict[str, Any] = {"path": _home(path), "container": container, "holds": holds or "",
                         "example": f"docker export {container} -o {_home(path)}"}
    f = _file(state, path)
    problem = _file_problem(state, f, p, attempt=lambda other: other.exported)
    if problem is not None:
        return problem
    if f.manifest:
        return CheckResult(False, MSG_FS_IS_IMAGE, p)
    if not f.exported:
        return CheckResult(False, MSG_FS_NOT_EXPORT, p)
    if holds and holds.lstrip("/") not in f.top_files:
        return CheckResult(False, MSG_FS_OTHER_CONTAINER, p)
    return CheckResult(True, MSG_FS_OK, p)


# Shell history ----------------------------------------------------------------------
# Docker's management-command spellings count as the classic commands they stand for
# (https://docs.docker.com/reference/cli/docker/: 'docker container inspect' = 'docker inspect').
_DOCKER_FORMS = {
    ("container", "inspect"): "inspect", ("image", "inspect"): "inspect",
    ("container", "top"): "top", ("container", "diff"): "diff", ("container", "stats"): "stats",
    ("container", "logs"): "logs", ("container", "ls"): "ps", ("container", "list"): "ps",
    ("container", "export"): "export", ("container", "create"): "create",
    ("container", "run"): "run", ("container", "start"): "start", ("container", "kill"): "kill",
    ("image", "history"): "history", ("image", "ls"): "images", ("image", "build"): "build",
    ("buildx", "build"): "build",
    ("image", "list"): "images", ("image", "pull"): "pull", ("image", "save"): "save",
    ("image", "load"): "load", ("image", "import"): "import", ("system", "info"): "info",
}
# Global options of the docker command that take a value ('docker --help').
_DOCKER_VALUE_OPTIONS = frozenset({"-H", "--host", "-c", "--context", "--config", "-l",
                                   "--log-level", "--tlscacert", "--tlscert", "--tlskey"})
_OPERATOR_CHARS = frozenset("();<>|&")
_PREFIXES = frozenset({"sudo", "time", "command", "exec", "nohup", "env"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
MAX_SHOWN = 80  # characters of a learner's command quoted back in a message


def _canonical(words: list[str]) -> list[str]:
    """A simple command's words without leading assignments and prefixes, with docker's global
    options dropped and its management forms made classic."""
    while words and (words[0] in _PREFIXES or _ASSIGNMENT.match(words[0])):
        words = words[1:]
    if not words:
        return []
    prog, rest = words[0].rsplit("/", 1)[-1], words[1:]
    if prog == "docker":
        i = 0
        while i < len(rest) and rest[i].startswith("-"):
            i += 2 if rest[i] in _DOCKER_VALUE_OPTIONS else 1
        rest = rest[i:]
        if len(rest) >= 2 and (rest[0], rest[1]) in _DOCKER_FORMS:
            rest = [_DOCKER_FORMS[(rest[0], rest[1])], *rest[2:]]
    return [prog, *rest]


def shell_commands(line: str) -> list[list[str]]:
    """The simple commands of one line of shell, each as its words: ``a | b && c`` gives three.
    Quotes are removed as the shell does (``shlex``, POSIX rules); redirections and their
    targets, leading variable assignments and prefixes such as ``sudo`` or ``time`` are dropped,
    and docker's management forms become the classic ones (``docker image history`` ->
    ``docker history``). A line that does not parse (an open quote) is split on blanks."""
    return [cmd.words for cmd in shell_parse(line)]


def shell_pipes(line: str) -> list[tuple[list[str], list[str] | None]]:
    """The simple commands of one line of shell as :func:`shell_commands` gives them, each with
    the command its output is piped into (``|`` or ``|&``), or None: ``a | b && c`` gives
    ``(a, b), (b, None), (c, None)``."""
    return [(cmd.words, cmd.reader) for cmd in shell_parse(line)]


@dataclass(frozen=True)
class ShellCommand:
    """One simple command of a line of shell (:func:`shell_parse`): its ``words``, the command
    its output is piped into (``reader``, or None), whether its output is thrown away
    (``discarded``: its standard output, or that of the commands it is piped through, goes to
    /dev/null), and where it stands: ``index`` in its pipeline of ``size`` commands, and whether
    that pipeline is the line's ``last`` (bash's exit status and PIPESTATUS are its)."""

    words: list[str]
    reader: list[str] | None = None
    discarded: bool = False
    index: int = 0
    size: int = 1
    last: bool = True


# A file descriptor's number written against its redirection ("2>/dev/null", "1>&2"): shlex
# would make it an argument ("2"), so it is marked first (a word of its own after this mark).
_FD_REDIRECT = re.compile(r"(?<![^\s;&|()])(\d+)(?=[<>])")
_FD_MARK = "\x01fd"


def shell_parse(line: str) -> list[ShellCommand]:
    """The simple commands of one line of shell as :func:`shell_commands` gives them (words),
    with their pipes, their output sent to /dev/null (``> /dev/null``, ``1> /dev/null``,
    ``&> /dev/null``; not ``2> /dev/null``) and their place in the line (:class:`ShellCommand`)."""
    lex = shlex.shlex(_FD_REDIRECT.sub(lambda m: f"{_FD_MARK}{m[1]} ", line), posix=True,
                      punctuation_chars=True)
    lex.whitespace_split = True
    try:
        tokens = list(lex)
    except ValueError:
        tokens = line.split()
    commands: list[list[str]] = [[]]
    to_null = [False]  # whether commands[i]'s standard output goes to /dev/null
    piped: list[bool] = []  # whether commands[i] is piped into commands[i + 1]
    fd: str | None = None  # the number written against the next redirection
    redirect: tuple[str, str | None] | None = None  # a redirection waiting for its target
    for tok in tokens:
        if redirect is not None:
            op, op_fd = redirect
            redirect = None
            if tok == "/dev/null" and (op.startswith("&") or (op.startswith(">")
                                                              and op_fd in (None, "1"))):
                to_null[-1] = True
        elif tok.startswith(_FD_MARK):
            fd = tok[len(_FD_MARK):]
        elif tok and set(tok) <= _OPERATOR_CHARS:
            if "<" in tok or ">" in tok:
                redirect = (tok, fd)  # a redirection: its target is no argument
            else:
                piped.append(tok in ("|", "|&"))
                commands.append([])
                to_null.append(False)
            fd = None
        else:
            commands[-1].append(tok)
            fd = None
    simple = [_canonical(words) for words in commands]
    # Pipelines: the commands joined by pipes, as (first, last) indexes of commands.
    spans: list[tuple[int, int]] = []
    for i in range(len(commands)):
        if i == 0 or not piped[i - 1]:
            spans.append((i, i))
        else:
            spans[-1] = (spans[-1][0], i)
    spans = [(a, b) for a, b in spans if any(simple[a:b + 1])]
    discarded = list(to_null)
    for i in range(len(commands) - 2, -1, -1):
        if piped[i] and discarded[i + 1] and simple[i + 1]:
            discarded[i] = True  # piped into a command whose output goes nowhere
    out = []
    for n, (a, b) in enumerate(spans):
        for i in range(a, b + 1):
            if simple[i]:
                out.append(ShellCommand(
                    words=simple[i], reader=simple[i + 1] or None if i < b else None,
                    discarded=discarded[i], index=i - a, size=b - a + 1,
                    last=n == len(spans) - 1))
    return out


def _exit_status(entry: HistoryEntry, cmd: ShellCommand) -> int | None:
    """How ``cmd`` (a simple command of ``entry``'s first line) ended, as far as its entry's
    noted status tells: bash notes it for the line's last pipeline only (``docker top web;
    echo`` is echo's 0). None: unknown. A command killed by SIGPIPE because its reader stopped
    reading (``| head``, status 141) did not fail."""
    if entry.status is None or not cmd.last:
        return None
    if len(entry.pipe_status) == cmd.size:
        status = entry.pipe_status[cmd.index]
    elif cmd.index == cmd.size - 1:
        status = entry.status  # an earlier pipeline ran last ('a && b' where a failed)
    else:
        return None
    if status == 141 and cmd.reader is not None:
        return 0
    return status


def _head_lines(words: list[str]) -> int | None:
    """How many lines ``head`` with these words shows (10 by default; None: not a count of
    lines from the top, such as ``-c 100`` or ``-n -5``)."""
    n = 10
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("-n", "--lines") and i + 1 < len(words):
            value, i = words[i + 1], i + 1
        elif w.startswith("--lines="):
            value = w[len("--lines="):]
        elif w.startswith("-n"):
            value = w[2:]
        elif re.fullmatch(r"-\d+", w):
            value = w[1:]
        elif w.startswith("-"):
            return None  # -c, -z ...: not whole lines
        else:
            i += 1
            continue  # a file name
        if not value.lstrip("+").isdigit():
            return None
        n = int(value.lstrip("+"))
        i += 1
    return n


def _shows_all(reader: list[str]) -> bool:
    """Whether a command whose output is piped into ``reader`` is read whole (whole_output):
    a pager, a copy, or a ``head`` of at least :data:`WHOLE_OUTPUT_LINES` lines."""
    if reader[0] in WHOLE_OUTPUT_READERS:
        return True
    lines = _head_lines(reader) if reader[0] == "head" else None
    return lines is not None and lines >= WHOLE_OUTPUT_LINES


def _has_arg(arg: str, word: str) -> bool:
    """Whether ``arg`` is in ``word`` as a whole: not the start of a longer name
    ("/version" is in "http://localhost/version" and ".../version?x=1", not in ".../versions";
    "docker.sock" is not in "docker.socket")."""
    before = r"(?<![\w-])" if arg[:1].isalnum() else ""
    after = r"(?![\w-])" if arg[-1:].isalnum() else ""
    return re.search(before + re.escape(arg) + after, word) is not None


def _first_line(text: str) -> str:
    """The command line of a history entry: its first line, with backslash continuations joined
    (the rest of a multi-line entry is a here-document's body)."""
    parts = []
    for ln in text.splitlines():
        if ln.endswith("\\"):
            parts.append(ln[:-1])
            continue
        parts.append(ln)
        break
    return " ".join(parts).strip()


def _shown(line: str) -> str:
    return line if len(line) <= MAX_SHOWN else line[: MAX_SHOWN - 1] + "…"


def ran_command(
    state: EngineState, *, command: str, container: str | None = None,
    image: str | None = None, args: list[str] | None = None, example: str | None = None,
    whole_output: bool = False, container_image: str | None = None,
) -> CheckResult:
    """Pass when the learner's shell history holds ``command`` (its first words, such as
    ``docker history``; docker's management forms count too), run on ``container`` (by name or
    id prefix, and not before that container was created) or on ``image`` (any reference to the
    same image), with each string in ``args`` inside one of its words as a whole (not the start
    of a longer name: "/version" is not in "/versions"). For steps where only the command
    proves the step: reading an image's history leaves no trace in the engine.

    The command must have worked and shown its output: one whose noted exit status is not 0
    (:attr:`HistoryEntry.status`; an unknown one counts as 0) or whose output went to /dev/null
    does not count. With ``whole_output`` (a step that has the learner read all that the command
    prints), its output must not be piped into a command that shows only part of it (``| head
    -3``, ``| grep``): only a pager, a copy (:data:`WHOLE_OUTPUT_READERS`) or a long enough
    ``head`` (:data:`WHOLE_OUTPUT_LINES`) may read it.

    Its help (``--help``, ``-h``) is not the command, and output counted by ``wc`` was not shown;
    with ``whole_output``, ``--format`` shows only part of it.

    The latest command of the same program explains a miss: another docker command, the right one
    on something else, one without an ``args`` string (named, and its exit status when it
    failed), or one run before the container existed, one that failed (on a container
    that is not running, when the command needs one running: start it first), discarded or cut
    short. ``example`` is the command shown to the learner (by default ``command`` and its
    target). With ``container_image``, ``container`` must have been made from that image (any
    tag of its repository): a step about the layers of an image the lab built."""
    want = _canonical(command.split())
    target = container or image or ""
    p: dict[str, Any] = {"example": example or f"{command} {target}".strip(),
                         "target": target}
    c = img = None
    if container:
        c = _named(state, container)
        if c is None:
            return no_container(state, container)
        if container_image and not container_uses_image(state, c, container_image):
            return CheckResult(False, MSG_WRONG_IMAGE, {"name": c.name, "actual": c.image,
                                                        "image": container_image})
    if image:
        img = _resolve_image(state, image)
        if img is None:
            return CheckResult(False, MSG_IMAGE_MISSING, {"image": image})

    def verdict(cmd: ShellCommand, entry: HistoryEntry) -> str:
        """"ok", "early", "target", "args", "failed", "discarded", "cut" or "other" for one simple
        command of the same program in ``entry``."""
        words = cmd.words
        if words[: len(want)] != want:
            return "other"
        rest = words[len(want):]
        # Its help, not the command (QA: 'docker version --help' passed). 'docker top' passes
        # the words after the container to ps, where -h is no help.
        if "--help" in rest or ("-h" in rest and want[:2] != ["docker", "top"]):
            return "help"
        if c is not None and not any(w == c.name or (len(w) >= 2 and _HEX.fullmatch(w)
                                                     and c.id.startswith(w)) for w in rest):
            return "target"
        if img is not None and not any(_same_image(state, w, img) for w in rest):
            return "target"
        if not all(any(_has_arg(a, w) for w in rest) for a in args or []):
            return "args"
        if c is not None and c.created and entry.time and entry.time < c.created:
            return "early"
        if _exit_status(entry, cmd):
            return "failed"
        if cmd.discarded:
            return "discarded"
        if cmd.reader is not None and cmd.reader[0].rsplit("/", 1)[-1] == "wc":
            return "counted"  # a count of it, none of it shown
        if whole_output and any(w == "-f" or w.startswith("--format") for w in rest):
            return "formatted"
        if whole_output and cmd.reader is not None and not _shows_all(cmd.reader):
            return "cut"
        return "ok"

    latest: tuple[str, str, ShellCommand, HistoryEntry] | None = None
    for entry in reversed(state.shell_history):
        line = _first_line(entry.text)
        for cmd in reversed(shell_parse(line)):
            if cmd.words[0] != want[0]:
                continue
            v = verdict(cmd, entry)
            if v == "ok":
                return CheckResult(True, MSG_RAN_OK, {**p, "entry": _shown(line)})
            if latest is None:
                latest = (v, line, cmd, entry)
    if latest is None:
        return CheckResult(False, MSG_RAN_NONE, p)
    v, line, cmd, entry = latest
    p["entry"] = _shown(line)
    if v == "early":
        return CheckResult(False, MSG_RAN_EARLY, p)
    if v == "failed":
        p["status"] = _exit_status(entry, cmd)
        if c is not None and c.state != "running" and want[0] == "docker" \
                and len(want) > 1 and want[1] in RUNNING_ONLY:
            return CheckResult(False, MSG_RAN_NOT_RUNNING,
                               {**p, "state": c.state, "command": " ".join(want)})
        return CheckResult(False, MSG_RAN_FAILED, p)
    if v == "discarded":
        return CheckResult(False, MSG_RAN_DISCARDED, p)
    if v == "help":
        return CheckResult(False, MSG_RAN_HELP, {**p, "command": " ".join(want)})
    if v == "counted":
        return CheckResult(False, MSG_RAN_COUNTED, p)
    if v == "formatted":
        return CheckResult(False, MSG_RAN_FORMATTED, p)
    if v == "cut" and cmd.reader is not None:
        return CheckResult(False, MSG_RAN_CUT, {**p, "reader": cmd.reader[0]})
    if v == "args" and not target:
        # Name what differs (QA: 'docker.socket' for 'docker.sock' is easy to miss in two long
        # lines), and that it failed: 'curl -s' prints no error.
        rest = cmd.words[len(want):]
        p["missing"] = next(a for a in args or [] if not any(_has_arg(a, w) for w in rest))
        status = _exit_status(entry, cmd)
        if status:
            return CheckResult(False, MSG_RAN_ARGS_MISSING_FAILED, {**p, "status": status})
        return CheckResult(False, MSG_RAN_ARGS_MISSING, p)
    if v in ("target", "args"):
        return CheckResult(False, MSG_RAN_TARGET, p)
    p.pop("entry")
    return CheckResult(False, MSG_RAN_OTHER, {**p, "last": _shown(line)})


def _same_image(state: EngineState, ref: str, img: ImageObs) -> bool:
    found = _resolve_image(state, ref) if not ref.startswith("-") else None
    return found is not None and found.id == img.id


@dataclass(frozen=True)
class CheckType:
    """A check function, the parameters it needs and takes, and the allowed values of those
    parameters that take one of a fixed set (``choices``)."""

    func: Callable[..., CheckResult]
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What it reads besides the engine's lists: "files" (the workspace file in its ``path``
    # parameter), "history" (the shell history), "image_events" (the engine's recent image
    # pulls, loads, imports and deletions). The observer reads only what a lab's checks need.
    reads: frozenset[str] = frozenset()
    # What it reads only in some engine states: called with the state and the check's
    # parameters, after the engine's lists are read (so that the cost is paid only then).
    reads_if: Callable[..., frozenset[str]] | None = None
    # The files inside containers it reads: called with the check's parameters, returns
    # (container, absolute path) pairs (labs.observe asks the engine for them).
    container_paths: Callable[..., tuple[tuple[str, str], ...]] | None = None
    # The workspace files whose text it reads: called with the check's parameters, returns
    # paths relative to /root.
    workspace_texts: Callable[..., tuple[str, ...]] | None = None


REGISTRY: dict[str, CheckType] = {
    "image_present": CheckType(image_present, frozenset({"image"}), frozenset({"full_name"}),
                               reads_if=image_present_reads),
    "container_running": CheckType(container_running, frozenset({"name", "image"}),
                                   frozenset({"publish", "created_first"}),
                                   reads_if=container_running_reads),
    "containers_from_image": CheckType(containers_from_image, frozenset({"image"}),
                                       frozenset({"min_running"})),
    "container_lifecycle": CheckType(container_lifecycle, frozenset({"name", "command"}),
                                     frozenset({"image", "rerun_image"}),
                                     {"command": LIFECYCLE_COMMANDS},
                                     reads_if=container_lifecycle_reads),
    "containers_published": CheckType(containers_published, frozenset({"image", "publish"}),
                                      frozenset({"container_port", "answered"})),
    "network_exists": CheckType(network_exists, frozenset({"name"}), frozenset({"driver"})),
    "containers_on_network": CheckType(containers_on_network, frozenset({"network", "names"}),
                                       frozenset({"answered"}), reads_if=containers_on_network_reads),
    "published_on": CheckType(published_on, frozenset({"name", "host_port", "host_ip"}),
                              frozenset({"port"})),
    "volume_exists": CheckType(volume_exists, frozenset({"name"})),
    "volume_mounted": CheckType(volume_mounted, frozenset({"name", "destination", "mount"}),
                                frozenset({"volume", "source", "read_only", "command", "gone",
                                           "holds", "finished"}),
                                {"mount": MOUNT_TYPES}, container_paths=volume_mounted_paths),
    "image_built": CheckType(image_built, frozenset({"image"}),
                             frozenset({"base", "label", "reuses", "own_layers", "shares",
                                        "max_added", "context", "ignores", "stages"}),
                             reads_if=image_built_reads, workspace_texts=image_built_texts),
    "container_created": CheckType(container_created, frozenset({"name", "image"}),
                                   frozenset({"publish"}), reads_if=container_created_reads),
    "image_loaded": CheckType(image_loaded, frozenset({"image", "archive"}),
                              reads=frozenset({"image_events"})),
    "image_imported": CheckType(image_imported, frozenset({"image", "archive"})),
    "image_archive": CheckType(image_archive, frozenset({"path", "images"}), frozenset({"gzip"}),
                               reads=frozenset({"files"})),
    "filesystem_archive": CheckType(filesystem_archive, frozenset({"path", "container"}),
                                    frozenset({"holds"}), reads=frozenset({"files"})),
    "ran_command": CheckType(ran_command, frozenset({"command"}),
                             frozenset({"container", "image", "args", "example", "whole_output",
                                        "container_image"}),
                             reads=frozenset({"history"})),
    "compose_project_running": CheckType(
        compose_project_running, frozenset({"project", "services"}),
        frozenset({"volumes", "answered", "started_again", "restarted", "folder"}),
        reads_if=compose_project_running_reads),
    "compose_project_stopped": CheckType(compose_project_stopped,
                                         frozenset({"project", "services"}), frozenset({"folder"})),
    "compose_project_down": CheckType(compose_project_down,
                                      frozenset({"project", "volumes", "keep_volumes"}),
                                      frozenset({"services", "folder"}),
                                      reads_if=compose_down_reads),
}


def parse_spec(raw: dict[str, Any]) -> CheckSpec:
    """Validate a check declaration from lab.yaml. Raises :class:`CheckSpecError`."""
    if not isinstance(raw, dict) or "type" not in raw:
        raise CheckSpecError("a check needs a 'type'")
    kind = raw["type"]
    if kind not in REGISTRY:
        raise CheckSpecError(f"unknown check type {kind!r} (known: {', '.join(sorted(REGISTRY))})")
    ct = REGISTRY[kind]
    params = {k: v for k, v in raw.items() if k != "type"}
    missing = ct.required - params.keys()
    if missing:
        raise CheckSpecError(f"check {kind} needs {', '.join(sorted(missing))}")
    unknown = params.keys() - ct.required - ct.optional
    if unknown:
        raise CheckSpecError(f"check {kind} does not take {', '.join(sorted(unknown))}")
    for key, allowed in ct.choices.items():
        if key in params and params[key] not in allowed:
            raise CheckSpecError(f"check {kind}: {key} must be one of {', '.join(allowed)}, "
                                 f"not {params[key]!r}")
    for key in ("path", "archive"):
        if key in params and not WORKSPACE_PATH.match(str(params[key])):
            raise CheckSpecError(f"check {kind}: {key} must be a plain file name in the home "
                                 f"folder, such as 'busybox.tar', not {params[key]!r}")
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    return CheckSpec(type=kind, params=frozen)


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(v)  # hashable, like the spec it belongs to
    return dict(v) if isinstance(v, dict) else v
