"""Observe a learner's engine for step checks (the I/O half; :mod:`labs.checks` judges).

The learner controls that engine, so its answers are untrusted: short timeouts and a cap on how
many objects are read. A misleading answer can only mislead the learner's own step checks.

Besides the container and image lists, two cheap extras let checks see what a list cannot:
the engine's own buffer of recent container events (it keeps the last 256; one request, past
events only) gives each container's lifecycle history and the names of removed containers, and
the tail of a few running web containers' logs shows whether they answered HTTP requests
(containers that publish a port, or sit on a user-defined network where other containers reach
them by name). The newest images are inspected for their layers, so a check can tell what an
image was built on and what a rebuild reused from the build cache. Networks and volumes come
from their own list calls; each container's networks and mounts are already in the container
list (no per-container inspect).
"""
from __future__ import annotations

import json
import re
import time

import docker

from .checks import (
    DEFAULT_NETWORKS,
    ContainerObs,
    EngineState,
    ImageObs,
    MountObs,
    NetworkObs,
    PortBinding,
    VolumeObs,
)

MAX_OBJECTS = 500
TIMEOUT_S = 5
# Lifecycle events kept per container (pause/unpause/die/start) or for removals (destroy).
HISTORY_EVENTS = ("start", "pause", "unpause", "die", "destroy")
MAX_EVENTS = 1000
# Logs are read only for running containers that publish a port or sit on a user-defined
# network, at most this many, this deep.
MAX_LOGS = 20
LOG_TAIL = 200
# Images inspected for their layers (newest first): a lab compares the few it has the learner
# build with each other and with their base.
MAX_INSPECT = 20
_EXITED = re.compile(r"^Exited \((-?\d+)\)")
# An access-log line as nginx (and Apache's common log format) writes it: "GET / HTTP/1.1" 200
_HTTP_REQUEST = re.compile(rb'"[A-Z]+ \S+ HTTP/\d(?:\.\d)?" \d{3}\b')


def engine_state(engine_url: str) -> EngineState:
    """Read containers (all states), images and recent container events from the engine at
    ``engine_url``.

    Raises ``docker.errors.DockerException`` (or ``requests`` errors) when it does not answer.
    """
    api = docker.APIClient(base_url=engine_url, version="1.41", timeout=TIMEOUT_S)
    try:
        # Events first: history is then never newer than the container list read after it.
        history, removed = _recent_events(api)
        containers = []
        logs_left = MAX_LOGS
        for c in api.containers(all=True)[:MAX_OBJECTS]:
            ports = tuple(
                PortBinding(container_port=f"{p['PrivatePort']}/{p.get('Type', 'tcp')}",
                            host_ip=p.get("IP", ""), host_port=int(p["PublicPort"]))
                for p in c.get("Ports") or [] if p.get("PublicPort")
            )
            name = (c.get("Names") or ["/?"])[0].lstrip("/")
            cid = str(c.get("Id", ""))
            state = c.get("State", "")
            networks = tuple(sorted((c.get("NetworkSettings") or {}).get("Networks") or {}))
            user_net = any(n not in DEFAULT_NETWORKS for n in networks)
            requests = 0
            if state == "running" and (ports or user_net) and logs_left > 0:
                logs_left -= 1
                requests = _http_requests(api, cid)
            exited = _EXITED.match(str(c.get("Status", "")))
            containers.append(ContainerObs(name=name, image=c.get("Image", ""),
                                           image_id=c.get("ImageID", ""),
                                           state=state, ports=ports, id=cid,
                                           exit_code=int(exited[1]) if exited else None,
                                           history=history.get(cid, ()),
                                           http_requests=requests,
                                           command=str(c.get("Command", "")),
                                           networks=networks,
                                           network_mode=str((c.get("HostConfig") or {})
                                                            .get("NetworkMode", "")),
                                           mounts=_mounts(c)))
        imgs = _images(api)
        nets = tuple(NetworkObs(name=str(n.get("Name", "")), driver=str(n.get("Driver", "")))
                     for n in (api.networks() or [])[:MAX_OBJECTS])
        vols = tuple(
            VolumeObs(name=str(v.get("Name", "")), driver=str(v.get("Driver", "")),
                      anonymous="com.docker.volume.anonymous" in (v.get("Labels") or {}))
            for v in ((api.volumes() or {}).get("Volumes") or [])[:MAX_OBJECTS]
        )
        return EngineState(containers=tuple(containers), images=imgs, removed=removed,
                           networks=nets, volumes=vols)
    finally:
        api.close()


def _images(api: docker.APIClient) -> tuple[ImageObs, ...]:
    """The image list with labels; the newest :data:`MAX_INSPECT` images are also inspected for
    their filesystem layers (one request each), enough for the images a learner builds."""
    listed = sorted(api.images()[:MAX_OBJECTS], key=lambda i: -int(i.get("Created") or 0))
    imgs = []
    for n, i in enumerate(listed):
        layers: tuple[str, ...] = ()
        if n < MAX_INSPECT:
            try:
                rootfs = api.inspect_image(i["Id"]).get("RootFS") or {}
                layers = tuple(str(x) for x in (rootfs.get("Layers") or [])[:MAX_OBJECTS])
            except docker.errors.APIError:
                pass  # removed meanwhile: no layers to compare
        imgs.append(ImageObs(
            id=i["Id"], tags=tuple(t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"),
            labels={str(k): str(v) for k, v in (i.get("Labels") or {}).items()}, layers=layers,
        ))
    return tuple(imgs)


def _mounts(c: dict) -> tuple[MountObs, ...]:
    """A listed container's mounts (volumes, bind mounts, ``--mount type=tmpfs``)."""
    return tuple(
        MountObs(type=str(m.get("Type", "")), destination=str(m.get("Destination", "")),
                 name=str(m.get("Name", "")), source=str(m.get("Source", "")),
                 rw=bool(m.get("RW", True)))
        for m in (c.get("Mounts") or [])[:MAX_OBJECTS]
    )


def _recent_events(api: docker.APIClient) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The engine's buffered container events up to now: each container's lifecycle actions by
    id (oldest first), and the names of removed containers (oldest first)."""
    params = {
        "since": "0",  # from the oldest event the engine still holds
        "until": f"{time.time():.9f}",  # past events only: the engine answers and closes
        "filters": json.dumps({"type": ["container"], "event": list(HISTORY_EVENTS)}),
    }
    # docker-py's events() reads without a timeout; this reads the same endpoint with ours.
    resp = api.get(api._url("/events"), params=params, timeout=TIMEOUT_S, stream=True)
    history: dict[str, list[str]] = {}
    removed: list[str] = []
    try:
        resp.raise_for_status()
        for n, line in enumerate(resp.iter_lines()):
            if n >= MAX_EVENTS:
                break
            try:
                ev = json.loads(line)
                action, actor = str(ev["Action"]), ev["Actor"]
                cid, name = str(actor["ID"]), str(actor.get("Attributes", {}).get("name", ""))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not an event we understand: skip it
            if action == "destroy":
                removed.append(name)
            elif action in HISTORY_EVENTS:
                history.setdefault(cid, []).append(action)
    finally:
        resp.close()
    return {k: tuple(v) for k, v in history.items()}, tuple(removed)


def _http_requests(api: docker.APIClient, container_id: str) -> int:
    """How many HTTP requests the recent stdout log of a container shows (0 if unreadable)."""
    try:
        log = api.logs(container_id, stdout=True, stderr=False, tail=LOG_TAIL)
    except docker.errors.APIError:
        return 0  # removed meanwhile, or an engine that will not say
    return len(_HTTP_REQUEST.findall(log if isinstance(log, bytes) else b""))
