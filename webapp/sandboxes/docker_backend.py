"""Sandboxes as containers on bungeo's dedicated sandbox engine (isolation mode ``userns``).

Each sandbox runs its own rootful Docker engine inside a user namespace (DESIGN.md, "Sandboxes"):

* never ``--privileged``; capabilities SYS_ADMIN, NET_ADMIN and SYS_PTRACE, which are namespaced and mean
  nothing on the host; a seccomp profile that is Docker's default plus keyctl, add_key,
  request_key and pivot_root (what the inner engine needs);
* ``cgroupns=private`` under the root-owned parent cgroup ``/bungeo/<sandbox>``, which carries the
  memory, CPU and pids limits; after start, bungeo hands the sandbox's *own* cgroup directories (the
  directories only, not the limit files in them) to the remapped root, so the inner engine can
  create child cgroups (pause, stats, per-container limits) but never raise its own limits;
* the inner engine also listens on a socket in a host directory bind-mounted into the sandbox,
  which bungeo's step checks use (``engine_url``);
* the learner's home folder (/root) lives in a named volume that outlives the sandbox.

Warm pool: ``pool_fill`` keeps ``BUNGEO_SANDBOX_POOL_SIZE`` started sandboxes with no owner. Their
/root is a bind of a host directory (``<data dir>/slots/<slot>/home``) with ``rslave`` propagation
under a shared host mount, so that claiming one (``ensure`` for a learner with no sandbox yet)
only renames the container to the learner's sandbox name, under a cross-process lock, and
bind-mounts the learner's workspace volume on that host directory, which then appears at /root
inside the running sandbox (mount propagation, see mount_namespaces(7)). Labels cannot change
after creation, so a claimed sandbox keeps ``org.bungeo.kind=pool``; its identity comes from its
name, and its host directory from its immutable ``org.bungeo.slot`` label.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import json
import logging
import os
import shlex
import shutil
import socket
import stat
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import docker
import requests
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from docker.errors import APIError, NotFound

from . import engine, images, isolation
from .backend import (
    KIND_GRADING,
    KIND_GRADING_POOL,
    KIND_LEARNER,
    KIND_POOL,
    ExecResult,
    Lease,
    Sandbox,
    SandboxBackend,
    SandboxError,
    Terminal,
)

log = logging.getLogger(__name__)

LABEL_KIND = "org.bungeo.kind"
LABEL_OWNER = "org.bungeo.owner"
LABEL_PREFIX = "org.bungeo.prefix"
LABEL_CREATED = "org.bungeo.created"
# The name a sandbox was created with; its host directory and inner-engine volume are keyed by it.
LABEL_SLOT = "org.bungeo.slot"
# The uid/gid that root in a sandbox maps to on the host (dockerd --userns-remap=default).
REMAP_ROOT = 100000
# The API version every client speaks: understood by Debian 12's engine (20.10) and Docker 26.
API_VERSION = "1.41"
SECCOMP_EXTRA = ["keyctl", "add_key", "request_key", "pivot_root"]
# Where each open terminal's tmux client writes its pid, inside the sandbox (a tmpfs).
TERMINAL_PIDS = "/run/bungeo-terminals"
# Sockets in a sandbox's shared folder: its inner engine's, and its terminal relay's (socat in
# images/sandbox/entry.sh, one pty running images/sandbox/term.sh per connection).
SHARED_ENGINE_SOCKET = "docker.sock"
SHARED_TERMINAL_SOCKET = "term.sock"
# Seconds a terminal waits for the relay of a sandbox that has just started (it starts with the
# sandbox's entry point, a few milliseconds after the ready file).
RELAY_WAIT_S = 1.0
RELAY_FRESH_S = 10.0  # a sandbox whose ready file is younger than this (seconds) has just started
RELAY_CLOSE_S = 2.0  # seconds a closing terminal waits for its relay to hang up
# In a claimed grading-pool sandbox's host folder: the repositories its claimer needs, one per
# line; the pre-pull skips the others.
PREPULL_ONLY = "prepull.only"
# Seconds between looks at a starting sandbox's state while waiting for its inner engine.
STATE_POLL_S = 0.25
RESET_MAX_S = 90.0  # seconds a reset may take (stop grace plus a start); an older marker is stale

MSG_ENGINE_DOWN = _("The sandbox service is not running. Please tell your instructor.")
# What docker-py raises when the engine does not answer: its own errors, and those of the HTTP
# library under it (a refused connection or a read timeout are not wrapped by docker-py).
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
MSG_NOT_READY = _("Your sandbox did not become ready in time. Please try again in a moment.")
MSG_NOT_RUNNING = _("The sandbox is not running.")
# Shown in the learner's language by the terminal (the lazy text is translated there; the
# backend runs in a worker thread without the learner's language).
MSG_CANNOT_CREATE = _("Your sandbox could not be created: {why}")
MSG_CANNOT_START = _("Your sandbox could not be started: {why}")
MSG_STOPPED_STARTING = _("Your sandbox stopped while it was starting ({state}). Press Start again; "
                         "if it happens again, tell your instructor.")
MSG_NO_MORE_EXTENSIONS = _("You have used every extension for this session. Your files are kept: "
                           "the sandbox starts again when you come back.")
MSG_EXTEND_NOT_YET = _("Your sandbox's time can be extended only in its last %(minutes)d minutes, "
                       "when the countdown warns you.")
# Seconds of slack on the warning window: the page counts down on its own clock from a rounded
# figure, so its Extend button may show a moment before the server's window opens.
EXTEND_GRACE_S = 5.0
MSG_IMAGE_MISSING = _("The sandbox image is missing: the operator must run 'manage.py images build'.")


def _seccomp_default_path() -> Path:
    return Path(settings.BUNGEO_DATA_DIR) / "seccomp" / "docker-default.json"


def seccomp_profile() -> str:
    """Docker's default seccomp profile plus the syscalls the inner engine needs, as JSON.

    Docker's profile is taken from Debian's ``golang-github-docker-docker-dev`` package (the file
    ``profiles/seccomp/default.json`` of the moby source), fetched once with ``apt-get download``.
    Raises :class:`SandboxError` when it cannot be obtained.
    """
    path = _seccomp_default_path()
    if not path.exists():
        fetch_docker_seccomp_profile(path)
    profile = json.loads(path.read_text())
    profile["syscalls"].append({"names": SECCOMP_EXTRA, "action": "SCMP_ACT_ALLOW"})
    return json.dumps(profile)


def fetch_docker_seccomp_profile(dest: Path) -> None:
    """Extract moby's ``profiles/seccomp/default.json`` from Debian's package into ``dest``."""
    import subprocess
    import tempfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(["apt-get", "download", "golang-github-docker-docker-dev"],
                             cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if res.returncode != 0 or not debs:
            raise SandboxError(f"cannot download Docker's seccomp profile: {res.stderr[-500:]}")
        member = "./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json"
        fsys = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(debs[0])], capture_output=True,
                              check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(fsys)) as tar:
            data = tar.extractfile(member).read()
    json.loads(data)  # refuse to keep anything that is not JSON
    dest.write_bytes(data)


def _host_cgroup_dirs(pid: int) -> list[Path]:
    """The cgroup directories of process ``pid`` on the host, one per mounted hierarchy."""
    root = Path("/sys/fs/cgroup")
    dirs: list[Path] = []
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        rel = path.lstrip("/")
        if ctrls == "":  # cgroup v2 (pure, or the "unified" hierarchy of a hybrid host)
            base = root / "unified" if (root / "unified").is_dir() else root
            candidates = [base]
        else:
            names = ctrls.split(",")
            candidates = [root / ctrls, root / ctrls.removeprefix("name=")]
            candidates += [root / n.removeprefix("name=") for n in names]
        for base in candidates:
            if (base / rel).is_dir():
                dirs.append(base / rel)
                break
    return dirs


def remove_cgroup_parent(sandbox_id: str) -> None:
    """Remove the sandbox's parent cgroup ``/bungeo/<sandbox>`` in every hierarchy, deepest
    first (cgroup directories go with rmdir once no process is left in them). A hierarchy that
    another cleanup empties meanwhile is skipped, never an error."""
    for parent in engine.cgroup_parents():
        top = parent / sandbox_id
        if not top.is_dir():
            continue
        try:
            subdirs = [p for p in top.rglob("*") if p.is_dir()]
        except FileNotFoundError:  # removed meanwhile (another cleanup of the same sandbox)
            continue
        for d in sorted(subdirs, key=lambda p: -len(p.parts)):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            top.rmdir()
        except OSError as exc:
            log.debug("cgroup %s stays: %s", top, exc)


def _socket_link(slot: str, shared: str) -> Path:
    """Where :meth:`DockerSandboxBackend.shared_socket` keeps its link to socket ``shared``
    (``docker.sock``, ``term.sock``) of a slot's shared folder: a root-owned folder the sandbox
    cannot see; ``<slot>.sock`` for the inner engine's, ``<slot>.term.sock`` for the terminal's."""
    stem = "" if shared == SHARED_ENGINE_SOCKET else "." + shared.removesuffix(".sock")
    return Path(settings.BUNGEO_RUN_DIR) / "engine-sockets" / f"{slot}{stem}.sock"


def _create_nofollow(path: Path) -> None:
    """Create the empty file ``path`` (replacing what is there) without following a symlink:
    the sandbox may write the folder, and root on the host must not create or touch a file that
    a learner's symlink points to. Raises ``OSError`` when it cannot."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))


def delegate_cgroups(pid: int) -> list[Path]:
    """Hand the sandbox's own cgroup directories to its remapped root (DESIGN.md).

    Only the directories change owner, not the limit files in them (``memory.limit_in_bytes``
    stays root-owned, so the learner cannot raise it). On cgroup v2 the files that delegation needs
    (``cgroup.procs``, ``cgroup.subtree_control``, ``cgroup.threads``) change owner too, as the
    kernel's cgroup-v2 documentation ("Delegation") prescribes. Returns the directories changed.
    """
    dirs = _host_cgroup_dirs(pid)
    for d in dirs:
        os.chown(d, REMAP_ROOT, REMAP_ROOT)
        if (d / "cgroup.subtree_control").exists() and (d / "cgroup.events").exists():
            for f in ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
                if (d / f).exists():
                    os.chown(d / f, REMAP_ROOT, REMAP_ROOT)
    return dirs


def host_uid_of(pid: int, uid: int) -> int:
    """The host uid that ``uid`` of process ``pid``'s user namespace is (``/proc/<pid>/uid_map``,
    user_namespaces(7)). Raises ``LookupError`` when ``uid`` is not mapped there."""
    for line in Path(f"/proc/{pid}/uid_map").read_text().splitlines():
        inside, outside, count = (int(x) for x in line.split())
        if inside <= uid < inside + count:
            return outside + uid - inside
    raise LookupError(f"uid {uid} is not mapped in the user namespace of process {pid}")


def rootless_remap_count(user: str = "dockremap") -> int:
    """How many ids an engine started with ``--userns-remap=default`` gives each container: the
    size of ``user``'s range in the host's /etc/subuid (Docker's documentation, "Isolate
    containers with a user namespace"); 65536 when the file has no such line."""
    try:
        for line in Path("/etc/subuid").read_text().splitlines():
            name, _start, count = line.strip().split(":")
            if name == user:
                return int(count)
    except (OSError, ValueError):
        pass
    return 65536


def _mountpoints() -> set[str]:
    """Every mount point of this process's mount namespace (``/proc/self/mountinfo``, field 5)."""
    out = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        out.add(line.split()[4].replace("\\040", " "))
    return out


def _slots_root() -> Path:
    """``<data dir>/slots``, made a shared bind mount of itself on first use, so that mounts
    made below it propagate into sandboxes that bind a directory of it with ``rslave``.
    Raises ``SandboxError`` when mounting is not permitted (bungeo must run as root)."""
    root = Path(settings.BUNGEO_DATA_DIR) / "slots"
    root.mkdir(parents=True, exist_ok=True)
    if str(root) not in _mountpoints():
        for cmd in (["mount", "--bind", str(root), str(root)], ["mount", "--make-shared", str(root)]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise SandboxError(f"warm pool: {' '.join(cmd)} failed: {res.stderr.strip()}")
    return root


def disk_quota_bytes() -> int | None:
    """The per-sandbox disk quota (``BUNGEO_SANDBOX_DISK``, e.g. ``10g``) in bytes, or None when
    quotas are off. Each sandbox's inner-engine storage and each learner's workspace then live on
    their own loop-mounted ext4 file system of that size (one loop device each)."""
    raw = settings.BUNGEO_SANDBOX_DISK
    return docker.utils.parse_bytes(raw) if raw else None


def grading_tmpfs_bytes(mode: str) -> int | None:
    """The size in bytes of the tmpfs that holds a grading sandbox's inner-engine storage
    (``BUNGEO_GRADING_TMPFS``, e.g. ``3g``), or None when grading sandboxes keep their storage on
    disk like learners' sandboxes (the setting empty or ``0``, or ``mode`` is ``rootless``,
    whose inner engine runs as an unprivileged user that a tmpfs root would not belong to).

    Why: pulling the stand-ins and building writes about a gigabyte of small files per grading
    run; on disk that was 40-60 % of an A2 grading's time (``bench/grade_a2.py``). A grading
    sandbox is thrown away after one run, so nothing in it needs to survive."""
    raw = str(settings.BUNGEO_GRADING_TMPFS or "").strip()
    if raw in ("", "0") or mode == "rootless":
        return None
    return docker.utils.parse_bytes(raw)


def _disk_mount(image: Path, mountpoint: Path, size: int) -> bool:
    """Mount the ext4 file system in ``image`` (made sparse, ``size`` bytes, root owned by the
    remapped root, on first use) at ``mountpoint``. Returns True when the file system is new.
    Raises ``SandboxError`` when it cannot be made or mounted (e.g. no free loop device)."""
    if str(mountpoint) in _mountpoints():
        return False
    new = not image.exists()
    image.parent.mkdir(parents=True, exist_ok=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    steps = []
    if new:
        steps += [["truncate", "-s", str(size), str(image)],
                  ["mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                   f"root_owner={REMAP_ROOT}:{REMAP_ROOT},nodiscard", str(image)]]
    # discard: space the learner frees goes back to the host (the loop device punches holes in
    # the sparse file); without it the file kept its high-water mark, up to the quota, for good.
    steps.append(["mount", "-o", "loop,nosuid,nodev,discard", str(image), str(mountpoint)])
    for cmd in steps:
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            if new:
                image.unlink(missing_ok=True)
            raise SandboxError(f"cannot prepare the sandbox disk ({cmd[0]}): {res.stderr.strip()}")
    if new:
        (mountpoint / "lost+found").rmdir()
    return new


def _disk_unmount(mountpoint: Path) -> None:
    while str(mountpoint) in _mountpoints():
        if subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True).returncode != 0:
            break


class DockerSandboxBackend(SandboxBackend):
    """Sandboxes as containers on the dedicated engine (``BUNGEO_SANDBOX_ENGINE_URL``)."""

    def __init__(self, prefix: str | None = None):
        self.prefix = prefix or settings.BUNGEO_SANDBOX_PREFIX
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._start_locks: dict[str, threading.Lock] = {}
        self._slots: dict[str, str] = {}
        self._pids_dirs: dict[str, Path] = {}  # sandbox id -> its container's pids cgroup
        # sandbox id -> its quota'd disks' mount points, as the last full disk_usage() found
        self._disk_mounts: dict[str, list[tuple[str, Path]]] = {}
        self._mode: str | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def mode(self) -> str:
        """The isolation mode sandboxes get (see :mod:`.isolation`), resolved once from the
        setting and the engine's runtimes. Raises ``ImproperlyConfigured`` on a bad setting."""
        if self._mode is None:
            needs_info = settings.BUNGEO_ISOLATION in isolation.MODES_NEEDING_ENGINE_INFO
            info = self.client.info() if needs_info else {}
            self._mode = isolation.resolve(info)
        return self._mode

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.DockerClient(
                    base_url=settings.BUNGEO_SANDBOX_ENGINE_URL, version=API_VERSION, timeout=60
                )
            except docker.errors.DockerException as exc:
                raise SandboxError(MSG_ENGINE_DOWN) from exc
        return self._client

    def _name(self, owner: str, kind: str) -> str:
        return f"{self.prefix}-{kind}-{owner}"

    def _slot(self, sandbox_id: str) -> str:
        """The name ``sandbox_id`` was created with (differs for a claimed pool sandbox)."""
        slot = self._slots.get(sandbox_id)
        if slot is None:
            try:
                c = self.client.containers.get(sandbox_id)
                slot = c.labels.get(LABEL_SLOT) or c.name
                self._slots[sandbox_id] = slot
            except (NotFound, docker.errors.DockerException):
                return sandbox_id
        return slot

    def host_dir(self, sandbox_id: str) -> Path:
        """The host directory shared with the sandbox (its inner engine's socket lives there)."""
        return Path(settings.BUNGEO_RUN_DIR) / "sandboxes" / self._slot(sandbox_id)

    def _identity(self, c) -> tuple[str, str]:
        """(kind, owner) of a container: from its labels, or from its name once claimed."""
        kind, owner = c.labels.get(LABEL_KIND, ""), c.labels.get(LABEL_OWNER, "")
        learner = f"{self.prefix}-{KIND_LEARNER}-"
        if kind == KIND_POOL and c.name.startswith(learner):
            return KIND_LEARNER, c.name[len(learner):]
        grading = f"{self.prefix}-{KIND_GRADING}-"
        if kind == KIND_GRADING_POOL and c.name.startswith(grading):  # {owner}-{8 hex}
            return KIND_GRADING, c.name[len(grading):].rsplit("-", 1)[0]
        return kind, owner

    def _as_sandbox(self, c) -> Sandbox:
        nets = c.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        addr = next((n.get("IPAddress") for n in nets.values() if n.get("IPAddress")), None)
        kind, owner = self._identity(c)
        return Sandbox(id=c.name, owner=owner, kind=kind, state=c.status, address=addr,
                       started_at=(c.attrs.get("State") or {}).get("StartedAt"))

    def _container(self, sandbox_id: str):
        try:
            c = self.client.containers.get(sandbox_id)
        except NotFound:
            return None
        except ENGINE_ERRORS as exc:
            raise SandboxError(MSG_ENGINE_DOWN) from exc
        if c.labels.get(LABEL_PREFIX) != self.prefix:
            return None  # not ours: never touch containers bungeo did not create
        return c

    @contextlib.contextmanager
    def _start_lock(self, name: str):
        """Serialise starting one sandbox across threads (a lock) and processes (flock on a
        host file): the web process and a worker may both start a learner's sandbox."""
        with self._lock:
            tlock = self._start_locks.setdefault(name, threading.Lock())
        lock_dir = Path(settings.BUNGEO_RUN_DIR) / "sandboxes"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with tlock, open(lock_dir / f"{name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- lifecycle --------------------------------------------------------------------------
    def get(self, sandbox_id: str) -> Sandbox | None:
        c = self._container(sandbox_id)
        return self._as_sandbox(c) if c else None

    def find(self, *, owner: str, kind: str = KIND_LEARNER) -> Sandbox | None:
        return self.get(self._name(owner, kind))

    def list(self, *, kind: str | None = None) -> list[Sandbox]:
        """See :meth:`SandboxBackend.list`. Raises :class:`SandboxError` (MSG_ENGINE_DOWN) when
        the sandbox engine does not answer (QA: the classroom page gave a bare 500)."""
        filters = {"label": [f"{LABEL_PREFIX}={self.prefix}"]}
        try:
            # ignore_removed: one removed between the list and its inspect is simply gone.
            listed = self.client.containers.list(all=True, filters=filters, ignore_removed=True)
        except ENGINE_ERRORS as exc:
            raise SandboxError(MSG_ENGINE_DOWN) from exc
        out = [self._as_sandbox(c) for c in listed]
        return [sb for sb in out if kind is None or sb.kind == kind]

    def ensure(self, *, owner: str, kind: str = KIND_LEARNER, wait_engine: bool = True) -> Sandbox:
        name = self._name(owner, kind)
        with self._start_lock(name):
            c = self._container(name)
            if c is None and kind == KIND_LEARNER:
                c = self._claim(name, owner=owner)
                if c is not None:
                    return self._as_sandbox(c)
            if c is None:
                c = self._create(name, owner=owner, kind=kind)
            elif c.status in ("exited", "created", "dead") and self._outdated(c):
                c = self._recreate(c)
            if c.status != "running":
                if c.status == "paused":
                    c.unpause()
                    c.reload()
                else:
                    self._start(c, wait=wait_engine)  # reloads c once it runs
            elif wait_engine and not self._inner_answers(name):
                self._wait_ready(c)
            return self._as_sandbox(c)

    def wait_engine(self, sandbox_id: str) -> None:
        """See :meth:`SandboxBackend.wait_engine`. Raises :class:`SandboxError` also when the
        sandbox is removed while it waits."""
        c = self._container(sandbox_id)
        if c is None or c.status != "running":
            raise SandboxError(MSG_NOT_RUNNING)
        if not self._inner_answers(sandbox_id):
            self._wait_ready(c)

    def create_fresh(self, *, owner: str, kind: str = KIND_GRADING,
                     images: Sequence[str] | None = None) -> Sandbox:
        name = f"{self.prefix}-{kind}-{owner}-{uuid.uuid4().hex[:8]}"
        wants_pool = images is None or len(images) > 0
        if kind == KIND_GRADING and settings.BUNGEO_GRADING_POOL_SIZE > 0 and wants_pool:
            c = self._claim_grading(name, images)
            if c is not None:
                return self._as_sandbox(c)
        c = self._create(name, owner=owner, kind=kind, workspace=False)
        self._start(c)
        c.reload()
        return self._as_sandbox(c)

    def _create(self, name: str, *, owner: str, kind: str, workspace: bool = True):
        self._slots[name] = name
        hostdir = self.host_dir(name)
        hostdir.mkdir(parents=True, exist_ok=True)
        mode = self.mode()
        quota = disk_quota_bytes()
        in_memory = grading_tmpfs_bytes(mode) if kind in (KIND_GRADING, KIND_GRADING_POOL) else None
        binds = {str(hostdir): {"bind": "/run/bungeo-host", "mode": "rw"}}
        if not in_memory:
            storage = f"{name}-docker"
            if quota:
                storage_image, storage_mnt = self._storage_disk(name)
                _disk_mount(storage_image, storage_mnt, quota)
                storage = str(storage_mnt)
            binds[storage] = {"bind": "/var/lib/docker", "mode": "rw"}
        if kind == KIND_POOL:
            home = self._slot_home(name)
            binds[str(home)] = {"bind": "/root", "mode": "rw,rslave"}
        elif workspace and quota:
            binds[self._workspace_source(owner)] = {"bind": "/root", "mode": "rw"}
        elif workspace:
            binds[f"{self.prefix}-workspace-{owner}"] = {"bind": "/root", "mode": "rw"}
        labels = {LABEL_KIND: kind, LABEL_OWNER: owner, LABEL_PREFIX: self.prefix,
                  LABEL_CREATED: str(int(time.time())), LABEL_SLOT: name}
        for vol in binds:
            if not vol.startswith("/"):
                try:
                    self.client.volumes.get(vol)
                except NotFound:
                    self.client.volumes.create(vol, labels=labels)
        return self._create_container(name, slot=name, kind=kind, labels=labels, binds=binds,
                                      storage_tmpfs=in_memory)

    def _create_container(self, name: str, *, slot: str, kind: str, labels: dict[str, str],
                          binds: dict[str, dict], storage_tmpfs: int | None = None):
        """Create (not start) container ``name`` of the current sandbox image with the isolation
        mode's host config: the cgroup parent of ``slot``, ``binds`` (docker-py's dict form) plus,
        in rootless mode, its own. Returns the container; raises :class:`SandboxError`."""
        api = self.client.api
        mode = self.mode()
        if mode == "rootless":
            binds.update(self._rootless_binds())
        spec = isolation.host_config(mode, name=slot, binds=binds,
                                     seccomp=seccomp_profile() if mode in ("userns", "rootless") else None,
                                     storage_tmpfs=storage_tmpfs)
        raw = spec.pop("_raw")
        hc = api.create_host_config(**spec)
        hc.update(raw)
        isolation.warn_if_trusted(mode)
        try:
            res = api.create_container(
                images.sandbox_image(mode), name=name,
                hostname="grading" if kind in (KIND_GRADING, KIND_GRADING_POOL) else "bungeo",
                labels=labels, host_config=hc,
                environment={"BUNGEO_MIRROR": engine.mirror_address(),
                             "BUNGEO_ENGINE_GOMAXPROCS": str(isolation.engine_gomaxprocs())},
                **isolation.container_config(mode),
            )
        except docker.errors.ImageNotFound as exc:
            raise SandboxError(MSG_IMAGE_MISSING) from exc
        except APIError as exc:
            if exc.status_code == 409:  # created concurrently: use that one
                return self.client.containers.get(name)
            raise SandboxError(format_lazy(MSG_CANNOT_CREATE, why=exc.explanation)) from exc
        log.info("sandbox %s created (%s)", name, res["Id"][:12])
        return self.client.containers.get(res["Id"])

    def _current_image_id(self) -> str | None:
        """The ID of the sandbox image the current recipe produces, or None when it is not built."""
        try:
            return self.client.images.get(images.sandbox_image(self.mode())).id
        except docker.errors.ImageNotFound:
            return None

    def _outdated(self, c, current: str | None = None) -> bool:
        """True when container ``c`` runs an older sandbox image than the current recipe's (an
        upgrade of bungeo or a rebuilt image); False when the current image is not built."""
        current = current or self._current_image_id()
        return current is not None and c.attrs.get("Image") != current

    def _recreate(self, c):
        """Replace stopped container ``c`` by one of the current sandbox image, with the same
        name, labels and binds: its workspace (/root) and its inner engine's storage (the
        learner's images, containers and volumes) are kept, only the sandbox's own system is new.
        Returns the new container (not started); raises :class:`SandboxError`."""
        binds: dict[str, dict] = {}
        for b in c.attrs.get("HostConfig", {}).get("Binds") or []:
            src, dst, *opt = b.split(":")
            binds[src] = {"bind": dst, "mode": opt[0] if opt else "rw"}
        labels, kind = dict(c.labels), c.labels.get(LABEL_KIND, KIND_LEARNER)
        slot = labels.get(LABEL_SLOT, c.name)
        old = c.attrs.get("Config", {}).get("Image", "?")
        c.remove(force=True)
        new = self._create_container(c.name, slot=slot, kind=kind, labels=labels, binds=binds)
        log.warning("sandbox %s moved from image %s to %s (workspace and inner images kept)",
                    c.name, old, images.sandbox_image(self.mode()))
        return new

    def _start(self, c, *, wait: bool = True) -> None:
        """Start container ``c``: mount its disks, start it, hand its cgroups over, write the
        ready file its entry point waits for (before that, nothing of the learner's runs), give it
        a lease, then (``wait``) wait for its inner engine. Raises :class:`SandboxError`."""
        quota = disk_quota_bytes()
        slot_name = c.labels.get(LABEL_SLOT, c.name)
        binds = c.attrs.get("HostConfig", {}).get("Binds") or []
        storage_image, storage_mnt = self._storage_disk(slot_name)
        if any(b.startswith(f"{storage_mnt}:") for b in binds):
            _disk_mount(storage_image, storage_mnt, quota or storage_image.stat().st_size)
        kind0, owner0 = self._identity(c)
        if owner0 and kind0 == KIND_LEARNER and c.labels.get(LABEL_KIND) != KIND_POOL:
            ws_image, ws_mnt = self._workspace_disk(owner0)
            if any(b.startswith(f"{ws_mnt}:") for b in binds):
                _disk_mount(ws_image, ws_mnt, quota or ws_image.stat().st_size)
        if c.labels.get(LABEL_KIND) == KIND_POOL:
            kind, owner = self._identity(c)
            slot = c.labels.get(LABEL_SLOT, c.name)
            _slots_root()
            if kind == KIND_LEARNER:  # a claimed one restarting (reset, reboot): home first
                self._attach_workspace(slot, owner)
        self._stop_reason_path(c.name).unlink(missing_ok=True)  # it runs again: no longer stopped
        hostdir = self.host_dir(c.name)
        hostdir.mkdir(parents=True, exist_ok=True)
        (hostdir / "ready").unlink(missing_ok=True)
        (hostdir / "docker.sock").unlink(missing_ok=True)
        os.chown(hostdir, REMAP_ROOT, REMAP_ROOT)
        try:
            c.start()
        except APIError as exc:
            raise SandboxError(format_lazy(MSG_CANNOT_START, why=exc.explanation)) from exc
        c.reload()
        pid = c.attrs["State"]["Pid"]
        self._pin_port(c, pid)
        mode = self.mode()
        if mode == "userns":
            try:
                delegate_cgroups(pid)
            except OSError as exc:
                log.error("sandbox %s: cgroup delegation failed: %s", c.name, exc)
        elif mode == "rootless":  # the learner's inner engine writes into the shared folders
            self._rootless_hand_over(c, pid)
        elif mode == "trusted":  # /sys and the cgroup mounts read-write, as --privileged does
            self.exec(c.name, ["sh", "-c", "mount -o remount,rw /sys; mount -o remount,rw "
                               "/sys/fs/cgroup 2>/dev/null; for d in /sys/fs/cgroup/*/; do "
                               "mount -o remount,rw \"$d\" 2>/dev/null; done; true"], timeout=10)
        _create_nofollow(hostdir / "ready")
        # A new lease unless a current one holds (a reset keeps it: it is no way to extend). A
        # lease that ran out while the sandbox was stopped some other way than stop() (the
        # engine or the host went down) is replaced: kept, it stopped the new start at once.
        lease = self.lease(c.name)
        if (c.labels.get(LABEL_KIND) not in (KIND_GRADING, KIND_GRADING_POOL)
                and (lease is None or lease.remaining() <= 0)):
            self._lease_new(c.name)
        if wait:
            self._wait_ready(c)

    def _pin_port(self, c, pid: int) -> None:
        """:func:`engine.pin_sandbox_port` for running container ``c`` when it is on the sandbox
        bridge (the engine's default network); a failure is logged, not raised."""
        net = ((c.attrs.get("NetworkSettings") or {}).get("Networks") or {}).get("bridge") or {}
        on_bridge = net.get("Gateway") == str(engine.network()[1])  # not on another engine's
        if not (on_bridge and net.get("IPAddress") and net.get("MacAddress")):
            return
        try:
            engine.pin_sandbox_port(pid, net["IPAddress"], net["MacAddress"])
        except (OSError, ValueError, subprocess.CalledProcessError) as exc:
            log.error("sandbox %s: its bridge port is not pinned to its address: %s %s", c.name, exc,
                      getattr(exc, "stderr", "") or "")

    def _inner_answers(self, sandbox_id: str) -> bool:
        sock = self.engine_socket(sandbox_id)
        if not sock.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(str(sock))
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b"200 OK" in s.recv(256)
        except OSError:
            return False

    def _wait_ready(self, c) -> None:
        """Wait until the inner engine of running container ``c`` answers, polling its
        host-shared socket every 20 ms (and the container's state every STATE_POLL_S: each look
        costs the sandbox engine an inspect, on a host that is busy starting the sandbox).
        Raises :class:`SandboxError` after ``BUNGEO_SANDBOX_READY_TIMEOUT`` s or when it stops."""
        deadline = time.monotonic() + settings.BUNGEO_SANDBOX_READY_TIMEOUT
        next_state = 0.0
        while not self._inner_answers(c.name):
            now = time.monotonic()
            if now > deadline:
                raise SandboxError(MSG_NOT_READY)
            if now >= next_state:
                try:
                    c.reload()
                except NotFound:  # removed meanwhile (an operator's purge, a test's cleanup)
                    raise SandboxError(format_lazy(MSG_STOPPED_STARTING, state="removed")) from None
                if c.status not in ("running", "created"):
                    raise SandboxError(format_lazy(MSG_STOPPED_STARTING, state=c.status))
                next_state = now + STATE_POLL_S
            time.sleep(0.02)
        log.info("sandbox %s ready", c.name)

    def stop(self, sandbox_id: str, *, reason: str | None = None) -> None:
        c = self._container(sandbox_id)
        if c is None:
            return
        if reason:  # before the stop: a terminal that sees it stopped reads the reason
            self._stop_reason_path(sandbox_id).write_text(reason)
        try:
            c.stop(timeout=5)
        except NotFound:
            pass
        self._lease_path(sandbox_id).unlink(missing_ok=True)

    def restart(self, sandbox_id: str) -> Sandbox:
        with self._start_lock(sandbox_id):
            c = self._container(sandbox_id)
            if c is None:
                raise SandboxError(MSG_NOT_RUNNING)
            marker = self._resetting_path(sandbox_id)
            marker.write_text(str(time.time()))
            try:
                try:
                    c.stop(timeout=5)
                except APIError as exc:
                    log.warning("sandbox %s did not stop cleanly: %s", sandbox_id, exc)
                    c.kill()
                c.reload()
                self._start(c)
            finally:
                marker.unlink(missing_ok=True)
            c.reload()
            log.info("sandbox %s reset", sandbox_id)
            return self._as_sandbox(c)

    def _stop_reason_path(self, sandbox_id: str) -> Path:
        # Not in host_dir: that folder is writable from inside the sandbox.
        d = Path(settings.BUNGEO_RUN_DIR) / "stops"
        d.mkdir(parents=True, exist_ok=True)
        return d / self._slot(sandbox_id)

    def stop_reason(self, sandbox_id: str) -> str | None:
        """See :meth:`SandboxBackend.stop_reason`: a file under the run folder, written by
        :meth:`stop` and deleted when the sandbox starts again."""
        try:
            return self._stop_reason_path(sandbox_id).read_text().strip() or None
        except OSError:
            return None

    def _resetting_path(self, sandbox_id: str) -> Path:
        # Not in host_dir: that folder is writable from inside the sandbox.
        d = Path(settings.BUNGEO_RUN_DIR) / "resets"
        d.mkdir(parents=True, exist_ok=True)
        return d / self._slot(sandbox_id)

    def resetting(self, sandbox_id: str) -> bool:
        """See :meth:`SandboxBackend.resetting`: a marker file under the run folder, written
        for the time of :meth:`restart` (a crash can leave one: older than RESET_MAX_S, it is
        ignored)."""
        try:
            since = float(self._resetting_path(sandbox_id).read_text())
        except (OSError, ValueError):
            return False
        return time.time() - since < RESET_MAX_S

    def remove(self, sandbox_id: str, *, keep_workspace: bool = True) -> None:
        c = self._container(sandbox_id)
        owner = None
        slot = self._slot(sandbox_id)
        if c is not None:
            owner = self._identity(c)[1] or None
            try:
                c.remove(force=True)
            except NotFound:
                pass
            except APIError as exc:
                if exc.status_code != 409:  # 409: removal already in progress
                    raise
        self._detach_workspace(slot)
        run = Path(settings.BUNGEO_RUN_DIR)
        (run / "leases" / f"{slot}.json").unlink(missing_ok=True)
        (run / "detached" / slot).unlink(missing_ok=True)  # they piled up, one per sandbox
        (run / "resets" / slot).unlink(missing_ok=True)
        (run / "stops" / slot).unlink(missing_ok=True)
        self._claimed_path(slot).unlink(missing_ok=True)
        storage_image, storage_mnt = self._storage_disk(slot)
        _disk_unmount(storage_mnt)
        storage_image.unlink(missing_ok=True)
        shutil.rmtree(storage_mnt, ignore_errors=True)
        if owner:
            ws_image, ws_mnt = self._workspace_disk(owner)
            _disk_unmount(ws_mnt)  # its file stays unless the workspace goes too
            if not keep_workspace:
                ws_image.unlink(missing_ok=True)
                shutil.rmtree(ws_mnt, ignore_errors=True)
        vols = [f"{slot}-docker"]
        if not keep_workspace and owner:
            vols.append(f"{self.prefix}-workspace-{owner}")
        if c is not None and c.labels.get(LABEL_KIND) in (KIND_GRADING, KIND_GRADING_POOL):
            # A grading sandbox's image storage can hold a gigabyte of small files: delete it in
            # the background so the learner's result is not held up (reconcile removes what a
            # crash leaves behind).
            threading.Thread(target=self._remove_volumes, args=(vols,), daemon=True,
                             name=f"remove {slot}").start()
        else:
            self._remove_volumes(vols)
        shutil.rmtree(Path(settings.BUNGEO_RUN_DIR) / "sandboxes" / slot, ignore_errors=True)
        for shared in (SHARED_ENGINE_SOCKET, SHARED_TERMINAL_SOCKET):
            _socket_link(slot, shared).unlink(missing_ok=True)
        (Path(settings.BUNGEO_RUN_DIR) / "sandboxes" / f"{sandbox_id}.lock").unlink(missing_ok=True)
        # A slot is claimed once, while in the pool; the container is gone, so is its claim lock.
        (Path(settings.BUNGEO_RUN_DIR) / "sandboxes" / f"{slot}.claim").unlink(missing_ok=True)
        self._slots.pop(sandbox_id, None)
        self._pids_dirs.pop(sandbox_id, None)
        self._disk_mounts.pop(sandbox_id, None)
        remove_cgroup_parent(sandbox_id)
        if slot != sandbox_id:
            remove_cgroup_parent(slot)
        log.info("sandbox %s removed", sandbox_id)

    # -- isolation mode rootless ---------------------------------------------------------------
    def _rootless_binds(self) -> dict:
        """Read-only binds over the image's /etc/subuid and /etc/subgid when the engine remaps
        ids (see :func:`isolation.subid_file`); none otherwise. The file is written by bungeo in
        ``<run dir>/rootless`` (root-owned: the learner can never widen their own id range)."""
        remapped = isolation.engine_remaps(self.client.info())
        content = isolation.subid_file(remapped, rootless_remap_count() if remapped else 65536)
        if content is None:
            return {}
        d = Path(settings.BUNGEO_RUN_DIR) / "rootless"
        d.mkdir(parents=True, exist_ok=True)
        binds = {}
        for name in ("subuid", "subgid"):
            path = d / name
            if not path.exists() or path.read_text() != content:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(content)
                tmp.chmod(0o644)
                tmp.replace(path)
            binds[str(path)] = {"bind": f"/etc/{name}", "mode": "ro"}
        return binds

    def _rootless_hand_over(self, c, pid: int, owner: str | None = None) -> list[Path]:
        """Give the learner (uid 1000 in the sandbox, whatever host uid that is: read from
        ``/proc/<pid>/uid_map``) the folders it shares with the host: the host folder of its
        inner engine's socket, the storage file system's root (disk quotas on), a pool slot's
        home, and the learner's workspace (recursively, once: a workspace last used in another
        mode belongs to that mode's root). Returns the folders changed."""
        uid = host_uid_of(pid, isolation.ROOTLESS_UID)
        slot = c.labels.get(LABEL_SLOT, c.name)
        dirs = [self.host_dir(c.name)]
        storage = self._storage_disk(slot)[1]
        if str(storage) in _mountpoints():
            dirs.append(storage)
        home = Path(settings.BUNGEO_DATA_DIR) / "slots" / slot / "home"
        if home.is_dir():
            dirs.append(home)
        if owner is None:
            kind, owner = self._identity(c)
            owner = owner if kind == KIND_LEARNER else None
        changed = []
        # The workspace first: once claimed, a pool slot's home *is* the workspace (a bind mount),
        # and chowning the home alone made the workspace's root look handed over already, so its
        # folders (work/, made by the other mode's root) stayed unwritable (quotas on).
        ws = self.workspace_path(owner) if owner else None
        if ws is not None and Path(ws).stat().st_uid != uid:
            subprocess.run(["chown", "-R", f"{uid}:{uid}", str(ws)], check=False)
            changed.append(Path(ws))
        for d in dirs:
            if d.stat().st_uid != uid:
                os.chown(d, uid, uid)
                changed.append(d)
        return changed

    def _remove_volumes(self, names: list[str]) -> None:
        """Remove the named volumes (missing ones are skipped; errors are logged)."""
        for v in names:
            try:
                self.client.volumes.get(v).remove(force=True)
            except NotFound:
                pass
            except (APIError, docker.errors.DockerException) as exc:
                log.warning("volume %s not removed: %s", v, exc)

    # -- disk quota ----------------------------------------------------------------------------
    def _disks(self) -> Path:
        return Path(settings.BUNGEO_DATA_DIR) / "disks"

    def _storage_disk(self, slot: str) -> tuple[Path, Path]:
        """(image file, mount point) of a sandbox's inner-engine storage."""
        return self._disks() / "engines" / f"{slot}.img", self._disks() / "engines" / slot

    def _workspace_disk(self, owner: str) -> tuple[Path, Path]:
        """(image file, mount point) of a learner's workspace."""
        name = f"{self.prefix}-workspace-{owner}"
        return self._disks() / "workspaces" / f"{name}.img", self._disks() / "workspaces" / name

    def _workspace_source(self, owner: str) -> str:
        """The host path of ``owner``'s workspace: their quota'd file system when disk quotas
        are on (a workspace kept in a named volume before quotas were turned on is copied into
        it once), else their named volume's folder (created if missing)."""
        vol_name = f"{self.prefix}-workspace-{owner}"
        quota = disk_quota_bytes()
        vol = None
        try:
            vol = self.client.volumes.get(vol_name)
        except NotFound:
            if not quota:
                vol = self.client.volumes.create(vol_name, labels={
                    LABEL_KIND: KIND_LEARNER, LABEL_OWNER: owner, LABEL_PREFIX: self.prefix})
        if not quota:
            return vol.attrs["Mountpoint"]
        image, mnt = self._workspace_disk(owner)
        if _disk_mount(image, mnt, quota):
            if vol is not None:
                subprocess.run(["cp", "-a", f"{vol.attrs['Mountpoint']}/.", str(mnt)], check=False)
            else:
                subprocess.run(["cp", "-r", "--no-preserve=ownership", "/etc/skel/.", str(mnt)],
                               check=False)
                (mnt / "work").mkdir(exist_ok=True)
            subprocess.run(["chown", "-R", f"{REMAP_ROOT}:{REMAP_ROOT}", str(mnt)], check=False)
        return str(mnt)

    def workspace_path(self, owner: str) -> Path | None:
        """The host folder of ``owner``'s workspace: the mount point of their quota'd file
        system when quotas are on and it is mounted, else their named volume's folder when the
        volume exists; None otherwise. Creates and mounts nothing."""
        if disk_quota_bytes():
            mnt = self._workspace_disk(owner)[1]
            return mnt if str(mnt) in _mountpoints() else None
        try:
            vol = self.client.volumes.get(f"{self.prefix}-workspace-{owner}")
        except NotFound:
            return None
        except docker.errors.DockerException as exc:
            raise SandboxError(MSG_ENGINE_DOWN) from exc
        return Path(vol.attrs["Mountpoint"])

    def disk_usage(self, sandbox_id: str, *, cheap: bool = False) -> list[tuple[str, int, int]] | None:
        """``[(what, used bytes, size bytes)]`` of the sandbox's quota'd file systems
        (``"engine"``, ``"workspace"``); empty when quotas are off or it is not running. With
        ``cheap``: from the mount points the last full look found (``statvfs`` only,
        microseconds, so the terminal can look every few seconds), or None before one."""
        if cheap:
            mounts = self._disk_mounts.get(sandbox_id)
            return None if mounts is None else [_statvfs_use(what, mnt) for what, mnt in mounts]
        if not disk_quota_bytes():
            return []
        c = self._container(sandbox_id)
        if c is None:
            return []
        _kind, owner = self._identity(c)
        mounts = [("engine", self._storage_disk(self._slot(sandbox_id))[1])]
        if owner:
            mounts.append(("workspace", self._workspace_disk(owner)[1]))
        mounted = _mountpoints()
        mounts = [(what, mnt) for what, mnt in mounts if str(mnt) in mounted]
        self._disk_mounts[sandbox_id] = mounts
        return [_statvfs_use(what, mnt) for what, mnt in mounts]

    def disk_quota_bytes(self) -> int | None:
        return disk_quota_bytes()

    def pids_usage(self, sandbox_id: str, *, cheap: bool = False) -> tuple[int, int] | None:
        """See :meth:`SandboxBackend.pids_usage`. Read from the sandbox container's own pids
        cgroup on this host (``pids.current`` and ``pids.max``, which count its inner engine's
        containers too: the kernel's pids controller is hierarchical, cgroup-v1 ``pids.txt``
        and cgroup-v2 docs) when the engine's cgroupfs driver put it under the host-owned
        ``/bungeo`` parent: microseconds, so the terminal can look every few seconds. Otherwise
        (another cgroup driver, rootless mode) the engine's one-shot stats (``pids_stats``;
        Docker Engine API, ``GET /containers/{id}/stats``), about 0.05 s, or None when ``cheap``.
        Both work while a fork bomb fills the sandbox (nothing runs inside it)."""
        if (found := self._pids_from_cgroup(sandbox_id)) is not None or cheap:
            return found
        c = self._container(sandbox_id)
        if c is None or c.status != "running":
            return None
        try:
            stats = self.client.api.stats(c.id, stream=False, one_shot=True)
        except docker.errors.DockerException as exc:
            log.debug("pids of %s: %s", sandbox_id, exc)
            return None
        pids = stats.get("pids_stats") or {}
        current, limit = pids.get("current"), pids.get("limit")
        return (int(current), int(limit)) if current is not None and limit else None

    def _pids_from_cgroup(self, sandbox_id: str) -> tuple[int, int] | None:
        """``(pids.current, pids.max)`` of the sandbox container's cgroup, or None when it is
        not a directory under ``/bungeo`` in a pids hierarchy of this host (looked up through
        the engine once per container, then cached; a new container of the same sandbox, after
        a reset, is looked up again)."""
        cached = self._pids_dirs.get(sandbox_id)
        if cached is None or not cached.is_dir():
            self._pids_dirs.pop(sandbox_id, None)
            try:
                c = self._container(sandbox_id)
            except SandboxError:
                return None
            if c is None or c.status != "running":
                return None
            parent = (c.attrs.get("HostConfig") or {}).get("CgroupParent") or ""
            if not parent.startswith("/bungeo/"):
                return None
            for hierarchy in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
                d = hierarchy / parent.strip("/") / c.id
                if (d / "pids.current").is_file() and (d / "pids.max").is_file():
                    self._pids_dirs[sandbox_id] = cached = d
                    break
            else:
                return None
        try:
            current = int((cached / "pids.current").read_text())
            limit = (cached / "pids.max").read_text().strip()
        except (OSError, ValueError):
            return None
        return (current, int(limit)) if limit.isdigit() and int(limit) > 0 else None

    # -- lease (maximum lifetime) ---------------------------------------------------------------
    def _lease_path(self, sandbox_id: str) -> Path:
        # Not in host_dir: that folder is writable from inside the sandbox.
        d = Path(settings.BUNGEO_RUN_DIR) / "leases"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{self._slot(sandbox_id)}.json"

    def _lease_write(self, sandbox_id: str, lease: Lease) -> None:
        path = self._lease_path(sandbox_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"started": lease.started, "expires": lease.expires,
                                   "extensions": lease.extensions}))
        tmp.replace(path)

    def _lease_new(self, sandbox_id: str) -> None:
        now = time.time()
        self._lease_write(sandbox_id, Lease(now, now + settings.BUNGEO_SANDBOX_MAX_LIFETIME, 0))

    def lease(self, sandbox_id: str) -> Lease | None:
        try:
            data = json.loads(self._lease_path(sandbox_id).read_text())
            return Lease(float(data["started"]), float(data["expires"]), int(data["extensions"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def extend(self, sandbox_id: str) -> Lease:
        with self._start_lock(sandbox_id):
            lease = self.lease(sandbox_id)
            sb = self.get(sandbox_id)
            if lease is None or sb is None or not sb.running:
                raise SandboxError(str(MSG_NOT_RUNNING))
            if lease.extensions_left <= 0:
                raise SandboxError(str(MSG_NO_MORE_EXTENSIONS))
            now = time.time()
            # Only inside the warning window, where the page offers it: a learner who extends
            # at every start would otherwise hold a place in the classroom for hours.
            window = settings.BUNGEO_SANDBOX_WARN_BEFORE
            if lease.remaining(now) > window + EXTEND_GRACE_S:
                raise SandboxError(str(MSG_EXTEND_NOT_YET) % {"minutes": max(1, round(window / 60))})
            new = Lease(lease.started, max(lease.expires, now) + settings.BUNGEO_SANDBOX_EXTEND_SECONDS,
                        lease.extensions + 1)
            self._lease_write(sandbox_id, new)
            log.info("sandbox %s extended to %.0f s from now", sandbox_id, new.remaining(now))
            return new

    # -- warm pool ---------------------------------------------------------------------------
    def _slot_home(self, slot: str) -> Path:
        home = _slots_root() / slot / "home"
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, REMAP_ROOT, REMAP_ROOT)
        return home

    def _attach_workspace(self, slot: str, owner: str) -> None:
        """Bind-mount ``owner``'s workspace volume on the slot's home (idempotent)."""
        home = self._slot_home(slot)
        if str(home) in _mountpoints():
            return
        source = self._workspace_source(owner)
        res = subprocess.run(["mount", "--bind", source, str(home)], capture_output=True, text=True)
        if res.returncode != 0:
            raise SandboxError(f"cannot attach the workspace: {res.stderr.strip()}")

    def _detach_workspace(self, slot: str) -> None:
        home = Path(settings.BUNGEO_DATA_DIR) / "slots" / slot / "home"
        if not home.parent.exists():
            return
        while str(home) in _mountpoints():
            if subprocess.run(["umount", "-l", str(home)], capture_output=True).returncode != 0:
                break
        shutil.rmtree(home.parent, ignore_errors=True)

    @contextlib.contextmanager
    def _claim_lock(self, slot: str):
        """Non-blocking exclusive flock for claiming ``slot``; yields True when held."""
        lock_dir = Path(settings.BUNGEO_RUN_DIR) / "sandboxes"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{slot}.claim", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _pool_members(self) -> list:
        filters = {"label": [f"{LABEL_PREFIX}={self.prefix}", f"{LABEL_KIND}={KIND_POOL}"]}
        pool_prefix = f"{self.prefix}-{KIND_POOL}-"
        return [c for c in self.client.containers.list(all=True, filters=filters)
                if c.name.startswith(pool_prefix)]

    def _claimable(self, members: list, ready=None):
        """Yield ``(container, slot)`` for each pool member that can be claimed now: running,
        still under its pool name, its inner engine answering and ``ready(slot)`` true, with its
        claim lock (a non-blocking flock) held until the caller asks for the next one. Close the
        generator (``contextlib.closing``) when done, so the last lock is released at once."""
        for c in members:
            slot = c.labels.get(LABEL_SLOT, c.name)
            if c.status != "running" or (ready is not None and not ready(slot)):
                continue
            with self._claim_lock(slot) as held:
                if not held:
                    continue
                try:
                    c.reload()
                except NotFound:
                    continue
                if c.name != slot or c.status != "running" or not self._inner_answers(slot):
                    continue
                yield c, slot

    def _claim(self, name: str, *, owner: str):
        """Take a started, unassigned pool sandbox for ``owner``: rename it to ``name`` and
        attach the owner's workspace at /root. Returns the container, or None when the pool is
        empty. A claim is atomic across threads and processes: each pool slot is taken under a
        non-blocking flock, and its name is checked again under the lock."""
        with contextlib.closing(self._claimable(self._pool_members())) as candidates:
            for c, slot in candidates:
                try:
                    self._attach_workspace(slot, owner)
                    if self.mode() == "rootless":
                        self._rootless_hand_over(c, c.attrs["State"]["Pid"], owner=owner)
                    c.rename(name)
                except (APIError, SandboxError) as exc:
                    log.warning("pool sandbox %s could not be claimed: %s", slot, exc)
                    self._detach_workspace_mount_only(slot)
                    continue
                self._slots[name] = slot
                self._lease_new(name)
                c.reload()
                # A new workspace is empty (no copy-up from the image, unlike a named volume
                # mounted at creation): give it the usual skeleton, keeping what is there.
                self.exec(name, ["sh", "-c", "cp -rn /etc/skel/. /root/ 2>/dev/null; mkdir -p /root/work"],
                          timeout=10)
                log.info("pool sandbox %s claimed as %s", slot, name)
                return c
        return None

    def _detach_workspace_mount_only(self, slot: str) -> None:
        home = Path(settings.BUNGEO_DATA_DIR) / "slots" / slot / "home"
        if str(home) in _mountpoints():
            subprocess.run(["umount", "-l", str(home)], capture_output=True)

    def pool_fill(self, size: int | None = None) -> list[str]:
        """Start pool sandboxes until ``size`` (default ``BUNGEO_SANDBOX_POOL_SIZE``) unassigned
        ones are running; remove unassigned ones that stopped. Returns the ids started."""
        size = settings.BUNGEO_SANDBOX_POOL_SIZE if size is None else size
        members = self._pool_members()
        current = self._current_image_id()
        running = 0
        for c in members:
            outdated = self._outdated(c, current)
            if c.status == "running" and not outdated:
                running += 1
            else:
                with self._claim_lock(c.labels.get(LABEL_SLOT, c.name)) as held:
                    if held:
                        if outdated:
                            log.info("pool sandbox %s removed: its image is outdated", c.name)
                        self.remove(c.name, keep_workspace=True)
        started = []
        for _n in range(max(0, size - running)):
            name = f"{self.prefix}-{KIND_POOL}-{uuid.uuid4().hex[:8]}"
            c = self._create(name, owner="", kind=KIND_POOL)
            try:
                self._start(c)
            except SandboxError:
                self.remove(name)
                raise
            started.append(name)
        return started

    # -- grading pool ------------------------------------------------------------------------
    def _claimed_path(self, slot: str) -> Path:
        """When a grading-pool sandbox was claimed (Unix time, text); outside the sandbox."""
        return Path(settings.BUNGEO_RUN_DIR) / "gpool" / f"{slot}.claimed"

    def _grading_pool_members(self) -> list:
        filters = {"label": [f"{LABEL_PREFIX}={self.prefix}", f"{LABEL_KIND}={KIND_GRADING_POOL}"]}
        pool_prefix = f"{self.prefix}-{KIND_GRADING_POOL}-"
        return [c for c in self.client.containers.list(all=True, filters=filters)
                if c.name.startswith(pool_prefix)]

    def _prepull_state(self, slot: str) -> str:
        """``"ready"``, ``"failed"`` or ``"pulling"``: how a grading-pool sandbox's pre-pull
        (run inside it, see :meth:`grading_pool_fill`) is getting on."""
        hostdir = Path(settings.BUNGEO_RUN_DIR) / "sandboxes" / slot
        if (hostdir / "prepull.failed").exists():
            return "failed"
        return "ready" if (hostdir / "prepull.done").exists() else "pulling"

    def _claim_grading(self, name: str, images: Sequence[str] | None = None):
        """Take a grading-pool sandbox and rename it ``name``; None when the pool is empty.
        A member whose pre-pull is done is preferred; otherwise one still pulling is taken (it
        is ahead of a cold sandbox: the run's own pulls join the ones in flight). With
        ``images``, the member's pre-pull is trimmed to those repositories: it finishes the
        image it is pulling and skips the others (an A1 run needs node only). Atomic across
        threads and processes, as :meth:`_claim` is."""
        members = self._grading_pool_members()
        for wanted in ("ready", "pulling"):
            state_is = (lambda slot, w=wanted: self._prepull_state(slot) == w)  # noqa: E731
            with contextlib.closing(self._claimable(members, state_is)) as candidates:
                for c, slot in candidates:
                    claimed = self._claimed_path(slot)
                    claimed.parent.mkdir(parents=True, exist_ok=True)
                    claimed.write_text(str(time.time()))
                    try:
                        c.rename(name)
                    except APIError as exc:
                        log.warning("grading pool sandbox %s could not be claimed: %s", slot, exc)
                        claimed.unlink(missing_ok=True)
                        continue
                    self._slots[name] = slot
                    hostdir = self.host_dir(name)
                    if images is not None:
                        (hostdir / PREPULL_ONLY).write_text(
                            "".join(f"{repository_of(r)}\n" for r in images))
                    (hostdir / "prepull.done").unlink(missing_ok=True)
                    c.reload()
                    log.info("grading pool sandbox %s (pre-pull %s) claimed as %s", slot, wanted, name)
                    return c
        return None

    def grading_pool_fill(self, size: int | None = None) -> list[str]:
        """See :meth:`SandboxBackend.grading_pool_fill`. Members whose pre-pull failed, that
        stopped, that run an older sandbox image, or that are not ready after
        ``BUNGEO_GRADING_TIME_LIMIT`` seconds are removed.
        One fill runs at a time (a non-blocking host-wide lock; a second caller returns [])."""
        size = settings.BUNGEO_GRADING_POOL_SIZE if size is None else size
        lock_dir = Path(settings.BUNGEO_RUN_DIR) / "sandboxes"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{self.prefix}-gpool-fill.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []
            now = time.time()
            current = self._current_image_id()
            alive = 0
            for c in self._grading_pool_members():
                slot = c.labels.get(LABEL_SLOT, c.name)
                state = self._prepull_state(slot)
                try:
                    age = now - float(c.labels.get(LABEL_CREATED, "0"))
                except ValueError:
                    age = now
                stale = (state == "pulling" and age > settings.BUNGEO_GRADING_TIME_LIMIT
                         or self._outdated(c, current))
                if c.status == "running" and state != "failed" and not stale:
                    alive += 1
                    continue
                with self._claim_lock(slot) as held:
                    if held:
                        log.warning("grading pool sandbox %s removed (%s, pre-pull %s)",
                                    slot, c.status, state)
                        self.remove(c.name, keep_workspace=False)
            started = []
            for _n in range(max(0, size - alive)):
                name = f"{self.prefix}-{KIND_GRADING_POOL}-{uuid.uuid4().hex[:8]}"
                c = self._create(name, owner="", kind=KIND_GRADING_POOL, workspace=False)
                try:
                    self._start(c)
                    self._prepull_start(name)
                except (SandboxError, APIError) as exc:
                    self.remove(name, keep_workspace=False)
                    raise SandboxError(f"grading pool: {exc}") from exc
                started.append(name)
            return started

    def _prepull_start(self, name: str) -> None:
        """Pull ``BUNGEO_GRADING_PREPULL`` inside the sandbox, detached; the sandbox reports
        ``prepull.done`` (or ``prepull.failed`` with the pull's output) in its host folder."""
        refs = " ".join(shlex.quote(f"{repository_of(r)}={r}") for r in settings.BUNGEO_GRADING_PREPULL)
        # Three tries each: a mirror that is busy being pushed to can miss a request. Once the
        # sandbox is claimed, its claimer may list the repositories it needs in PREPULL_ONLY:
        # the others are skipped.
        only = f"/run/bungeo-host/{PREPULL_ONLY}"
        script = (f"for rr in {refs}; do r=\"${{rr#*=}}\"; "
                  f"if [ -f {only} ] && ! grep -qxF \"${{rr%%=*}}\" {only}; then continue; fi; "
                  "ok=; for t in 1 2 3; do "
                  "docker pull -q \"$r\" >>/tmp/prepull.log 2>&1 && { ok=1; break; }; sleep 2; done; "
                  "[ -n \"$ok\" ] || { cp /tmp/prepull.log /run/bungeo-host/prepull.failed; exit 1; }; "
                  "done; touch /run/bungeo-host/prepull.done")
        api = self.client.api
        ex = api.exec_create(name, ["sh", "-c", script], stdout=False, stderr=False)
        api.exec_start(ex["Id"], detach=True)

    def reconcile(self, *, grading_max_age: float, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        removed = []
        for kind in (KIND_GRADING, KIND_GRADING_POOL):
            filters = {"label": [f"{LABEL_PREFIX}={self.prefix}", f"{LABEL_KIND}={kind}"]}
            for c in self.client.containers.list(all=True, filters=filters):
                if self._identity(c)[0] != KIND_GRADING:
                    continue  # an unclaimed pool member: grading_pool_fill looks after those
                if self._reconcile_one(c, grading_max_age, now):
                    removed.append(c.name)
        if removed:
            log.warning("reconcile removed %d leftover grading sandbox(es)", len(removed))
        self._remove_orphan_grading_volumes(now)
        return removed

    def _remove_orphan_grading_volumes(self, now: float, min_age: float = 600.0) -> list[str]:
        """Remove grading sandboxes' storage volumes whose container is gone (a worker that
        died while the volume was being deleted in the background); only volumes older than
        ``min_age`` seconds, so one whose sandbox is being created is never touched. Returns the
        names removed."""
        names = {c.labels.get(LABEL_SLOT, c.name) for c in self.client.containers.list(
            all=True, filters={"label": [f"{LABEL_PREFIX}={self.prefix}"]})}
        gone = []
        for kind in (KIND_GRADING, KIND_GRADING_POOL):
            for v in self.client.volumes.list(filters={"label": [
                    f"{LABEL_PREFIX}={self.prefix}", f"{LABEL_KIND}={kind}"]}):
                labels = v.attrs.get("Labels") or {}
                try:
                    age = now - float(labels.get(LABEL_CREATED, "0"))
                except ValueError:
                    age = now
                if labels.get(LABEL_SLOT) not in names and age > min_age:
                    self._remove_volumes([v.name])
                    gone.append(v.name)
        return gone

    def _reconcile_one(self, c, grading_max_age: float, now: float) -> bool:
        """Remove grading sandbox ``c`` when it is older than ``grading_max_age`` seconds
        (counted from its claim for a grading-pool sandbox). Returns whether it was removed."""
        slot = c.labels.get(LABEL_SLOT, c.name)
        try:
            created = float(self._claimed_path(slot).read_text())
        except (OSError, ValueError):
            try:
                created = float(c.labels.get(LABEL_CREATED, "0"))
            except ValueError:
                created = 0.0
        if now - created <= grading_max_age:
            return False
        self.remove(c.name, keep_workspace=False)
        return True

    def idle_seconds(self, sandbox_id: str, *, now: float | None = None) -> float | None:
        sb = self.get(sandbox_id)
        if sb is None or not sb.running:
            return None
        res = self.exec(sandbox_id, ["tmux", "display-message", "-p", "-t", "main",
                                     "#{session_attached} #{session_activity}"], timeout=5)
        now = time.time() if now is None else now
        parts = res.output.split()
        if res.exit_code != 0 or len(parts) != 2:
            if not _tmux_has_no_session(res):
                # The look itself failed: at its process limit the sandbox cannot even start
                # tmux ('timeout: fork system call failed'), or it did not answer in time. Not
                # known, so not idle (QA: a fork bomb's sandbox, with its terminals open, was
                # stopped "after 117 s idle", counted from its start).
                return None
            # No tmux session: the sandbox was started but its terminal never opened, or the
            # shell ended (`exit`): idle since the later of its start and the last terminal's
            # close (from its start alone, an `exit` after an hour got the sandbox, and its
            # running containers, stopped at the reaper's next round).
            c = self._container(sandbox_id)
            started = c.attrs["State"].get("StartedAt", "") if c else ""
            try:  # Docker's StartedAt is RFC 3339 in UTC; seconds are precise enough here
                t0 = datetime.strptime(started[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                return None
            try:
                detached = float(self._detached_path(sandbox_id).read_text())
            except (OSError, ValueError):
                detached = 0.0
            return max(0.0, now - max(t0.timestamp(), detached))
        attached, activity = parts
        if attached != "0":
            return None
        # From the later of the last keystroke or output and the last terminal's close (QA: a
        # learner who read for minutes without typing, then reloaded the page, was "idle" for
        # all that time the moment the tab closed, and the reaper stopped the sandbox then).
        try:
            detached = float(self._detached_path(sandbox_id).read_text())
        except (OSError, ValueError):
            detached = 0.0
        return max(0.0, now - max(float(activity), detached))

    def purge(self) -> int:
        """Remove every sandbox and volume with this backend's prefix. Returns how many
        containers were removed. Meant for tests and for an operator's clean slate."""
        n = 0
        for sb in self.list():
            self.remove(sb.id, keep_workspace=False)
            n += 1
        for v in self.client.volumes.list(filters={"label": f"{LABEL_PREFIX}={self.prefix}"}):
            try:
                v.remove(force=True)
            except (NotFound, APIError):
                pass
        for image in (self._disks() / "workspaces").glob(f"{self.prefix}-workspace-*.img"):
            mnt = image.with_suffix("")
            _disk_unmount(mnt)
            image.unlink(missing_ok=True)
            shutil.rmtree(mnt, ignore_errors=True)
        self.forget_run_files()
        return n

    def forget_run_files(self) -> int:
        """Delete this prefix's files in the run folder (BUNGEO_RUN_DIR) that no sandbox needs
        once all of them are gone: terminal-closed times, reset markers, stop reasons, leases, locks and
        claims, and the grading pool's fill lock. :meth:`remove` deletes a sandbox's own; these
        are what sandboxes removed before it did left (QA: they stayed after a purge). Call it
        only when this prefix has no sandbox left. Returns how many files were deleted."""
        run = Path(settings.BUNGEO_RUN_DIR)
        n = 0
        for pattern in ("detached/{p}-*", "resets/{p}-*", "stops/{p}-*", "leases/{p}-*.json",
                        "sandboxes/{p}-*.lock", "sandboxes/{p}-*.claim"):
            for f in run.glob(pattern.format(p=self.prefix)):
                if f.is_file():
                    f.unlink(missing_ok=True)
                    n += 1
        return n

    # -- talking to a sandbox ---------------------------------------------------------------
    def engine_url(self, sandbox_id: str) -> str:
        """``unix://`` URL of the sandbox's inner engine, through :meth:`engine_socket`."""
        return f"unix://{self.engine_socket(sandbox_id)}"

    def engine_socket(self, sandbox_id: str) -> Path:
        """A path to the inner engine's socket that the learner cannot redirect (see
        :meth:`shared_socket`)."""
        return self.shared_socket(sandbox_id, SHARED_ENGINE_SOCKET)

    def shared_socket(self, sandbox_id: str, name: str) -> Path:
        """A path to socket ``name`` of the sandbox's shared folder that the learner cannot
        redirect.

        The inner engine (``docker.sock``) and the terminal relay (``term.sock``) create their
        sockets in the host folder shared with the sandbox, which the sandbox's root may write:
        there, a socket could be swapped for a symlink to a socket of the host
        (``/run/docker.sock``, the sandbox engine's), and bungeo, connecting as root on the host,
        would follow it. So bungeo connects through a hard link of that socket in a root-owned
        folder (:func:`_socket_link`), made with ``linkat`` (a symlink is linked as itself, never
        followed) and kept only when the link is a socket: a link names an inode, and the learner
        can neither change the folder nor reach a host socket's inode from inside. The link is
        made again whenever the shared socket is a new one (its server restarted). Returns the
        link's path, which may not exist yet (connecting then fails as for a server that does
        not answer)."""
        slot = self._slot(sandbox_id)
        shared = self.host_dir(sandbox_id) / name
        link = _socket_link(slot, name)
        folder = link.parent
        try:
            now = os.lstat(shared)
        except OSError:
            return link
        with contextlib.suppress(OSError):
            held = os.lstat(link)
            if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                return link
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = folder / f".{slot}.{os.getpid()}.{threading.get_ident()}"
        tmp.unlink(missing_ok=True)
        try:
            os.link(shared, tmp, follow_symlinks=False)
        except OSError as exc:
            log.warning("cannot link %s of %s: %s", name, slot, exc)
            return link
        if stat.S_ISSOCK(os.lstat(tmp).st_mode):
            os.replace(tmp, link)
        else:
            tmp.unlink(missing_ok=True)
            log.warning("sandbox %s: %s in its shared folder is not a socket; ignored", slot, name)
        return link

    def exec(self, sandbox_id: str, cmd: list[str], *, timeout: float = 30.0,
             workdir: str | None = None, max_output: int = 1_000_000) -> ExecResult:
        c = self._container(sandbox_id)
        if c is None or c.status != "running":
            raise SandboxError(MSG_NOT_RUNNING)
        api = self.client.api
        # coreutils' timeout ends the command inside; the deadline below guards the reading.
        wrapped = ["timeout", "-k", "2", str(max(1, int(timeout))), *cmd]
        ex = api.exec_create(c.id, wrapped, workdir=workdir, stdout=True, stderr=True)
        sock = api.exec_start(ex["Id"], socket=True, demux=False)
        raw = getattr(sock, "_sock", sock)
        raw.settimeout(1.0)
        buf = bytearray()
        deadline = time.monotonic() + timeout + 5
        timed_out = False
        try:
            while True:
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                try:
                    chunk = raw.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                if len(buf) < max_output + 8 * 1024:
                    buf += chunk
        finally:
            raw.close()
        out = _demux(bytes(buf))[:max_output]
        info = api.exec_inspect(ex["Id"])
        code = info.get("ExitCode")
        if code is None or timed_out:
            return ExecResult(124, out.decode(errors="replace"), timed_out=True)
        return ExecResult(code, out.decode(errors="replace"), timed_out=(code == 124))

    def put_archive(self, sandbox_id: str, path: str, data: bytes) -> None:
        c = self._container(sandbox_id)
        if c is None:
            raise SandboxError(MSG_NOT_RUNNING)
        self.exec(sandbox_id, ["mkdir", "-p", path], timeout=10)
        c.put_archive(path, data)

    def open_terminal(self, sandbox_id: str, *, cols: int = 80, rows: int = 24) -> Terminal:
        """See :meth:`SandboxBackend.open_terminal`. Through the sandbox's terminal relay when it
        answers (``via="relay"``, see :meth:`_open_relay`), else through ``docker exec``.
        Closing it records the time (:meth:`idle_seconds` counts from it once the shell has
        ended, when tmux has no session to tell)."""
        term = self._open_terminal(sandbox_id, cols, rows)
        close = term.close

        def close_and_mark() -> None:
            try:
                close()
            finally:
                with contextlib.suppress(OSError):
                    self._detached_path(sandbox_id).write_text(str(time.time()))

        return dataclasses.replace(term, close=close_and_mark)

    def _detached_path(self, sandbox_id: str) -> Path:
        # Not in host_dir: that folder is writable from inside the sandbox.
        d = Path(settings.BUNGEO_RUN_DIR) / "detached"
        d.mkdir(parents=True, exist_ok=True)
        return d / self._slot(sandbox_id)

    def _open_terminal(self, sandbox_id: str, cols: int, rows: int) -> Terminal:
        c = self._container(sandbox_id)
        if c is None or c.status != "running":
            raise SandboxError(MSG_NOT_RUNNING)
        if settings.BUNGEO_TERMINAL_RELAY:
            term = self._open_relay(sandbox_id, cols, rows)
            if term is not None:
                return term
            log.info("terminal of %s through docker exec: its relay does not answer", sandbox_id)
        api = self.client.api
        # Closing an exec's stream does not end its process, so every terminal records its pid
        # (as the sandbox sees it) under a token, and close() hangs up exactly that tmux client;
        # the tmux session, and the learner's shell in it, keep running.
        token = uuid.uuid4().hex
        pidfile = f"{TERMINAL_PIDS}/{token}"
        ex = api.exec_create(
            c.id,
            ["sh", "-c", f"mkdir -p {TERMINAL_PIDS} && echo $$ > {pidfile} && "
                         "exec tmux -u new-session -A -s main"],
            tty=True, stdin=True,
            environment={"TERM": "xterm-256color", "LANG": "C.UTF-8"}, workdir="/root",
        )
        exec_id = ex["Id"]
        sock = api.exec_start(exec_id, socket=True, tty=True)
        raw: socket.socket = getattr(sock, "_sock", sock)

        def resize(cols: int, rows: int) -> None:
            try:
                api.exec_resize(exec_id, height=max(2, rows), width=max(2, cols))
            except APIError as exc:
                log.debug("resize %s: %s", exec_id[:12], exc)

        def close() -> None:
            try:
                raw.close()
            except OSError:
                pass
            try:
                self.exec(sandbox_id, ["sh", "-c", f"kill -HUP $(cat {pidfile}) 2>/dev/null; "
                                                   f"rm -f {pidfile}"], timeout=5)
            except (SandboxError, docker.errors.DockerException) as exc:
                log.debug("terminal %s of %s not hung up: %s", token[:8], sandbox_id, exc)

        resize(cols, rows)
        return Terminal(sock=raw, resize=resize, close=close)

    def _open_relay(self, sandbox_id: str, cols: int, rows: int) -> Terminal | None:
        """A terminal through the sandbox's relay socket (:meth:`shared_socket` ``term.sock``),
        or None when it does not answer (an image without a relay, or the learner stopped it).

        The bytes then pass through one small process in the sandbox (socat) instead of the
        host's dockerd and containerd-shim (bench/echo_latency.py). The relay's first line,
        ``"<cols> <rows> <token>"``, sizes the pty; later sizes are set with ``stty`` on the pty
        of the pid the relay wrote under the token (one ``docker exec`` per resize, in the
        background, coalesced: the learner's input never waits for it). Closing the socket hangs
        the pty up, which ends the tmux client (``close()`` returns once it has, or after
        RELAY_CLOSE_S seconds); the learner's shell keeps running."""
        ready = self.host_dir(sandbox_id) / "ready"
        try:
            fresh = time.time() - ready.stat().st_mtime < RELAY_FRESH_S
        except OSError:
            fresh = False
        deadline = time.monotonic() + (RELAY_WAIT_S if fresh else 0.0)
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(2.0)
            try:
                sock.connect(str(self.shared_socket(sandbox_id, SHARED_TERMINAL_SOCKET)))
                break
            except OSError:
                sock.close()
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.02)
        token = uuid.uuid4().hex
        try:
            sock.sendall(f"{max(2, cols)} {max(2, rows)} {token}\n".encode())
        except OSError:
            sock.close()
            return None
        sock.settimeout(None)
        wanted: list[tuple[int, int]] = []  # the latest size asked for, not yet applied
        applying = [False]  # a thread is applying sizes
        busy = threading.Lock()

        def apply_sizes() -> None:
            while True:
                with busy:
                    if not wanted:
                        applying[0] = False
                        return
                    c, r = wanted.pop()
                try:
                    self.exec(sandbox_id, ["sh", "-c", f'stty -F "/proc/$(cat {TERMINAL_PIDS}/{token})'
                                                       f'/fd/0" cols {c} rows {r}'], timeout=10)
                except (SandboxError, docker.errors.DockerException) as exc:
                    log.debug("resize of terminal %s: %s", token[:8], exc)

        def resize(cols: int, rows: int) -> None:
            with busy:
                wanted[:] = [(max(2, int(cols)), max(2, int(rows)))]
                start, applying[0] = not applying[0], True
            if start:
                threading.Thread(target=apply_sizes, daemon=True, name=f"resize {token[:8]}").start()

        def close() -> None:
            # End of input: socat closes the pty, the tmux client hangs up and exits, then socat
            # closes the connection. Wait for that (at most RELAY_CLOSE_S), so that no client is
            # left attached when close() returns.
            with contextlib.suppress(OSError):
                sock.setblocking(True)
                sock.settimeout(RELAY_CLOSE_S)
                sock.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + RELAY_CLOSE_S
                while sock.recv(65536) and time.monotonic() < deadline:
                    pass
            sock.close()

        return Terminal(sock=sock, resize=resize, close=close, via="relay")


def repository_of(ref: str) -> str:
    """The repository of an image reference, as the classroom mirror serves it: ``node:18-alpine``,
    ``library/node:18`` and ``docker.io/library/node@sha256:...`` all give ``node``;
    ``bitnami/redis:7`` gives ``bitnami/redis``. (Reference grammar: the distribution project's
    ``reference`` package; parsing is docker-py's ``parse_repository_tag``.)"""
    repo, _tag = docker.utils.parse_repository_tag(ref)
    for default in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        repo = repo.removeprefix(default)
    return repo.removeprefix("library/")


# What tmux says when there is no session to look at (tmux 3.3): no server socket yet, a server
# that ended, or no session of that name.
_TMUX_NO_SESSION = ("error connecting to", "no server running", "can't find session")


def _statvfs_use(what: str, mnt: Path) -> tuple[str, int, int]:
    """``(what, used bytes, size bytes)`` of the file system mounted at ``mnt``; (what, 0, 0)
    once it is no longer mounted there (the sandbox stopped: the folder's own figures would be
    the host disk's)."""
    try:
        if not os.path.ismount(mnt):
            return (what, 0, 0)
        st = os.statvfs(mnt)
    except OSError:
        return (what, 0, 0)
    return (what, (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_blocks * st.f_frsize)


def _tmux_has_no_session(res: ExecResult) -> bool:
    """Whether ``res``, the result of ``tmux display-message -t main`` in a sandbox, says that
    there is no tmux session (exit status 1 with tmux's own words, or 0 with nothing printed),
    as opposed to a look that failed (the exec could not start a process, or timed out)."""
    if res.timed_out:
        return False
    if res.exit_code == 0:
        return not res.output.strip()
    return res.exit_code == 1 and any(m in res.output for m in _TMUX_NO_SESSION)


def _demux(data: bytes) -> bytes:
    """Strip Docker's 8-byte stream headers from a non-tty attach stream (Engine API docs,
    "Stream format"); returns stdout and stderr interleaved as they came."""
    out = bytearray()
    i = 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i + 4 : i + 8], "big")
        out += data[i + 8 : i + 8 + size]
        i += 8 + size
    return bytes(out)
