"""Isolation modes: how a sandbox container is confined on the sandbox engine (DESIGN.md,
"Sandboxes"). One setting, ``BUNGEO_ISOLATION``:

* ``auto`` (default): the strongest mode the engine offers: ``sysbox`` when the engine has the
  ``sysbox-runc`` runtime, else ``userns``.
* ``sysbox``: the Sysbox runtime (installed by the operator) gives the sandbox its own user
  namespace and a virtualised /proc, /sys and cgroup tree; no extra capabilities, Docker's default
  seccomp profile. Full fidelity, no host privileges. (Sysbox documentation: "Sysbox containers
  ... run system software such as Docker ... without privileged containers".)
* ``userns``: bungeo's dedicated engine runs with ``--userns-remap``; the sandbox gets namespaced
  SYS_ADMIN, NET_ADMIN and SYS_PTRACE, Docker's seccomp profile plus four syscalls, and a
  host-owned parent cgroup whose own directories are handed to the remapped root after start.
* ``trusted``: privileged-equivalent (all capabilities but SYS_RESOURCE, no seccomp, the host's
  user namespace, every device allowed): the learner effectively owns the host. For a single
  person's laptop only; every staff page and the log say so.

The fallback ``rootless`` mode of DESIGN.md (a rootless inner engine for hosts where a second
engine cannot run) is not implemented yet: asking for it is an error.
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

MODES = ("sysbox", "userns", "trusted")
SYSBOX_RUNTIME = "sysbox-runc"
TRUSTED_WARNING = ("Isolation mode 'trusted': learners can take over this host. Use it only on a "
                   "single-user laptop, never for a class.")


def configured_mode() -> str:
    """``BUNGEO_ISOLATION`` checked: ``auto`` or one of :data:`MODES`. Raises
    ``ImproperlyConfigured`` otherwise (``rootless`` is named as not implemented)."""
    mode = settings.BUNGEO_ISOLATION
    if mode == "auto" or mode in MODES:
        return mode
    if mode == "rootless":
        raise ImproperlyConfigured("BUNGEO_ISOLATION=rootless is not implemented yet; use userns")
    raise ImproperlyConfigured(f"BUNGEO_ISOLATION must be auto or one of {', '.join(MODES)}: {mode!r}")


def resolve(engine_info: dict[str, Any]) -> str:
    """The mode to use, given the sandbox engine's ``docker info`` (``Runtimes``)."""
    mode = configured_mode()
    if mode == "sysbox" and SYSBOX_RUNTIME not in (engine_info.get("Runtimes") or {}):
        raise ImproperlyConfigured("BUNGEO_ISOLATION=sysbox but the sandbox engine has no "
                                   f"{SYSBOX_RUNTIME} runtime (install Sysbox, restart the engine)")
    if mode != "auto":
        return mode
    return "sysbox" if SYSBOX_RUNTIME in (engine_info.get("Runtimes") or {}) else "userns"


def host_config(mode: str, *, name: str, binds: dict, seccomp: str | None) -> dict[str, Any]:
    """Keyword arguments for docker-py's ``create_host_config`` for a sandbox in ``mode``, plus
    the raw host-config keys under ``"_raw"`` (``MaskedPaths``/``ReadonlyPaths``, ``Runtime``,
    ``UsernsMode``). ``seccomp`` is the userns profile JSON (ignored by the other modes).
    Limits (memory, CPUs, pids, a host-owned cgroup parent, log size) are the same in every
    mode: they are what keeps one learner from starving the others."""
    memory = settings.BUNGEO_SANDBOX_MEMORY
    spec: dict[str, Any] = {
        "binds": binds,
        "cgroup_parent": f"/bungeo/{name}",
        "tmpfs": {"/run": "rw,nosuid,nodev,mode=755", "/tmp": "rw,nosuid,nodev,mode=1777"},
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


def warn_if_trusted(mode: str) -> None:
    """Log the trusted-mode warning (called whenever a sandbox starts in that mode)."""
    if mode == "trusted":
        log.warning(TRUSTED_WARNING)
