"""A2 without an engine: the shared compose policy and the grader's pure judging, each both ways
(the right answer passes, a plausible mistake fails with the right message), and refusals that
happen before any sandbox starts."""
from __future__ import annotations

import copy
import json

import pytest
from django.utils import translation

from exercises import registry
from exercises.compose_policy import (
    compose_file,
    config_json,
    ignored_compose_note,
    inside,
    policy_problems,
    yaml_problem,
)

grader = registry.get("a2").grader
ROOT = "/srv/submission"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# A resolved config as `docker compose config --format json` prints it for the reference.
REFERENCE = {
    "name": "a2",
    "networks": {"backend": {"name": "a2_backend", "ipam": {}},
                 "frontend": {"name": "a2_frontend", "ipam": {}}},
    "services": {
        "proxy": {"image": "nginx:alpine", "networks": {"frontend": None},
                  "ports": [{"mode": "ingress", "target": 80, "published": "8080",
                             "protocol": "tcp"}],
                  "volumes": [{"type": "bind", "source": f"{ROOT}/nginx/default.conf",
                               "target": "/etc/nginx/conf.d/default.conf", "read_only": True}]},
        "api1": {"build": {"context": f"{ROOT}/api", "dockerfile": "Dockerfile"},
                 "networks": {"backend": None, "frontend": None}},
        "api2": {"build": {"context": f"{ROOT}/api", "dockerfile": "Dockerfile"},
                 "networks": {"backend": None, "frontend": None}},
        "redis": {"image": "redis:7-alpine", "networks": {"backend": None}},
        "db": {"image": "postgres:16-alpine", "networks": {"backend": None},
               "volumes": [{"type": "volume", "source": "pgdata",
                            "target": "/var/lib/postgresql/data", "volume": {}}]},
    },
    "volumes": {"pgdata": {"name": "a2_pgdata"}},
}


def with_db(**extra) -> dict:
    cfg = copy.deepcopy(REFERENCE)
    cfg["services"]["db"].update(extra)
    return cfg


# -- compose policy ----------------------------------------------------------------------------
def test_reference_config_is_allowed():
    assert policy_problems(REFERENCE, ROOT) == []


@pytest.mark.parametrize("extra,needle", [
    ({"privileged": True}, "privileged: true"),
    ({"network_mode": "host"}, "network_mode: host"),
    ({"pid": "host"}, "pid: host"),
    ({"ipc": "host"}, "ipc: host"),
    ({"userns_mode": "host"}, "userns_mode: host"),
    ({"cap_add": ["NET_ADMIN"]}, "cap_add"),
    ({"devices": [{"source": "/dev/fuse", "target": "/dev/fuse", "permissions": "rwm"}]},
     "devices"),
    ({"cgroup_parent": "/"}, "cgroup_parent"),
    ({"security_opt": ["seccomp=unconfined"]}, "seccomp=unconfined"),
])
def test_policy_refuses_power_over_the_machine(extra, needle):
    problems = policy_problems(with_db(**extra), ROOT)
    assert len(problems) == 1 and needle in problems[0] and "db" in problems[0]


@pytest.mark.parametrize("extra", [
    {"privileged": False},
    {"network_mode": "bridge"},
    {"network_mode": "service:redis"},
    {"ipc": "shareable"},
    {"cap_add": []},
    {"cap_drop": ["ALL"]},
    {"security_opt": ["no-new-privileges:true"]},
    {"security_opt": ["no-new-privileges"]},
    {"read_only": True},
])
def test_policy_allows_harmless_settings(extra):
    assert policy_problems(with_db(**extra), ROOT) == []


@pytest.mark.parametrize("source", ["/", "/etc", "/var/run/docker.sock", "/srv/up",
                                    f"{ROOT}/../secrets", "/srv/submission-evil"])
def test_policy_refuses_bind_mounts_outside_the_submission(source):
    cfg = with_db(volumes=[{"type": "bind", "source": source, "target": "/host"}])
    problems = policy_problems(cfg, ROOT)
    assert len(problems) == 1 and source in problems[0] and "host path" in problems[0]


@pytest.mark.parametrize("source", [ROOT, f"{ROOT}/pgdata", f"{ROOT}/nginx/default.conf"])
def test_policy_allows_bind_mounts_inside_the_submission(source):
    cfg = with_db(volumes=[{"type": "bind", "source": source, "target": "/x"}])
    assert policy_problems(cfg, ROOT) == []


def test_policy_refuses_host_backed_volumes_secrets_and_build_contexts():
    cfg = copy.deepcopy(REFERENCE)
    cfg["volumes"]["evil"] = {"name": "a2_evil", "driver_opts": {"type": "none", "o": "bind",
                                                                 "device": "/"}}
    cfg["secrets"] = {"s": {"file": "/etc/shadow"}, "ok": {"file": f"{ROOT}/secret.txt"}}
    cfg["services"]["api1"]["build"]["context"] = "/"
    problems = policy_problems(cfg, ROOT)
    assert len(problems) == 3
    text = " ".join(problems)
    assert "Volume evil" in text and "/etc/shadow" in text and "api1 builds from /" in text
    assert "secret.txt" not in text


@pytest.mark.parametrize("build_extra,needle", [
    ({"privileged": True}, "builds with 'privileged: true'"),
    ({"network": "host"}, "builds with 'network: host'"),
    ({"entitlements": ["security.insecure", "network.host"]},
     "build entitlements security.insecure, network.host"),
])
def test_policy_refuses_power_over_the_machine_for_a_build(build_extra, needle):
    cfg = copy.deepcopy(REFERENCE)
    cfg["services"]["api1"]["build"].update(build_extra)
    problems = policy_problems(cfg, ROOT)
    assert len(problems) == 1 and needle in problems[0] and "api1" in problems[0]
    cfg["services"]["api1"]["build"].update({"privileged": False, "network": "default",
                                             "entitlements": []})
    assert policy_problems(cfg, ROOT) == []


@pytest.mark.parametrize("device,refused", [("../../", True), ("..", True), ("/", True),
                                            (f"{ROOT}/data", False), ("tmpfs", False)])
def test_a_relative_volume_device_that_climbs_out_is_refused(device, refused):
    cfg = copy.deepcopy(REFERENCE)
    cfg["volumes"]["v"] = {"name": "a2_v", "driver_opts": {"type": "none", "o": "bind", "device": device}}
    assert bool(policy_problems(cfg, ROOT)) is refused


def test_inside_resolves_dot_dot():
    assert inside(f"{ROOT}/a/../b", ROOT)
    assert not inside(f"{ROOT}/../etc", ROOT)
    assert not inside("/srv/submission2", ROOT)
    assert inside("nginx/default.conf", ROOT)


def test_policy_messages_are_translated():
    with translation.override("ko"):
        problems = policy_problems(with_db(privileged=True), ROOT)
    assert problems and "privileged: true" in problems[0] and "서비스" in problems[0]


def test_yaml_problem_refuses_bombs_and_accepts_anchors():
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True))
    assert "YAML nodes" in yaml_problem(bomb.encode())
    ok = (registry.get("a2").folder / "reference" / "compose.yaml").read_bytes()
    assert yaml_problem(ok) is None


# -- roles, networks, volumes ------------------------------------------------------------------
def test_service_roles_by_image_port_and_built_image_env():
    roles = grader.service_roles(REFERENCE)
    assert (roles.proxy, roles.db, roles.redis, roles.api) == ("proxy", "db", "redis",
                                                               ["api1", "api2"])
    cfg = copy.deepcopy(REFERENCE)
    cfg["services"]["database"] = {"build": {"context": f"{ROOT}/db"}}
    del cfg["services"]["db"]
    assert grader.service_roles(cfg).db is None
    roles = grader.service_roles(cfg, {"database": ["PG_MAJOR=15", "PATH=/bin"]})
    assert roles.db == "database" and "database" not in roles.api


def test_image_repo():
    assert grader.image_repo("docker.io/library/postgres:16-alpine") == "postgres"
    assert grader.image_repo("bitnami/redis@sha256:abc") == "redis"
    assert grader.image_repo("localhost:5000/nginx") == "nginx"


def test_network_keys_follow_custom_names():
    cfg = copy.deepcopy(REFERENCE)
    cfg["networks"]["backend"]["name"] = "private"
    assert grader.network_keys(cfg, ["private", "a2_frontend"]) == {"backend", "frontend"}


def _attached(**over) -> dict[str, set[str]]:
    base = {"proxy": {"frontend"}, "api1": {"frontend", "backend"},
            "api2": {"frontend", "backend"}, "db": {"backend"}, "redis": {"backend"}}
    base.update(over)
    return base


def test_networks_pass_and_fail():
    roles = grader.service_roles(REFERENCE)
    ok, msg = grader.judge_networks(REFERENCE, roles, _attached(), {})
    assert ok and "only on backend" in msg
    ok, msg = grader.judge_networks(REFERENCE, roles, _attached(db={"frontend", "backend"}),
                                    {"db": ["5432/tcp -> 0.0.0.0:5432"]})
    assert not ok and "backend, frontend" in msg and "5432/tcp" in msg
    ok, msg = grader.judge_networks(REFERENCE, roles, _attached(redis={"frontend"}), {})
    assert not ok and "redis (Redis) is on frontend" in msg
    ok, msg = grader.judge_networks(REFERENCE, roles, _attached(proxy={"backend"}), {})
    assert not ok and "proxy (nginx) is not on frontend" in msg
    cfg = copy.deepcopy(REFERENCE)
    del cfg["networks"]["frontend"]
    ok, msg = grader.judge_networks(cfg, roles, _attached(), {})
    assert not ok and "declare the network frontend under the top-level" in msg
    del cfg["networks"]["backend"]
    ok, msg = grader.judge_networks(cfg, roles, _attached(), {})
    assert not ok and "declare the networks frontend, backend under the top-level" in msg


def test_db_volume_named_bind_anonymous_and_nested():
    pg = "/var/lib/postgresql/data"
    named = {"Type": "volume", "Name": "a2_pgdata", "Destination": pg}
    assert grader.judge_db_volume(grader.data_mount([named], pg), True, pg)[0]
    bind = {"Type": "bind", "Source": f"{ROOT}/pgdata", "Destination": pg}
    ok, msg = grader.judge_db_volume(grader.data_mount([bind], pg), False, pg)
    assert not ok and "bind mount" in msg
    anon = {"Type": "volume", "Name": "3f2a" * 16, "Destination": pg}
    ok, msg = grader.judge_db_volume(grader.data_mount([anon], pg), False, pg)
    assert not ok and "anonymous" in msg
    ok, msg = grader.judge_db_volume(grader.data_mount([], pg), False, pg)
    assert not ok and "Nothing is mounted" in msg
    # PGDATA in a subfolder of the named volume: the volume holds it.
    sub = f"{pg}/pgdata"
    assert grader.data_mount([named], sub) == named
    # A named volume on the parent is shadowed by the image's own VOLUME on PGDATA.
    parent = {"Type": "volume", "Name": "a2_pg", "Destination": "/var/lib/postgresql"}
    assert grader.data_mount([parent, anon], pg) == anon


# -- spread, sessions, items -------------------------------------------------------------------
def test_spread():
    ok, msg = grader.judge_spread(["a", "b"] * 10, 2)
    assert ok and "2 instances" in msg
    ok, msg = grader.judge_spread(["a"] * 20, 1)
    assert not ok and "Only 1 API container" in msg
    ok, msg = grader.judge_spread(["a"] * 20, 2)
    assert not ok and "ip_hash" in msg
    ok, msg = grader.judge_spread(["a"] * 19 + ["b"], 2)
    assert not ok and "not spread" in msg
    ok, msg = grader.judge_spread(["a", None] * 10, 2)
    assert not ok and "10 of 20 requests failed" in msg


# What node printed when two API instances ran CREATE TABLE IF NOT EXISTS at the same moment
# and one lost PostgreSQL's race on the catalog (console.error of a pg error, then exit 1).
NODE_PG_CRASH = """a2-api1-1 listening on 3000
error: duplicate key value violates unique constraint "pg_type_typname_nsp_index"
    at /app/node_modules/pg-pool/index.js:45:11
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
    at async waitForDatabase (/app/server.js:65:3) {
  length: 230,
  severity: 'ERROR',
  code: '23505',
  detail: 'Key (typname, typnamespace)=(items_id_seq, 2200) already exists.',
  schema: 'pg_catalog',
  routine: '_bt_check_unique'
}
"""


def test_spread_names_an_instance_that_stopped():
    line = grader.crash_line(NODE_PG_CRASH)
    assert line == 'error: duplicate key value violates unique constraint "pg_type_typname_nsp_index"'
    ok, msg = grader.judge_spread(["a"] * 20, 1, [("a2-api2-1", 1, line)])
    assert not ok
    assert "a2-api2-1 stopped (exit code 1)" in msg and "pg_type_typname_nsp_index" in msg
    # Not the "A2 asks for two instances" advice: the submission has two, one crashed.
    assert "A2 asks for two instances" not in msg
    ok, msg = grader.judge_spread(["a"] * 20, 1, [("a2-api2-1", 137, "")])
    assert not ok and "a2-api2-1 stopped (exit code 137). Both instances" in msg
    # Other logs: Python's last traceback line, Go's panic, and no error line at all.
    py = "Traceback (most recent call last):\n  File \"app.py\", line 3\n" \
         "psycopg2.OperationalError: could not translate host name \"db\"\n"
    assert grader.crash_line(py).startswith("psycopg2.OperationalError: could not")
    assert grader.crash_line("starting\npanic: runtime error: nil map\n\ngoroutine 1\n") \
        == "panic: runtime error: nil map"
    assert grader.crash_line("starting\nbye\n\n") == "bye"
    assert grader.crash_line("") == ""
    assert len(grader.crash_line("Error: " + "x" * 500)) == grader.ERROR_LINE_MAX


def test_sessions():
    ok, msg = grader.judge_sessions([(i, "ab"[i % 2]) for i in range(1, 7)])
    assert ok and "1, 2, 3, 4, 5, 6" in msg
    # Each instance keeps its own MemoryStore: the counter restarts on the other instance.
    ok, msg = grader.judge_sessions([(1, "a"), (1, "b"), (2, "a"), (2, "b"), (3, "a"), (3, "b")])
    assert not ok and "each instance keeps its own sessions" in msg
    ok, msg = grader.judge_sessions([(i, "a") for i in range(1, 7)])
    assert not ok and "one instance answered" in msg
    ok, msg = grader.judge_sessions([(1, "a"), (None, None)])
    assert not ok and "did not answer JSON" in msg


def test_sessions_forgive_one_request_without_any_answer():
    """A request whose answer never came (seen once in 90 burst gradings: nginx answered, the
    grader timed out) may or may not have been counted by the server; one is forgiven."""
    counted = [(1, "a"), (None, None), (3, "a"), (4, "b"), (5, "b"), (6, "a"), (7, "b")]
    ok, msg = grader.judge_sessions(counted, frozenset({1}))
    assert ok and "1, 3, 4, 5, 6, 7" in msg and "no answer" in msg, msg
    not_counted = [(1, "a"), (None, None), (2, "b"), (3, "a"), (4, "b"), (5, "a"), (6, "b")]
    assert grader.judge_sessions(not_counted, frozenset({1}))[0]
    first_lost = [(None, None), (1, "a"), (2, "b"), (3, "a"), (4, "b"), (5, "a"), (6, "b")]
    assert grader.judge_sessions(first_lost, frozenset({0}))[0]
    # Sessions kept in each instance's memory still fail, lost answer or not.
    memory = [(1, "a"), (None, None), (1, "b"), (2, "a"), (1, "b"), (3, "a"), (1, "b")]
    ok, msg = grader.judge_sessions(memory, frozenset({1}))
    assert not ok and "each instance keeps its own sessions" in msg, msg
    # A jump that no lost request explains is a break.
    ok, msg = grader.judge_sessions([(1, "a"), (3, "b"), (4, "a"), (5, "b"), (6, "a"), (7, "b")])
    assert not ok and "each instance keeps its own sessions" in msg, msg
    # Only one is forgiven, and a request lost is never an HTTP error.
    two = [(1, "a"), (None, None), (None, None), (4, "a"), (5, "b"), (6, "a"), (7, "b"), (8, "a")]
    ok, msg = grader.judge_sessions(two, frozenset({1, 2}))
    assert not ok and "2 of 8 requests to GET /api/visits got no answer at all" in msg, msg
    ok, msg = grader.judge_sessions([(1, "a"), (None, None), (3, "b")])
    assert not ok and "did not answer JSON" in msg, msg


def test_session_ids_and_redis_keys():
    ids = grader.session_ids("s%3AXzVWTRmPkwCcHt70n_F8a7xDwEO_v7wP.RBddAxFbfbos%2BJz")
    assert "XzVWTRmPkwCcHt70n_F8a7xDwEO_v7wP" in ids
    keys = ["sess:XzVWTRmPkwCcHt70n_F8a7xDwEO_v7wP", "other"]
    assert grader.matching_keys(ids, keys) == keys[:1]
    assert grader.matching_keys(ids, ["sess:somethingelse"]) == []
    assert grader.session_ids("short") == []


def test_redis_keys_of_every_database_are_read():
    # The script prints "<database> <key>" for each database INFO keyspace lists; sessions in
    # database 1 (redis://redis:6379/1) were not looked for before.
    assert grader.parse_db_keys("0 other\n1 sess:abc\n1 key with spaces\nNOAUTH x\n\n") == [
        (0, "other"), (1, "sess:abc"), (1, "key with spaces")]
    assert "INFO keyspace" in grader.REDIS_KEYS_SCRIPT and "-n \"$db\"" in grader.REDIS_KEYS_SCRIPT


def test_contains_token():
    assert grader.contains_token([{"id": 1, "name": "bungeo-x1"}], "bungeo-x1")
    assert grader.contains_token({"items": [{"name": "bungeo-x1"}]}, "bungeo-x1")
    assert not grader.contains_token([{"id": 1, "name": "other"}], "bungeo-x1")


# -- build and start-up ------------------------------------------------------------------------
def test_npm_not_cached_names_the_package():
    out = ("#8 3.1 npm error code ENOTCACHED\n#8 3.1 npm error request to "
           "https://registry.example/left-pad failed: cache mode is 'only-if-cached' but no "
           "cached response is available.\n"
           "npm ERR! request to https://registry.example/@scope%2fpkg failed, reason: cache "
           "mode is 'only-if-cached'")
    assert grader.npm_not_cached(out) == ["@scope/pkg", "left-pad"]
    assert grader.npm_not_cached("added 100 packages in 7s") == []


def test_base_images_missing():
    out = ("failed to solve: node:20-alpine: failed to resolve source metadata for "
           "docker.io/library/node:20-alpine: failed to do request")
    assert grader.base_images_missing(out) == ["node:20-alpine"]
    assert grader.base_images_missing("#5 DONE 0.1s") == []


def test_in_submission_shows_paths_relative_to_the_submission():
    assert grader.in_submission(f'path "{ROOT}/api" not found') == 'path "./api" not found'
    assert grader.in_submission(f"{ROOT}/compose.yaml: bad, in {ROOT}") == \
        "./compose.yaml: bad, in ."
    # Only the submission folder itself, as a whole path component.
    assert grader.in_submission("/srv/submission-x/a /srv/submission2") == \
        "/srv/submission-x/a /srv/submission2"


# What `docker compose build` prints for a build folder that does not exist (measured in a
# grading sandbox).
NO_CONTEXT = f'unable to prepare context: path "{ROOT}/api" not found\n'


def test_build_contexts_missing_names_the_folder_and_its_services():
    assert grader.build_contexts_missing(NO_CONTEXT, REFERENCE) == [("./api", ["api1", "api2"])]
    assert grader.build_contexts_missing("#5 DONE 0.1s", REFERENCE) == []


class _BuildFailsStack:
    """A stack whose build fails as Compose does on a missing build folder (unit tests only)."""

    def __init__(self, output: str):
        self.output = output
        self.backend = self  # `docker tag` of a shared build runs through the backend
        self.sandbox = type("Sandbox", (), {"id": "fake"})()

    def compose(self, *args, timeout=60):
        code, out = (17, self.output) if args[0] == "build" else (0, "")
        return type("Res", (), {"exit_code": code, "output": out, "timed_out": False})()

    def exec(self, sandbox_id, cmd, timeout=60):
        return type("Res", (), {"exit_code": 1, "output": "No such image", "timed_out": False})()

    def pg_ready(self, service, deadline):
        return True

    def ps(self):
        return ""

    def containers(self):
        return []


def test_a_missing_build_folder_is_named_relative_to_the_submission():
    run = grader._Run(lambda *a: None)
    assert not grader._stack_up(run, _BuildFailsStack(NO_CONTEXT), REFERENCE,
                                grader.service_roles(REFERENCE))
    o = run.outcomes["stack-up"]
    assert not o.passed
    assert o.message.startswith("The images could not be built: the build folder ./api (of api1, "
                                "api2) is not in your submission"), o.message
    assert ROOT not in o.message and ROOT not in o.evidence
    with translation.override("ko"):
        run = grader._Run(lambda *a: None)
        grader._stack_up(run, _BuildFailsStack(NO_CONTEXT), REFERENCE,
                         grader.service_roles(REFERENCE))
        o = run.outcomes["stack-up"]
        assert "./api" in o.message and "제출물에 없습니다" in o.message and ROOT not in o.message


def test_other_build_errors_show_paths_relative_to_the_submission():
    out = f"failed to solve: failed to read dockerfile: open {ROOT}/api/Dockerfil: no such file\n"
    run = grader._Run(lambda *a: None)
    grader._stack_up(run, _BuildFailsStack(out), REFERENCE, grader.service_roles(REFERENCE))
    o = run.outcomes["stack-up"]
    assert "an image does not build" in o.message and "open ./api/Dockerfil" in o.message
    assert ROOT not in o.message


def test_missing_images():
    assert grader.missing_images(REFERENCE, {"nginx:alpine", "redis:7-alpine",
                                             "postgres:16-alpine"}) == []
    assert grader.missing_images(REFERENCE, {"nginx:alpine", "redis:7-alpine"}) == [
        "postgres:16-alpine"]


def test_build_groups_build_a_shared_build_once():
    assert grader.build_groups(REFERENCE) == [["api1", "api2"]]
    cfg = copy.deepcopy(REFERENCE)
    cfg["services"]["api2"]["build"]["args"] = {"X": "1"}
    assert grader.build_groups(cfg) == [["api1"], ["api2"]]
    assert grader.image_name(REFERENCE, "api2") == "a2-api2"
    assert grader.image_name(REFERENCE, "db") == "postgres:16-alpine"


def test_hold_override_keeps_the_command_and_escapes_dollars():
    text = grader.hold_override("db", "docker-entrypoint.sh", ["postgres", "-c", "x=$HOME"], 60)
    svc = json.loads(text)["services"]["db"]
    script = svc["entrypoint"][2]
    assert svc["entrypoint"][:2] == ["sh", "-c"] and grader.RELEASE_FILE in script
    assert '"$$@"' in script and "-lt 600" in script
    assert svc["command"] == ["docker-entrypoint.sh", "postgres", "-c", "x=$$HOME"]
    # The listener logs attempts on PostgreSQL's port; every $ reaches sh and perl as one $.
    assert grader.ATTEMPTS_FILE in script and '"$${PGPORT:-5432}"' in script
    assert "$$c->peerhost" in script and "$c->" not in script.replace("$$", "")
    assert "'" not in grader._LISTENER  # it sits in sh's single quotes


def test_parse_attempts():
    text = ("1700000000.100 listening\n1700000001.250 172.20.0.4\n"
            "garbage\n1700000002.000 172.20.0.5\nx 1.2.3.4\n")
    listening, attempts = grader.parse_attempts(text)
    assert listening == 1700000000.1
    assert attempts == [(1700000001.25, "172.20.0.4"), (1700000002.0, "172.20.0.5")]
    assert grader.parse_attempts("") == (None, [])


def watch(name="a2-api1-1", started=1.0, first_attempt=None, stopped=False, gone=False):
    return grader.ApiWatch(name, started=started, first_attempt=first_attempt,
                           attempts=int(first_attempt is not None), stopped=stopped, gone=gone)


def test_release_waits_for_every_api_instance_to_try_the_database():
    grace = grader.ATTEMPT_GRACE_S
    # Started long ago (a loaded host) but no attempt yet: keep holding, whatever the time.
    slow = [watch(started=1.0), watch("a2-api2-1", started=1.0)]
    assert grader.release_due(1 + grader.API_HOLD_S + 5, 0.0, slow, 2, False, True) is None
    # One tried, the other not yet: keep holding.
    half = [watch(first_attempt=20.0), watch("a2-api2-1", started=1.0)]
    assert grader.release_due(20 + grace + 1, 0.0, half, 2, False, True) is None
    # Both tried and keep running: released ATTEMPT_GRACE_S after the last first try ...
    both = [watch(first_attempt=3.0), watch("a2-api2-1", first_attempt=4.0)]
    assert grader.release_due(4 + grace - 0.1, 0.0, both, 2, False, True) is None
    assert "tried" in grader.release_due(4 + grace, 0.0, both, 2, False, True)
    # ... or as soon as each has tried again RETRY_SPAN_S later (it retries).
    both[0].span_s = grader.RETRY_SPAN_S
    assert grader.release_due(4.1, 0.0, both, 2, False, True) is None
    both[1].span_s = grader.RETRY_SPAN_S - 0.1  # two connections at once is not a retry
    assert grader.release_due(4.1, 0.0, both, 2, False, True) is None
    both[1].span_s = grader.RETRY_SPAN_S + 0.5
    assert grader.release_due(4.1, 0.0, both, 2, False, True)
    # Both tried and exited (an API that gives up): released at once.
    gave_up = [watch(first_attempt=3.0, stopped=True, gone=True),
               watch("a2-api2-1", first_attempt=3.5, stopped=True, gone=True)]
    assert grader.release_due(3.6, 0.0, gave_up, 2, False, True)
    # Restarted by a restart policy after its try: nothing more to wait for either.
    restarted = [watch(first_attempt=3.0, stopped=True), watch("a2-api2-1", first_attempt=3.0)]
    assert grader.release_due(3.5, 0.0, restarted, 2, False, True) is None
    restarted[1].stopped = True
    assert grader.release_due(3.5, 0.0, restarted, 2, False, True)
    # Only one of two containers started: keep holding, up to the maximum.
    assert grader.release_due(20.0, 0.0, [watch(first_attempt=3.0)], 2, False, True) is None
    assert "30 s" in grader.release_due(grader.DB_HOLD_MAX_S, 0.0, slow, 2, False, True)


def test_release_without_observable_attempts_or_started_api():
    hold = grader.API_HOLD_S
    # No listener (an image without perl): API_HOLD_S after the last API container started.
    started = [watch(started=1.0), watch("a2-api2-1", started=2.0)]
    assert grader.release_due(2 + hold - 0.1, 0.0, started, 2, False, False) is None
    assert grader.release_due(2 + hold, 0.0, started, 2, False, False)
    # Compose keeps every API back for PostgreSQL's healthcheck: DB_DELAY_S.
    gated = [watch(started=None), watch("a2-api2-1", started=None)]
    assert grader.release_due(grader.DB_DELAY_S - 0.1, 0.0, gated, 0, False, True) is None
    assert "healthcheck" in grader.release_due(grader.DB_DELAY_S, 0.0, gated, 0, False, True)
    # ... but API containers that should start and are slow to are waited for.
    assert grader.release_due(grader.DB_DELAY_S + 5, 0.0, gated, 2, False, True) is None
    assert grader.release_due(grader.DB_DELAY_S + 5, 0.0, gated, 2, True, True)
    # The database never started: nothing to hold once compose up has ended.
    assert grader.release_due(100.0, None, [], 2, False, True) is None
    assert grader.release_due(100.0, None, [], 2, True, True)


def test_waits_for_db_health_reads_depends_on_conditions():
    cfg = copy.deepcopy(REFERENCE)
    cfg["services"]["api1"]["depends_on"] = {"db": {"condition": "service_healthy",
                                                    "required": True}}
    cfg["services"]["api2"]["depends_on"] = {"db": {"condition": "service_started",
                                                    "required": True}}
    assert grader._waits_for_db_health(cfg, "api1", "db")
    assert not grader._waits_for_db_health(cfg, "api2", "db")
    assert not grader._waits_for_db_health(REFERENCE, "api1", "db")


def test_describe_hold_names_the_instances_and_their_attempts():
    apis = [watch(first_attempt=3.0, stopped=True, gone=True), watch("a2-api2-1")]
    text = grader.describe_hold(apis, 100.0, [(101.5, "172.20.0.4"), (101.9, "127.0.0.1")],
                                {"172.20.0.4": "a2-api1-1"})
    assert "a2-api1-1: 1 attempt(s) at +1.5 s; then gone" in text
    assert "a2-api2-1: 0 attempt(s)" in text and "127.0.0.1" in text
    assert "not observable" in grader.describe_hold(apis, None, [], {})


def test_config_json_finds_the_config_among_compose_warnings():
    cfg = {"name": "a2", "services": {"db": {"image": "postgres", "privileged": True}}}
    warned = ('time="2026-01-01T00:00:00Z" level=warning msg="/srv/submission/compose.yaml: the '
              'attribute `version` is obsolete, it will be ignored"\n' + json.dumps(cfg, indent=2))
    with pytest.raises(json.JSONDecodeError):
        json.loads(warned)  # what the grader used to do: the policy then saw nothing
    assert config_json(warned) == cfg
    assert policy_problems(config_json(warned), ROOT)
    assert config_json(json.dumps(cfg)) == cfg
    # A JSON-looking warning line before the config, or no JSON at all.
    assert config_json('{not json\n' + json.dumps(cfg)) == cfg
    assert config_json("level=error msg=boom") == {}
    assert config_json("[1, 2]") == {}


class _FakeStack:
    """Only ``compose config``, as a sandbox would answer it (unit tests only)."""

    def __init__(self, output: str):
        self.output = output

    def compose(self, *args, timeout=60):
        assert args[:1] == ("config",)
        return type("Res", (), {"exit_code": 0, "output": self.output, "timed_out": False})()


@pytest.mark.parametrize("output, needle", [
    ('level=warning msg="the attribute `version` is obsolete"\n'
     + json.dumps(with_db(privileged=True)), "privileged: true"),
    ("level=warning msg=something\nnot json at all", "printed no services"),
])
def test_grader_judges_the_policy_on_config_with_warnings(output, needle):
    run = grader._Run(lambda *a: None)
    grader._grade_in_sandbox(run, _FakeStack(output), "compose.yaml")
    first = run.outcomes["compose-valid"]
    assert not first.passed and needle in first.message
    assert all(not o.passed and "Skipped" in o.message
               for cid, o in run.outcomes.items() if cid != "compose-valid")


def test_a3_grader_still_exports_config_json():
    assert registry.get("a3").grader.config_json is config_json


def test_publishes():
    assert grader.publishes(REFERENCE["services"]["proxy"], 8080)
    assert grader.publishes({"ports": [{"published": "8000-8100", "target": 80}]}, 8080)
    assert not grader.publishes({"ports": [{"published": "80", "target": 80}]}, 8080)


# -- refusals before any sandbox ---------------------------------------------------------------
class NoBackend:
    """Fails the test if the grader tries to start a sandbox."""

    def create_fresh(self, **kw):
        raise AssertionError("a refused submission must not reach a sandbox")


def test_no_compose_file_is_refused_before_docker():
    report = grader.grade({"api/server.js": b"// hi"}, NoBackend())
    assert "No compose file" in report.checks[0].message
    assert [c.id for c in report.checks] == list(grader.TITLES)
    assert all(not c.passed for c in report.checks) and report.score == 0
    assert report.max_score == 100


def test_compose_file_in_a_subfolder_is_not_taken():
    report = grader.grade({"project/compose.yaml": b"services: {}"}, NoBackend())
    assert "No compose file" in report.checks[0].message


def test_invalid_yaml_is_refused_before_docker():
    report = grader.grade({"compose.yaml": b"services: [unclosed"}, NoBackend())
    assert "not valid YAML" in report.checks[0].message
    assert all("Skipped" in c.message for c in report.checks[1:])


def test_invalid_yaml_message_holds_the_whole_parser_message_with_line_and_column():
    problem = yaml_problem(b"services:\n  web:\n    image: nginx\nbad: [unclosed\n")
    assert problem == ("The file is not valid YAML: while parsing a flow sequence (line 4, column "
                       "6): expected ',' or ']', but got '<stream end>' (line 5, column 1)")
    assert yaml_problem(b"a: b: c") == ("The file is not valid YAML: mapping values are not "
                                        "allowed here (line 1, column 5)")
    with translation.override("ko"):
        ko = yaml_problem(b"bad: [unclosed")
    assert ko.startswith("올바른 YAML이 아닙니다: while parsing a flow sequence (1번째 줄, 6번째 칸)")
    assert "expected ',' or ']', but got '<stream end>' (1번째 줄, 15번째 칸)" in ko


def test_two_compose_files_the_first_is_graded_and_the_other_named():
    assert compose_file({"docker-compose.yml": b"", "compose.yaml": b"", "x": b""},
                        grader.ACCEPTED_FILENAMES) == ("compose.yaml", ["docker-compose.yml"])
    assert compose_file({"compose.yml": b""}, grader.ACCEPTED_FILENAMES) == ("compose.yml", [])
    assert compose_file({"sub/compose.yaml": b""}, grader.ACCEPTED_FILENAMES) == (None, [])
    assert ignored_compose_note("compose.yaml", []) == ""
    # The compose file graded is named in compose-valid's message, pass or fail.
    report = grader.grade({"compose.yaml": b"services: [unclosed",
                           "docker-compose.yml": b"services: {}"}, NoBackend())
    message = report.checks[0].message
    assert "not valid YAML" in message
    assert ("more than one compose file: compose.yaml was graded, not docker-compose.yml. Submit "
            "one compose file only.") in message
    report = grader.grade({"compose.yaml": b"services: [unclosed"}, NoBackend())
    assert "more than one" not in report.checks[0].message
    with translation.override("ko"):
        assert "Compose 파일이 여러 개" in ignored_compose_note("compose.yaml", ["compose.yml"])


def test_every_check_has_a_korean_title():
    with translation.override("ko"):
        titles = [str(t) for t, _pts in grader.TITLES.values()]
    english = [str(t) for t, _pts in grader.TITLES.values()]
    assert all(k != e for k, e in zip(titles, english, strict=True)), titles


def test_listening_sockets_other_than_loopback():
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    dns = "   0: 0B00007F:A2F9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
    app_any6 = ("   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000"
                " 0A 00000000:00000000 00:00000000 00000000  1000\n")
    app_local = "   1: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000\n"
    app_any4 = "   2: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000\n"
    client = "   3: 0200150A:D2F0 0300150A:1538 01 00000000:00000000 00:00000000 00000000  1000\n"
    assert not grader.proc_net_listens(head + dns)  # Docker's DNS server only
    assert not grader.proc_net_listens(head + dns + app_local + client)  # 127.0.0.1 only
    assert grader.proc_net_listens(head + dns + app_any4)
    assert grader.proc_net_listens(head + dns + head + app_any6)


# -- a slow start of the second API instance (fakes of the engine, nginx and the clock) ---------
def test_api_container_state():
    state = grader.api_container_state
    assert state("running") == "up"
    assert state("created") == state("restarting") == "pending"
    assert state("exited", "unless-stopped", 1) == state("exited", "always", 0) == "pending"
    assert state("exited", "on-failure", 1) == "pending"
    assert state("exited", "on-failure", 0) == state("exited", "no", 1) == "gone"
    assert state("dead", "always", 137) == state("removing", "always", 0) == "gone"


class _Clock:
    """A fake ``time`` for the grader: ``sleep`` moves the clock on, nothing waits."""

    def __init__(self):
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += max(s, 0.0)


class _Api:
    """A fake API container whose state follows ``timeline``: ``[(from_t, status, exit code,
    listening), ...]`` on the fake clock; ``policy`` is its restart policy."""

    def __init__(self, clock, service, timeline, policy="no", log=""):
        self.clock, self.name, self.id = clock, f"a2-{service}-1", service
        self.labels = {"com.docker.compose.service": service}
        self.timeline, self.policy, self.log = timeline, policy, log

    def _now(self):
        return [row for row in self.timeline if row[0] <= self.clock.t][-1]

    @property
    def status(self) -> str:
        return self._now()[1]

    @property
    def listening(self) -> bool:
        return self.status == "running" and self._now()[3]

    @property
    def attrs(self) -> dict:
        return {"State": {"Status": self.status, "ExitCode": self._now()[2]},
                "HostConfig": {"RestartPolicy": {"Name": self.policy}},
                "Config": {"Hostname": f"host-{self.id}"}}


class _SpreadStack:
    """The engine and nginx of a grading sandbox, faked: nginx answers round robin from the API
    containers that listen at the time of the request (each request takes 50 ms)."""

    def __init__(self, clock, apis):
        self.clock, self.apis, self.turn = clock, apis, 0

    def containers(self, service=None):
        return [a for a in self.apis if service in (None, a.id)]

    def listens(self, c) -> bool:
        return c.listening

    def logs(self, service, tail=20) -> str:
        return f"(log of {service})"

    def log_of(self, c, tail=20) -> str:
        return c.log

    def ps(self) -> str:
        return "\n".join(f"{a.name}: {a.status}" for a in self.apis)

    def http(self, host, method, path, **kw):
        self.clock.t += 0.05
        up = [a for a in self.apis if a.listening]
        if not up:
            return grader.HttpAnswer(status=502, body="bad gateway")
        self.turn += 1
        return grader.HttpAnswer(status=200, body=json.dumps(
            {"instance": f"host-{up[self.turn % len(up)].id}"}))


def _spread_verdict(monkeypatch, make_apis, services=("api1", "api2")):
    """Run the grader's proxy-answers and load-spread checks on fakes; (outcome of
    load-spread, seconds of the fake clock it took)."""
    clock = _Clock()
    stack = _SpreadStack(clock, make_apis(clock))
    monkeypatch.setattr(grader, "time", clock)
    monkeypatch.setattr(grader, "http_request", stack.http)
    run = grader._Run(lambda *a: None)
    roles = grader.Roles(proxy="proxy", db="db", redis="redis", api=list(services))
    config = {"services": {"proxy": {"ports": [{"published": "8080", "target": 80}]}}}
    assert grader._proxy_answers(run, stack, config, roles, "sandbox") is not None
    grader._load_spread(run, stack, roles, "sandbox")
    return run.outcomes["load-spread"], clock.t


RUNNING = [(0, "running", None, True)]


def test_a_second_instance_still_being_started_is_waited_for(monkeypatch):
    """Under heavy load Compose starts api2 seconds after api1, and node takes a while to
    listen: the grader waits (within PROXY_READY_S) instead of judging one instance."""
    o, took = _spread_verdict(monkeypatch, lambda clk: [
        _Api(clk, "api1", RUNNING),
        _Api(clk, "api2", [(0, "created", None, False), (5, "running", None, False),
                           (9, "running", None, True)])])
    assert o.passed, (o.message, o.evidence)
    assert "answered by 2 instances" in o.message and took < grader.PROXY_READY_S + 2


def test_a_second_instance_restarted_by_its_policy_is_waited_for(monkeypatch):
    """An API that exits until PostgreSQL is ready and is started again by ``restart:`` (a
    correct answer to the handout) is counted once it runs; its restarts are waited for."""
    o, _took = _spread_verdict(monkeypatch, lambda clk: [
        _Api(clk, "api1", RUNNING),
        _Api(clk, "api2", [(0, "exited", 1, False), (1, "restarting", 1, False),
                           (6, "running", 1, False), (7, "exited", 1, False),
                           (8, "restarting", 1, False), (18, "running", 1, True)],
             policy="on-failure")])
    assert o.passed, (o.message, o.evidence)


def test_one_api_instance_still_fails_at_once_with_the_same_message(monkeypatch):
    o, took = _spread_verdict(monkeypatch, lambda clk: [_Api(clk, "api", RUNNING)],
                              services=("api",))
    assert not o.passed and o.message.startswith("Only 1 API container runs")
    assert took < 2  # nothing to wait for


def test_an_instance_gone_for_good_is_not_waited_for(monkeypatch):
    o, took = _spread_verdict(monkeypatch, lambda clk: [
        _Api(clk, "api1", RUNNING), _Api(clk, "api2", [(0, "exited", 1, False)], log=NODE_PG_CRASH)])
    assert not o.passed and o.message.startswith("Only 1 API container runs")
    assert took < 2 and "a2-api2-1: exited" in o.evidence and "(log of api2)" in o.evidence
    # The message names the instance that stopped and the error it printed.
    assert 'a2-api2-1 stopped (exit code 1) with "error: duplicate key value' in o.message


def test_an_instance_that_never_comes_up_fails_within_the_time_limits(monkeypatch):
    o, took = _spread_verdict(monkeypatch, lambda clk: [
        _Api(clk, "api1", RUNNING), _Api(clk, "api2", [(0, "restarting", 1, False)],
                                         policy="always")])
    assert not o.passed and o.message.startswith("Only 1 API container runs")
    assert grader.PROXY_READY_S <= took <= grader.PROXY_READY_S + grader.SETTLE_S + 3
    assert "a2-api2-1: restarting" in o.evidence and "(log of api1)" not in o.evidence


class _StallingStack(_SpreadStack):
    """nginx and two instances, but the connection to the published port gets no answer at the
    requests numbered in ``stalls`` (counted from 1), as on a grading host under heavy load."""

    def __init__(self, clock, apis, stalls):
        super().__init__(clock, apis)
        self.stalls, self.n = set(stalls), 0

    def http(self, host, method, path, **kw):
        self.n += 1
        if self.n in self.stalls:
            self.clock.t += grader.HTTP_TIMEOUT_S
            return grader.HttpAnswer(error="timed out")
        return super().http(host, method, path, **kw)


def _load_spread_on(monkeypatch, make_stack):
    """The load-spread check alone, on ``make_stack(clock, apis)`` with two running instances."""
    clock = _Clock()
    stack = make_stack(clock, [_Api(clock, "api1", RUNNING), _Api(clock, "api2", RUNNING)])
    monkeypatch.setattr(grader, "time", clock)
    monkeypatch.setattr(grader, "http_request", stack.http)
    run = grader._Run(lambda *a: None)
    roles = grader.Roles(proxy="proxy", db="db", redis="redis", api=["api1", "api2"])
    grader._load_spread(run, stack, roles, "sandbox")
    return run.outcomes["load-spread"]


def test_a_request_the_busy_host_never_answered_is_asked_again(monkeypatch):
    """Seen in a burst of 30 gradings: one of 20 requests to the reference timed out in the
    grader's client (nginx logged nothing), and the reference lost load-spread."""
    o = _load_spread_on(monkeypatch, lambda clk, apis: _StallingStack(clk, apis, {7}))
    assert o.passed, (o.message, o.evidence)
    assert "7: no answer: timed out; asked again" in o.evidence


def test_requests_that_keep_getting_no_answer_still_fail(monkeypatch):
    o = _load_spread_on(monkeypatch, lambda clk, apis: _StallingStack(clk, apis, range(3, 40)))
    assert not o.passed and "requests failed" in o.message


def test_an_error_from_nginx_is_not_asked_again(monkeypatch):
    class Gateway(_SpreadStack):
        calls = 0

        def http(self, host, method, path, **kw):
            self.calls += 1
            if self.calls == 4:
                return grader.HttpAnswer(status=502, body="bad gateway")
            return super().http(host, method, path, **kw)

    o = _load_spread_on(monkeypatch, Gateway)
    assert not o.passed and o.message.startswith("1 of 20 requests failed")
    assert "asked again" not in o.evidence


class _SessionStack(_SpreadStack):
    """nginx, two instances and a shared (or, with ``shared=False``, per-instance) session
    store, faked; the answer to the requests numbered in ``lost`` (from 1) never arrives,
    after the server counted the visit when ``counted``."""

    def __init__(self, clock, apis, lost=(), counted=True, shared=True):
        super().__init__(clock, apis)
        self.lost, self.counted, self.shared, self.n = set(lost), counted, shared, 0
        self.store: dict[tuple[str, str], int] = {}

    def http(self, host, method, path, cookie=None, **kw):
        self.n += 1
        self.clock.t += 0.05
        self.turn += 1
        inst = self.apis[self.turn % len(self.apis)].id
        sid = cookie.split("=", 1)[1] if cookie else f"sid{self.n}"
        key = ("all" if self.shared else inst, sid)
        if self.n in self.lost and not self.counted:
            self.clock.t += grader.HTTP_TIMEOUT_S
            return grader.HttpAnswer(error="timed out")
        known = key in self.store
        self.store[key] = self.store.get(key, 0) + 1
        if self.n in self.lost:
            self.clock.t += grader.HTTP_TIMEOUT_S
            return grader.HttpAnswer(error="timed out")
        return grader.HttpAnswer(
            status=200, body=json.dumps({"visits": self.store[key], "instance": inst}),
            cookies=[] if known and cookie else [f"connect.sid={sid}; Path=/; HttpOnly"])


def _sessions_on(monkeypatch, **kw):
    clock = _Clock()
    stack = _SessionStack(clock, [_Api(clock, "api1", RUNNING), _Api(clock, "api2", RUNNING)],
                          **kw)
    monkeypatch.setattr(grader, "time", clock)
    monkeypatch.setattr(grader, "http_request", stack.http)
    run = grader._Run(lambda *a: None)
    roles = grader.Roles(proxy="proxy", db="db", redis="redis", api=["api1", "api2"])
    grader._sessions_shared(run, stack, roles, "sandbox")
    return run.outcomes["sessions-shared"], stack.n


@pytest.mark.parametrize("counted", [True, False])
def test_a_visit_whose_answer_never_came_is_forgiven_and_replaced(monkeypatch, counted):
    o, sent = _sessions_on(monkeypatch, lost={2}, counted=counted)
    assert o.passed, (o.message, o.evidence)
    assert sent == grader.VISITS + 1 and "2: Cookie: connect.sid=sid1 -> no answer" in o.evidence


def test_sessions_in_memory_still_fail_with_a_lost_answer(monkeypatch):
    o, _sent = _sessions_on(monkeypatch, lost={3}, shared=False)
    assert not o.passed and "each instance keeps its own sessions" in o.message, o.message


def test_two_visits_without_answer_fail(monkeypatch):
    o, sent = _sessions_on(monkeypatch, lost={2, 4})
    assert not o.passed and "2 of 7 requests to GET /api/visits got no answer" in o.message, o.message
    assert sent == grader.VISITS + 1


class _ItemsStack(_SpreadStack):
    """nginx and an API that stores items (in PostgreSQL, faked by ``sh``); the answers to the
    requests numbered in ``lost`` (from 1) never arrive, after the API did its work when
    ``done``."""

    def __init__(self, clock, apis, lost=(), done=True):
        super().__init__(clock, apis)
        self.lost, self.done, self.n, self.items, self.posts = set(lost), done, 0, [], 0

    def http(self, host, method, path, body=None, **kw):
        self.n += 1
        self.posts += method == "POST"
        self.clock.t += 0.05
        if self.n in self.lost and not self.done:
            return grader.HttpAnswer(error="timed out")
        if method == "POST":
            self.items.append(body["name"])
            answer = grader.HttpAnswer(status=201, body=json.dumps({"id": len(self.items),
                                                                    "name": body["name"]}))
        else:
            answer = grader.HttpAnswer(status=200, body=json.dumps(
                [{"id": i + 1, "name": n} for i, n in enumerate(self.items)]))
        return grader.HttpAnswer(error="timed out") if self.n in self.lost else answer

    def sh(self, service, script):
        return 0, "\n".join(n for n in self.items if n in script)


def _items_on(monkeypatch, **kw):
    clock = _Clock()
    stack = _ItemsStack(clock, [_Api(clock, "api1", RUNNING)], **kw)
    monkeypatch.setattr(grader, "time", clock)
    monkeypatch.setattr(grader, "http_request", stack.http)
    run = grader._Run(lambda *a: None)
    roles = grader.Roles(proxy="proxy", db="db", redis="redis", api=["api1"])
    token = grader._items_stored(run, stack, roles, "sandbox")
    return run.outcomes["items-stored"], token, stack


@pytest.mark.parametrize("lost,done,posts", [
    ({1}, True, 1),    # the POST worked, its answer got lost: the item is found, not posted again
    ({1}, False, 2),   # the POST never arrived: posted once more
    ({2}, True, 1),    # the GET's answer got lost: asked again
])
def test_items_stored_survives_one_lost_answer(monkeypatch, lost, done, posts):
    o, token, stack = _items_on(monkeypatch, lost=lost, done=done)
    assert o.passed and token, (o.message, o.evidence)
    assert stack.posts == posts and len(stack.items) == 1, o.evidence
    assert "no answer: timed out" in o.evidence


def test_items_stored_fails_when_the_post_never_gets_an_answer(monkeypatch):
    o, token, _stack = _items_on(monkeypatch, lost={1, 2, 3}, done=False)
    assert not o.passed and token is None
    assert "contract asks for 201" in o.message and "no answer" in o.message, o.message


def test_a_port_published_on_loopback_only_is_named():
    # Before, "127.0.0.1:8080:80" waited for nginx and then asked "did you publish 80 as 8080:80?".
    svc = {"ports": [{"target": 80, "published": "8080", "host_ip": "127.0.0.1"}]}
    assert grader.loopback_only(svc, 8080) == "127.0.0.1"
    assert grader.loopback_only({"ports": [{"target": 80, "published": "8080"}]}, 8080) is None
    both = {"ports": [{"target": 80, "published": "8080", "host_ip": "127.0.0.1"},
                      {"target": 80, "published": "8080", "host_ip": "0.0.0.0"}]}
    assert grader.loopback_only(both, 8080) is None
    assert grader.loopback_only({"ports": []}, 8080) is None



def test_counts_in_messages_take_the_right_english_plural():
    """QA: "while 2 instance(s) answered"."""
    from django.utils.translation import override

    with override("en"):
        _ok, two = grader.judge_sessions([(1, "a"), (1, "b"), (2, "a"), (2, "b"), (3, "a"),
                                          (3, "b")])
        _ok, one = grader.judge_sessions([(1, "a"), (1, "a"), (2, "a")])
    assert "while 2 instances answered" in two and "(s)" not in two, two
    assert "while 1 instance answered" in one, one
    with override("ko"):
        _ok, ko = grader.judge_sessions([(1, "a"), (1, "b"), (2, "a")])
    assert "인스턴스 2개가 응답하는 동안" in ko, ko
