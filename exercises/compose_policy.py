"""What a submitted compose file may ask for: the classroom's policy, checked before anything runs.

Graders read a submission's compose file with ``docker compose config --format json`` inside the
grading sandbox: that resolved form is the truth of what Compose will do (anchors, ``extends``,
``.env`` interpolation, short and long syntax all resolved; relative paths made absolute; unused
top-level volumes dropped). :func:`policy_problems` judges it and returns one learner-facing
message per refusal; a grader refuses the file when the list is not empty.

Refused, because each gives a container power over the machine it runs on (the grading sandbox)
or reaches outside the submission: the rules follow Docker's documentation of these options
(https://docs.docker.com/reference/compose-file/services/) and the CIS Docker Benchmark
(section 5: privileged containers, host namespaces, added capabilities, devices, host paths).

* ``privileged: true``;
* the host's namespaces: ``network_mode``, ``pid``, ``ipc``, ``uts``, ``userns_mode`` or
  ``cgroup`` set to ``host``;
* ``cap_add``, ``devices``, ``device_cgroup_rules``, ``cgroup_parent``;
* ``security_opt`` other than ``no-new-privileges`` (which only takes power away);
* bind mounts (and bind-like named volumes with ``driver_opts.device``, secrets and configs read
  from files, build contexts) whose path is outside the submission folder: an absolute host path
  such as ``/`` or ``/var/run/docker.sock``, or a relative one that climbs out with ``..``;
* a build's ``privileged: true``, ``network: host`` or ``entitlements`` (Compose's build
  options, https://docs.docker.com/reference/compose-file/build/): the build then gets the
  powers a service may not have.

:func:`yaml_problem` refuses what should not even reach Docker: text that is not UTF-8 or not
YAML, and "billion laughs" documents whose aliases expand past :data:`MAX_YAML_NODES` nodes.

:func:`compose_file` picks the compose file a grader runs when a submission holds more than one,
and :func:`ignored_compose_note` says so to the learner.

:func:`config_json` finds the resolved config in ``docker compose config --format json`` output
that also holds Compose's warnings (the graders read stdout and stderr merged).
"""
from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from django.utils.translation import gettext as _

from webapp.josa import say

# YAML aliases expand like a zip bomb ("billion laughs"): refuse files whose document, with
# every alias expanded, would have more nodes than this. Real compose files have hundreds.
MAX_YAML_NODES = 100_000

HOST_NAMESPACE_KEYS = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
LIST_KEYS = ("cap_add", "devices", "device_cgroup_rules")
ALLOWED_SECURITY_OPTS = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}


def compose_file(files: dict[str, Any], accepted: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``(graded, ignored)``: the compose file a grader runs, the first of ``accepted`` (Compose's
    own order of preference: compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml)
    at the top of the submission, or None; and the other accepted names also there, which are
    not run (:func:`ignored_compose_note` tells the learner)."""
    present = [name for name in accepted if name in files]
    return (present[0] if present else None), present[1:]


def ignored_compose_note(graded: str, ignored: list[str]) -> str:
    """The feedback line for a submission with more than one compose file ("" when ``ignored``
    is empty): which one was graded and which were left out, in the active language. Like
    other extra files, they cost no points: ``docker compose`` itself picks one the same way."""
    if not ignored:
        return ""
    return say(_("The submission holds more than one compose file: %(graded)s was graded, not "
                 "%(ignored)s. Submit one compose file only."), {
                    "graded": graded, "ignored": ", ".join(ignored)})


def config_json(output: str) -> dict[str, Any]:
    """The object printed by ``docker compose config --format json``, from output that may also
    hold warnings (stderr is merged in: a ``version:`` key makes Compose print "the attribute
    `version` is obsolete" before the JSON). Tries each line that starts with ``{``; returns {}
    when no JSON object can be found (a caller must then treat the file as unreadable, since an
    empty config would pass :func:`policy_problems`)."""
    for m in re.finditer(r"^\{", output, re.MULTILINE):
        try:
            obj, _end = json.JSONDecoder().raw_decode(output[m.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return {}


def yaml_error_text(exc: Exception) -> str:
    """PyYAML's whole explanation of ``exc`` on one line, each part with the place it refers to
    (1-based, like an editor's): ``while parsing a flow sequence (line 1, column 6): expected
    ',' or ']', but got '<stream end>' (line 1, column 15)``. The place is said in the active
    language; PyYAML's own words stay English (it has no translations). Errors without a place
    (a YAMLError that is not a MarkedYAMLError) give their text with line breaks made spaces."""
    import yaml

    if not isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(str(exc).split())
    parts = []
    for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
        if not what and mark is None:
            continue
        where = (say(_("line %(line)s, column %(column)s"),
                     {"line": mark.line + 1, "column": mark.column + 1})) if mark is not None else ""
        if what and where:
            parts.append(f"{what} ({where})")
        else:
            parts.append(what or where)
    if exc.note:
        parts.append(exc.note)
    return ": ".join(parts) or " ".join(str(exc).split())


def yaml_problem(data: bytes) -> str | None:
    """Why a compose file is refused before Docker sees it (None when it is fine): not UTF-8,
    not YAML, or a document that would expand to more than MAX_YAML_NODES nodes once its aliases
    are resolved. PyYAML's composer keeps aliases as shared nodes, so counting with a memo costs
    time in proportion to the file, not to the expansion."""
    import yaml

    try:
        root = yaml.compose(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _("The file is not UTF-8 text.")
    except yaml.YAMLError as exc:
        return say(_("The file is not valid YAML: %(error)s"), {"error": yaml_error_text(exc)})
    memo: dict[int, int] = {}

    def size(node) -> int:
        if id(node) in memo:
            return memo[id(node)]
        memo[id(node)] = 1  # a cycle counts once
        n = 1
        if isinstance(node, yaml.SequenceNode):
            n += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            n += sum(size(k) + size(v) for k, v in node.value)
        memo[id(node)] = n
        return n

    expanded = size(root) if root is not None else 0
    if expanded > MAX_YAML_NODES:
        return say(_("The file expands to %(n)s YAML nodes through its aliases; at most %(max)s are "
                     "allowed."), {"n": f"{expanded:,}", "max": f"{MAX_YAML_NODES:,}"})
    return None


def inside(path: str, root: str) -> bool:
    """True when the absolute POSIX ``path`` is ``root`` or lies under it, once ``..`` and ``.``
    are resolved (``/srv/sub/../etc`` is not inside ``/srv/sub``). Relative paths are taken
    relative to ``root``."""
    root = posixpath.normpath(root)
    full = posixpath.normpath(posixpath.join(root, path))
    return full == root or full.startswith(root.rstrip("/") + "/")


def _is_local_path(source: str) -> bool:
    """A build context or file source that names a path (not a git or http URL)."""
    return "://" not in source and not source.startswith(("git@", "github.com/"))


def policy_problems(config: dict[str, Any], project_dir: str) -> list[str]:
    """Every refusal for a resolved compose ``config`` (the JSON of ``docker compose config
    --format json``) whose project folder is ``project_dir`` (absolute). Returns learner-facing
    messages in the active language, in service order; an empty list means the file is allowed.
    Pure: no I/O."""
    problems: list[str] = []
    services = config.get("services") or {}
    for name in sorted(services):
        svc = services[name] or {}
        if svc.get("privileged"):
            problems.append(say(_("Service %(service)s asks for 'privileged: true', which would give "
                                  "it the whole machine."), {"service": name}))
        for key in HOST_NAMESPACE_KEYS:
            if str(svc.get(key) or "") == "host":
                problems.append(say(_("Service %(service)s asks for '%(key)s: host', which would "
                                      "share the machine's own %(key)s namespace."),
                                    {"service": name, "key": key}))
        for key in LIST_KEYS:
            if svc.get(key):
                problems.append(say(_("Service %(service)s asks for '%(key)s', which gives a "
                                      "container powers over the machine."),
                                    {"service": name, "key": key}))
        if svc.get("cgroup_parent"):
            problems.append(say(_("Service %(service)s sets 'cgroup_parent', which would move it out "
                                  "of its resource limits."), {"service": name}))
        extra = [opt for opt in svc.get("security_opt") or []
                 if str(opt).replace(" ", "") not in ALLOWED_SECURITY_OPTS]
        if extra:
            problems.append(say(_("Service %(service)s sets 'security_opt: %(opts)s'; only "
                                  "'no-new-privileges' is allowed."),
                                {"service": name, "opts": ", ".join(map(str, extra))}))
        for mount in svc.get("volumes") or []:
            kind, source = mount.get("type"), str(mount.get("source") or "")
            if kind in ("bind", "npipe") and not inside(source, project_dir):
                problems.append(say(_("Service %(service)s mounts the host path %(path)s; only "
                                      "folders inside your submission (such as ./nginx) may be "
                                      "mounted."), {"service": name, "path": source}))
        build = svc.get("build") or {}
        if build.get("privileged"):
            problems.append(say(_("Service %(service)s builds with 'privileged: true', which would "
                                  "give its build the whole machine."), {"service": name}))
        if str(build.get("network") or "") == "host":
            problems.append(say(_("Service %(service)s builds with 'network: host', which would "
                                  "share the machine's own network namespace."), {"service": name}))
        if build.get("entitlements"):
            problems.append(say(_("Service %(service)s asks for the build entitlements %(names)s, "
                                  "which give its build powers over the machine."),
                                {"service": name, "names": ", ".join(map(str, build["entitlements"]))}))
        contexts = [build.get("context") or ""] + list((build.get("additional_contexts") or {})
                                                        .values())
        for ctx in contexts:
            if ctx and _is_local_path(str(ctx)) and not inside(str(ctx), project_dir):
                problems.append(say(_("Service %(service)s builds from %(path)s, outside your "
                                      "submission."), {"service": name, "path": ctx}))
    for vname, vol in sorted((config.get("volumes") or {}).items()):
        device = str(((vol or {}).get("driver_opts") or {}).get("device") or "")
        # A relative device ("../../") is a path too (Compose leaves driver options as written).
        if device and not inside(device, project_dir):
            problems.append(say(_("Volume %(volume)s is backed by the host path %(path)s; declare "
                                  "a plain named volume instead."), {"volume": vname, "path": device}))
    for section in ("secrets", "configs"):
        for item, spec in sorted((config.get(section) or {}).items()):
            path = str((spec or {}).get("file") or "")
            if path and not inside(path, project_dir):
                problems.append(say(_("%(section)s entry %(name)s reads the host file %(path)s; only "
                                      "files inside your submission may be used."),
                                    {"section": section, "name": item, "path": path}))
    return problems
