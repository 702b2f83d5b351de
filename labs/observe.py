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
list (no per-container inspect). Labels of containers, networks and volumes come with those lists
(Docker Compose finds its projects by them), and the same events request also returns the names of
recently removed networks and volumes (``docker compose down`` removes the project's networks,
``down -v`` its volumes too), and what a removed container's events tell of how it ended (its
last exit code: a ``docker kill`` quickly followed by ``docker rm`` leaves no other trace).
Containers left in the created state are inspected for the error that kept them from starting
(a host port already taken), which the list does not show, and so are the containers a check
expects a tmpfs mount in (the list leaves out those of ``docker run --tmpfs``).
"""
from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import json
import re
import threading
import time
from collections.abc import Iterable

import docker

from webapp.sandboxes.backend import INNER_API_VERSION

from .checks import (
    DEFAULT_NETWORKS,
    ContainerFileObs,
    ContainerObs,
    EngineState,
    FileObs,
    HistoryEntry,
    ImageEvent,
    ImageObs,
    MountObs,
    NetworkObs,
    PortBinding,
    VolumeObs,
    normalize_ref,
)

MAX_OBJECTS = 500
TIMEOUT_S = 5
# Lifecycle events kept per container (create/pause/unpause/die/stop/start/restart) or for
# removals (destroy, of containers, networks and volumes). A history that holds its 'create' is
# whole: a container removed with no 'start' after it never ran.
HISTORY_EVENTS = ("create", "start", "pause", "unpause", "die", "stop", "destroy", "restart")
EVENT_TYPES = ("container", "network", "volume")
MAX_LABELS = 100
MAX_EVENTS = 1000
# Logs are read only for running containers that publish a port or sit on a user-defined
# network, at most this many, this deep.
MAX_LOGS = 20
LOG_TAIL = 200
# Images inspected for their layers (newest first): a lab compares the few it has the learner
# build with each other and with their base.
MAX_INSPECT = 20
# Containers left in the created state inspected for why they did not start (a failed start
# leaves its error there; the list does not show it).
MAX_CREATED_INSPECT = 10
# Containers inspected for ``--tmpfs`` mounts: those a lab's checks name (a handful).
MAX_TMPFS_INSPECT = 10
# Files inside containers a lab's checks name (labs.checks.CheckSpec.container_paths).
MAX_CONTAINER_FILES = 10
_EXITED = re.compile(r"^Exited \((-?\d+)\)")
# An access-log line as nginx (and Apache's common log format) writes it: "GET / HTTP/1.1" 200
_HTTP_REQUEST = re.compile(rb'"[A-Z]+ \S+ HTTP/\d(?:\.\d)?" \d{3}\b')


def engine_state(engine_url: str, inspect: Iterable[str] = (),
                 tmpfs_of: Iterable[str] = ()) -> EngineState:
    """Read containers (all states), images and recent container events from the engine at
    ``engine_url``. ``inspect``: normalized references (:func:`labs.checks.normalize_ref`) of
    images whose layers are read even when they are not among the newest (see :func:`_images`).
    ``tmpfs_of``: names of containers also inspected for the tmpfs mounts of ``docker run
    --tmpfs``, which the container list leaves out of its mounts (see :func:`_tmpfs_mounts`).

    Raises ``docker.errors.DockerException`` (or ``requests`` errors) when it does not answer.
    """
    api = docker.APIClient(base_url=engine_url, version=INNER_API_VERSION, timeout=TIMEOUT_S)
    observed_at = time.time()  # before reading: ages computed from it are never too large
    try:
        # Events first: history is then never newer than the container list read after it.
        (history, died_at, removed, removed_networks, removed_volumes, gone, signalled_at,
         started_at) = _recent_events(api)
        containers = []
        logs_left = MAX_LOGS
        inspect_left = MAX_CREATED_INSPECT
        tmpfs_names = set(list(tmpfs_of)[:MAX_TMPFS_INSPECT])
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
            start_error, requested = "", ()
            if state == "created" and inspect_left > 0:
                inspect_left -= 1
                start_error, requested = _created_details(api, cid)
            mounts = _mounts(c)
            if name in tmpfs_names:
                mounts += _tmpfs_mounts(api, cid, mounts)
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
                                           mounts=mounts, labels=_labels(c),
                                           created=_int(c.get("Created")),
                                           died_at=died_at.get(cid, 0.0),
                                           started_at=started_at.get(cid, 0.0),
                                           signalled_at=signalled_at.get(cid, 0.0),
                                           start_error=start_error,
                                           requested_ports=requested))
        imgs = _images(api, frozenset(inspect))
        nets = tuple(NetworkObs(name=str(n.get("Name", "")), driver=str(n.get("Driver", "")),
                                labels=_labels(n))
                     for n in (api.networks() or [])[:MAX_OBJECTS])
        vols = tuple(
            VolumeObs(name=str(v.get("Name", "")), driver=str(v.get("Driver", "")),
                      anonymous="com.docker.volume.anonymous" in (v.get("Labels") or {}),
                      labels=_labels(v))
            for v in ((api.volumes() or {}).get("Volumes") or [])[:MAX_OBJECTS]
        )
        return EngineState(containers=tuple(containers), images=imgs, removed=removed,
                           networks=nets, volumes=vols, removed_networks=removed_networks,
                           removed_volumes=removed_volumes, observed_at=observed_at, gone=gone)
    finally:
        api.close()


def _images(api: docker.APIClient, inspect: frozenset[str] = frozenset()) -> tuple[ImageObs, ...]:
    """The image list with labels; the newest :data:`MAX_INSPECT` images, and those tagged with
    a reference in ``inspect`` (the bases a lab's checks compare with), are also inspected for
    their filesystem layers (one request each). A base is as old as its build, not its pull:
    among a learner's images it could fall out of the newest, and a build on it then seemed to
    add all of its layers ("menu:1 has 5 layers of its own on top of nginx")."""
    listed = sorted(api.images()[:MAX_OBJECTS], key=lambda i: -int(i.get("Created") or 0))
    imgs = []
    for n, i in enumerate(listed):
        layers: tuple[str, ...] = ()
        cmd: tuple[str, ...] = ()
        named = inspect and any(normalize_ref(t) in inspect for t in (i.get("RepoTags") or [])
                                if t != "<none>:<none>")
        if n < MAX_INSPECT or named:
            try:
                info = api.inspect_image(i["Id"])
                rootfs = info.get("RootFS") or {}
                layers = tuple(str(x) for x in (rootfs.get("Layers") or [])[:MAX_OBJECTS])
                cmd = tuple(str(x) for x in ((info.get("Config") or {}).get("Cmd") or [])[:50])
            except docker.errors.APIError:
                pass  # removed meanwhile: no layers to compare
        imgs.append(ImageObs(
            id=i["Id"], tags=tuple(t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"),
            labels={str(k): str(v) for k, v in (i.get("Labels") or {}).items()}, layers=layers,
            cmd=cmd, size=_int(i.get("Size")), created=_int(i.get("Created")),
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


def _tmpfs_mounts(api: docker.APIClient, container_id: str,
                  listed: tuple[MountObs, ...]) -> tuple[MountObs, ...]:
    """The tmpfs mounts of ``docker run --tmpfs PATH[:OPTIONS]``, from the container's
    ``HostConfig.Tmpfs`` (path -> mount options such as ``ro,size=64m``; Docker's API reference,
    ContainerCreate). The list's ``Mounts`` holds ``--mount type=tmpfs`` but not these, so a
    learner who used the short flag would be told nothing is mounted. Paths already in
    ``listed`` are left out; empty when the container cannot be inspected (removed meanwhile)."""
    try:
        info = api.inspect_container(container_id)
    except docker.errors.APIError:
        return ()
    tmpfs = (info.get("HostConfig") or {}).get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        return ()
    have = {m.destination.rstrip("/") for m in listed}
    return tuple(MountObs(type="tmpfs", destination=str(path),
                          rw="ro" not in str(opts or "").split(","))
                 for path, opts in list(tmpfs.items())[:MAX_OBJECTS]
                 if str(path).rstrip("/") not in have)


def _created_details(api: docker.APIClient, container_id: str) -> tuple[str, tuple[PortBinding, ...]]:
    """For a container in the created state, one inspect: why it did not start, as the engine
    keeps it (its ``State.Error``, such as "... port is already allocated"; empty when it was
    never asked to start), and the ports it asks to publish (``HostConfig.PortBindings``; host
    port 0 when any free one will do). ("", ()) when it cannot be read."""
    try:
        info = api.inspect_container(container_id)
    except docker.errors.APIError:
        return "", ()  # removed meanwhile
    bindings = (info.get("HostConfig") or {}).get("PortBindings") or {}
    asked = tuple(PortBinding(container_port=cport, host_ip=str(b.get("HostIp") or ""),
                              host_port=_int(b.get("HostPort")))
                  for cport, binds in sorted(bindings.items()) for b in (binds or []))
    return str((info.get("State") or {}).get("Error") or "")[:1000], asked


def container_files(api: docker.APIClient, paths) -> tuple[ContainerFileObs, ...]:
    """Stat the files ``paths`` ((container name, absolute path) pairs) inside their containers
    through the engine's archive endpoint (``HEAD /containers/{name}/archive``, what 'docker cp'
    uses): it works on stopped containers too and sees the volumes mounted in them. A container
    or file that is not there is ``missing``."""
    out = []
    for container, path in list(dict.fromkeys(paths))[:MAX_CONTAINER_FILES]:
        kind, size = "missing", 0
        try:
            resp = api.head(api._url("/containers/{0}/archive", container), params={"path": path},
                            timeout=TIMEOUT_S)
            header = resp.headers.get("X-Docker-Container-Path-Stat", "")
            if resp.status_code == 200 and header:
                stat = json.loads(base64.b64decode(header))
                mode = _int(stat.get("mode"))
                size = _int(stat.get("size"))
                # Go's os.FileMode: the type bits sit at the top of the 32-bit value.
                if mode & (1 << 31):
                    kind = "dir"
                elif mode & 0xFFF00000:  # a link, device, pipe, socket ...
                    kind = "other"
                else:
                    kind = "file"
        except (docker.errors.DockerException, ValueError, binascii.Error, TypeError,
                AttributeError, OSError):
            pass  # an engine that will not say: the file counts as missing
        out.append(ContainerFileObs(container=container, path=path, kind=kind, size=size))
    return tuple(out)


def _labels(obj: dict) -> dict[str, str]:
    """The labels of a listed container, network or volume (at most :data:`MAX_LABELS`)."""
    labels = obj.get("Labels") or {}
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in list(labels.items())[:MAX_LABELS]}


def _recent_events(
    api: docker.APIClient,
) -> tuple[dict[str, tuple[str, ...]], dict[str, float], tuple[str, ...], tuple[str, ...],
           tuple[str, ...], tuple[ContainerObs, ...], dict[str, float], dict[str, float]]:
    """The engine's buffered events up to now: each container's lifecycle actions by id (oldest
    first), when each container last died by id (epoch seconds, from the event's ``timeNano``
    or ``time``), the names of removed containers, networks and volumes (each oldest
    first), the removed containers themselves as far as the events tell (name, id, image,
    history, exit code of the last 'die' and its time; state ``removed``), oldest first, and
    when each container was last sent a signal by id (its 'kill' events, which stay out of the
    history), and when each container last started by id (epoch seconds, as ``died_at``: a
    check waits a moment before it takes one that started just now for running)."""
    params = {
        "since": "0",  # from the oldest event the engine still holds
        "until": f"{time.time():.9f}",  # past events only: the engine answers and closes
        "filters": json.dumps({"type": list(EVENT_TYPES), "event": [*HISTORY_EVENTS, "kill"]}),
    }
    signalled_at: dict[str, float] = {}
    # docker-py's events() reads without a timeout; this reads the same endpoint with ours.
    resp = api.get(api._url("/events"), params=params, timeout=TIMEOUT_S, stream=True)
    history: dict[str, list[str]] = {}
    died_at: dict[str, float] = {}
    removed: list[str] = []
    removed_networks: list[str] = []
    removed_volumes: list[str] = []
    exit_codes: dict[str, int] = {}
    gone: list[ContainerObs] = []
    started_at: dict[str, float] = {}  # each container's latest 'start' event
    try:
        resp.raise_for_status()
        for n, line in enumerate(resp.iter_lines()):
            if n >= MAX_EVENTS:
                break
            try:
                ev = json.loads(line)
                kind, action, actor = str(ev.get("Type", "container")), str(ev["Action"]), ev["Actor"]
                cid, name = str(actor["ID"]), str(actor.get("Attributes", {}).get("name", ""))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not an event we understand: skip it
            if kind == "network":
                if action == "destroy":
                    removed_networks.append(name)
            elif kind == "volume":
                if action == "destroy":
                    removed_volumes.append(cid)  # a volume's id is its name
            elif action == "kill":
                signalled_at[cid] = _event_time(ev)
            elif action == "destroy":
                removed.append(name)
                gone.append(ContainerObs(
                    name=name, image=str(actor.get("Attributes", {}).get("image", "")),
                    image_id="", state="removed", id=cid, exit_code=exit_codes.get(cid),
                    history=tuple(history.get(cid, ())), died_at=died_at.get(cid, 0.0),
                    started_at=started_at.get(cid, 0.0)))
            elif action in HISTORY_EVENTS:
                history.setdefault(cid, []).append(action)
                if action == "start":
                    started_at[cid] = _event_time(ev)
                if action == "die":
                    died_at[cid] = _event_time(ev)
                    try:
                        exit_codes[cid] = int(actor["Attributes"]["exitCode"])
                    except (KeyError, TypeError, ValueError):
                        exit_codes.pop(cid, None)
    finally:
        resp.close()
    return ({k: tuple(v) for k, v in history.items()}, died_at, tuple(removed),
            tuple(removed_networks), tuple(removed_volumes), tuple(gone[-MAX_OBJECTS:]),
            signalled_at, started_at)


def _event_time(ev: dict) -> float:
    """When an engine event happened, epoch seconds (0.0 when it does not say)."""
    try:
        return int(ev["timeNano"]) / 1e9
    except (KeyError, TypeError, ValueError):
        try:
            return float(ev.get("time") or 0)
        except (TypeError, ValueError):
            return 0.0


def _http_requests(api: docker.APIClient, container_id: str) -> int:
    """How many HTTP requests the recent stdout log of a container shows (0 if unreadable)."""
    try:
        log = api.logs(container_id, stdout=True, stderr=False, tail=LOG_TAIL)
    except docker.errors.APIError:
        return 0  # removed meanwhile, or an engine that will not say
    return len(_HTTP_REQUEST.findall(log if isinstance(log, bytes) else b""))


def _int(value) -> int:
    """An integer the engine reported, or 0 when it reported something else."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# ------------------------------------------------------------------------------
# What some labs read besides the engine's lists: image events, workspace files and the shell
# history. Only the labs whose checks need them pay for them (see CheckType.reads).
# ------------------------------------------------------------------------------
IMAGE_EVENTS = ("pull", "load", "import", "delete")
# The newest part of ~/.bash_history (about a thousand commands), and as much of ~/.bash_status,
# where the sandbox's bashrc notes each history entry's exit status (parse_statuses).
HISTORY_BYTES = 64 * 1024
MAX_HISTORY = 2000
MAX_LISTED = 50  # archive-like names listed at the top of the home folder
TEXT_MAX = 4096  # bytes read of a workspace file a check reads as text (a .dockerignore)
MANIFEST_BYTES = 64 * 1024
STAT_TIMEOUT_S = 5
ARCHIVE_TIMEOUT_S = 15  # reading one archive (gzip test and listing, manifest); then cached

# One exec (arguments: history bytes to read, 0 for none; names to list; the files): the
# archive-like names at the top of /root (newest first), then the name and stat line of the
# newest of them that is none of the files, the tails of the history file and of the exit
# status file, and a stat line for each file. stat never follows the file itself, and the
# history and status files are read only when they are regular files, not links.
_STAT_SCRIPT = r"""
cd /root || exit 0
h=$1 n=$2
shift 2
echo '@ls'
ls -1At 2>/dev/null | grep -E '\.(tar|tgz|gz)$' | head -n "$n" | {
  other=
  while IFS= read -r f; do
    printf '%s\n' "$f"
    if [ -z "$other" ]; then
      other=$f
      for a in "$@"; do [ "${a#+}" = "$f" ] && other=; done
    fi
  done
  if [ -n "$other" ]; then
    printf '@other %s\n' "$other"
    stat -c '%F|%s|%.9Y|%i' -- "$other" 2>/dev/null || echo missing
  fi
}
if [ "$h" -gt 0 ]; then
  echo '@history'
  if [ -f .bash_history ] && [ ! -L .bash_history ]; then
    tail -c "$h" .bash_history | base64 -w0
  fi
  echo
  echo '@status'
  if [ -f .bash_status ] && [ ! -L .bash_status ]; then
    tail -c "$h" .bash_status | base64 -w0
  fi
  echo
fi
for a in "$@"; do
  p=${a#+}
  printf '@file %s\n' "$p"
  stat -c '%F|%s|%.9Y|%i' -- "$p" 2>/dev/null || echo missing
  # "+path": a file read as text too (its first bytes), when it is a regular file, not a link.
  if [ "$a" != "$p" ] && [ -f "$p" ] && [ ! -L "$p" ]; then
    printf '@text '; head -c "$TEXT_MAX" -- "$p" | base64 -w0; echo
  fi
done
"""

# Reading one archive with bash (arguments: the file, the most bytes of manifest.json to read),
# again only when it is a regular file and not a link. A gzip file is decompressed once for both
# the listing and gzip's own verdict on it (cat drains what tar leaves, so gzip's exit status
# covers the whole file: its CRC and length, as 'gzip -t' checks them). The listing gives the
# member count and whether .dockerenv and manifest.json are there, then the names of the files
# (not folders) at the top of the archive (at most 50); manifest.json is then read.
_ARCHIVE_SCRIPT = r"""
cd /root || exit 0
p="$1"
if [ ! -f "$p" ] || [ -L "$p" ]; then echo '@notfile'; exit 0; fi
summary() {
  awk '{n++} $0==".dockerenv"||$0=="./.dockerenv"{d=1} $0=="manifest.json"{m=1}
       {f=$0; sub(/^\.\//, "", f)} f!="" && f !~ /\// && t<50 {top[t++]=f}
       END{printf "@tar %d %d %d\n", n, d, m; for (i=0;i<t;i++) printf "@top %s\n", top[i]}'
}
z=
if [ "$(head -c 2 -- "$p" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
  z=z
  info=$(gzip -dc -- "$p" 2>/dev/null | { tar -tf - 2>/dev/null | summary; cat >/dev/null; }
         echo "@gzip ${PIPESTATUS[0]}")
else
  info=$(tar -tf "$p" 2>/dev/null | summary)
fi
printf '%s\n' "$info"
if printf '%s\n' "$info" | grep -q '^@tar [0-9]* [01] 1$'; then
  echo '@manifest'
  tar -x${z}Of "$p" manifest.json 2>/dev/null | head -c "$2" | base64 -w0
  echo
fi
"""


class _Unread(Exception):
    """An archive could not be read in time."""


# Archive reads, by (sandbox, file name, stat line): a file is read once per version. One that
# could not be read in time is tried again after UNREAD_RETRY_S, not on every observation.
_ARCHIVE_CACHE: collections.OrderedDict[tuple[str, str, str], tuple[FileObs, float | None]] = (
    collections.OrderedDict())
_ARCHIVE_CACHE_LOCK = threading.Lock()
ARCHIVE_CACHE_SIZE = 256
UNREAD_RETRY_S = 60


def lab_state(backend, sandbox_id: str, specs) -> EngineState:
    """Observe a learner's sandbox for the checks ``specs`` (a lab's :class:`CheckSpec` list):
    the engine (:func:`engine_state`), plus what those checks read besides: the engine's recent
    image events, the workspace files they name and the shell history.

    ``backend`` is the :class:`~webapp.sandboxes.backend.SandboxBackend` that runs the sandbox.
    Costs, measured by ``bench/observe_lab.py``: one more events request for image events; one
    exec for the files' stat lines and the history; one exec per new or changed archive file
    (then cached by name, inode, size and time); one HEAD request per file inside an existing
    container that a check names (:meth:`CheckSpec.container_paths`). Raises what
    :func:`engine_state` raises, and :class:`~webapp.sandboxes.backend.SandboxError` when the
    sandbox stops meanwhile.
    """
    specs = list(specs)
    paths = tuple(dict.fromkeys(p for s in specs for p in s.workspace_paths()))
    texts = tuple(dict.fromkeys(p for s in specs for p in s.workspace_texts()))
    state = engine_state(backend.engine_url(sandbox_id),
                         inspect=[r for s in specs for r in s.image_refs()],
                         tmpfs_of=[n for s in specs for n in s.tmpfs_containers()])
    # Some checks read more only in some states (compose down -v: the history once nothing of
    # the project is left), so what to read is decided after the engine's lists.
    reads = frozenset().union(*(s.reads(state) for s in specs))
    extra: dict = {}
    inside = [cp for s in specs for cp in s.container_paths()
              if any(c.name == cp[0] for c in state.containers)]
    if inside:
        api = backend.inner_api(sandbox_id, timeout=TIMEOUT_S)
        try:
            extra["container_files"] = container_files(api, inside)
        finally:
            api.close()
    if "image_events" in reads:
        api = backend.inner_api(sandbox_id, timeout=TIMEOUT_S)
        try:
            extra["image_events"] = _image_events(api)
        finally:
            api.close()
    if paths or texts or "history" in reads:
        extra.update(_workspace(backend, sandbox_id, paths, history="history" in reads, texts=texts))
    return dataclasses.replace(state, **extra) if extra else state


def _image_events(api: docker.APIClient) -> tuple[ImageEvent, ...]:
    """The engine's buffered image pulls, loads, imports and deletions, oldest first."""
    params = {
        "since": "0",
        "until": f"{time.time():.9f}",
        "filters": json.dumps({"type": ["image"], "event": list(IMAGE_EVENTS)}),
    }
    resp = api.get(api._url("/events"), params=params, timeout=TIMEOUT_S, stream=True)
    events: list[ImageEvent] = []
    try:
        resp.raise_for_status()
        for n, line in enumerate(resp.iter_lines()):
            if n >= MAX_EVENTS:
                break
            try:
                ev = json.loads(line)
                events.append(ImageEvent(action=str(ev["Action"]), ref=str(ev["Actor"]["ID"])))
            except (ValueError, KeyError, TypeError):
                continue  # not an event we understand: skip it
    finally:
        resp.close()
    return tuple(events)


def _workspace(backend, sandbox_id: str, paths: tuple[str, ...], *, history: bool,
               texts: tuple[str, ...] = ()) -> dict:
    """The files ``paths`` (plain names in /root), the other archive-like names there (the
    newest of them read as the files are: is it an attempt at one of them under another
    name?), and the shell history when ``history``: keyword arguments for :class:`EngineState`.
    The files ``texts`` (paths relative to /root) are read as text instead of as archives: their
    first TEXT_MAX bytes (:attr:`labs.checks.FileObs.text`)."""
    texts = tuple(t for t in texts if t not in paths)
    res = backend.exec(sandbox_id, ["sh", "-c", f"TEXT_MAX={TEXT_MAX}\n" + _STAT_SCRIPT, "sh",
                                    str(HISTORY_BYTES if history else 0), str(MAX_LISTED),
                                    *paths, *("+" + t for t in texts)], timeout=STAT_TIMEOUT_S,
                       max_output=4 * HISTORY_BYTES + 64 * 1024 + 2 * TEXT_MAX * len(texts))
    listed: list[str] = []
    history_b64 = status_b64 = ""
    stats: dict[str, str] = {}
    read: dict[str, str] = {}
    other, other_stat = "", ""
    section, current = "", ""
    for line in res.output.splitlines():
        if line in ("@ls", "@history", "@status"):
            section = line
        elif section == "@ls" and line.startswith("@other ") and not other:
            section, other = "@other", line[len("@other "):]
        elif section == "@other":
            other_stat, section = line.strip(), ""
        elif line.startswith("@file "):
            section, current = "@file", line[len("@file "):]
        elif section == "@ls" and len(listed) < MAX_LISTED:
            listed.append(line)
        elif section == "@history" and not history_b64:
            history_b64 = line.strip()
        elif section == "@status" and not status_b64:
            status_b64 = line.strip()
        elif section == "@file" and current in texts and line.startswith("@text "):
            try:
                read[current] = base64.b64decode(line[len("@text "):].strip()).decode(
                    "utf-8", errors="replace")
            except (ValueError, binascii.Error):
                read[current] = ""
        elif section == "@file" and (current in paths or current in texts) and current not in stats:
            stats[current] = line.strip()
    files = tuple(_file_obs(backend, sandbox_id, p, stats.get(p, "missing")) for p in paths)
    files += tuple(_text_obs(t, stats.get(t, "missing"), read.get(t)) for t in texts)
    out: dict = {"files": files, "workspace": tuple(n for n in listed if n not in paths)}
    if paths and other and other not in paths and out["workspace"][:1] == (other,):
        # Read only for the archive checks (they name it when it is an attempt at their file).
        out["other_file"] = _file_obs(backend, sandbox_id, other, other_stat or "missing")
    if history:
        raw, raw_status = _b64(history_b64), _b64(status_b64)
        statuses = parse_statuses(raw_status.decode("utf-8", errors="replace"),
                                  truncated=len(raw_status) >= HISTORY_BYTES)
        out["shell_history"] = parse_history(raw.decode("utf-8", errors="replace"),
                                             truncated=len(raw) >= HISTORY_BYTES,
                                             statuses=statuses)
    return out


def _b64(text: str) -> bytes:
    """Bytes the exec sent as base64 (none when they do not decode)."""
    try:
        return base64.b64decode(text, validate=False)
    except (ValueError, binascii.Error):
        return b""


_KINDS = {"regular file": "file", "regular empty file": "file", "directory": "dir",
          "symbolic link": "link"}


def _text_obs(path: str, stat_line: str, text: str | None) -> FileObs:
    """A workspace file read as text, from its stat line and its first bytes (None: not a
    regular file, or not there)."""
    parts = stat_line.split("|")
    if len(parts) != 4:
        return FileObs(path=path)
    kind = _KINDS.get(parts[0], "other")
    return FileObs(path=path, kind=kind, size=_int(parts[1]) if kind == "file" else 0,
                   text=text if kind == "file" else None)


def _file_obs(backend, sandbox_id: str, path: str, stat_line: str) -> FileObs:
    """A workspace file from its stat line (``type|size|mtime in ns|inode``); a regular file is
    read as an archive once per version (cached)."""
    parts = stat_line.split("|")
    if len(parts) != 4:
        return FileObs(path=path)
    kind = _KINDS.get(parts[0], "other")
    if kind != "file":
        return FileObs(path=path, kind=kind)
    key = (sandbox_id, path, stat_line)
    with _ARCHIVE_CACHE_LOCK:
        hit = _ARCHIVE_CACHE.get(key)
    if hit is not None and (hit[1] is None or time.monotonic() < hit[1]):
        return hit[0]
    try:
        obs, retry_at = _read_archive(backend, sandbox_id, path, stat_line), None
    except _Unread:
        obs = FileObs(path=path, kind="file", size=_int(parts[1]), unread=True)
        retry_at = time.monotonic() + UNREAD_RETRY_S
    with _ARCHIVE_CACHE_LOCK:
        _ARCHIVE_CACHE[key] = (obs, retry_at)
        _ARCHIVE_CACHE.move_to_end(key)
        while len(_ARCHIVE_CACHE) > ARCHIVE_CACHE_SIZE:
            _ARCHIVE_CACHE.popitem(last=False)
    return obs


def _read_archive(backend, sandbox_id: str, path: str, stat_line: str) -> FileObs:
    """Read the regular file ``path`` as an archive (see :data:`_ARCHIVE_SCRIPT`). Raises
    :class:`_Unread` when that takes longer than :data:`ARCHIVE_TIMEOUT_S`."""
    res = backend.exec(sandbox_id, ["bash", "-c", _ARCHIVE_SCRIPT, "bash", path, str(MANIFEST_BYTES)],
                       timeout=ARCHIVE_TIMEOUT_S, max_output=2 * MANIFEST_BYTES + 4096)
    if res.timed_out:
        raise _Unread(path)
    size = _int(stat_line.split("|")[1])
    gz = gz_ok = tar = exported = has_manifest = False
    manifest_b64 = ""
    top: list[str] = []
    lines = res.output.splitlines()
    for n, line in enumerate(lines):
        if line == "@notfile":
            return FileObs(path=path, kind="other")
        if line.startswith("@gzip "):
            gz, gz_ok = True, line == "@gzip 0"  # gzip's exit status
        elif line.startswith("@tar "):
            fields = line.split()
            if len(fields) == 4:
                tar, exported, has_manifest = _int(fields[1]) > 0, fields[2] == "1", fields[3] == "1"
        elif line.startswith("@top ") and len(top) < 50:
            top.append(line[len("@top "):])
        elif line == "@manifest" and n + 1 < len(lines):
            manifest_b64 = lines[n + 1].strip()
    return FileObs(path=path, kind="file", size=size, gzip=gz, gzip_ok=gz_ok, tar=tar,
                   exported=exported, manifest=has_manifest, top_files=tuple(top),
                   repo_tags=_repo_tags(manifest_b64) if has_manifest else ())


def _repo_tags(manifest_b64: str) -> tuple[str, ...]:
    """The ``RepoTags`` of every entry of a ``docker save`` manifest.json (base64), in order;
    empty when it does not parse (the learner controls the file)."""
    try:
        data = json.loads(base64.b64decode(manifest_b64))
    except (ValueError, binascii.Error):
        return ()
    tags: list[str] = []
    for entry in data if isinstance(data, list) else []:
        for tag in (entry.get("RepoTags") or []) if isinstance(entry, dict) else []:
            if isinstance(tag, str) and len(tags) < MAX_OBJECTS:
                tags.append(tag)
    return tuple(tags)


_STAMP = re.compile(r"^#(\d{1,12})$")


@dataclasses.dataclass(frozen=True)
class Status:
    """One line of the exit status file: the history entry it belongs to (its time in epoch
    seconds and its first line) and how the entry's command ended: ``status`` is bash's ``$?``,
    ``pipe_status`` the status of each command of the last pipeline it ran (``PIPESTATUS``)."""

    time: int
    first_line: str
    status: int
    pipe_status: tuple[int, ...]


_STATUS_LINE = re.compile(r"^(\d{1,12}) (\d{1,3}) ((?:\d{1,3},)*\d{1,3}) (.*)$")


def parse_statuses(text: str, *, truncated: bool = False) -> tuple[Status, ...]:
    """The exit status file the sandbox's bashrc writes (~/.bash_status): one line per
    history entry, ``<epoch seconds> <$?> <PIPESTATUS, comma-separated> <entry's first line>``,
    oldest first. Lines that do not read so are skipped (the learner can write the file). With
    ``truncated`` (the tail of a longer file), the first, partial line is dropped."""
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[1:]
    out = []
    for line in lines:
        m = _STATUS_LINE.match(line)
        if m:
            out.append(Status(time=int(m[1]), first_line=m[4].strip(), status=int(m[2]),
                              pipe_status=tuple(int(x) for x in m[3].split(","))))
    return tuple(out)


def parse_history(text: str, *, truncated: bool = False,
                  statuses: tuple[Status, ...] = ()) -> tuple[HistoryEntry, ...]:
    """Bash's history file as written with ``HISTTIMEFORMAT`` set (the sandbox's bashrc): a
    ``#<epoch seconds>`` line before each command, whose text runs to the next such line (a
    here-document spans several). Lines before the first stamp are commands of their own with
    time 0. With ``truncated`` (the text is the tail of a longer file), the first, partial line
    is dropped. Returns the newest :data:`MAX_HISTORY` entries, oldest first.

    Each entry gets its exit status from ``statuses`` (:func:`parse_statuses`): the status
    noted with the same time and first line, the newest such status going to the newest such
    entry (a command typed twice in one second). An entry with none keeps ``status`` None
    (unknown): written before the bashrc noted statuses, by a shell that exited (``exit`` has
    no prompt after it), or older than the status file's tail."""
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[1:]
    entries: list[HistoryEntry] = []
    when: int | None = None
    body: list[str] = []

    def flush() -> None:
        if when is not None and body:
            entries.append(HistoryEntry(time=when, text="\n".join(body)))

    for line in lines:
        stamp = _STAMP.match(line)
        if stamp:
            flush()
            when, body = int(stamp[1]), []
        elif when is None:
            if line.strip():
                entries.append(HistoryEntry(time=0, text=line))
        else:
            body.append(line)
    flush()
    entries = entries[-MAX_HISTORY:]
    noted: dict[tuple[int, str], list[Status]] = {}
    for st in statuses:
        noted.setdefault((st.time, st.first_line), []).append(st)
    for n in range(len(entries) - 1, -1, -1):
        e = entries[n]
        same = noted.get((e.time, e.text.split("\n", 1)[0].strip()))
        if same:
            st = same.pop()
            entries[n] = dataclasses.replace(e, status=st.status, pipe_status=st.pipe_status)
    return tuple(entries)
