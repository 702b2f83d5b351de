"""Grader of A2: a Compose application (see handout.en.md for the contract).

The submission (a folder: a compose file, the API's source and Dockerfile, nginx's configuration)
runs in a fresh grading sandbox. Static facts come from ``docker compose config`` and from the
engine's inspect output; behaviour from HTTP requests through nginx on port 8080, ``redis-cli``
in the Redis container and ``psql``/``pg_dumpall`` in the PostgreSQL container.

* compose-valid (5): ``docker compose config`` reads the file and it asks for nothing the
  classroom refuses (:mod:`exercises.compose_policy`).
* stack-up (5): every image builds and every container starts.
* proxy-answers (10): ``GET /api/instance`` through port 8080 is answered by an API instance.
* networks (10): networks ``frontend`` and ``backend``; nginx on frontend; PostgreSQL and Redis
  only on backend and not published.
* db-volume (5): PostgreSQL's data directory (PGDATA) is on a named volume.
* load-spread (15): 20 requests are spread over at least two API instances.
* sessions-shared (15): a session's visit counter keeps counting while different instances answer.
* session-in-redis (10): ``redis-cli`` in the Redis container finds the session's key.
* items-stored (10): an item posted through the API is read back and is in PostgreSQL.
* data-survives (10): after ``docker compose down`` (no ``-v``) and ``up``, the rows are there.
* db-wait (5): on that second start PostgreSQL is held back (a stand-in listener on its port
  logs and drops every connection) until each API instance has tried it and then stopped or kept
  going a few seconds (:func:`release_due`); the API must still answer ``GET /api/items``
  without help.

The first start is made easy on purpose (PostgreSQL and Redis are started and awaited first, while
the API images build), so that only db-wait judges how the API copes with a slow database.

The folder's reference/ scores full marks; broken/ (real mistakes) and tricky/ (unusual but
correct) variants hold only the files that differ from reference/, and the verdicts each must get
are listed in tests/exercises/test_a2_grading.py.
"""
from __future__ import annotations

import http.client
import json
import logging
import posixpath
import re
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import docker
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from exercises.compose_policy import (
    compose_file,
    config_json,
    ignored_compose_note,
    policy_problems,
    yaml_problem,
)
from exercises.grading import (
    SUBMISSION_DIR,
    CheckOutcome,
    GradeReport,
    ProgressFn,
    Stopwatch,
    clip,
    files_to_tar,
    in_submission,
    no_progress,
)
from webapp.josa import say

log = logging.getLogger(__name__)

ASSIGNMENT = "a2"
ACCEPTED_FILENAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
WORKDIR = SUBMISSION_DIR
GRADER_DIR = "/srv/bungeo-grader"  # the grader's own files, outside the submission
PROJECT = "a2"
PROXY_PORT = 8080
DEFAULT_PGDATA = "/var/lib/postgresql/data"
# Seconds. Building and pulling on a cold sandbox take most of UP_TIMEOUT_S.
UP_TIMEOUT_S = 150
PROXY_READY_S = 15
SETTLE_S = 12
NGINX_FAIL_TIMEOUT_S = 10.5  # nginx's default fail_timeout (10 s), and a margin
DB_READY_S = 40
DB_DELAY_S = 5  # hold when the API waits for PostgreSQL's healthcheck (Compose starts no API)
ATTEMPT_GRACE_S = 3  # hold after an API container's first attempt to reach the held database
RETRY_SPAN_S = 0.5  # ... or until its attempts span this long (it retries: no need to wait more)
API_HOLD_S = 8  # hold after the API containers started, when no attempt can be observed
DB_HOLD_MAX_S = 30
RELEASE_FILE = "/tmp/bungeo-release"
ATTEMPTS_FILE = "/tmp/bungeo-attempts"  # the held database's stand-in listener writes here
DB_WAIT_S = 30  # after PostgreSQL is let start
DOWN_TIMEOUT_S = 3
HTTP_TIMEOUT_S = 5
REQUESTS_BUDGET_S = 30  # for all the requests of one check
SPREAD_REQUESTS = 20
SPREAD_RETRIES = 2  # load-spread requests that got no answer at all and are asked again
SPREAD_MIN_SHARE = 0.2
VISITS = 6
LOST_VISITS_MAX = 1  # GET /api/visits requests that may get no answer at all (then one more is sent)
MAX_BODY = 64 * 1024

TITLES = {
    "compose-valid": (gettext_lazy("The compose file is valid and allowed"), 5),
    "stack-up": (gettext_lazy("Every service builds and starts"), 5),
    "proxy-answers": (gettext_lazy("nginx answers on port 8080"), 10),
    "networks": (gettext_lazy("Networks frontend and backend; database and Redis only on "
                              "backend"), 10),
    "db-volume": (gettext_lazy("PostgreSQL data in a named volume"), 5),
    "load-spread": (gettext_lazy("Requests are spread over two API instances"), 15),
    "sessions-shared": (gettext_lazy("Both instances share the session"), 15),
    "session-in-redis": (gettext_lazy("The session is stored in Redis"), 10),
    "items-stored": (gettext_lazy("Items are written to and read from PostgreSQL"), 10),
    "data-survives": (gettext_lazy("Data survives docker compose down and up"), 10),
    "db-wait": (gettext_lazy("The API copes with a database that starts late"), 5),
}


# ------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested without Docker)
# ------------------------------------------------------------------------------------------------
def image_repo(ref: str) -> str:
    """The repository name of an image reference without registry, ``library/``, tag or digest:
    ``docker.io/library/postgres:16-alpine`` -> ``postgres``, ``bitnami/redis`` -> ``redis``."""
    ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


@dataclass
class Roles:
    """Which services play which part: ``proxy`` (publishes port 8080), ``db`` (PostgreSQL),
    ``redis`` and ``api`` (every other service). ``None``/empty when missing."""

    proxy: str | None = None
    db: str | None = None
    redis: str | None = None
    api: list[str] = field(default_factory=list)


def port_entries(svc: dict[str, Any], port: int) -> list[dict[str, Any]]:
    """The entries of a resolved service's ``ports`` that publish host ``port`` (as
    ``published``, or inside a range such as ``"8080-8081"``)."""
    out = []
    for p in svc.get("ports") or []:
        published = str(p.get("published") or "")
        if published == str(port) or (published and "-" in published and _in_range(port, published)):
            out.append(p)
    return out


def publishes(svc: dict[str, Any], port: int) -> bool:
    """True when a resolved service publishes host ``port``."""
    return bool(port_entries(svc, port))


def loopback_only(svc: dict[str, Any], port: int) -> str | None:
    """The address when a resolved service publishes host ``port`` only on a loopback address
    (``"127.0.0.1:8080:80"``: Compose's ``host_ip``), else None. Such a port answers inside the
    sandbox only, not to the grader, which connects from outside as a browser would."""
    ips = [str(p.get("host_ip") or "") for p in port_entries(svc, port)]
    loop = [ip for ip in ips if ip in ("127.0.0.1", "::1", "localhost") or ip.startswith("127.")]
    return loop[0] if ips and len(loop) == len(ips) else None


def _in_range(port: int, spec: str) -> bool:
    lo, _sep, hi = spec.partition("-")
    return lo.isdigit() and hi.isdigit() and int(lo) <= port <= int(hi)


def service_roles(config: dict[str, Any], image_env: dict[str, list[str]] | None = None) -> Roles:
    """Find the proxy, database, Redis and API services of a resolved compose ``config``.

    A service is PostgreSQL or Redis by its image's repository name (``postgres``, ``redis``), or
    for a service built from a Dockerfile by the environment its image carries (``PG_MAJOR`` /
    ``REDIS_VERSION``, set by the official images and the classroom's stand-ins), given in
    ``image_env`` (``{service: ["KEY=value", ...]}``). The proxy publishes port 8080, or failing
    that is the nginx service."""
    services = config.get("services") or {}
    image_env = image_env or {}
    roles = Roles()

    def kind(name: str) -> str:
        repo = image_repo(str(services[name].get("image") or ""))
        env_keys = {e.split("=", 1)[0] for e in image_env.get(name, [])}
        if repo == "postgres" or "PG_MAJOR" in env_keys:
            return "db"
        if repo == "redis" or "REDIS_VERSION" in env_keys:
            return "redis"
        if repo == "nginx" or "NGINX_VERSION" in env_keys:
            return "nginx"
        return "other"

    kinds = {name: kind(name) for name in sorted(services)}
    roles.proxy = next((n for n in sorted(services) if publishes(services[n], PROXY_PORT)),
                       next((n for n, k in kinds.items() if k == "nginx"), None))
    roles.db = next((n for n, k in kinds.items() if k == "db"), None)
    roles.redis = next((n for n, k in kinds.items() if k == "redis"), None)
    roles.api = [n for n in sorted(services) if n not in (roles.proxy, roles.db, roles.redis)
                 and kinds[n] not in ("db", "redis")]
    return roles


def network_keys(config: dict[str, Any], actual_names: list[str]) -> set[str]:
    """Map a container's actual network names (``a2_backend``) back to the compose file's keys
    (``backend``) using the resolved config's ``name`` of each network."""
    by_name = {str((spec or {}).get("name") or f"{PROJECT}_{key}"): key
               for key, spec in (config.get("networks") or {}).items()}
    return {by_name.get(n, n) for n in actual_names}


def judge_networks(config: dict[str, Any], roles: Roles, attached: dict[str, set[str]],
                   published: dict[str, list[str]]) -> tuple[bool, str]:
    """The networks check. ``attached`` maps a service to the compose network keys its
    containers are on; ``published`` maps a service to its host port bindings (``"5432/tcp ->
    0.0.0.0:5432"``). Returns (passed, learner message)."""
    declared = set((config.get("networks") or {}).keys())
    missing = [n for n in ("frontend", "backend") if n not in declared]
    if missing:
        return False, say(ngettext("The file does not declare the network %(names)s under the "
                                   "top-level 'networks:' key.",
                                   "The file does not declare the networks %(names)s under the "
                                   "top-level 'networks:' key.", len(missing)),
                          {"names": ", ".join(missing)})
    problems = []
    for label, svc in ((_("PostgreSQL"), roles.db), (_("Redis"), roles.redis)):
        if svc is None:
            problems.append(say(_("There is no %(what)s service."), {"what": label}))
            continue
        if svc not in attached:
            problems.append(say(_("%(service)s (%(what)s) has no container to inspect."),
                                {"service": svc, "what": label}))
            continue
        nets = attached[svc]
        if nets != {"backend"}:
            problems.append(say(_("%(service)s (%(what)s) is on %(nets)s; it must be on backend "
                                  "only."), {"service": svc, "what": label,
                                             "nets": ", ".join(sorted(nets)) or _("no network")}))
        if published.get(svc):
            problems.append(say(_("%(service)s publishes %(ports)s on the host; remove its 'ports:' "
                                  "(the API reaches it over backend)."),
                                {"service": svc, "ports": ", ".join(published[svc])}))
    if roles.proxy is None:
        problems.append(say(_("No service publishes port %(port)s."), {"port": PROXY_PORT}))
    elif roles.proxy not in attached:
        problems.append(say(_("%(service)s (%(what)s) has no container to inspect."),
                            {"service": roles.proxy, "what": "nginx"}))
    elif "frontend" not in attached[roles.proxy]:
        problems.append(say(_("%(service)s (nginx) is not on frontend."), {"service": roles.proxy}))
    if problems:
        return False, " ".join(problems)
    return True, say(_("%(db)s and %(redis)s are only on backend and publish nothing; %(proxy)s is on "
                       "frontend."), {"db": roles.db, "redis": roles.redis, "proxy": roles.proxy})


def data_mount(mounts: list[dict[str, Any]], pgdata: str) -> dict[str, Any] | None:
    """The mount that holds ``pgdata``: the one with the longest destination that is ``pgdata``
    or one of its parents (an image's own VOLUME nested deeper wins, as in the engine)."""
    best = None
    for m in mounts:
        dest = posixpath.normpath(str(m.get("Destination") or ""))
        if pgdata == dest or pgdata.startswith(dest.rstrip("/") + "/"):
            if best is None or len(dest) > len(posixpath.normpath(best["Destination"])):
                best = m
    return best


def judge_db_volume(mount: dict[str, Any] | None, named: bool, pgdata: str) -> tuple[bool, str]:
    """The db-volume check: ``mount`` is :func:`data_mount`'s answer, ``named`` whether that
    volume is one the compose file declares (Compose labels it). Returns (passed, message)."""
    if mount is None:
        return False, say(_("Nothing is mounted on PostgreSQL's data directory %(path)s: its data is "
                            "lost with the container. Mount a named volume there."), {"path": pgdata})
    if mount.get("Type") == "bind":
        return False, say(_("%(path)s is a bind mount of the host folder %(source)s. A2 asks for a "
                            "named volume declared under the top-level 'volumes:' key."), {
               "path": mount.get("Destination"), "source": mount.get("Source")})
    if mount.get("Type") == "volume" and named:
        return True, say(_("PostgreSQL keeps %(path)s on the named volume %(volume)s."), {
               "path": pgdata, "volume": mount.get("Name")})
    return False, say(_("%(path)s is on an anonymous volume, which a new container does not get "
                        "back. Give the volume a name and declare it under the top-level 'volumes:' "
                        "key."), {"path": mount.get("Destination")})


# A line of a crashed program's log that names its error: Node's "error: ..." / "Error: ...",
# Python's last traceback line ("psycopg2.errors.UniqueViolation: ..."), Go's "panic: ...".
ERROR_LINE = re.compile(r"^\s*(?:[\w.]*(?:Error|Exception)|error|fatal|panic)\b[^\n:]*:\s*\S")
ERROR_LINE_MAX = 200  # characters of that line quoted in a message


def crash_line(log_text: str) -> str:
    """The line of a container's log (``docker logs`` text) most likely to name why it stopped:
    the last one that looks like an error message (:data:`ERROR_LINE`; a Node error object's
    fields printed after it are skipped), else the last non-empty line; "" for an empty log.
    At most ERROR_LINE_MAX characters."""
    lines = [ln.rstrip() for ln in log_text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ERROR_LINE.match(ln)]
    line = (errors or lines or [""])[-1].strip()
    return line if len(line) <= ERROR_LINE_MAX else line[: ERROR_LINE_MAX - 1] + "…"


def judge_spread(answers: list[str | None], api_containers: int,
                 stopped: list[tuple[str, int | None, str]] = ()) -> tuple[bool, str]:
    """The load-spread check over the ``instance`` values of SPREAD_REQUESTS answers (None for
    a failed request). Passes when at least two instances each answered at least
    SPREAD_MIN_SHARE of the requests and none failed. ``api_containers`` is how many API
    containers run; ``stopped`` names those that do not, as (container name, exit code or None,
    :func:`crash_line` of its log): when an instance is missing because one stopped, the message
    says which and why instead of asking for a second instance."""
    counts: dict[str, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    failed = sum(1 for a in answers if a is None)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    if failed:
        return False, say(_("%(failed)s of %(n)s requests failed (%(summary)s)."), {
               "failed": failed, "n": len(answers), "summary": summary or "-"})
    if len(counts) < 2:
        if api_containers < 2 and stopped:
            name, code, line = stopped[0]
            if line:
                return False, say(_("Only %(n)s API container runs: %(name)s stopped (exit code "
                                    "%(code)s) with \"%(line)s\". Both instances must keep running; "
                                    "its log is below."), {
                       "n": api_containers, "name": name, "code": code, "line": line})
            return False, say(_("Only %(n)s API container runs: %(name)s stopped (exit code "
                                "%(code)s). Both instances must keep running; its log is below."), {
                   "n": api_containers, "name": name, "code": code})
        if api_containers < 2:
            return False, say(_("Only %(n)s API container runs, so every request went to the same "
                                "instance. A2 asks for two instances (two services, or "
                                "'deploy: replicas: 2')."), {"n": api_containers})
        return False, say(_("All %(n)s requests were answered by one instance (%(summary)s). Does "
                            "nginx list both instances, without sticky sessions such as ip_hash?"), {
               "n": len(answers), "summary": summary})
    top = sorted(counts.values(), reverse=True)
    if top[1] < SPREAD_MIN_SHARE * len(answers):
        return False, say(_("The requests were not spread: %(summary)s."), {"summary": summary})
    return True, say(_("%(n)s requests were answered by %(k)s instances: %(summary)s."), {
           "n": len(answers), "k": len(counts), "summary": summary})


def api_container_state(status: str, restart_policy: str = "no",
                        exit_code: int | None = None) -> str:
    """Where one API container stands, from the engine's ``State.Status``, its
    ``HostConfig.RestartPolicy.Name`` and ``State.ExitCode``: ``"up"`` (running), ``"pending"``
    (it may still come up: created but not started yet, restarting, or exited with a restart
    policy that starts it again: ``always``, ``unless-stopped``, ``on-failure`` after a
    non-zero exit) or ``"gone"`` (exited or dead for good). Docker's restart policies:
    https://docs.docker.com/engine/containers/start-containers-automatically/"""
    if status == "running":
        return "up"
    if status in ("created", "restarting"):
        return "pending"
    if status == "exited" and (restart_policy in ("always", "unless-stopped")
                               or (restart_policy == "on-failure" and exit_code not in (0, None))):
        return "pending"
    return "gone"


def judge_sessions(visits: list[tuple[int | None, str | None]],
                   lost: frozenset[int] = frozenset()) -> tuple[bool, str]:
    """The sessions-shared check over the (visits, instance) answers of consecutive
    ``GET /api/visits`` sent with the session cookie. Passes when the counter goes 1, 2, 3 ...
    without a break and at least two instances answered.

    ``lost`` holds the indexes of requests that got no answer at all (a timeout or a refused
    connection, never an HTTP error): at most LOST_VISITS_MAX of them are forgiven. The server
    may or may not have counted such a request, so across k lost requests the counter may rise
    by 1 to k + 1; everywhere else by exactly 1."""
    answered = [(n, v, i) for n, (v, i) in enumerate(visits) if n not in lost]
    seq = ", ".join("-" if n in lost else f"{v}@{i}" for n, (v, i) in enumerate(visits))
    if len(lost) > LOST_VISITS_MAX or not answered:
        return False, say(_("%(n)d of %(total)d requests to GET /api/visits got no answer at all "
                            "(%(seq)s)."), {"n": len(lost), "total": len(visits), "seq": seq})
    if any(v is None for _n, v, _i in answered):
        return False, say(_("GET /api/visits did not answer JSON such as {\"visits\": 3, "
                            "\"instance\": \"...\"} every time (%(seq)s)."), {"seq": seq})
    counts = [v for _n, v, _i in answered]
    distinct = len({i for _n, _v, i in answered if i})
    # What a shared session gives: 1 first, then +1 per request (+1 or more across a lost one).
    steady, prev_n, prev_v = True, -1, 0
    for n, v, _i in answered:
        skipped = n - prev_n - 1
        if not (prev_v + 1 <= v <= prev_v + 1 + skipped):
            steady = False
        prev_n, prev_v = n, v
    if not steady:
        expected = ", ".join(map(str, range(1, len(visits) + 1)))
        return False, say(ngettext(
            "The visit counter went %(got)s instead of %(expected)s while %(k)s instance "
            "answered: each instance keeps its own sessions. Store them in Redis so that every "
            "instance sees the same session.",
            "The visit counter went %(got)s instead of %(expected)s while %(k)s instances "
            "answered: each instance keeps its own sessions. Store them in Redis so that every "
            "instance sees the same session.", distinct), {
               "got": ", ".join(map(str, counts)), "expected": expected, "k": distinct})
    if distinct < 2:
        return False, say(_("The counter went %(got)s, but one instance answered every request, so "
                            "this does not show that the session is shared."), {
               "got": ", ".join(map(str, counts))})
    msg = say(_("The counter went %(got)s while %(k)s instances answered (%(seq)s)."), {
           "got": ", ".join(map(str, counts)), "k": distinct, "seq": seq})
    if lost:
        msg += " " + _("One request got no answer (a network hiccup on the grading host, not "
                       "counted against you).")
    return True, msg


def session_ids(cookie_value: str) -> list[str]:
    """Strings that identify a session from its cookie's value: the raw value, its URL-decoded
    form and, for signed cookies (express-session: ``s:<id>.<signature>``), the id alone."""
    out = [cookie_value]
    plain = urllib.parse.unquote(cookie_value)
    out.append(plain)
    if plain.startswith("s:"):
        out.append(plain[2:].rsplit(".", 1)[0])
    return [s for s in dict.fromkeys(out) if len(s) >= 8]


# Every key of every Redis database that holds any (INFO keyspace lists them: "db1:keys=3,..."),
# as lines "<database> <key>": an app may keep its sessions in database 1 (redis://redis/1).
# An error of redis-cli (NOAUTH ...) is printed and the script fails.
REDIS_KEYS_SCRIPT = (
    "info=$(redis-cli INFO keyspace 2>&1) || { echo \"$info\"; exit 1; }; "
    "case $info in *NOAUTH*|*ERR*|*\"Could not connect\"*) echo \"$info\"; exit 1;; esac; "
    "for db in $(echo \"$info\" | sed -n 's/^db\\([0-9][0-9]*\\):.*/\\1/p'); do "
    "redis-cli -n \"$db\" --scan | sed \"s/^/$db /\"; done | head -n 5000")


def parse_db_keys(output: str) -> list[tuple[int, str]]:
    """``[(database, key)]`` from REDIS_KEYS_SCRIPT's lines ``<database> <key>``."""
    out = []
    for line in output.splitlines():
        db, sep, key = line.partition(" ")
        if sep and db.isdigit() and key.strip():
            out.append((int(db), key))
    return out


def matching_keys(ids: list[str], keys: list[str]) -> list[str]:
    """The Redis keys that contain one of the session ``ids``."""
    return [k for k in keys if any(i in k for i in ids)]


def contains_token(value: Any, token: str) -> bool:
    """True when ``token`` appears as (part of) a string anywhere in a decoded JSON value."""
    if isinstance(value, str):
        return token in value
    if isinstance(value, dict):
        return any(contains_token(v, token) for v in value.values())
    if isinstance(value, list):
        return any(contains_token(v, token) for v in value)
    return False


_NOT_CACHED = re.compile(r"request to \S*?/(@[^/\s]+%2[fF][^/\s]+|@[^/\s]+/[^/\s]+|[^/\s@]+)"
                         r"(?:/-/\S*)? failed[,:].{0,40}only-if-cached")


def npm_not_cached(output: str) -> list[str]:
    """Package names npm could not find in the offline cache, from a build's output
    (npm's ENOTCACHED: "request to <registry>/<name> failed: cache mode is 'only-if-cached'")."""
    names = [urllib.parse.unquote(m.group(1)) for m in _NOT_CACHED.finditer(output)]
    return sorted(set(names))


def missing_images(config: dict[str, Any], available: set[str]) -> list[str]:
    """Images the services pull (``image:`` without ``build:``) that the offline classroom does
    not serve; ``available`` holds ``name:tag`` references such as ``redis:7-alpine``."""
    out = []
    for svc in (config.get("services") or {}).values():
        ref = str(svc.get("image") or "")
        if not ref or svc.get("build"):
            continue
        name, _sep, tag = ref.partition(":")
        name = name.removeprefix("docker.io/").removeprefix("library/")
        if f"{name}:{tag or 'latest'}" not in available:
            out.append(ref)
    return sorted(set(out))


def image_name(config: dict[str, Any], service: str) -> str:
    """The image a service runs: its ``image:``, or the name Compose gives a built image
    (``<project>-<service>``)."""
    svc = (config.get("services") or {}).get(service) or {}
    return str(svc.get("image") or f"{PROJECT}-{service}")


def build_groups(config: dict[str, Any]) -> list[list[str]]:
    """Services that build, grouped by identical ``build`` sections (sorted names; the first of
    each group is the one to build)."""
    groups: dict[str, list[str]] = {}
    for name, svc in sorted((config.get("services") or {}).items()):
        if svc.get("build"):
            groups.setdefault(json.dumps(svc["build"], sort_keys=True), []).append(name)
    return list(groups.values())


_BASE_MISSING = re.compile(r"failed to resolve source metadata for (\S+?):\s")
# What Compose prints when a service's build folder does not exist.
_CONTEXT_MISSING = re.compile(r'unable to prepare context: path "([^"]+)" not found')
def build_contexts_missing(output: str, config: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The build folders that Compose could not find, from its output: ``(path relative to the
    submission, sorted names of the services that build from it)``, in the order reported."""
    out: list[tuple[str, list[str]]] = []
    for path in dict.fromkeys(m.group(1) for m in _CONTEXT_MISSING.finditer(output)):
        services = sorted(
            name for name, svc in (config.get("services") or {}).items()
            if posixpath.normpath(str(((svc or {}).get("build") or {}).get("context") or ""))
            == posixpath.normpath(path))
        out.append((in_submission(path), services))
    return out


def base_images_missing(output: str) -> list[str]:
    """Base images (``FROM``) a build could not find, from BuildKit's output, shortened to the
    names learners write (``docker.io/library/node:20-alpine`` -> ``node:20-alpine``)."""
    return sorted({m.group(1).removeprefix("docker.io/").removeprefix("library/")
                   for m in _BASE_MISSING.finditer(output)})


def proc_net_listens(text: str) -> bool:
    """True when the rows of /proc/net/tcp and /proc/net/tcp6 (proc(5): local address in hex,
    little-endian per 32-bit word; state 0A is LISTEN) show a listening socket on an address
    other than loopback. Every container has one on 127.0.0.11 (Docker's DNS server), which
    does not count, nor does an app that listens on 127.0.0.1 only."""
    for row in (ln.split() for ln in text.splitlines()):
        if len(row) < 4 or row[3] != "0A" or ":" not in row[1]:
            continue
        addr = row[1].split(":", 1)[0].upper()
        loopback = ((len(addr) == 8 and addr.endswith("7F"))  # 127.0.0.0/8
                    or addr == "00000000000000000000000001000000"  # ::1
                    or (addr.startswith("0000000000000000FFFF0000") and addr.endswith("7F")))
        if not loopback:
            return True
    return False


def tail_lines(text: str, n: int = 4) -> str:
    """The last ``n`` non-empty lines of a command's output."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


# The held database's stand-in listener (Perl; the postgres stand-in has perl and its core
# IO::Socket::INET). It listens on PostgreSQL's port, writes "<epoch s> listening" once, then one
# "<epoch s> <peer address>" line per connection and closes each at once: a client sees its
# connection fail as it would against a database that is still starting.
_LISTENER = (
    '$SIG{TERM} = sub { exit 0 }; '
    'sub note { open(my $f, ">>", $ARGV[1]) or return; print $f "@_\\n"; close $f } '
    'my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ARGV[0], '
    'Listen => 128, ReuseAddr => 1, Proto => "tcp") or exit 1; '
    'note(sprintf("%.3f listening", time)); '
    'while (1) { my $c = $s->accept or next; '
    'note(sprintf("%.3f %s", time, $c->peerhost)); close $c }'
)


def hold_override(service: str, path: str, args: list[str], max_s: int) -> str:
    """A compose override (JSON is YAML) that starts ``service``'s usual process (``path`` and
    ``args``, as the engine ran it) only once the file RELEASE_FILE exists in its container, or
    after ``max_s`` seconds. Meanwhile, when the image has perl, a listener on PostgreSQL's port
    (``$PGPORT``, default 5432) logs every connection attempt to ATTEMPTS_FILE (see
    :func:`parse_attempts`) and closes it; it is stopped before the usual process starts. ``$``
    is doubled: Compose interpolates variables in every file."""
    def esc(s: str) -> str:
        return s.replace("$", "$$")

    wait = (f': > {ATTEMPTS_FILE}; l=; '
            'if command -v perl >/dev/null 2>&1; then '
            f"perl -MIO::Socket::INET -MTime::HiRes=time -e '{_LISTENER}' "
            f'"${{PGPORT:-5432}}" {ATTEMPTS_FILE} & l=$!; fi; '
            f'i=0; while [ ! -e {RELEASE_FILE} ] && [ $i -lt {int(max_s) * 10} ]; '
            'do sleep 0.1; i=$((i+1)); done; '
            'if [ -n "$l" ]; then kill "$l" 2>/dev/null; wait "$l" 2>/dev/null; fi; exec "$@"')
    return json.dumps({"services": {service: {
        "entrypoint": ["sh", "-c", esc(wait), "bungeo-hold"],
        "command": [esc(path), *map(esc, args)],
    }}}, indent=1)


def parse_attempts(text: str) -> tuple[float | None, list[tuple[float, str]]]:
    """Read ATTEMPTS_FILE as the held database's listener wrote it: (the epoch time it started
    listening, or None when it never did; [(epoch time, peer IP address)] of each connection
    attempt, in order). Malformed lines are skipped."""
    listening: float | None = None
    attempts: list[tuple[float, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            t = float(parts[0])
        except ValueError:
            continue
        if parts[1] == "listening":
            listening = t if listening is None else listening
        else:
            attempts.append((t, parts[1]))
    return listening, attempts


@dataclass
class ApiWatch:
    """What the grader saw of one API container while PostgreSQL was held back. Times are
    ``time.monotonic()`` seconds when the grader first saw the fact.

    ``started``: first seen not "created"; ``first_attempt``/``attempts``: its connection
    attempts to the held database (matched by its IP addresses); ``span_s``: seconds between its
    first and last attempt (the listener's clock); ``stopped``: it exited or was restarted
    since; ``gone``: it exited and its restart policy will not start it again."""

    name: str
    started: float | None = None
    first_attempt: float | None = None
    attempts: int = 0
    span_s: float = 0.0
    stopped: bool = False
    gone: bool = False

    def settled(self, now: float) -> bool:
        """Nothing more to wait for: it tried the database and then stopped, tried again at
        least RETRY_SPAN_S seconds later (it retries) or kept running ATTEMPT_GRACE_S seconds; or
        it is gone for good."""
        if self.gone:
            return True
        return self.first_attempt is not None and (
            self.stopped or self.span_s >= RETRY_SPAN_S
            or now - self.first_attempt >= ATTEMPT_GRACE_S)


def release_due(now: float, held_since: float | None, apis: list[ApiWatch], n_expected: int,
                up_done: bool, listening: bool) -> str | None:
    """Whether to let the held-back PostgreSQL start: the reason (a short English phrase for the
    evidence) or None to keep holding. Times from ``time.monotonic()``.

    ``apis`` are the API containers seen so far, ``n_expected`` how many must start while the
    database is held (those whose service does not wait for PostgreSQL's healthcheck with
    ``depends_on: condition: service_healthy``), ``listening`` whether the held database's
    listener runs (see :func:`hold_override`). Released:

    * once every expected API container has tried the database and then stopped, retried or
      kept running ATTEMPT_GRACE_S seconds (:meth:`ApiWatch.settled`): evidence, not wall time,
      so a slow start under load cannot hide an API that gives up;
    * without a listener: API_HOLD_S after the last expected API container started;
    * when no API container is expected to start (Compose waits for the healthcheck): after
      DB_DELAY_S;
    * after DB_HOLD_MAX_S in any case, or when ``docker compose up`` has ended (failed) while
      no API container started."""
    if held_since is None:
        return "docker compose up ended" if up_done else None
    started = [a for a in apis if a.started is not None]
    if now - held_since >= DB_HOLD_MAX_S:
        return f"{DB_HOLD_MAX_S} s passed"
    if n_expected <= 0 and not started:
        if now - held_since >= DB_DELAY_S:
            return "the API waits for PostgreSQL's healthcheck"
        return "docker compose up ended" if up_done else None
    if started and len(started) >= n_expected:
        if listening:
            if all(a.settled(now) for a in started):
                return "every API container tried the database"
        elif now - max(a.started for a in started if a.started is not None) >= API_HOLD_S:
            return f"{API_HOLD_S} s after the API started (attempts not observable)"
    if up_done and not started:
        return "docker compose up ended"
    return None


def describe_hold(apis: list[ApiWatch], listening: float | None,
                  attempts: list[tuple[float, str]], names: dict[str, str]) -> str:
    """The db-wait evidence of the hold: each API container's attempts, and other peers.
    ``names`` maps a peer IP address to its API container's name."""
    if listening is None:
        return "connection attempts: not observable (the database image has no perl)"
    lines = [f"connection attempts to the held database: {len(attempts)}"]
    for a in apis:
        times = [f"+{t - listening:.1f}" for t, ip in attempts if names.get(ip) == a.name]
        state = "gone" if a.gone else "stopped/restarted" if a.stopped else "running"
        lines.append(f"  {a.name}: {len(times)} attempt(s) at {', '.join(times[:8]) or '-'} s; "
                     f"then {state}")
    others = sorted({ip for _t, ip in attempts if ip not in names})
    if others:
        lines.append(f"  other peers (not API containers): {', '.join(others)}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Observing (I/O)
# ------------------------------------------------------------------------------------------------
@dataclass
class HttpAnswer:
    """One HTTP exchange with the proxy: ``status`` 0 when no answer came (``error`` says why)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    cookies: list[str] = field(default_factory=list)
    error: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        if not self.status:
            return f"no answer: {self.error}"
        server = self.headers.get("server", "")
        return f"HTTP {self.status}{f' (Server: {server})' if server else ''} {clip(self.body, 300)}"


def http_request(host: str, method: str, path: str, *, body: Any = None,
                 cookie: str | None = None) -> HttpAnswer:
    """Send one request to ``host``:PROXY_PORT and read at most MAX_BODY bytes of the answer."""
    conn = http.client.HTTPConnection(host, PROXY_PORT, timeout=HTTP_TIMEOUT_S)
    headers = {"Accept": "application/json", "Connection": "close"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if cookie:
        headers["Cookie"] = cookie
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read(MAX_BODY)
        return HttpAnswer(status=resp.status,
                          headers={k.lower(): v for k, v in resp.getheaders()},
                          body=raw.decode(errors="replace"),
                          cookies=resp.headers.get_all("Set-Cookie") or [])
    except (OSError, http.client.HTTPException) as exc:
        return HttpAnswer(error=str(exc) or exc.__class__.__name__)
    finally:
        conn.close()


class Stack:
    """The submitted project in a grading sandbox: compose commands and the inner engine."""

    def __init__(self, backend, sandbox, compose_name: str):
        self.backend, self.sandbox = backend, sandbox
        self.files = ["-f", compose_name]
        self.inner = backend.inner_client(sandbox.id, timeout=60)

    def compose(self, *args: str, timeout: float = 60):
        return self.backend.exec(self.sandbox.id, ["docker", "compose", "-p", PROJECT,
                                                   *self.files, *args],
                                 workdir=WORKDIR, timeout=timeout)

    def containers(self, service: str | None = None) -> list:
        labels = [f"com.docker.compose.project={PROJECT}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        try:
            return sorted(self.inner.containers.list(all=True, filters={"label": labels}),
                          key=lambda c: c.name)
        except docker.errors.APIError:
            return []

    def first(self, service: str | None):
        if not service:
            return None
        running = [c for c in self.containers(service) if c.status == "running"]
        return running[0] if running else None

    def run(self, service: str | None, argv: list[str], env: dict[str, str] | None = None
            ) -> tuple[int, str]:
        """Run ``argv`` in the service's running container: (exit code, output, at most
        MAX_BODY bytes); (-1, why) when there is no running container."""
        c = self.first(service)
        if c is None:
            return -1, say(_("%(service)s is not running."), {"service": service})
        try:
            res = c.exec_run(argv, environment=env or {}, demux=False)
        except docker.errors.APIError as exc:
            return -1, str(exc)
        return res.exit_code, (res.output or b"")[:MAX_BODY].decode(errors="replace")

    def sh(self, service: str | None, script: str, env: dict[str, str] | None = None
           ) -> tuple[int, str]:
        """:meth:`run` of ``sh -c script`` (the grader's own scripts only)."""
        return self.run(service, ["sh", "-c", script], env)

    def listens(self, container) -> bool:
        """True when a process in ``container`` listens on a TCP port that other containers can
        reach (see :func:`proc_net_listens`); also True when that cannot be read, so that an
        image without ``cat`` is simply not waited for."""
        try:
            res = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        except docker.errors.APIError:
            return True
        if res.exit_code not in (0, 1) or not res.output:
            return True
        return proc_net_listens(res.output.decode(errors="replace"))

    def pg_ready(self, service: str | None, deadline: float) -> bool:
        """Wait until PostgreSQL in ``service`` accepts TCP connections, until ``deadline``
        (``time.monotonic()``)."""
        while time.monotonic() < deadline:
            code, _out = self.sh(service, 'pg_isready -q -h 127.0.0.1 -U "${POSTGRES_USER:-postgres}"')
            if code == 0:
                return True
            containers = self.containers(service)
            if not containers or all(c.status in ("exited", "dead") for c in containers):
                return False
            time.sleep(0.3)
        return False

    def ps(self) -> str:
        rows = []
        for c in self.containers():
            try:
                c.reload()
            except docker.errors.NotFound:  # removed meanwhile (a restart policy, a crash)
                continue
            st = c.attrs.get("State") or {}
            oom = ", killed for lack of memory" if st.get("OOMKilled") else ""
            rows.append(f"{c.name}: {st.get('Status')} (exit {st.get('ExitCode')}, restarts "
                        f"{c.attrs.get('RestartCount', 0)}{oom})")
        return "\n".join(rows)

    def log_of(self, container, tail: int = 20) -> str:
        """The last ``tail`` lines of one container's log (stdout and stderr), "" if unreadable."""
        try:
            return container.logs(stdout=True, stderr=True, tail=tail).decode(errors="replace")
        except docker.errors.APIError:
            return ""

    def logs(self, service: str | None, tail: int = 20) -> str:
        out = []
        for c in self.containers(service):
            out.append(f"--- {c.name} (last {tail} lines)\n{self.log_of(c, tail).rstrip()}")
        return "\n".join(out)

    def close(self) -> None:
        self.inner.close()


PSQL = ('psql -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}" '
        '-d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" -tA')
DUMP = 'pg_dumpall -U "${POSTGRES_USER:-postgres}" --data-only'


# ------------------------------------------------------------------------------------------------
# Grading
# ------------------------------------------------------------------------------------------------
def _outcome(check_id: str) -> CheckOutcome:
    title, pts = TITLES[check_id]
    return CheckOutcome(id=check_id, title=str(title), max_points=pts)


def _pass(o: CheckOutcome, message: str, evidence: str = "") -> CheckOutcome:
    """Record a passed check; paths in the grading sandbox are shown relative to the
    submission (:func:`in_submission`), as the learner knows them."""
    o.passed, o.points = True, o.max_points
    o.message, o.evidence = in_submission(message), in_submission(clip(evidence))
    return o


def _fail(o: CheckOutcome, message: str, evidence: str = "") -> CheckOutcome:
    """Record a failed check; paths as in :func:`_pass`."""
    o.passed, o.points = False, 0.0
    o.message, o.evidence = in_submission(message), in_submission(clip(evidence))
    return o


class _Run:
    """One grading run: the outcomes, the progress callback and the state checks share."""

    def __init__(self, progress: ProgressFn):
        self.progress = progress
        self.outcomes = {cid: _outcome(cid) for cid in TITLES}
        self.done: set[str] = set()
        # A line added to a check's message when it finishes (which compose file was graded).
        self.notes: dict[str, str] = {}

    def start(self, cid: str) -> CheckOutcome:
        self.progress(cid, "running", None)
        return self.outcomes[cid]

    def finish(self, cid: str) -> None:
        self.done.add(cid)
        o = self.outcomes[cid]
        if self.notes.get(cid):
            o.message = f"{o.message} {self.notes[cid]}".strip()
        self.progress(cid, "done", o)

    def skip(self, cids: list[str], why: str, evidence: str = "") -> None:
        for cid in cids:
            if cid not in self.done:
                _fail(self.outcomes[cid], why, evidence)
                self.finish(cid)

    def skip_rest(self, why: str) -> None:
        self.skip([c for c in TITLES if c not in self.done], why)


def grade(files: dict[str, bytes], backend, progress: ProgressFn = no_progress,
          *, owner: str = "cli") -> GradeReport:
    """Grade one A2 submission (``{relative path: content}``) in a fresh sandbox of ``backend``.

    Messages are in the active language (wrap the call in ``translation.override``). Returns the
    report; raises ``SandboxError`` (infrastructure) if no sandbox can be had. The sandbox is
    removed afterwards, also on failure.
    """
    watch = Stopwatch()
    report = GradeReport(assignment=ASSIGNMENT)
    run = _Run(progress)
    report.checks = list(run.outcomes.values())
    compose_name, ignored = compose_file(files, ACCEPTED_FILENAMES)
    if compose_name is not None:
        run.notes["compose-valid"] = ignored_compose_note(compose_name, ignored)

    o = run.start("compose-valid")
    if compose_name is None:
        _fail(o, say(_("No compose file found at the top of the submission. Name it one of: "
                       "%(names)s."), {"names": ", ".join(ACCEPTED_FILENAMES)}),
              "files: " + ", ".join(sorted(files)))
        run.finish("compose-valid")
        run.skip_rest(_("Skipped: there is no compose file to run."))
        report.duration_s = watch()
        return report
    problem = yaml_problem(files[compose_name])
    if problem:
        _fail(o, problem)
        run.finish("compose-valid")
        run.skip_rest(_("Skipped: the compose file is not valid."))
        report.duration_s = watch()
        return report

    sandbox = backend.create_fresh(owner=owner)
    stack = None
    try:
        backend.put_archive(sandbox.id, WORKDIR, files_to_tar(files))
        stack = Stack(backend, sandbox, compose_name)
        _grade_in_sandbox(run, stack, compose_name)
    finally:
        if stack is not None:
            stack.close()
        try:
            backend.remove(sandbox.id, keep_workspace=False)
        except Exception as exc:  # noqa: BLE001 - never hide the grading result
            log.error("could not remove grading sandbox %s: %s", sandbox.id, exc)
    report.duration_s = watch()
    return report


def _grade_in_sandbox(run: _Run, stack: Stack, compose_name: str) -> None:
    o = run.outcomes["compose-valid"]
    cfg = stack.compose("config", "--format", "json", timeout=30)
    if cfg.exit_code != 0:
        why = (_("it took too long to read") if cfg.timed_out
               else tail_lines(cfg.output, 3) or f"exit code {cfg.exit_code}")
        _fail(o, say(_("docker compose cannot read the file: %(why)s"), {"why": why}), cfg.output)
        run.finish("compose-valid")
        run.skip_rest(_("Skipped: the compose file is not valid."))
        return
    # Compose prints warnings (such as "the attribute `version` is obsolete") into the same
    # output as the JSON: config_json finds the JSON among them.
    config = config_json(cfg.output)
    if not isinstance(config.get("services"), dict) or not config["services"]:
        # Never judge the policy on an empty config: it would allow anything.
        _fail(o, say(_("docker compose printed no services for the file: %(why)s"), {
               "why": tail_lines(cfg.output, 3) or "-"}), clip(cfg.output, 2000))
        run.finish("compose-valid")
        run.skip_rest(_("Skipped: the compose file is not valid."))
        return
    refusals = policy_problems(config, WORKDIR)
    if refusals:
        _fail(o, say(_("The classroom refuses this file, so nothing was started: %(why)s"),
                     {"why": " ".join(refusals)}), clip(cfg.output, 2000))
        run.finish("compose-valid")
        run.skip_rest(_("Skipped: the compose file asks for something the classroom refuses."))
        return
    _pass(o, say(_("docker compose reads %(file)s and it asks for nothing the classroom refuses."),
                 {"file": compose_name}), clip(cfg.output, 2000))
    run.finish("compose-valid")

    roles = service_roles(config)
    if not _stack_up(run, stack, config, roles):
        return
    # Services built from a Dockerfile (FROM postgres, FROM redis ...) show their part in their
    # image's environment.
    image_env = {}
    for c in stack.containers():
        svc = c.labels.get("com.docker.compose.service", "")
        image_env.setdefault(svc, list(c.attrs.get("Config", {}).get("Env") or []))
    roles = service_roles(config, image_env)
    host = stack.sandbox.address
    first = _proxy_answers(run, stack, config, roles, host)
    _networks(run, stack, config, roles)
    _db_volume(run, stack, roles)
    if first is None:
        run.skip(["load-spread", "sessions-shared", "session-in-redis", "items-stored"],
                 say(_("Skipped: nginx does not answer on port %(port)s."), {"port": PROXY_PORT}))
        token = None
    else:
        _load_spread(run, stack, roles, host)
        cookie_ids = _sessions_shared(run, stack, roles, host)
        _session_in_redis(run, stack, roles, cookie_ids)
        token = _items_stored(run, stack, roles, host)
    _restart_checks(run, stack, config, roles, host, token, api_ok=first is not None)


def _stack_up(run: _Run, stack: Stack, config: dict, roles: Roles) -> bool:
    o = run.start("stack-up")
    services = config.get("services") or {}
    prestart = [n for n in (roles.db, roles.redis) if n and not services[n].get("build")]
    outputs: list[str] = []

    def pull_and_prestart() -> str:
        out = stack.compose("pull", "--quiet", "--ignore-buildable", timeout=UP_TIMEOUT_S).output
        if prestart:
            res = stack.compose("up", "-d", "--no-build", "--no-deps", *prestart,
                                timeout=UP_TIMEOUT_S)
            out += res.output
            if res.exit_code == 0 and roles.db in prestart:
                stack.pg_ready(roles.db, time.monotonic() + DB_READY_S)
        return out

    def build() -> tuple[int, str]:
        # Services with the same build (two API services from ./api) need one build: the
        # others get its image under their own name, as if Compose had built them too.
        groups = build_groups(config)
        if not groups:
            return 0, ""
        res = stack.compose("build", *[g[0] for g in groups], timeout=UP_TIMEOUT_S)
        out = res.output
        for group in groups:
            for other in group[1:]:
                if image_name(config, other) != image_name(config, group[0]):
                    tag = stack.backend.exec(stack.sandbox.id, [
                        "docker", "tag", image_name(config, group[0]), image_name(config, other)],
                        timeout=30)
                    out += f"\n$ docker tag ({other}): {tag.output.strip() or 'ok'}"
        return res.exit_code, out

    with ThreadPoolExecutor(max_workers=2) as pool:
        pulled = pool.submit(pull_and_prestart)
        built = pool.submit(build)
        outputs.append(pulled.result())
        build_code, build_out = built.result()
    outputs.append(build_out)
    up = stack.compose("up", "-d", "--no-build", timeout=UP_TIMEOUT_S)
    outputs.append(up.output)
    ps = stack.ps()
    evidence = tail_lines("\n".join(outputs), 30) + "\n\n" + ps
    containers = stack.containers()
    running = [c for c in containers if c.status == "running"]
    if build_code != 0:
        missing = npm_not_cached(build_out)
        bases = base_images_missing(build_out)
        contexts = build_contexts_missing(build_out, config)
        if contexts:
            why = " ".join(
                say(_("the build folder %(path)s (of %(services)s) is not in your submission: add "
                      "that folder with its Dockerfile, or fix the service's 'build:' path."), {
                       "path": path, "services": ", ".join(services) or "-"})
                for path, services in contexts)
        elif bases:
            why = say(ngettext("the base image %(images)s in a Dockerfile is not in the "
                               "classroom (there is no internet here); use one of the tags the "
                               "handout lists.",
                               "the base images %(images)s in a Dockerfile are not in the "
                               "classroom (there is no internet here); use one of the tags the "
                               "handout lists.", len(bases)), {"images": ", ".join(bases)})
        elif missing:
            why = say(_("npm could not find %(packages)s in the course's offline package cache (there "
                        "is no internet here). Use the packages the handout lists; if package.json "
                        "changed, run npm install again so that package-lock.json matches it."), {
                   "packages": ", ".join(missing)})
        elif build_out and "timed out" not in build_out and build_code != 124:
            why = say(_("an image does not build: %(why)s"), {"why": tail_lines(build_out, 6)})
        else:
            why = say(_("building took longer than %(s)s s."), {"s": UP_TIMEOUT_S})
        _fail(o, say(_("The images could not be built: %(why)s"), {"why": why}),
              clip(build_out, 3000) + "\n\n" + ps)
    elif up.exit_code != 0 or not containers or len(running) < len(containers):
        from webapp.sandboxes.images import standin_tags

        missing = missing_images(config, set(standin_tags()))
        if missing:
            why = say(ngettext("the image %(images)s is not in the classroom (there is no "
                               "internet here); use one of the tags the handout lists.",
                               "the images %(images)s are not in the classroom (there is no "
                               "internet here); use one of the tags the handout lists.",
                               len(missing)), {"images": ", ".join(missing)})
        elif up.timed_out:
            why = say(_("docker compose up did not finish within %(s)s s."), {"s": UP_TIMEOUT_S})
        else:
            stopped = [c.name for c in containers if c.status != "running"]
            why = (tail_lines(up.output, 4) if up.exit_code != 0
                   else say(_("%(names)s stopped right after starting; see its log in the evidence."),
                            {"names": ", ".join(stopped)}))
            evidence += "\n\n" + "\n".join(
                stack.logs(c.labels.get("com.docker.compose.service"), 15)
                for c in containers if c.status != "running")
        _fail(o, say(_("Not every container is running: %(why)s"), {"why": why}), evidence)
    else:
        _pass(o, say(_("%(n)s containers are running: %(names)s."), {
               "n": len(running), "names": ", ".join(c.name for c in running)}), evidence)
    run.finish("stack-up")
    if not running:
        run.skip_rest(_("Skipped: no container is running."))
        return False
    return True


def _api_containers(stack: Stack, roles: Roles) -> list:
    return [c for s in roles.api for c in stack.containers(s)]


def _api_state(c) -> str:
    """:func:`api_container_state` of a container of the inner engine."""
    state = c.attrs.get("State") or {}
    policy = ((c.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
    return api_container_state(c.status, policy, state.get("ExitCode"))


def _wait_apis_listen(stack: Stack, roles: Roles, deadline: float) -> None:
    """Wait until ``deadline`` (``time.monotonic()``) at most for every API container that may
    still come up to run and listen on a port: one still being started, or restarted by its
    restart policy while PostgreSQL gets ready, counts as well as one already running. Containers
    gone for good are not waited for, so a submission with one API instance is not slowed down."""
    while True:
        waiting = [c for c in _api_containers(stack, roles)
                   if (st := _api_state(c)) == "pending" or (st == "up" and not stack.listens(c))]
        if not waiting or time.monotonic() >= deadline:
            return
        time.sleep(0.3)


def _proxy_answers(run: _Run, stack: Stack, config: dict, roles: Roles, host: str
                   ) -> HttpAnswer | None:
    """Wait for ``GET /api/instance`` through port 8080; returns the first good answer."""
    o = run.start("proxy-answers")
    services = config.get("services") or {}
    if not roles.proxy or not publishes(services.get(roles.proxy) or {}, PROXY_PORT):
        ports = [f"{n}: {p.get('published')}->{p.get('target')}" for n, s in services.items()
                 for p in s.get("ports") or []]
        _fail(o, say(_("No service publishes port %(port)s on the host. Publish nginx's port 80 as "
                       "\"%(port)s:80\"."), {"port": PROXY_PORT}),
              say(_("published ports: %(ports)s"), {"ports": ", ".join(ports) or "-"}))
        run.finish("proxy-answers")
        return None
    loopback = loopback_only(services[roles.proxy], PROXY_PORT)
    if loopback:
        _fail(o, say(_("%(service)s publishes port %(port)s on %(ip)s only, so it answers only inside "
                       "the sandbox. The grader connects from outside, as a browser on another "
                       "machine would: publish it on every interface, \"%(port)s:80\"."), {
                  "service": roles.proxy, "port": PROXY_PORT, "ip": loopback}),
              json.dumps(services[roles.proxy].get("ports"), indent=1))
        run.finish("proxy-answers")
        return None
    deadline = time.monotonic() + PROXY_READY_S
    # A request that nginx cannot pass on marks the instance as failed for fail_timeout, in each
    # nginx worker separately: first wait until every API container listens on a port,
    # including one that a slow machine is still starting or restarting.
    _wait_apis_listen(stack, roles, deadline)
    answer = HttpAnswer()
    last_failure = None
    while True:
        answer = http_request(host, "GET", "/api/instance")
        data = answer.json()
        if answer.status == 200 and isinstance(data, dict) and isinstance(data.get("instance"),
                                                                          str):
            break
        last_failure = time.monotonic()
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    evidence = f"GET /api/instance -> {answer.describe()}"
    data = answer.json()
    if answer.status == 200 and isinstance(data, dict) and isinstance(data.get("instance"), str):
        # nginx puts aside for fail_timeout (10 s) an instance that failed while it was still
        # starting: wait until every running instance has answered once (or SETTLE_S passed)
        # so that load-spread measures nginx's balancing, not the start-up.
        # An instance still starting or restarting is expected too (not one gone for good).
        def expected_now() -> int:
            return len([c for c in _api_containers(stack, roles) if _api_state(c) != "gone"])

        expected = expected_now()
        seen = {data["instance"]}
        settle = time.monotonic() + SETTLE_S
        while len(seen) < expected and time.monotonic() < settle:
            time.sleep(0.3)
            expected = expected_now()
            a = http_request(host, "GET", "/api/instance")
            d = a.json()
            if a.status == 200 and isinstance(d, dict) and isinstance(d.get("instance"), str):
                seen.add(d["instance"])
            else:
                last_failure = time.monotonic()
        if last_failure is not None:
            # Another nginx worker may still hold an instance aside: let fail_timeout pass.
            time.sleep(max(0.0, last_failure + NGINX_FAIL_TIMEOUT_S - time.monotonic()))
        evidence += (f"\ninstances seen before measuring: {', '.join(sorted(seen))} "
                     f"({expected} API container(s) running)\n\n{stack.logs(roles.proxy, 10)}")
        _pass(o, say(_("nginx on port %(port)s answered GET /api/instance: %(body)s."), {
               "port": PROXY_PORT, "body": clip(answer.body, 200)}), evidence)
        run.finish("proxy-answers")
        return answer
    proxy_log = stack.logs(roles.proxy, 30)
    # nginx names the address it failed to reach once; later lines only say "no live upstreams".
    full_log = stack.logs(roles.proxy, 2000)
    if not answer.status:
        msg = say(_("Nothing answered on port %(port)s (%(error)s). Is nginx running, and is its "
                    "port 80 published as \"%(port)s:80\"?"), {"port": PROXY_PORT,
                                                              "error": answer.error})
    elif answer.status in (502, 504) and re.search(r"upstream: \"?https?://(127\.0\.0\.1|"
                                                   r"localhost|\[::1\])", full_log):
        msg = say(_("nginx answered %(status)s: it sends requests to localhost, which inside the "
                    "nginx container is nginx itself. Point proxy_pass (or the upstream's servers) "
                    "at the API services by their names, such as api1:3000."), {
               "status": answer.status})
    elif answer.status in (502, 504):
        msg = say(_("nginx answered %(status)s: it cannot reach the API. Do the upstream's names and "
                    "port match the API services, are they running, and do they share a network "
                    "with nginx?"), {"status": answer.status})
    elif answer.status == 200:
        msg = say(_("GET /api/instance answered %(body)s; the contract asks for JSON such as "
                    "{\"instance\": \"<the container's hostname>\"}."), {
               "body": clip(answer.body, 200)})
    else:
        msg = say(_("GET /api/instance answered HTTP %(status)s. Does nginx pass /api/ to the API "
                    "unchanged, and does the API serve GET /api/instance?"), {
               "status": answer.status})
    _fail(o, msg, f"GET /api/instance -> {answer.describe()}\n\n{proxy_log}\n\n"
          f"{stack.logs(roles.api[0] if roles.api else None, 10)}")
    run.finish("proxy-answers")
    return None


def _networks(run: _Run, stack: Stack, config: dict, roles: Roles) -> None:
    o = run.start("networks")
    attached: dict[str, set[str]] = {}
    published: dict[str, list[str]] = {}
    lines = []
    for c in stack.containers():
        svc = c.labels.get("com.docker.compose.service", "")
        nets = list((c.attrs.get("NetworkSettings") or {}).get("Networks") or {})
        keys = network_keys(config, nets)
        attached.setdefault(svc, set()).update(keys)
        bindings = (c.attrs.get("HostConfig") or {}).get("PortBindings") or {}
        for port, binds in bindings.items():
            for b in binds or []:
                published.setdefault(svc, []).append(
                    f"{port} -> {b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
        lines.append(f"{c.name}: networks {', '.join(nets) or '-'}; published "
                     f"{', '.join(published.get(svc, [])) or '-'}")
    ok, msg = judge_networks(config, roles, attached, published)
    excerpt = json.dumps({"networks": config.get("networks"),
                          "services": {n: {"networks": s.get("networks"), "ports": s.get("ports")}
                                       for n, s in (config.get("services") or {}).items()}},
                         indent=1)
    (_pass if ok else _fail)(o, msg, "\n".join(lines) + "\n\n" + excerpt)
    run.finish("networks")


def _db_volume(run: _Run, stack: Stack, roles: Roles) -> None:
    o = run.start("db-volume")
    db = None
    if roles.db:
        db = stack.first(roles.db) or next(iter(stack.containers(roles.db)), None)
    if db is None:
        _fail(o, _("There is no PostgreSQL service (an image named postgres)."))
        run.finish("db-volume")
        return
    env = dict(e.split("=", 1) for e in (db.attrs.get("Config", {}).get("Env") or []) if "=" in e)
    pgdata = posixpath.normpath(env.get("PGDATA") or DEFAULT_PGDATA)
    mounts = db.attrs.get("Mounts") or []
    mount = data_mount(mounts, pgdata)
    named = False
    if mount and mount.get("Type") == "volume" and mount.get("Name"):
        try:
            labels = stack.inner.volumes.get(mount["Name"]).attrs.get("Labels") or {}
            named = bool(labels.get("com.docker.compose.volume"))
        except docker.errors.APIError:
            named = False
    ok, msg = judge_db_volume(mount, named, pgdata)
    (_pass if ok else _fail)(o, msg, f"PGDATA={pgdata}\n{db.name} mounts:\n"
                             + json.dumps(mounts, indent=1))
    run.finish("db-volume")


def _load_spread(run: _Run, stack: Stack, roles: Roles, host: str) -> None:
    o = run.start("load-spread")
    answers: list[str | None] = []
    lines = []
    budget = time.monotonic() + REQUESTS_BUDGET_S
    retries_left = SPREAD_RETRIES
    for i in range(SPREAD_REQUESTS):
        if time.monotonic() > budget:  # nginx hangs: count the rest as failed
            answers.append(None)
            continue
        a = http_request(host, "GET", "/api/instance")
        if not a.status and retries_left and time.monotonic() < budget:
            # No answer at all (a timeout, a refused connection), not an error from nginx: on a
            # busy grading host the published port can stall for seconds. GET /api/instance
            # changes nothing, so ask once more; nginx's own errors (502, 504) still count.
            retries_left -= 1
            lines.append(f"{i + 1}: {a.describe()}; asked again")
            a = http_request(host, "GET", "/api/instance")
        data = a.json()
        inst = data.get("instance") if a.status == 200 and isinstance(data, dict) else None
        answers.append(inst if isinstance(inst, str) else None)
        lines.append(f"{i + 1}: {a.describe()}")
    everyone = _api_containers(stack, roles)
    apis = [c for c in everyone if c.status == "running"]
    hostnames = ", ".join(f"{c.name}={c.attrs.get('Config', {}).get('Hostname')}" for c in apis)
    stopped = [(c.name, (c.attrs.get("State") or {}).get("ExitCode"), crash_line(stack.log_of(c, 60)))
               for c in everyone if c.status != "running"]
    ok, msg = judge_spread(answers, len(apis), stopped)
    evidence = f"API containers: {hostnames or '-'}\n" + "\n".join(lines)
    if not ok:  # every container's state, exit code and restarts, and the log of an API
        # service with a container that is not running: why an instance is missing
        evidence += "\n\n" + stack.ps()
        down = sorted({c.labels.get("com.docker.compose.service") for c in _api_containers(stack, roles)
                       if c.status != "running"})
        for service in down:
            evidence += "\n\n" + stack.logs(service, 40)
    if None in answers:
        evidence += "\n\n" + stack.logs(roles.proxy, 20)
    (_pass if ok else _fail)(o, msg, evidence)
    run.finish("load-spread")


def _sessions_shared(run: _Run, stack: Stack, roles: Roles, host: str) -> list[str]:
    """Follow one session through VISITS requests; returns the session's ids (from its cookie)."""
    o = run.start("sessions-shared")
    cookie = None
    ids: list[str] = []
    visits: list[tuple[int | None, str | None]] = []
    lost: set[int] = set()  # requests with no answer at all; one more is sent for each forgiven
    lines = []
    budget = time.monotonic() + REQUESTS_BUDGET_S
    while len(visits) < VISITS + min(len(lost), LOST_VISITS_MAX):
        i = len(visits)
        if time.monotonic() > budget:  # the API hangs: the rest count as unanswered
            lost.add(i)
            visits.append((None, None))
            continue
        a = http_request(host, "GET", "/api/visits", cookie=cookie)
        lines.append(f"{i + 1}: Cookie: {cookie or '-'} -> {a.describe()}"
                     + (f"\n   Set-Cookie: {'; '.join(a.cookies)}" if a.cookies else ""))
        if not a.status:
            lost.add(i)
        if a.cookies and cookie is None:
            pair = a.cookies[0].split(";", 1)[0].strip()
            cookie = pair
            ids = session_ids(pair.split("=", 1)[1] if "=" in pair else pair)
        data = a.json()
        if a.status == 200 and isinstance(data, dict):
            v, inst = data.get("visits"), data.get("instance")
            visits.append((v if isinstance(v, int) and not isinstance(v, bool) else None,
                           inst if isinstance(inst, str) else None))
        else:
            visits.append((None, None))
    evidence = "\n".join(lines)
    if (None, None) in visits:
        evidence += "\n\n" + stack.logs(roles.proxy, 20)
    if cookie is None:
        _fail(o, _("GET /api/visits set no cookie, so the session cannot continue: does the API "
                   "use a session middleware (express-session) that sets a cookie?"), evidence)
    else:
        ok, msg = judge_sessions(visits, frozenset(lost))
        if not ok:  # what each instance said about its session store (e.g. "redis: ...")
            evidence += "\n\n" + "\n".join(stack.logs(s, 15) for s in roles.api)
        (_pass if ok else _fail)(o, msg, evidence)
    run.finish("sessions-shared")
    return ids


def _redis_auth(stack: Stack, service: str | None) -> dict[str, str]:
    """REDISCLI_AUTH for a Redis started with ``--requirepass`` (else no environment)."""
    c = stack.first(service)
    if c is None:
        return {}
    cmd = list(c.attrs.get("Config", {}).get("Cmd") or [])
    if "--requirepass" in cmd and cmd.index("--requirepass") + 1 < len(cmd):
        return {"REDISCLI_AUTH": cmd[cmd.index("--requirepass") + 1]}
    return {}


def _session_in_redis(run: _Run, stack: Stack, roles: Roles, ids: list[str]) -> None:
    o = run.start("session-in-redis")
    if not roles.redis:
        _fail(o, _("There is no Redis service (an image named redis)."))
        run.finish("session-in-redis")
        return
    if not ids:
        _fail(o, _("Skipped: there was no session cookie to look for in Redis."))
        run.finish("session-in-redis")
        return
    code, out = stack.sh(roles.redis, REDIS_KEYS_SCRIPT, env=_redis_auth(stack, roles.redis))
    db_keys = parse_db_keys(out) if code == 0 else []
    keys = [k for _db, k in db_keys]
    found = matching_keys(ids, keys)
    evidence = (f"session ids from the cookie: {', '.join(ids)}\n$ redis-cli -n <db> --scan, for "
                f"each database in INFO keyspace (exit {code})\n" + "\n".join(
                    f"db{db} {k}" for db, k in db_keys[:50]))
    if code != 0 or "NOAUTH" in out:
        _fail(o, say(_("redis-cli in %(service)s could not list the keys: %(why)s"), {
               "service": roles.redis, "why": tail_lines(out, 2)}), evidence)
    elif found:
        key = found[0]
        db = next(d for d, k in db_keys if k == key)
        _c, ttl = stack.run(roles.redis, ["redis-cli", "-n", str(db), "TTL", key],
                            env=_redis_auth(stack, roles.redis))
        _pass(o, say(_("redis-cli in %(service)s finds the session's key %(key)s."), {
               "service": roles.redis, "key": key if db == 0 else say(
                   _("%(key)s (in database %(db)s)"), {"key": key, "db": db})}),
              evidence + f"\n$ redis-cli -n {db} TTL {key}\n{ttl}")
    else:
        # Redis' own count beside the listing, to tell an empty Redis from a lost listing.
        _c, size = stack.run(roles.redis, ["redis-cli", "INFO", "keyspace"],
                             env=_redis_auth(stack, roles.redis))
        evidence += f"\n$ redis-cli INFO keyspace\n{size.strip()}"
        _fail(o, say(ngettext(
            "Redis holds %(n)s key, not one with this session's id. Are sessions stored in Redis "
            "(for example connect-redis), not in each instance's memory?",
            "Redis holds %(n)s keys, none with this session's id. Are sessions stored in Redis "
            "(for example connect-redis), not in each instance's memory?", len(keys)), {
               "n": len(keys)}), evidence)
    run.finish("session-in-redis")


def _items_stored(run: _Run, stack: Stack, roles: Roles, host: str) -> str | None:
    """POST an item and read it back; returns its token when it reached PostgreSQL."""
    o = run.start("items-stored")
    token = f"bungeo-{uuid.uuid4().hex[:12]}"
    lines: list[str] = []

    def ask(method: str, body: Any = None) -> HttpAnswer:
        a = http_request(host, method, "/api/items", body=body)
        lines.append(f"{method} /api/items{f' {json.dumps(body)}' if body else ''} -> {a.describe()}")
        return a

    # A request that gets no answer at all (status 0: a timeout or a refused connection, never
    # an HTTP error) may be the grading host's hiccup, as in sessions-shared: the item is looked
    # for, and posted once more only when the first POST did not store it.
    post = ask("POST", {"name": token})
    accepted = post.status in (200, 201)
    if not post.status:
        seen = ask("GET")
        accepted = seen.status == 200 and contains_token(seen.json(), token)
        if not accepted:
            post = ask("POST", {"name": token})
            accepted = post.status in (200, 201)
    get = ask("GET")
    if not get.status:
        get = ask("GET")
    evidence = "\n".join(lines)
    if not accepted:
        _fail(o, say(_("POST /api/items with {\"name\": \"%(token)s\"} answered %(answer)s; the "
                       "contract asks for 201 and the new item."), {
               "token": token, "answer": post.describe()}), evidence + "\n\n"
              + stack.logs(roles.proxy, 10) + "\n" + stack.logs(roles.api[0] if roles.api else None, 15))
        run.finish("items-stored")
        return None
    if get.status != 200 or not contains_token(get.json(), token):
        _fail(o, say(_("The item was accepted, but GET /api/items does not list it (%(answer)s)."),
                     {"answer": get.describe()}), evidence)
        run.finish("items-stored")
        return None
    code, out = stack.sh(roles.db, f"{DUMP} 2>&1 | grep -F -e '{token}' | head -n 5")
    evidence += f"\n$ pg_dumpall --data-only | grep {token}\n{out}"
    if code == 0 and token in out:
        _pass(o, say(_("The item %(token)s came back from GET /api/items and is stored in "
                       "PostgreSQL."), {"token": token}), evidence)
        run.finish("items-stored")
        return token
    _fail(o, _("GET /api/items lists the item, but PostgreSQL does not hold it: does the API "
               "keep items in memory instead of the database?"), evidence)
    run.finish("items-stored")
    return None


def _container_ips(c) -> list[str]:
    nets = (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return [str(n.get("IPAddress")) for n in nets.values() if n and n.get("IPAddress")]


def _up_with_db_held(stack: Stack, roles: Roles, n_expected: int) -> tuple[float, dict[str, Any]]:
    """``docker compose up -d`` (in a thread: it blocks while Compose waits for a healthcheck)
    with PostgreSQL held back until :func:`release_due`. Returns (the release time, {"up": the
    compose result, "held_s": seconds held, "reason": why it was released, "attempts": the
    evidence of :func:`describe_hold`})."""
    watches: dict[str, ApiWatch] = {}
    names: dict[str, str] = {}  # API container IP address -> container name
    listening, attempts = None, []
    reason = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(stack.compose, "up", "-d", "--no-build", timeout=UP_TIMEOUT_S)
        held_since, db = None, None
        while True:
            now = time.monotonic()
            if db is None:
                db = stack.first(roles.db)
                if db is not None:
                    held_since = now
            # The containers first, then the attempts: an attempt is logged before the client
            # sees it fail, so a container seen stopped has its attempts in the file.
            for c in _api_containers(stack, roles):
                w = watches.setdefault(c.id, ApiWatch(c.name))
                for ip in _container_ips(c):
                    names[ip] = c.name
                state = c.attrs.get("State") or {}
                policy = ((c.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get(
                    "Name") or "no"
                if c.status != "created" and w.started is None:
                    w.started = now
                if c.status in ("exited", "dead", "restarting") or c.attrs.get("RestartCount"):
                    w.stopped = True
                w.gone = c.status in ("exited", "dead") and (
                    policy == "no" or (policy == "on-failure" and state.get("ExitCode") == 0))
            if db is not None:
                try:
                    res = db.exec_run(["cat", ATTEMPTS_FILE])
                    if res.exit_code == 0:
                        listening, attempts = parse_attempts(
                            (res.output or b"").decode(errors="replace"))
                except docker.errors.APIError:
                    pass
                for w in watches.values():
                    mine = [t for t, ip in attempts if names.get(ip) == w.name]
                    if mine and w.first_attempt is None:
                        w.first_attempt = now
                    w.attempts = len(mine)
                    w.span_s = max(mine) - min(mine) if mine else 0.0
            reason = release_due(now, held_since, list(watches.values()), n_expected,
                                 fut.done(), listening is not None)
            if reason:
                break
            time.sleep(0.25)
        stack.run(roles.db, ["touch", RELEASE_FILE])
        released = time.monotonic()
        up = fut.result()
    return released, {"up": up, "held_s": released - held_since if held_since else 0.0,
                      "reason": reason,
                      "attempts": describe_hold(list(watches.values()), listening, attempts,
                                                names)}


def _waits_for_db_health(config: dict[str, Any], service: str, db: str | None) -> bool:
    """True when ``service`` starts only once ``db`` is healthy (or has completed):
    ``depends_on: {db: {condition: service_healthy}}`` in the resolved config."""
    deps = ((config.get("services") or {}).get(service) or {}).get("depends_on") or {}
    if not isinstance(deps, dict) or not db:
        return False
    cond = (deps.get(db) or {}).get("condition")
    return cond in ("service_healthy", "service_completed_successfully")


def _restart_checks(run: _Run, stack: Stack, config: dict, roles: Roles, host: str,
                    token: str | None, *, api_ok: bool) -> None:
    """data-survives and db-wait: down (no -v), then up with PostgreSQL held back."""
    o = run.start("data-survives")
    db = stack.first(roles.db)
    if db is None:
        _fail(o, _("There is no running PostgreSQL service to keep data in."))
        run.finish("data-survives")
        run.skip(["db-wait"], _("Skipped: there is no running PostgreSQL service."))
        return
    probe = f"bungeo-probe-{uuid.uuid4().hex[:8]}"
    code, out = stack.sh(roles.db, f"{PSQL} -c \"CREATE TABLE IF NOT EXISTS bungeo_probe "
                                   f"(token text); INSERT INTO bungeo_probe VALUES ('{probe}')\"")
    evidence = [f"grader's probe row {probe}: psql exit {code} {out.strip()}"]
    path, args = db.attrs.get("Path") or "", list(db.attrs.get("Args") or [])
    volumes_before = sorted(v.name for v in stack.inner.volumes.list())
    down = stack.compose("down", "-t", str(DOWN_TIMEOUT_S), timeout=60)
    volumes_after = sorted(v.name for v in stack.inner.volumes.list())
    evidence.append(f"$ docker compose down -t {DOWN_TIMEOUT_S} (exit {down.exit_code})\n"
                    f"{tail_lines(down.output, 12)}\nvolumes before: {', '.join(volumes_before)}"
                    f"\nvolumes after: {', '.join(volumes_after)}")
    # The API containers that start while PostgreSQL is held (not those Compose keeps back
    # until PostgreSQL's healthcheck passes).
    n_expected = len([c for c in stack.containers() if c.labels.get(
        "com.docker.compose.service") in roles.api and not _waits_for_db_health(
        config, c.labels["com.docker.compose.service"], roles.db)])
    stack.backend.exec(stack.sandbox.id, ["mkdir", "-p", GRADER_DIR], timeout=10)
    override = hold_override(roles.db, path, args, DB_HOLD_MAX_S + 30)
    stack.backend.exec(stack.sandbox.id, ["sh", "-c", f"cat > {GRADER_DIR}/slow-db.yaml <<'EOF'\n"
                                          f"{override}\nEOF"], timeout=10)
    stack.files = [*stack.files, "-f", f"{GRADER_DIR}/slow-db.yaml"]
    t0, held = _up_with_db_held(stack, roles, n_expected)
    up = held["up"]
    hold_evidence = (f"PostgreSQL held back {held['held_s']:.1f} s, released: {held['reason']}\n"
                     f"{held['attempts']}")
    evidence.append(f"$ docker compose up -d (exit {up.exit_code})\n{tail_lines(up.output, 12)}"
                    f"\n{hold_evidence}")
    ready = stack.pg_ready(roles.db, time.monotonic() + DB_READY_S)
    code, out = stack.sh(roles.db, f"{PSQL} -c 'SELECT token FROM bungeo_probe'") if ready \
        else (-1, _("PostgreSQL did not start again."))
    probe_back = code == 0 and probe in out
    evidence.append(f"probe row after the restart: {out.strip()}")
    item_back = None
    if token:
        _c, dump = stack.sh(roles.db, f"{DUMP} 2>&1 | grep -F -e '{token}' | head -n 5")
        item_back = token in dump
        evidence.append(f"item {token} after the restart: {'found' if item_back else 'missing'}")
    evidence_text = "\n\n".join(evidence)
    if probe_back and item_back is not False:
        _pass(o, _("After docker compose down and up, the rows written before are still in "
                   "PostgreSQL."), evidence_text)
    elif not ready:
        _fail(o, _("After docker compose down and up, PostgreSQL did not accept connections "
                   "again."), evidence_text + "\n\n" + stack.logs(roles.db, 20))
    else:
        _fail(o, _("After docker compose down and up, the rows written before are gone: the "
                   "data directory is not on a volume that outlives the container."),
              evidence_text)
    run.finish("data-survives")

    o = run.start("db-wait")
    if not api_ok:
        _fail(o, say(_("Skipped: nginx did not answer on port %(port)s in the first start."),
                     {"port": PROXY_PORT}))
        run.finish("db-wait")
        return
    answer = HttpAnswer(error=_("no API instance listened on a port"))
    gave_up = False
    while True:
        apis = _api_containers(stack, roles)
        # Ask nginx only once an instance listens: a refused request would make nginx put the
        # instances aside for fail_timeout (10 s).
        if any(stack.listens(c) for c in apis if c.status == "running"):
            answer = http_request(host, "GET", "/api/items")
            if answer.status == 200 and isinstance(answer.json(), (list, dict)):
                break
        gave_up = bool(apis) and all(
            c.status == "exited" and (c.attrs.get("HostConfig", {}).get("RestartPolicy") or {})
            .get("Name", "no") in ("", "no") for c in apis)
        if gave_up or time.monotonic() > t0 + DB_WAIT_S:
            break
        time.sleep(0.5)
    waited = time.monotonic() - t0
    evidence = (f"{hold_evidence}\n\nGET /api/items -> {answer.describe()} {waited:.1f} s after "
                f"PostgreSQL was let start\n\n{stack.ps()}\n\n"
                + stack.logs(roles.api[0] if roles.api else None, 15))
    if answer.status == 200 and isinstance(answer.json(), (list, dict)):
        _pass(o, say(_("PostgreSQL was held back %(held)s s and the API still answered GET "
                       "/api/items %(s)s s after PostgreSQL was let start."), {
               "held": f"{held['held_s']:.0f}", "s": f"{waited:.0f}"}), evidence)
    else:
        if gave_up:
            what = say(_("the API containers exited: %(names)s"), {"names": ", ".join(
                   f"{c.name} (exit {c.attrs.get('State', {}).get('ExitCode')})"
                   for c in _api_containers(stack, roles))})
        else:
            what = answer.describe()
        _fail(o, say(_("PostgreSQL was held back %(held)s s while the API started, and the API did "
                       "not recover once it was let start (%(answer)s). Make the API wait for the "
                       "database: a healthcheck on PostgreSQL with 'depends_on: condition: "
                       "service_healthy', or retry the connection in the code."), {
               "held": f"{held['held_s']:.0f}", "answer": what}), evidence)
    run.finish("db-wait")
