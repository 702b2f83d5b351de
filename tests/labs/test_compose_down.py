"""``compose_project_down`` without -v's events: the engine keeps only its last 256 events, so
``down -v`` is also proven by the shell history (an ``up``, then a ``down -v``) when the volume's
removal has left that buffer. Unit tests on built states, then both ways on a real sandbox."""
from __future__ import annotations

import pytest
from django.utils.translation import override

from labs import checks, content, observe
from labs.checks import ContainerObs, EngineState, HistoryEntry, NetworkObs
from tests.conftest import inner_sh, reset_inner_engine

BRIDGE = (NetworkObs("bridge", driver="bridge"), NetworkObs("host", driver="host"),
          NetworkObs("none", driver="null"))
REMOVED = ("compose-lab-web-1", "compose-lab-api-1", "compose-lab-db-1")


def hist(*lines):
    return tuple(HistoryEntry(1000 + n, line) for n, line in enumerate(lines))


def down_v(state):
    return checks.compose_project_down(state, project="compose-lab", services=["web", "api", "db"],
                                       volumes=["db-data"], keep_volumes=False)


def down(state):
    return checks.compose_project_down(state, project="compose-lab", services=["web", "api", "db"],
                                       volumes=["db-data"], keep_volumes=True)


UP_THEN_DOWN_V = hist("cd ~/compose-lab && docker compose up -d", "docker compose logs web",
                      "docker compose down -v")


@pytest.mark.parametrize("history", [
    UP_THEN_DOWN_V,
    hist("cd ~/compose-lab", "docker compose up -d", "docker compose down --volumes"),
    hist("cd compose-lab", "docker-compose up -d", "docker-compose down -v --remove-orphans"),
    hist("docker compose -p compose-lab up -d", "docker compose -p compose-lab down -vt 3"),
    hist("cd ~/compose-lab/web", "cd ..", "docker compose up -d",
         "docker compose -f compose.yaml down --volumes=true"),
    # From the home folder, naming the file or the folder.
    hist("docker compose -f compose-lab/compose.yaml up -d",
         "docker compose --project-directory ~/compose-lab down -v"),
    # A folder the history cannot follow (cd -) counts.
    hist("cd -", "docker compose up -d", "docker compose down -v"),
])
def test_down_v_passes_on_history_when_the_events_are_gone(history):
    # Nothing of the project is left and no event of it is in the buffer any more.
    res = down_v(EngineState(networks=BRIDGE, shell_history=history))
    assert res.passed and res.msg is checks.MSG_CDOWN_REMOVED_OK


@pytest.mark.parametrize("state,msg,words", [
    # Never started: the same end state and nothing in the history.
    (EngineState(networks=BRIDGE), checks.MSG_COMPOSE_NONE, "no Compose project"),
    # 'down -v' typed before anything was ever up removed nothing.
    (EngineState(networks=BRIDGE, shell_history=hist("cd ~/compose-lab", "docker compose down -v",
                                                     "docker compose up -d")),
     checks.MSG_CDOWN_NOT_SEEN, "removal of its volume compose-lab_db-data was not seen"),
    # Up, then plain down, then the volume removed by hand after its events left the buffer.
    (EngineState(networks=BRIDGE, shell_history=hist("cd ~/compose-lab", "docker compose up -d",
                                                     "docker compose down",
                                                     "docker volume rm compose-lab_db-data")),
     checks.MSG_CDOWN_NOT_SEEN, "removal of its volume compose-lab_db-data was not seen"),
    # Another project's down -v (by -p) does not count for this one.
    (EngineState(networks=BRIDGE, shell_history=hist("docker compose -p other up -d",
                                                     "docker compose -p other down -v")),
     checks.MSG_COMPOSE_NONE, "no Compose project"),
    # -t takes a value: in '-tv' the v is -t's value, not -v.
    (EngineState(networks=BRIDGE, shell_history=hist("cd ~/compose-lab && docker compose up -d",
                                                     "docker compose down -tv")),
     checks.MSG_CDOWN_NOT_SEEN, "was not seen"),
])
def test_down_v_without_proof_fails(state, msg, words):
    res = down_v(state)
    assert not res.passed and res.msg is msg
    with override("en"):
        assert words in res.message


def test_down_v_history_does_not_hide_a_project_in_another_folder():
    other = ContainerObs(name="my-stack-web-1", image="nginx", image_id="sha256:a", state="running",
                         labels={checks.COMPOSE_PROJECT: "my-stack", checks.COMPOSE_SERVICE: "web"})
    res = down_v(EngineState(containers=(other,), networks=BRIDGE, shell_history=UP_THEN_DOWN_V))
    assert not res.passed and res.msg is checks.MSG_COMPOSE_OTHER_PROJECT


def test_plain_down_step_names_the_lost_volume_when_its_events_are_gone():
    res = down(EngineState(networks=BRIDGE, shell_history=UP_THEN_DOWN_V))
    assert not res.passed and res.msg is checks.MSG_CDOWN_VOLUME_GONE
    assert down(EngineState(networks=BRIDGE)).msg is checks.MSG_COMPOSE_NONE


@pytest.mark.parametrize("keep", [True, False])
def test_the_history_is_read_only_when_the_engine_cannot_tell(keep):
    spec = checks.parse_spec({"type": "compose_project_down", "project": "compose-lab",
                              "volumes": ["db-data"], "keep_volumes": keep})
    vol = checks.VolumeObs("compose-lab_db-data", labels={checks.COMPOSE_PROJECT: "compose-lab",
                                                          checks.COMPOSE_VOLUME: "db-data"})
    up = ContainerObs(name="compose-lab-db-1", image="redis", image_id="sha256:a", state="running",
                      labels={checks.COMPOSE_PROJECT: "compose-lab", checks.COMPOSE_SERVICE: "db"})
    seen = EngineState(networks=BRIDGE, removed=REMOVED, removed_volumes=("compose-lab_db-data",))
    assert spec.reads() == frozenset()
    for state in (EngineState(containers=(up,), networks=BRIDGE),  # still up
                  EngineState(networks=BRIDGE, volumes=(vol,)),  # plain down: volume kept
                  seen):  # down -v, seen in the events
        assert spec.reads(state) == frozenset(), state
    # Nothing left and no event of it: only the history can tell.
    assert spec.reads(EngineState(networks=BRIDGE)) == {"history"}
    assert spec.reads(EngineState(networks=BRIDGE, removed=REMOVED)) == {"history"}


# ------------------------------------------------------------------------------
# Real sandbox: the compose lab's solutions, then more than 256 engine events.
# ------------------------------------------------------------------------------
LAB = content.get_lab("week1", "compose")
# 300 volume create/remove pairs: 600 events, more than the engine's buffer of 256 (through the
# engine's API with curl: the docker command would take minutes for as many).
_API = "curl -sf --unix-socket /var/run/docker.sock"
FLOOD = (f"for i in $(seq 300); do {_API} -H 'Content-Type: application/json' "
         "-d \"{\\\"Name\\\":\\\"flood$i\\\"}\" http://docker/volumes/create >/dev/null; "
         f"{_API} -X DELETE http://docker/volumes/flood$i; done; echo flooded")
RESET_WORKSPACE = ("find /root -mindepth 1 -maxdepth 1 ! -name .bashrc ! -name .profile "
                   "! -name work -exec rm -rf {} +")


@pytest.fixture(scope="module")
def sandbox(backend):
    sb = backend.ensure(owner="compose-down")
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def _run(backend, sandbox, commands):
    for cmd in commands:
        res = backend.exec(sandbox.id, ["bash", "-c", 'printf "%s\\n" "$1" | bash -i', "bash", cmd],
                           timeout=240)
        print(f"$ {cmd}\n{res.output[-2000:]}")


def _fresh(backend, sandbox):
    reset_inner_engine(backend, sandbox.id, images=False)
    inner_sh(backend, sandbox.id, RESET_WORKSPACE)


def _judge(backend, sandbox):
    step = LAB.step("down-volumes")
    state = observe.lab_state(backend, sandbox.id, [s.check for s in LAB.steps])
    return state, step.check.run(state)


def _solutions_up_to(step_id):
    out = []
    for s in LAB.steps:
        if s.id == step_id:
            return out
        out += list(s.solution)
    raise AssertionError(step_id)


@pytest.mark.docker
def test_down_v_real_after_the_events_left_the_buffer(backend, sandbox):
    _fresh(backend, sandbox)
    _run(backend, sandbox, _solutions_up_to("down-volumes") + list(LAB.step("down-volumes").solution)
         + [FLOOD])
    state, res = _judge(backend, sandbox)
    assert "compose-lab_db-data" not in state.removed_volumes, "the flood did not push it out"
    with override("en"):
        assert res.passed, res.message


@pytest.mark.docker
def test_plain_down_real_after_the_events_left_the_buffer_fails(backend, sandbox):
    _fresh(backend, sandbox)
    _run(backend, sandbox, _solutions_up_to("down-volumes") + [FLOOD])
    state, res = _judge(backend, sandbox)
    assert not any(n.startswith("compose-lab") for n in state.removed), "flood too small"
    assert not res.passed and res.msg is checks.MSG_CDOWN_VOLUME_KEPT
    # The volume removed by hand instead of by 'down -v', its events pushed out too.
    _run(backend, sandbox, ["docker volume rm compose-lab_db-data", FLOOD])
    _, res = _judge(backend, sandbox)
    assert not res.passed and res.msg is checks.MSG_CDOWN_NOT_SEEN


@pytest.mark.parametrize("history", [
    # In the home folder: Compose finds no compose.yaml ("no configuration file provided").
    hist("docker compose up -d"),
    hist("docker compose up -d", "docker compose down -v"),
    # In another folder, or another project's folder.
    hist("cd /tmp && docker compose up -d", "docker compose down -v"),
    hist("cd ~/other-lab", "docker compose up -d", "cd ~", "docker compose down"),
])
def test_an_up_in_another_folder_is_no_project(history):
    """The lab's first mistake: 'docker compose up -d' outside ~/compose-lab fails, and
    nothing of the project was ever there. Both down steps say so, instead of "you ran down -v"
    or "its removal was not seen"."""
    state = EngineState(networks=BRIDGE, shell_history=history)
    for check in (down, down_v):
        res = check(state)
        assert not res.passed and res.msg is checks.MSG_COMPOSE_NONE, (check, res.msg)
