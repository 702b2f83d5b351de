"""Step checks: small, pure functions over an observed engine state.

A check never talks to Docker. :mod:`labs.observe` gathers an :class:`EngineState` (I/O), and a
check judges it (pure), so every check is unit-testable without an engine. Each check returns a
:class:`CheckResult` whose message speaks to the learner, with a specific hint for near misses.

A step's check is declared in its lab.yaml as ``{type: <name>, ...params}``; :data:`REGISTRY` maps
names to functions, and :func:`parse_spec` validates the parameters when content is loaded.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

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
    """Something mounted into a container: ``type`` is ``volume``, ``bind`` or ``tmpfs`` (only
    ``--mount type=tmpfs`` shows here; the short ``--tmpfs`` flag does not), ``name`` the volume's
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
    the engine, oldest first (``start``, ``pause``, ``unpause``, ``die``), so a check can tell
    "running again after a stop" from "running since it was created". ``http_requests`` counts
    the HTTP requests in the recent log of a running container that publishes a port (the access
    log lines a web server such as nginx writes). ``command`` is the command it runs,
    ``networks`` the names of the networks it is attached to (``bridge``, ``none``, ``host`` or a
    user-defined one), and ``mounts`` its volumes, bind mounts and tmpfs mounts."""

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


@dataclass(frozen=True)
class NetworkObs:
    """One network: its name and driver (``bridge``, ``host``, ``null`` for ``none``)."""

    name: str
    driver: str = "bridge"


@dataclass(frozen=True)
class VolumeObs:
    """One volume; ``anonymous`` when Docker named it itself (``-v /data`` without a name)."""

    name: str
    driver: str = "local"
    anonymous: bool = False


@dataclass(frozen=True)
class EngineState:
    """What a learner's engine holds at one moment, and the names of containers it removed
    recently (oldest first): a removal leaves no other trace."""

    containers: tuple[ContainerObs, ...] = ()
    images: tuple[ImageObs, ...] = ()
    removed: tuple[str, ...] = ()
    networks: tuple[NetworkObs, ...] = ()
    volumes: tuple[VolumeObs, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """A verdict: ``passed`` and a learner-facing ``message`` (lazy translation + parameters)."""

    passed: bool
    msg: Any
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The message in the active language."""
        return str(self.msg) % self.params if self.params else str(self.msg)


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


# ------------------------------------------------------------------------------
# Image references (Docker's rules: docker.io/library is implied, the tag defaults to latest)
# https://docs.docker.com/reference/cli/docker/image/tag/
# ------------------------------------------------------------------------------


def normalize_ref(ref: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``; digests and explicit tags are kept."""
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

MSG_RUNNING_OK = _("%(name)s is running from %(image)s and publishes %(ports)s.")
MSG_NO_CONTAINER = _("There is no container named %(name)s yet.")
MSG_OTHER_NAME = _(
    "A container from %(image)s is running as %(other)s. Name it %(name)s with --name %(name)s."
)
MSG_WRONG_IMAGE = _("%(name)s runs the image %(actual)s, but this step needs %(image)s.")
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

MSG_COUNT_OK = _("%(count)s containers are running from the %(image)s image.")
MSG_COUNT_LOW = _(
    "%(count)s container(s) running from %(image)s; this step needs at least %(min)s at once."
)
MSG_COUNT_STOPPED = _(
    "%(count)s container(s) running from %(image)s, and %(stopped)s more stopped. "
    "This step needs at least %(min)s running at the same time."
)

# Lifecycle (container_lifecycle): one success message per command, then the near misses.
MSG_LC_RUN_OK = _("%(name)s is running from %(image)s.")
MSG_LC_PAUSE_OK = _("%(name)s is paused: its processes are frozen, but it still exists.")
MSG_LC_UNPAUSE_OK = _("%(name)s was paused and is running again.")
MSG_LC_STOP_OK = _("%(name)s is stopped (exit code %(code)s). It still exists, only stopped.")
MSG_LC_START_OK = _("%(name)s was stopped and is running again.")
MSG_LC_KILL_OK = _("%(name)s was killed: exit code 137 means it ended by SIGKILL (128 + 9).")
MSG_LC_RM_OK = _("%(name)s has been removed.")
MSG_LC_CREATED = _(
    "%(name)s has been created but never started. Start it with 'docker start %(name)s'."
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
MSG_LC_STOP_FIRST = _("%(name)s is still %(state)s. Stop it with 'docker stop %(name)s'.")
MSG_LC_KILLED_NOT_STOPPED = _(
    "%(name)s ended with exit code 137: it was killed, not stopped gracefully. "
    "Start it again ('docker start %(name)s') and stop it with 'docker stop %(name)s'."
)
MSG_LC_NOT_RESTARTED = _(
    "%(name)s is running, but it has not been stopped and started again yet. "
    "Run 'docker stop %(name)s', then 'docker start %(name)s'."
)
MSG_LC_KILL_FIRST = _("%(name)s is still %(state)s. Kill it with 'docker kill %(name)s'.")
MSG_LC_STOPPED_NOT_KILLED = _(
    "%(name)s ended with exit code %(code)s, so it was stopped gracefully, not killed. "
    "Start it again ('docker start %(name)s') and use 'docker kill %(name)s'."
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
MSG_ONNET_ANSWERED = _("%(names)s answered a request sent to its name on the %(network)s network.")
MSG_ONNET_WRONG = _(
    "%(name)s is on %(actual)s, not %(network)s; remove it ('docker rm -f %(name)s') and run it "
    "again with --network %(network)s."
)
MSG_ONNET_EXITED = _(
    "%(name)s is not running: it exited with code %(code)s because its command ended. Remove it "
    "('docker rm %(name)s') and run it again with a command that keeps going, such as 'sleep 3600'."
)
MSG_ONNET_SILENT = _(
    "%(name)s has not answered any request yet. Ask it by its name from %(client)s: "
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
MSG_MOUNT_GONE = _(
    "%(other)s still exists. Remove it with 'docker rm %(other)s': the point is that the data "
    "outlives the container that wrote it."
)

# Building images (image_built)
MSG_BUILD_OK = _("%(image)s has been built from your Dockerfile.")
MSG_BUILD_OK_BASE = _(
    "%(image)s has been built from your Dockerfile: %(own)s layer(s) of its own on top of "
    "%(base)s's layers."
)
MSG_BUILD_REUSED = _(
    "%(image)s reuses %(shared)s layer(s) of %(reuses)s from the build cache; only the layers "
    "after your change were built again."
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
MSG_BUILD_LABEL = _(
    "%(image)s has no label %(key)s=\"%(value)s\". Add the line 'LABEL %(key)s=\"%(value)s\"' "
    "to your Dockerfile and build again."
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

# ------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------


def image_present(state: EngineState, *, image: str) -> CheckResult:
    """Pass when an image of repository ``image`` (any tag) is in the engine."""
    if _image_ids_for(state, image):
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


def _fmt_ports(publish: dict[str, int]) -> str:
    return ", ".join(f"{h}->{c}" for c, h in publish.items())


def container_running(
    state: EngineState, *, name: str, image: str, publish: dict[str, int] | None = None
) -> CheckResult:
    """Pass when container ``name`` runs from ``image`` and publishes every ``publish`` entry
    (container port like ``"80/tcp"`` -> host port)."""
    publish = publish or {}
    c = next((c for c in state.containers if c.name == name), None)
    if c is None:
        other = next(
            (o for o in state.containers
             if o.state == "running" and container_uses_image(state, o, image)),
            None,
        )
        if other is not None:
            return CheckResult(False, MSG_OTHER_NAME, {"image": image, "other": other.name,
                                                       "name": name})
        return CheckResult(False, MSG_NO_CONTAINER, {"name": name})
    if not container_uses_image(state, c, image):
        return CheckResult(False, MSG_WRONG_IMAGE, {"name": name, "actual": c.image,
                                                    "image": image})
    if c.state != "running":
        return CheckResult(False, MSG_NOT_RUNNING, {"name": name, "state": c.state})
    for cport, hport in publish.items():
        bound = sorted({p.host_port for p in c.ports if p.container_port == cport})
        params = {"name": name, "cport": cport, "hport": hport,
                  "cport_num": cport.split("/", 1)[0]}
        if not bound:
            return CheckResult(False, MSG_NOT_PUBLISHED, params)
        if int(hport) not in bound:
            params["actual"] = ", ".join(str(b) for b in bound)
            return CheckResult(False, MSG_WRONG_PORT, params)
    return CheckResult(True, MSG_RUNNING_OK, {"name": name, "image": image,
                                              "ports": _fmt_ports(publish) or "-"})


def containers_from_image(state: EngineState, *, image: str, min_running: int = 2) -> CheckResult:
    """Pass when at least ``min_running`` containers run from ``image`` at the same time."""
    mine = [c for c in state.containers if container_uses_image(state, c, image)]
    running = [c for c in mine if c.state == "running"]
    if len(running) >= min_running:
        return CheckResult(True, MSG_COUNT_OK, {"count": len(running), "image": image})
    stopped = len(mine) - len(running)
    params = {"count": len(running), "image": image, "min": min_running, "stopped": stopped}
    return CheckResult(False, MSG_COUNT_STOPPED if stopped else MSG_COUNT_LOW, params)


def _named(state: EngineState, name: str) -> ContainerObs | None:
    return next((c for c in state.containers if c.name == name), None)


# The docker commands a lifecycle step can ask for, each judged by the state it leaves behind.
LIFECYCLE_COMMANDS = ("run", "pause", "unpause", "stop", "start", "kill", "rm")
UP_STATES = ("running", "paused", "restarting")
SIGKILL_EXIT = 137  # 128 + signal 9


def container_lifecycle(
    state: EngineState, *, name: str, command: str, image: str | None = None
) -> CheckResult:
    """Pass when container ``name`` shows the effect of ``docker <command> <name>``.

    Commands whose end states look alike are told apart by the container's history: ``unpause``
    needs a past unpause, ``start`` a past stop (a ``die`` event), ``stop`` and ``kill`` differ by
    the exit code (137 after SIGKILL), and ``rm`` needs the engine to report the removal, so a
    container that never existed does not count as removed.
    """
    p: dict[str, Any] = {"name": name}
    c = _named(state, name)
    if command == "rm":
        if c is None:
            removed = name in state.removed
            return CheckResult(removed, MSG_LC_RM_OK if removed else MSG_LC_NOTHING_REMOVED, p)
        p["state"] = c.state
        return CheckResult(False, MSG_LC_RM_RUNNING if c.state in UP_STATES
                           else MSG_LC_RM_STILL_THERE, p)
    if c is None:
        other = next(
            (o for o in state.containers
             if image and o.state == "running" and container_uses_image(state, o, image)),
            None,
        ) if command == "run" else None
        if other is not None:
            return CheckResult(False, MSG_OTHER_NAME, {**p, "image": image, "other": other.name})
        return CheckResult(False, MSG_NO_CONTAINER, p)
    if image and not container_uses_image(state, c, image):
        return CheckResult(False, MSG_WRONG_IMAGE, {**p, "actual": c.image, "image": image})
    p["state"] = c.state
    if c.state == "created":
        return CheckResult(False, MSG_LC_CREATED, p)

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
        if command == "unpause" and "unpause" not in c.history:
            return CheckResult(False, MSG_LC_NOT_UNPAUSED, p)
        if command == "start" and "die" not in c.history:
            return CheckResult(False, MSG_LC_NOT_RESTARTED, p)
        ok = {"run": MSG_LC_RUN_OK, "unpause": MSG_LC_UNPAUSE_OK, "start": MSG_LC_START_OK}
        return CheckResult(True, ok[command], {**p, "image": image or c.image})

    # stop and kill: the container has exited; the exit code tells how.
    if c.state in UP_STATES:
        return CheckResult(False, MSG_LC_STOP_FIRST if command == "stop" else MSG_LC_KILL_FIRST, p)
    p["code"] = "?" if c.exit_code is None else c.exit_code
    killed = c.exit_code == SIGKILL_EXIT
    if command == "stop":
        return CheckResult(not killed, MSG_LC_KILLED_NOT_STOPPED if killed else MSG_LC_STOP_OK, p)
    return CheckResult(killed, MSG_LC_KILL_OK if killed else MSG_LC_STOPPED_NOT_KILLED, p)


def containers_published(
    state: EngineState, *, image: str, publish: dict[str, int], container_port: str = "80/tcp",
    answered: bool = False,
) -> CheckResult:
    """Pass when every container named in ``publish`` runs from ``image`` and publishes
    ``container_port`` on its host port; with ``answered``, each must also have served an HTTP
    request (seen in its log)."""
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
                return CheckResult(False, MSG_OTHER_NAME, {**p, "other": other.name})
            return CheckResult(False, MSG_NO_CONTAINER, p)
        if not container_uses_image(state, c, image):
            return CheckResult(False, MSG_WRONG_IMAGE, {**p, "actual": c.image})
        p["state"] = c.state
        if c.state == "created":
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


def containers_on_network(
    state: EngineState, *, network: str, names: list[str], answered: list[str] | None = None
) -> CheckResult:
    """Pass when every container in ``names`` runs attached to ``network`` (a user-defined
    network, or ``none``/``host``); with ``answered``, those must also have served an HTTP
    request (seen in their log), which on a user-defined network can be asked for by name."""
    for name in names:
        p: dict[str, Any] = {"name": name, "network": network}
        c = _named(state, name)
        if c is None:
            return CheckResult(False, MSG_NO_CONTAINER, p)
        if network not in c.networks:
            actual = ", ".join(c.networks) or c.network_mode or "-"
            return CheckResult(False, MSG_ONNET_WRONG, {**p, "actual": actual})
        if c.state == "created":
            return CheckResult(False, MSG_LC_CREATED, p)
        if c.state == "paused":
            return CheckResult(False, MSG_LC_PAUSED, p)
        if c.state == "exited":
            return CheckResult(False, MSG_ONNET_EXITED,
                               {**p, "code": "?" if c.exit_code is None else c.exit_code})
        if c.state != "running":
            return CheckResult(False, MSG_NOT_RUNNING, {**p, "state": c.state})
    for name in answered or []:
        c = _named(state, name)
        if c is not None and not c.http_requests:
            client = next((n for n in names if n != name), name)
            return CheckResult(False, MSG_ONNET_SILENT, {"name": name, "client": client})
    if answered:
        return CheckResult(True, MSG_ONNET_ANSWERED, {"names": ", ".join(answered),
                                                      "network": network})
    return CheckResult(True, MSG_ONNET_OK, {"names": ", ".join(names), "network": network})


ALL_INTERFACES = ("0.0.0.0", "::", "")


def published_on(
    state: EngineState, *, name: str, host_port: int, host_ip: str, port: str = "80/tcp"
) -> CheckResult:
    """Pass when running container ``name`` publishes container ``port`` on ``host_port`` of
    ``host_ip`` only: ``127.0.0.1`` for this machine alone, ``0.0.0.0`` for every interface."""
    c = _named(state, name)
    p: dict[str, Any] = {"name": name, "cport": port, "hport": host_port, "host_ip": host_ip,
                         "cport_num": port.split("/", 1)[0]}
    if c is None:
        return CheckResult(False, MSG_NO_CONTAINER, p)
    if c.state == "created":
        return CheckResult(False, MSG_PUB_CREATED, p)
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
        return f"--mount type=tmpfs,destination={destination}"
    src = volume if mount == "volume" else source or "FOLDER"
    if src and src.startswith("/root/"):
        src = "~/" + src[len("/root/"):]
    return f"-v {src}:{destination}" + (":ro" if read_only else "")


def volume_mounted(
    state: EngineState, *, name: str, destination: str, mount: str, volume: str | None = None,
    source: str | None = None, read_only: bool = False, command: str | None = None,
    gone: list[str] | None = None,
) -> CheckResult:
    """Pass when container ``name`` has a mount of kind ``mount`` (volume, bind, tmpfs) at
    ``destination`` (of ``volume``, or of host folder ``source``; read-only with ``read_only``)
    and is running or exited with
    code 0: a command that ran to its end with the mount proves it worked (a ``cat`` of a file
    in the volume succeeds only when the file is there). ``command`` must appear in its command,
    and the containers in ``gone`` must have been removed."""
    flag = _mount_flag(mount, destination, volume, source, read_only)
    p: dict[str, Any] = {"name": name, "destination": destination, "type": mount,
                         "volume": volume or "", "source": source or "", "flag": flag}
    c = _named(state, name)
    if c is None:
        return CheckResult(False, MSG_NO_CONTAINER, p)
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
    if command and command not in c.command:
        return CheckResult(False, MSG_MOUNT_COMMAND, {**p, "actual": c.command,
                                                      "command": command})
    if c.state == "created":
        return CheckResult(False, MSG_LC_CREATED, p)
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
    what = {"volume": m.name, "bind": m.source, "tmpfs": "tmpfs"}[mount]
    return CheckResult(True, MSG_MOUNT_OK, {**p, "what": what})


# Building images ----------------------------------------------------------------


def _tagged(state: EngineState, ref: str) -> ImageObs | None:
    """The image that carries tag ``ref`` (``hello:1``), if any."""
    want = normalize_ref(ref)
    return next((i for i in state.images if any(normalize_ref(t) == want for t in i.tags)), None)


def image_built(
    state: EngineState, *, image: str, base: str | None = None,
    label: dict[str, str] | None = None, reuses: str | None = None,
) -> CheckResult:
    """Pass when an image tagged ``image`` exists, built on the layers of ``base`` and carrying
    every ``label``. With ``reuses`` (the tag of an earlier build of the same Dockerfile), it
    must differ from that image yet share more layers with it than the base alone: the build
    cache gave back the layers before the changed line."""
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
        if not same_repo and any(not i.tags for i in state.images):
            return CheckResult(False, MSG_BUILD_UNTAGGED, p)
        return CheckResult(False, MSG_BUILD_MISSING, p)
    base_img = _tagged(state, base) if base else None
    if base and base_img is None:
        return CheckResult(False, MSG_BUILD_NO_BASE, p)
    base_layers = base_img.layers if base_img else ()
    if base_layers and img.layers and img.layers[: len(base_layers)] != base_layers:
        return CheckResult(False, MSG_BUILD_BASE, p)
    for key, value in (label or {}).items():
        if img.labels.get(key) != str(value):
            return CheckResult(False, MSG_BUILD_LABEL, {**p, "key": key, "value": value})
    if reuses:
        prev = _tagged(state, reuses)
        if prev is None:
            return CheckResult(False, MSG_BUILD_MISSING, {**p, "image": reuses})
        if prev.id == img.id:
            return CheckResult(False, MSG_BUILD_SAME, p)
        shared = 0
        for mine, theirs in zip(img.layers, prev.layers, strict=False):
            if mine != theirs:
                break
            shared += 1
        if shared <= len(base_layers):
            return CheckResult(False, MSG_BUILD_NO_CACHE, p)
        return CheckResult(True, MSG_BUILD_REUSED, {**p, "shared": shared - len(base_layers)})
    if base_layers:
        return CheckResult(True, MSG_BUILD_OK_BASE,
                           {**p, "own": len(img.layers) - len(base_layers)})
    return CheckResult(True, MSG_BUILD_OK, p)


@dataclass(frozen=True)
class CheckType:
    """A check function, the parameters it needs and takes, and the allowed values of those
    parameters that take one of a fixed set (``choices``)."""

    func: Callable[..., CheckResult]
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)


REGISTRY: dict[str, CheckType] = {
    "image_present": CheckType(image_present, frozenset({"image"})),
    "container_running": CheckType(container_running, frozenset({"name", "image"}),
                                   frozenset({"publish"})),
    "containers_from_image": CheckType(containers_from_image, frozenset({"image"}),
                                       frozenset({"min_running"})),
    "container_lifecycle": CheckType(container_lifecycle, frozenset({"name", "command"}),
                                     frozenset({"image"}), {"command": LIFECYCLE_COMMANDS}),
    "containers_published": CheckType(containers_published, frozenset({"image", "publish"}),
                                      frozenset({"container_port", "answered"})),
    "network_exists": CheckType(network_exists, frozenset({"name"}), frozenset({"driver"})),
    "containers_on_network": CheckType(containers_on_network, frozenset({"network", "names"}),
                                       frozenset({"answered"})),
    "published_on": CheckType(published_on, frozenset({"name", "host_port", "host_ip"}),
                              frozenset({"port"})),
    "volume_exists": CheckType(volume_exists, frozenset({"name"})),
    "volume_mounted": CheckType(volume_mounted, frozenset({"name", "destination", "mount"}),
                                frozenset({"volume", "source", "read_only", "command", "gone"}),
                                {"mount": MOUNT_TYPES}),
    "image_built": CheckType(image_built, frozenset({"image"}),
                             frozenset({"base", "label", "reuses"})),
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
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    return CheckSpec(type=kind, params=frozen)


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(v)  # hashable, like the spec it belongs to
    return dict(v) if isinstance(v, dict) else v
