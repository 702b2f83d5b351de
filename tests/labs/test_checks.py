"""Unit tests of step checks (pure: no Docker). Each check is tested both ways."""
from __future__ import annotations

import pytest
from django.utils.translation import override

from labs import checks
from labs.checks import ContainerObs, EngineState, ImageObs, PortBinding

NGINX = ImageObs(id="sha256:aaa", tags=("nginx:latest",))
BUSYBOX = ImageObs(id="sha256:bbb", tags=("busybox:latest",))


def web(name="my-web", state="running", port=8080, image="nginx", image_id="sha256:aaa"):
    ports = (PortBinding("80/tcp", "0.0.0.0", port),) if port else ()
    return ContainerObs(name=name, image=image, image_id=image_id, state=state, ports=ports)


@pytest.mark.parametrize("ref,expected", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/library/nginx:latest", "docker.io/library/nginx:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
    ("me/app", "docker.io/me/app:latest"),
])
def test_normalize_ref(ref, expected):
    assert checks.normalize_ref(ref) == expected


def test_image_present_passes_with_any_tag():
    state = EngineState(images=(ImageObs("sha256:x", ("nginx:1.25",)),))
    assert checks.image_present(state, image="nginx").passed


def test_image_present_fails_when_missing():
    res = checks.image_present(EngineState(images=(BUSYBOX,)), image="nginx")
    assert not res.passed and res.msg is checks.MSG_IMAGE_MISSING


def test_image_present_spots_a_typo():
    state = EngineState(images=(ImageObs("sha256:x", ("ngnix:latest",)),))
    res = checks.image_present(state, image="nginx")
    assert not res.passed and res.msg is checks.MSG_IMAGE_TYPO
    with override("en"):
        assert "ngnix:latest" in res.message


def test_container_running_passes():
    state = EngineState(containers=(web(),), images=(NGINX,))
    res = checks.container_running(state, name="my-web", image="nginx", publish={"80/tcp": 8080})
    assert res.passed


def test_container_running_accepts_image_by_id():
    state = EngineState(containers=(web(image="sha256:aaa"),), images=(NGINX,))
    assert checks.container_running(state, name="my-web", image="nginx",
                                    publish={"80/tcp": 8080}).passed


@pytest.mark.parametrize("container,msg", [
    (None, checks.MSG_NO_CONTAINER),
    (web(name="eager_turing"), checks.MSG_OTHER_NAME),
    (web(state="exited"), checks.MSG_NOT_RUNNING),
    (web(port=8081), checks.MSG_WRONG_PORT),
    (web(port=None), checks.MSG_NOT_PUBLISHED),
    (web(image="busybox", image_id="sha256:bbb"), checks.MSG_WRONG_IMAGE),
])
def test_container_running_near_misses(container, msg):
    state = EngineState(containers=(container,) if container else (), images=(NGINX, BUSYBOX))
    res = checks.container_running(state, name="my-web", image="nginx", publish={"80/tcp": 8080})
    assert not res.passed
    assert res.msg is msg


def test_wrong_port_message_names_both_ports():
    state = EngineState(containers=(web(port=8081),), images=(NGINX,))
    res = checks.container_running(state, name="my-web", image="nginx", publish={"80/tcp": 8080})
    with override("en"):
        assert "8081" in res.message and "-p 8080:80" in res.message
    with override("ko"):
        assert "8081" in res.message and "호스트 포트" in res.message


def test_containers_from_image():
    two = EngineState(containers=(web(), web(name="my-web2", port=8081)), images=(NGINX,))
    assert checks.containers_from_image(two, image="nginx", min_running=2).passed
    one = EngineState(containers=(web(),), images=(NGINX,))
    res = checks.containers_from_image(one, image="nginx", min_running=2)
    assert not res.passed and res.msg is checks.MSG_COUNT_LOW
    stopped = EngineState(containers=(web(), web(name="b", state="exited")), images=(NGINX,))
    res = checks.containers_from_image(stopped, image="nginx", min_running=2)
    assert not res.passed and res.msg is checks.MSG_COUNT_STOPPED


def test_other_images_do_not_count():
    state = EngineState(containers=(web(), web(name="bb", image="busybox", image_id="sha256:bbb")),
                        images=(NGINX, BUSYBOX))
    assert not checks.containers_from_image(state, image="nginx", min_running=2).passed


@pytest.mark.parametrize("raw,error", [
    ({"image": "nginx"}, "needs a 'type'"),
    ({"type": "nope"}, "unknown check type"),
    ({"type": "image_present"}, "needs image"),
    ({"type": "image_present", "image": "nginx", "colour": "red"}, "does not take colour"),
])
def test_parse_spec_errors(raw, error):
    with pytest.raises(checks.CheckSpecError, match=error):
        checks.parse_spec(raw)


# ------------------------------------------------------------------------------
# container_lifecycle
# ------------------------------------------------------------------------------


def life(state="running", history=("start",), exit_code=None, name="life", image="nginx",
         image_id="sha256:aaa"):
    return ContainerObs(name=name, image=image, image_id=image_id, state=state, id="c1",
                        exit_code=exit_code, history=history)


RUNNING = life()
PAUSED = life("paused", ("start", "pause"))
UNPAUSED = life("running", ("start", "pause", "unpause"))
STOPPED = life("exited", ("start", "pause", "unpause", "die"), exit_code=0)
RESTARTED = life("running", ("start", "pause", "unpause", "die", "start"))
KILLED = life("exited", ("start", "die"), exit_code=137)


@pytest.mark.parametrize("command,container,msg", [
    ("run", RUNNING, checks.MSG_LC_RUN_OK),
    ("pause", PAUSED, checks.MSG_LC_PAUSE_OK),
    ("unpause", UNPAUSED, checks.MSG_LC_UNPAUSE_OK),
    ("stop", STOPPED, checks.MSG_LC_STOP_OK),
    ("start", RESTARTED, checks.MSG_LC_START_OK),
    ("kill", KILLED, checks.MSG_LC_KILL_OK),
])
def test_container_lifecycle_passes(command, container, msg):
    state = EngineState(containers=(container,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command=command, image="nginx")
    assert res.passed and res.msg is msg


def test_container_lifecycle_rm_needs_a_removal():
    removed = EngineState(images=(NGINX,), removed=("web1", "life"))
    res = checks.container_lifecycle(removed, name="life", command="rm")
    assert res.passed and res.msg is checks.MSG_LC_RM_OK
    never = checks.container_lifecycle(EngineState(images=(NGINX,)), name="life", command="rm")
    assert not never.passed and never.msg is checks.MSG_LC_NOTHING_REMOVED


@pytest.mark.parametrize("command,container,msg", [
    ("run", None, checks.MSG_NO_CONTAINER),
    ("run", life(name="eager_turing"), checks.MSG_OTHER_NAME),
    ("run", life(image="busybox", image_id="sha256:bbb"), checks.MSG_WRONG_IMAGE),
    ("run", life("created", ()), checks.MSG_LC_CREATED),
    ("run", PAUSED, checks.MSG_LC_PAUSED),
    ("run", STOPPED, checks.MSG_NOT_RUNNING),
    ("pause", None, checks.MSG_NO_CONTAINER),
    ("pause", RUNNING, checks.MSG_LC_NOT_PAUSED),
    ("pause", STOPPED, checks.MSG_LC_PAUSE_STOPPED),
    ("unpause", PAUSED, checks.MSG_LC_PAUSED),
    ("unpause", RUNNING, checks.MSG_LC_NOT_UNPAUSED),
    ("unpause", STOPPED, checks.MSG_NOT_RUNNING),
    ("stop", UNPAUSED, checks.MSG_LC_STOP_FIRST),
    ("stop", PAUSED, checks.MSG_LC_STOP_FIRST),
    ("stop", KILLED, checks.MSG_LC_KILLED_NOT_STOPPED),
    ("start", STOPPED, checks.MSG_NOT_RUNNING),
    ("start", UNPAUSED, checks.MSG_LC_NOT_RESTARTED),
    ("start", PAUSED, checks.MSG_LC_PAUSED),
    ("kill", RESTARTED, checks.MSG_LC_KILL_FIRST),
    ("kill", STOPPED, checks.MSG_LC_STOPPED_NOT_KILLED),
    ("rm", KILLED, checks.MSG_LC_RM_STILL_THERE),
    ("rm", RESTARTED, checks.MSG_LC_RM_RUNNING),
])
def test_container_lifecycle_near_misses(command, container, msg):
    state = EngineState(containers=(container,) if container else (), images=(NGINX, BUSYBOX),
                        removed=("life",))
    res = checks.container_lifecycle(state, name="life", command=command, image="nginx")
    assert not res.passed
    assert res.msg is msg
    with override("en"):
        assert res.message  # every parameter the message names is given
    with override("ko"):
        assert res.message


def test_no_lifecycle_step_passes_before_its_command():
    """All step checks run on every observation: a later step must not pass in the state an
    earlier step leaves behind (running, for instance, is the end state of three steps)."""
    order = [("run", RUNNING), ("pause", PAUSED), ("unpause", UNPAUSED), ("stop", STOPPED),
             ("start", RESTARTED), ("kill", KILLED), ("rm", None)]
    for i, (_, after) in enumerate(order):
        state = EngineState(containers=(after,) if after else (), images=(NGINX,),
                            removed=("life",) if after is None else ())
        assert checks.container_lifecycle(state, name="life", command=order[i][0]).passed
        for later, _ in order[i + 1:]:
            assert not checks.container_lifecycle(state, name="life", command=later).passed, \
                (order[i][0], later)


def test_lifecycle_messages_name_the_fix():
    state = EngineState(containers=(PAUSED,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="unpause")
    with override("en"):
        assert res.message == "life is paused; unpause it with 'docker unpause life'."
    with override("ko"):
        assert "docker unpause life" in res.message
    state = EngineState(containers=(STOPPED,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="kill")
    with override("en"):
        assert "exit code 0" in res.message and "docker kill life" in res.message


def test_lifecycle_command_is_validated():
    spec = checks.parse_spec({"type": "container_lifecycle", "name": "life", "command": "stop"})
    assert spec.kwargs() == {"name": "life", "command": "stop"}
    with pytest.raises(checks.CheckSpecError, match="command must be one of"):
        checks.parse_spec({"type": "container_lifecycle", "name": "life", "command": "halt"})


# ------------------------------------------------------------------------------
# containers_published
# ------------------------------------------------------------------------------

PUBLISH = {"web1": 8001, "web2": 8002, "web3": 8003}


def three(**changes):
    """web1..web3 on 8001..8003, each having answered once; ``changes`` replaces one by name."""
    out = []
    for name, port in PUBLISH.items():
        c = changes.get(name, ContainerObs(name=name, image="nginx", image_id="sha256:aaa",
                                           state="running", http_requests=1,
                                           ports=(PortBinding("80/tcp", "0.0.0.0", port),)))
        if c is not None:
            out.append(c)
    return EngineState(containers=tuple(out), images=(NGINX, BUSYBOX))


def test_containers_published_passes():
    res = checks.containers_published(three(), image="nginx", publish=PUBLISH)
    assert res.passed and res.msg is checks.MSG_PUB_OK
    with override("en"):
        assert "web1, web2, web3" in res.message and "8001, 8002, 8003" in res.message
    res = checks.containers_published(three(), image="nginx", publish=PUBLISH, answered=True)
    assert res.passed and res.msg is checks.MSG_PUB_ANSWERED


@pytest.mark.parametrize("web2,msg", [
    (None, checks.MSG_NO_CONTAINER),
    (web(name="web2", port=8012), checks.MSG_WRONG_PORT),
    (web(name="web2", port=None), checks.MSG_NOT_PUBLISHED),
    (web(name="web2", port=None, state="created"), checks.MSG_PUB_CREATED),
    (web(name="web2", port=8002, state="exited"), checks.MSG_NOT_RUNNING),
    (web(name="web2", port=8002, state="paused"), checks.MSG_LC_PAUSED),
    (web(name="web2", port=8002, image="busybox", image_id="sha256:bbb"), checks.MSG_WRONG_IMAGE),
])
def test_containers_published_near_misses(web2, msg):
    res = checks.containers_published(three(web2=web2), image="nginx", publish=PUBLISH)
    assert not res.passed
    assert res.msg is msg
    with override("en"):
        assert "web2" in res.message


def test_containers_published_spots_an_unnamed_container():
    state = three(web3=None)
    state = EngineState(containers=(*state.containers, web(name="eager_turing", port=8003)),
                        images=state.images)
    res = checks.containers_published(state, image="nginx", publish=PUBLISH)
    assert not res.passed and res.msg is checks.MSG_OTHER_NAME
    with override("en"):
        assert "eager_turing" in res.message and "--name web3" in res.message


def test_wrong_published_port_names_both_ports():
    res = checks.containers_published(three(web2=web(name="web2", port=8012)), image="nginx",
                                      publish=PUBLISH)
    with override("en"):
        assert "8012, not 8002" in res.message and "-p 8002:80" in res.message


def test_containers_published_answered_needs_a_request_to_each():
    silent = web(name="web2", port=8002)  # http_requests defaults to 0
    res = checks.containers_published(three(web2=silent), image="nginx", publish=PUBLISH,
                                      answered=True)
    assert not res.passed and res.msg is checks.MSG_PUB_SILENT
    with override("en"):
        assert "curl localhost:8002" in res.message
    assert checks.containers_published(three(web2=silent), image="nginx", publish=PUBLISH).passed
