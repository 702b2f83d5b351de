"""Isolation modes: how a sandbox container is confined on the sandbox engine (DESIGN.md,
"Sandboxes"). One setting, ``BUNGEO_ISOLATION``:

* ``auto`` (default): the strongest mode the engine offers: ``sysbox`` when the engine has the
  ``sysbox-runc`` runtime, else ``userns`` when it remaps user ids (``--userns-remap``, as bungeo's
  own engine does), else ``rootless`` (the namespaced capabilities of ``userns`` would be the
  host's real ones on an engine that does not remap).
* ``sysbox``: the Sysbox runtime (installed by the operator) gives the sandbox its own user
  namespace and a virtualised /proc, /sys and cgroup tree; no extra capabilities, Docker's default
  seccomp profile. Full fidelity, no host privileges. (Sysbox documentation: "Sysbox containers
  ... run system software such as Docker ... without privileged containers".)
* ``userns``: bungeo's dedicated engine runs with ``--userns-remap``; the sandbox gets namespaced
  SYS_ADMIN, NET_ADMIN and SYS_PTRACE, Docker's seccomp profile plus four syscalls, and a
  host-owned parent cgroup whose own directories are handed to the remapped root after start.
* ``rootless``: the fallback where a second engine cannot run (DESIGN.md, "Fallback"): the
  sandbox runs on whatever engine bungeo is given, as the unprivileged user ``learner`` (uid
  1000, no capabilities), whose inner engine is rootless Docker (rootlesskit + slirp4netns). The
  sandbox gets SYS_ADMIN (which Docker's seccomp profile needs to allow unshare and mount; the
  learner never holds it: setuid programs other than newuidmap/newgidmap are stripped from the
  image), /dev/net/tun, unmasked /proc and /sys, and the same seccomp profile as ``userns``. On a
  cgroup v1 host its inner engine has no cgroups (:data:`MISSING_CGROUP_FEATURES`).
* ``trusted``: privileged-equivalent (all capabilities but SYS_RESOURCE, no seccomp, the host's
  user namespace, every device allowed): the learner effectively owns the host. For a single
  person's laptop only; every staff page and the log say so.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import docker.utils
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

MODES = ("sysbox", "userns", "rootless", "trusted")
SYSBOX_RUNTIME = "sysbox-runc"
TRUSTED_WARNING = ("Isolation mode 'trusted': learners can take over this host. Use it only on a "
                   "single-user laptop, never for a class.")


def configured_mode() -> str:
    """``BUNGEO_ISOLATION`` checked: ``auto`` or one of :data:`MODES`. Raises
    ``ImproperlyConfigured`` otherwise."""
    mode = settings.BUNGEO_ISOLATION
    if mode == "auto" or mode in MODES:
        return mode
    raise ImproperlyConfigured(f"BUNGEO_ISOLATION must be auto or one of {', '.join(MODES)}: {mode!r}")


# Refusal of an explicit ``userns`` on an engine that does not remap user ids: there, the
# capabilities ``userns`` adds (SYS_ADMIN, NET_ADMIN, SYS_PTRACE) would be the host's real ones.
USERNS_WITHOUT_REMAP = (
    "BUNGEO_ISOLATION=userns but the sandbox engine does not remap user ids (no name=userns in "
    "'docker info' security options), so the sandboxes' capabilities would be real on the host. "
    "Fix: start the sandbox engine with userns-remap (dockerd --userns-remap=default, or "
    "\"userns-remap\": \"default\" in its daemon.json; 'manage.py sandbox-engine start' does it), "
    "or set BUNGEO_ISOLATION=rootless (or auto). / "
    "BUNGEO_ISOLATION=userns 이지만 샌드박스 엔진이 사용자 ID를 다시 매핑하지 않습니다('docker info'의 "
    "보안 옵션에 name=userns 없음). 이대로면 샌드박스의 권한(capability)이 호스트에서 실제 권한이 "
    "됩니다. 해결: 샌드박스 엔진을 userns-remap으로 시작하거나(dockerd --userns-remap=default 또는 "
    "daemon.json의 \"userns-remap\": \"default\"; 'manage.py sandbox-engine start'가 그렇게 합니다), "
    "BUNGEO_ISOLATION=rootless(또는 auto)로 바꾸세요."
)
# The modes whose check needs the engine's ``docker info``; the others resolve without it.
MODES_NEEDING_ENGINE_INFO = ("auto", "sysbox", "userns")


def resolve(engine_info: dict[str, Any]) -> str:
    """The mode to use, given the sandbox engine's ``docker info`` (``Runtimes`` and
    ``SecurityOptions``, where ``name=userns`` says the engine remaps user ids). Callers pass
    the real ``docker info`` when the setting is one of :data:`MODES_NEEDING_ENGINE_INFO`.

    Raises ``ImproperlyConfigured`` for an impossible explicit mode: ``sysbox`` without the
    ``sysbox-runc`` runtime, ``userns`` on an engine that does not remap user ids
    (:data:`USERNS_WITHOUT_REMAP`; Docker documentation, "Isolate containers with a user
    namespace": ``userns-remap``)."""
    mode = configured_mode()
    if mode == "sysbox" and SYSBOX_RUNTIME not in (engine_info.get("Runtimes") or {}):
        raise ImproperlyConfigured("BUNGEO_ISOLATION=sysbox but the sandbox engine has no "
                                   f"{SYSBOX_RUNTIME} runtime (install Sysbox, restart the engine)")
    if mode == "userns" and not engine_remaps(engine_info):
        raise ImproperlyConfigured(USERNS_WITHOUT_REMAP)
    if mode != "auto":
        return mode
    if SYSBOX_RUNTIME in (engine_info.get("Runtimes") or {}):
        return "sysbox"
    return "userns" if engine_remaps(engine_info) else "rootless"


def engine_remaps(engine_info: dict[str, Any]) -> bool:
    """True when the engine runs with ``--userns-remap`` (``name=userns`` among the
    ``SecurityOptions`` of ``docker info``, Engine API ``SystemInfo``)."""
    return any(str(o).startswith("name=userns") for o in engine_info.get("SecurityOptions") or [])


def host_config(mode: str, *, name: str, binds: dict, seccomp: str | None,
                storage_tmpfs: int | None = None) -> dict[str, Any]:
    """Keyword arguments for docker-py's ``create_host_config`` for a sandbox in ``mode``, plus
    the raw host-config keys under ``"_raw"`` (``MaskedPaths``/``ReadonlyPaths``, ``Runtime``,
    ``UsernsMode``). ``seccomp`` is the userns profile JSON (used by ``userns`` and ``rootless``,
    ignored by the other modes).
    Limits (memory, CPUs, pids, a host-owned cgroup parent, log size) are the same in every
    mode: they are what keeps one learner from starving the others.

    ``storage_tmpfs`` (bytes; grading sandboxes, see ``BUNGEO_GRADING_TMPFS``) puts the inner
    engine's storage, ``/var/lib/docker``, on a tmpfs of that size instead of a bind, and raises
    the memory limit by the same amount: tmpfs pages count as the sandbox's memory, so a full
    tmpfs fails writes with "No space left on device" instead of OOM-killing the inner engine."""
    memory: int | str = settings.BUNGEO_SANDBOX_MEMORY
    tmpfs = {"/run": "rw,nosuid,nodev,mode=755", "/tmp": "rw,nosuid,nodev,mode=1777"}
    if storage_tmpfs:
        if any(b.get("bind") == "/var/lib/docker" for b in binds.values()):
            raise ValueError("storage_tmpfs and a bind on /var/lib/docker exclude each other")
        # exec and suid: the inner engine's image layers are executed through overlayfs (Docker
        # mounts a tmpfs noexec,nosuid,nodev unless told otherwise).
        tmpfs["/var/lib/docker"] = f"rw,exec,suid,nodev,mode=0711,size={int(storage_tmpfs)}"
        memory = docker.utils.parse_bytes(memory) + int(storage_tmpfs)
    spec: dict[str, Any] = {
        "binds": binds,
        "cgroup_parent": f"/bungeo/{name}",
        "tmpfs": tmpfs,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(settings.BUNGEO_SANDBOX_CPUS * 1e9),
        "pids_limit": settings.BUNGEO_SANDBOX_PIDS,
        "init": True,
        # Offline (the default) nothing answers DNS: lookups fail at once instead of stalling
        # pulls. With internet allowed, the engine's own resolver configuration applies.
        "dns": None if settings.BUNGEO_SANDBOX_INTERNET else ["127.0.0.1"],
        "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
        "restart_policy": {"Name": "no"},
    }
    raw: dict[str, Any] = {}
    if mode == "userns":
        spec.update(
            cgroupns="private",
            # SYS_PTRACE (namespaced, like the others): without it the inner runc cannot join a
            # container whose process runs as another user, so `docker exec` into postgres,
            # redis or a `USER node` image fails with "error executing setns process".
            cap_add=["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"],
            security_opt=[f"seccomp={seccomp}", "apparmor=unconfined"],
            devices=["/dev/net/tun", "/dev/fuse"],
        )
        # Docker masks and write-protects parts of /proc and /sys; the inner engine needs them
        # (it sets sysctls for its own networks). The user namespace keeps them harmless.
        raw.update(MaskedPaths=[], ReadonlyPaths=[])
    elif mode == "rootless":
        spec.update(rootless_host_config(seccomp))
        raw.update(MaskedPaths=[], ReadonlyPaths=[])
    elif mode == "sysbox":
        # Sysbox virtualises what the inner engine needs; nothing is added or unmasked.
        raw["Runtime"] = SYSBOX_RUNTIME
    elif mode == "trusted":
        spec.update(
            cgroupns="private",
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            device_cgroup_rules=["a *:* rwm"],
            devices=["/dev/net/tun", "/dev/fuse"],
        )
        raw.update(MaskedPaths=[], ReadonlyPaths=[], UsernsMode="host")
    else:
        raise ImproperlyConfigured(f"unknown isolation mode {mode!r}")
    spec["_raw"] = raw
    return spec


def engine_gomaxprocs() -> int:
    """GOMAXPROCS for a sandbox's inner dockerd and containerd (and rootlesskit): the sandbox's
    CPU limit, BUNGEO_SANDBOX_CPUS, rounded up, at least 1.

    Go before 1.25 sizes its scheduler by the host's CPUs, not by the container's CFS quota
    (https://go.dev/doc/go1.25#runtime), and Debian's Docker 26 is built with an older Go: on a
    2-core host the inner engine ran 2 Ps inside a 1-CPU sandbox. With 1, an idle sandbox takes
    0.7 MiB less and a pull, build, run, save and load of node:18-alpine cost dockerd 21 s of CPU
    instead of 23 s, in the same wall time (bench/sandbox_memory.py; measured by hand)."""
    import math

    return max(1, math.ceil(settings.BUNGEO_SANDBOX_CPUS))


def warn_if_trusted(mode: str) -> None:
    """Log the trusted-mode warning (called whenever a sandbox starts in that mode)."""
    if mode == "trusted":
        log.warning(TRUSTED_WARNING)


# ------------------------------------------------------------------------------------------
# rootless (DESIGN.md, "Fallback (rootless mode)")
# ------------------------------------------------------------------------------------------
ROOTLESS_UID = 1000
# What a rootless inner engine cannot do without cgroups (cgroup v1 host, measured on this one):
# key -> what the learner sees. Lab steps that need one of them carry ``needs: cgroups``.
MISSING_CGROUP_FEATURES = {
    "pause": "docker pause/unpause: 'cannot toggle freezer: cgroups not configured'",
    "top": "docker top fails",
    "stats": "docker stats shows the whole sandbox's usage, not the container's",
    "limits": "--memory, --cpus and --pids-limit are accepted but not enforced",
}


def rootless_host_config(seccomp: str | None) -> dict[str, Any]:
    """The host-config keywords (docker-py ``create_host_config``) that mode ``rootless`` adds to
    the common limits: SYS_ADMIN only (Docker's seccomp profile allows ``unshare``, ``mount``
    and ``clone`` of new namespaces only to a container that has it; the learner's processes,
    uid 1000, never hold it), ``seccomp`` (the ``userns`` profile, JSON), AppArmor unconfined
    (its default profile denies the mounts rootlesskit makes), /dev/net/tun for slirp4netns and
    a /run owned by the learner (rootless Docker's ``XDG_RUNTIME_DIR`` is /run/user/1000). The
    caller also clears ``MaskedPaths``/``ReadonlyPaths``.

    Measured on this host: without SYS_ADMIN, rootlesskit stops at "failed to start the child:
    fork/exec /proc/self/exe: operation not permitted"; with Docker's masked paths the inner
    engine starts but every inner container fails at "mount proc:/proc ... operation not
    permitted". This host has no AppArmor, so ``apparmor=unconfined`` is untested here."""
    return {
        "cgroupns": "private",
        "cap_add": ["SYS_ADMIN"],
        "security_opt": [f"seccomp={seccomp}", "apparmor=unconfined"],
        "devices": ["/dev/net/tun"],
        "tmpfs": {"/run": f"rw,nosuid,nodev,mode=755,uid={ROOTLESS_UID},gid={ROOTLESS_UID}",
                  "/tmp": "rw,nosuid,nodev,mode=1777"},
    }


def container_config(mode: str) -> dict[str, Any]:
    """Extra keywords for docker-py's ``create_container`` in ``mode``: ``user`` for
    ``rootless`` (the learner, uid:gid 1000:1000), nothing for the other modes."""
    return {"user": f"{ROOTLESS_UID}:{ROOTLESS_UID}"} if mode == "rootless" else {}


def has_cgroups(mode: str, cgroup_version: str | int | None) -> bool:
    """Whether the learner's inner engine has cgroups (pause, top, stats, per-container limits)
    in ``mode`` on an engine whose ``docker info`` reports ``cgroup_version`` ("1" or "2").
    Only ``rootless`` on cgroup v1 lacks them. On cgroup v2, rootless Docker has them only if the
    host delegates controllers to the learner's systemd user session, which a sandbox does not
    have, so it is reported as lacking them too (rootless Docker documentation, "Limiting
    resources")."""
    return mode != "rootless"


def missing_features(mode: str) -> frozenset[str]:
    """The lab features (``labs.content.FEATURES``) the learner's inner engine lacks in
    ``mode``: ``{"cgroups"}`` for ``rootless`` (see :func:`has_cgroups`), else none."""
    return frozenset() if has_cgroups(mode, None) else frozenset({"cgroups"})


ROOTLESS_ADVICE = ("use isolation mode userns or sysbox on a host where bungeo can run its own "
                   "engine (on cgroup v2, userns delegates each sandbox's cgroup)")


def fidelity_report(mode: str, cgroup_version: str | int | None) -> dict[str, Any]:
    """What the operator's host check (``manage.py sandbox-engine status``) says about the
    learners' inner engines in ``mode``: ``learner_cgroups`` (bool) and, when they lack them,
    ``unavailable`` (:data:`MISSING_CGROUP_FEATURES`' descriptions, the lab steps marked
    ``needs: cgroups`` show a notice instead of a check) and ``advice``."""
    if has_cgroups(mode, cgroup_version):
        return {"learner_cgroups": True}
    return {"learner_cgroups": False, "unavailable": list(MISSING_CGROUP_FEATURES.values()),
            "advice": ROOTLESS_ADVICE}


TUN_DEVICE = "/dev/net/tun"


def tun_report(mode: str, device: str = TUN_DEVICE) -> str | None:
    """For the operator's host check: whether the learner of a ``rootless`` sandbox (uid 1000,
    no capabilities) can open ``device``, which slirp4netns needs for the inner engine's network.
    Docker passes the host's device node as it is, so it must be readable and writable by every
    user (0666, what Debian's udev sets; a host without udev may leave it 0600). Returns "ok",
    the problem with its fix, or None in the other modes (they do not use it)."""
    if mode != "rootless":
        return None
    try:
        st = os.stat(device)
    except OSError:
        return f"missing: {device} does not exist (load the tun module: modprobe tun)"
    if st.st_mode & 0o006 != 0o006:
        return (f"not usable: {device} is mode {st.st_mode & 0o777:04o}, so rootless Docker in a "
                f"sandbox has no network and never becomes ready; run: chmod 0666 {device} "
                "(udev's default on Debian)")
    return "ok"


def subid_file(remapped: bool, remap_count: int = 65536) -> str | None:
    """The contents of ``/etc/subuid`` (and ``/etc/subgid``) for the learner in mode
    ``rootless``, or None to keep the image's (``learner:100000:65536``).

    On an engine that remaps ids (``--userns-remap``), a sandbox owns only ``remap_count`` ids
    (Docker's default: 65536, see ``/etc/subuid`` of ``dockremap``), so the learner's
    subordinate ids are those above its own uid: ``learner:1001:<remap_count - 1001>``. Raises
    ``ValueError`` when ``remap_count`` leaves fewer than 1000 ids."""
    if not remapped:
        return None
    count = remap_count - ROOTLESS_UID - 1
    if count < 1000:
        raise ValueError(f"the engine remaps only {remap_count} ids: too few for rootless Docker")
    return f"learner:{ROOTLESS_UID + 1}:{count}\n"
