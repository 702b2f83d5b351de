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
class ContainerObs:
    """One container as the engine lists it. ``image`` is the reference given to ``docker run``
    (``nginx``, ``nginx:latest``, or an id); ``state`` is Docker's (running, exited, paused ...)."""

    name: str
    image: str
    image_id: str
    state: str
    ports: tuple[PortBinding, ...] = ()


@dataclass(frozen=True)
class ImageObs:
    """One image: its id and repository tags (``nginx:latest``)."""

    id: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class EngineState:
    """What a learner's engine holds at one moment."""

    containers: tuple[ContainerObs, ...] = ()
    images: tuple[ImageObs, ...] = ()


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


@dataclass(frozen=True)
class CheckType:
    func: Callable[..., CheckResult]
    required: frozenset[str]
    optional: frozenset[str] = frozenset()


REGISTRY: dict[str, CheckType] = {
    "image_present": CheckType(image_present, frozenset({"image"})),
    "container_running": CheckType(container_running, frozenset({"name", "image"}),
                                   frozenset({"publish"})),
    "containers_from_image": CheckType(containers_from_image, frozenset({"image"}),
                                       frozenset({"min_running"})),
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
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    return CheckSpec(type=kind, params=frozen)


def _freeze(v: Any) -> Any:
    return dict(v) if isinstance(v, dict) else v
