"""Unit tests of step checks (pure: no Docker). Each check is tested both ways."""
from __future__ import annotations

import dataclasses
import functools
import re

import pytest
from django.utils.functional import Promise
from django.utils.translation import override

from labs import checks
from labs.checks import (
    ContainerObs,
    EngineState,
    ImageObs,
    MountObs,
    NetworkObs,
    PortBinding,
    VolumeObs,
)

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


def test_containers_from_image_never_started_is_not_stopped():
    """A 'docker run' whose start failed (host port taken, a bad bind mount) leaves a container
    that never ran: it is named as such, not counted as a stopped one."""
    failed = EngineState(containers=(web(), web(name="my-web2", state="created")), images=(NGINX,))
    res = checks.containers_from_image(failed, image="nginx", min_running=2)
    assert not res.passed and res.msg is checks.MSG_COUNT_NEVER_STARTED
    with override("en"):
        assert "1 container running from nginx; my-web2 was created but never started" \
            in res.message and "stopped" not in res.message
        assert "docker rm my-web2" in res.message
    with override("ko"):
        assert "my-web2" in res.message and "docker rm my-web2" in res.message


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
STOPPED = life("exited", ("start", "pause", "unpause", "die", "stop"), exit_code=0)
RESTARTED = life("running", ("start", "pause", "unpause", "die", "stop", "start"))
KILLED = life("exited", ("start", "die"), exit_code=137)
# 'docker restart': the engine reports die, stop, then start, then restart.
RESTARTED_IN_ONE_GO = life("running", ("start", "pause", "unpause", "die", "stop", "start",
                                       "restart"))


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
    ("run", None, checks.MSG_CONTAINER_REMOVED),
    ("run", life(name="eager_turing"), checks.MSG_OTHER_NAME),
    ("run", life(image="busybox", image_id="sha256:bbb"), checks.MSG_WRONG_IMAGE),
    ("run", life("created", ()), checks.MSG_LC_CREATED),
    ("run", PAUSED, checks.MSG_LC_PAUSED),
    ("run", STOPPED, checks.MSG_NOT_RUNNING),
    ("pause", None, checks.MSG_CONTAINER_REMOVED),
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
    ("start", RESTARTED_IN_ONE_GO, checks.MSG_LC_RESTART_COMMAND),
    ("kill", RESTARTED, checks.MSG_LC_KILL_FIRST),
    ("stop", RESTARTED_IN_ONE_GO, checks.MSG_LC_STOP_FIRST),
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


def test_lifecycle_start_after_a_restart_needs_a_stop_and_a_start_of_its_own():
    again = life("running", RESTARTED_IN_ONE_GO.history + ("die", "start"))
    state = EngineState(containers=(again,), images=(NGINX,))
    assert checks.container_lifecycle(state, name="life", command="start").passed
    state = EngineState(containers=(RESTARTED_IN_ONE_GO,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="start")
    with override("en"):
        assert "was restarted with 'docker restart', which stops and starts it" in res.message


@pytest.mark.parametrize("command", ["stop", "kill"])
@pytest.mark.parametrize("signalled_ago,settles", [(0.2, True), (5.0, False), (None, False)])
def test_a_container_seen_just_after_a_signal_is_looked_at_again(command, signalled_ago, settles):
    """'docker kill' returns once the signal is sent: a look right after it can still see the
    container running (CI saw "life is still running" after 'docker kill life'). A signal
    within EXITED_SETTLE_S asks for another look; an older one (a 'docker kill -s HUP', say)
    does not hold the verdict back."""
    now = 1_000_000.0
    c = dataclasses.replace(UNPAUSED, signalled_at=0.0 if signalled_ago is None else now - signalled_ago)
    state = EngineState(containers=(c,), images=(NGINX,), observed_at=now)
    res = checks.container_lifecycle(state, name="life", command=command)
    assert not res.passed and checks.settling(res) is settles
    if not settles:
        assert res.msg is (checks.MSG_LC_STOP_FIRST if command == "stop" else checks.MSG_LC_KILL_FIRST)


def test_lifecycle_stop_seen_in_the_history_of_a_container_started_again_at_once():
    """'docker stop life; docker start life' leaves no settled stopped state to see: the stop
    event and a start that is no restart still count as the stop, and the start passes too."""
    state = EngineState(containers=(RESTARTED,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="stop")
    assert res.passed and res.msg is checks.MSG_LC_STOPPED_EARLIER
    assert checks.container_lifecycle(state, name="life", command="start").passed
    # 'docker restart' is no stop: its start is followed by restart.
    state = EngineState(containers=(RESTARTED_IN_ONE_GO,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="stop")
    assert not res.passed and res.msg is checks.MSG_LC_STOP_FIRST
    # 'docker kill' then 'docker start': no stop event.
    killed_then_started = life("running", ("start", "die", "start"))
    state = EngineState(containers=(killed_then_started,), images=(NGINX,))
    assert not checks.container_lifecycle(state, name="life", command="stop").passed


@pytest.mark.parametrize("command,exit_code,history", [("stop", 0, ("start", "die", "stop")),
                                                      ("kill", 137, ("start", "die"))])
def test_lifecycle_exited_just_now_settles_first(command, exit_code, history):
    """A look in the middle of 'docker restart' (died, not started yet) is no stop or kill."""
    ended = dataclasses.replace(life("exited", history, exit_code=exit_code),
                                died_at=1000.0)
    now = EngineState(containers=(ended,), images=(NGINX,), observed_at=1000.4)
    res = checks.container_lifecycle(now, name="life", command=command)
    assert not res.passed and res.msg is checks.MSG_LC_EXITED_SETTLING and checks.settling(res)
    with override("en"):
        assert "life ended just now: checking in a moment that it stays stopped" in res.message
    later = dataclasses.replace(now, observed_at=1000.0 + checks.EXITED_SETTLE_S)
    assert checks.container_lifecycle(later, name="life", command=command).passed
    # The wrong exit code is named at once, settled or not.
    other = "kill" if command == "stop" else "stop"
    res = checks.container_lifecycle(now, name="life", command=other)
    assert not res.passed and not checks.settling(res)


def test_a_removed_container_is_not_missing_yet():
    never = checks.container_lifecycle(EngineState(), name="life", command="stop")
    assert never.msg is checks.MSG_NO_CONTAINER
    gone = checks.container_lifecycle(EngineState(removed=("life",)), name="life", command="stop")
    assert gone.msg is checks.MSG_CONTAINER_REMOVED
    with override("en"):
        assert gone.message.startswith("There is no container named life any more")
        assert "yet" not in gone.message
    with override("ko"):
        assert "아직" not in gone.message and "삭제" in gone.message


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
    # Created, never asked to start: start it; its start failed on a taken port: run it again.
    (web(name="web2", port=None, state="created"), checks.MSG_LC_CREATED),
    (dataclasses.replace(web(name="web2", port=None, state="created"), start_error=(
        "driver failed programming external connectivity: Bind for 0.0.0.0:8002 failed: port is "
        "already allocated")), checks.MSG_PUB_CREATED),
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


# ------------------------------------------------------------------------------
# Networks: network_exists, containers_on_network, published_on
# ------------------------------------------------------------------------------

DEFAULT_NETS = (NetworkObs("bridge"), NetworkObs("host", "host"), NetworkObs("none", "null"))
LABNET = NetworkObs("labnet")


def box(name, networks=("bridge",), state="running", http_requests=0, ports=(), mounts=(),
        exit_code=None, command="sleep 3600"):
    return ContainerObs(name=name, image="busybox", image_id="sha256:bbb", state=state,
                        networks=networks, http_requests=http_requests, ports=ports,
                        mounts=mounts, exit_code=exit_code, command=command)


def test_network_exists_both_ways():
    ok = checks.network_exists(EngineState(networks=(*DEFAULT_NETS, LABNET)), name="labnet")
    assert ok.passed and ok.msg is checks.MSG_NET_OK
    res = checks.network_exists(EngineState(networks=DEFAULT_NETS), name="labnet")
    assert not res.passed and res.msg is checks.MSG_NET_MISSING
    res = checks.network_exists(EngineState(networks=(*DEFAULT_NETS, NetworkObs("lab-net"))),
                                name="labnet")
    assert not res.passed and res.msg is checks.MSG_NET_OTHER
    with override("en"):
        assert "lab-net" in res.message and "docker network create labnet" in res.message
    res = checks.network_exists(EngineState(networks=(NetworkObs("labnet", "macvlan"),)),
                                name="labnet", driver="bridge")
    assert not res.passed and res.msg is checks.MSG_NET_DRIVER


PAIR = ("api", "client")


def pair(api=None, client=None):
    return EngineState(containers=(api or box("api", ("labnet",)),
                                   client or box("client", ("labnet",))),
                       networks=(*DEFAULT_NETS, LABNET))


def test_containers_on_network_passes():
    res = checks.containers_on_network(pair(), network="labnet", names=PAIR)
    assert res.passed and res.msg is checks.MSG_ONNET_OK
    answered = pair(api=box("api", ("labnet",), http_requests=1))
    res = checks.containers_on_network(answered, network="labnet", names=PAIR, answered=["api"])
    assert res.passed and res.msg is checks.MSG_ONNET_ANSWERED


@pytest.mark.parametrize("client,msg", [
    (box("client"), checks.MSG_ONNET_WRONG),
    (box("client", ("labnet",), state="exited", exit_code=0), checks.MSG_ONNET_EXITED),
    (box("client", ("labnet",), state="created"), checks.MSG_LC_CREATED),
    (box("client", ("labnet",), state="paused"), checks.MSG_LC_PAUSED),
])
def test_containers_on_network_near_misses(client, msg):
    res = checks.containers_on_network(pair(client=client), network="labnet", names=PAIR)
    assert not res.passed and res.msg is msg
    with override("en"):
        assert "client" in res.message
    with override("ko"):
        assert "client" in res.message


def test_containers_on_network_names_the_wrong_network():
    res = checks.containers_on_network(pair(client=box("client")), network="labnet", names=PAIR)
    with override("en"):
        assert res.message.startswith("client is on bridge, not labnet")
        assert "--network labnet" in res.message
    none = EngineState(containers=(box("isolated", ("host",)),))
    res = checks.containers_on_network(none, network="none", names=["isolated"])
    with override("en"):
        assert "isolated is on host, not none" in res.message
    res = checks.containers_on_network(EngineState(containers=(box("isolated", ("none",)),)),
                                       network="none", names=["isolated"])
    assert res.passed and res.msg is checks.MSG_ONNET_OK_ONE
    with override("en"):
        assert res.message == "isolated is running on the none network."  # one: "is", not "are"
    res = checks.containers_on_network(pair(), network="labnet", names=PAIR)
    with override("en"):
        assert res.message == "api, client are running on the labnet network."


def test_containers_on_network_answered_needs_a_request():
    res = checks.containers_on_network(pair(), network="labnet", names=PAIR, answered=["api"])
    assert not res.passed and res.msg is checks.MSG_ONNET_SILENT
    with override("en"):
        assert "docker exec client wget -qO- http://api" in res.message


def local(ip="127.0.0.1", port=8090, cport="80/tcp", state="running"):
    return EngineState(containers=(ContainerObs(
        name="local-only", image="nginx", image_id="sha256:aaa", state=state,
        ports=(PortBinding(cport, ip, port),) if port else ()),), images=(NGINX,))


def test_published_on_both_ways():
    kw = {"name": "local-only", "host_port": 8090, "host_ip": "127.0.0.1"}
    res = checks.published_on(local(), **kw)
    assert res.passed and res.msg is checks.MSG_PUBON_OK
    res = checks.published_on(local(ip="0.0.0.0"), **kw)
    assert not res.passed and res.msg is checks.MSG_PUBON_IP
    with override("en"):
        assert "local-only publishes 8090 on 0.0.0.0, not 127.0.0.1" in res.message
        assert "-p 127.0.0.1:8090:80" in res.message
    for state, msg in [(local(port=8091), checks.MSG_PUBON_MISSING),
                       (local(cport="8090/tcp"), checks.MSG_PUBON_MISSING),
                       (local(port=None), checks.MSG_PUBON_MISSING),
                       (local(state="exited"), checks.MSG_NOT_RUNNING),
                       (EngineState(), checks.MSG_NO_CONTAINER)]:
        res = checks.published_on(state, **kw)
        assert not res.passed and res.msg is msg
        with override("ko"):
            assert res.message
    # On every interface: 0.0.0.0 (or IPv6 ::) passes, 127.0.0.1 alone does not.
    everyone = {"name": "local-only", "host_port": 8090, "host_ip": "0.0.0.0"}
    assert checks.published_on(local(ip="0.0.0.0"), **everyone).passed
    assert checks.published_on(local(ip="::"), **everyone).passed
    assert not checks.published_on(local(), **everyone).passed


# ------------------------------------------------------------------------------
# Storage: volume_exists, volume_mounted
# ------------------------------------------------------------------------------
ANON = "e4ce56e857fa74501dee911bab23dfb92cfa46d73efa2f6b2019dcc545860daa"
NOTES_AT_DATA = MountObs("volume", "/data", name="notes")


def test_volume_exists_both_ways():
    assert checks.volume_exists(EngineState(volumes=(VolumeObs("notes"),)), name="notes").passed
    res = checks.volume_exists(EngineState(volumes=(VolumeObs(ANON, anonymous=True),)),
                               name="notes")
    assert not res.passed and res.msg is checks.MSG_VOL_MISSING
    res = checks.volume_exists(EngineState(volumes=(VolumeObs("note"),)), name="notes")
    assert not res.passed and res.msg is checks.MSG_VOL_OTHER
    with override("en"):
        assert "note," in res.message and "docker volume create notes" in res.message


def test_volume_mounted_passes():
    kw = {"name": "writer", "destination": "/data", "mount": "volume", "volume": "notes"}
    done = EngineState(containers=(box("writer", state="exited", exit_code=0,
                                       mounts=(NOTES_AT_DATA,)),))
    res = checks.volume_mounted(done, **kw)
    assert res.passed and res.msg is checks.MSG_MOUNT_OK
    site = EngineState(containers=(box("site", mounts=(
        MountObs("bind", "/usr/share/nginx/html/", source="/root/site", rw=False),)),))
    assert checks.volume_mounted(site, name="site", destination="/usr/share/nginx/html",
                                 mount="bind", source="/root/site", read_only=True).passed
    tmp = EngineState(containers=(box("scratchpad", mounts=(MountObs("tmpfs", "/scratch"),)),))
    assert checks.volume_mounted(tmp, name="scratchpad", destination="/scratch",
                                 mount="tmpfs").passed


@pytest.mark.parametrize("container,kw,msg,words", [
    (None, {}, checks.MSG_NO_CONTAINER, "no container named c"),
    (box("c"), {}, checks.MSG_MOUNT_NONE, "-v notes:/data"),
    (box("c", mounts=(MountObs("bind", "/data", source="/root/data"),)), {},
     checks.MSG_MOUNT_TYPE, "type bind at /data, but this step needs type volume"),
    (box("c", mounts=(MountObs("volume", "/data", name=ANON),)), {},
     checks.MSG_MOUNT_ANON, "anonymous volume at /data, not notes"),
    (box("c", mounts=(MountObs("volume", "/data", name="note"),)), {},
     checks.MSG_MOUNT_VOLUME, "the volume note at /data, not notes"),
    (box("c", mounts=(NOTES_AT_DATA,)), {"read_only": True},
     checks.MSG_MOUNT_WRITABLE, "-v notes:/data:ro"),
    (box("c", mounts=(NOTES_AT_DATA,), state="exited", exit_code=1), {},
     checks.MSG_MOUNT_FAILED, "exit code 1"),
    (box("c", mounts=(NOTES_AT_DATA,), state="created"), {}, checks.MSG_LC_CREATED, "docker start"),
    (box("c", mounts=(NOTES_AT_DATA,), command="ls /data"), {"command": "tar c"},
     checks.MSG_MOUNT_COMMAND, "'tar c'"),
    (box("c", mounts=(NOTES_AT_DATA,)), {"gone": ["writer"]},
     checks.MSG_MOUNT_GONE, "docker rm writer"),
])
def test_volume_mounted_near_misses(container, kw, msg, words):
    others = (box("writer", state="exited", exit_code=0),)
    state = EngineState(containers=((container,) if container else ()) + others)
    res = checks.volume_mounted(state, name="c", destination="/data", mount="volume",
                                volume="notes", **kw)
    assert not res.passed and res.msg is msg
    with override("en"):
        assert words in res.message
    with override("ko"):
        assert res.message


def test_volume_mounted_bind_near_misses_name_the_fix():
    kw = {"name": "site", "destination": "/usr/share/nginx/html", "mount": "bind",
          "source": "/root/site", "read_only": True}
    other = EngineState(containers=(box("site", mounts=(
        MountObs("bind", "/usr/share/nginx/html", source="/root/www", rw=False),)),))
    res = checks.volume_mounted(other, **kw)
    assert not res.passed and res.msg is checks.MSG_MOUNT_SOURCE
    with override("en"):
        assert "/root/www" in res.message and "-v ~/site:/usr/share/nginx/html:ro" in res.message
    tmp = EngineState(containers=(box("scratchpad"),))
    res = checks.volume_mounted(tmp, name="scratchpad", destination="/scratch", mount="tmpfs")
    with override("en"):
        assert "--mount type=tmpfs,destination=/scratch (or --tmpfs /scratch)" in res.message


def test_new_check_specs_are_validated():
    spec = checks.parse_spec({"type": "containers_on_network", "network": "labnet",
                              "names": ["api", "client"]})
    assert spec.kwargs()["names"] == ("api", "client") and hash(spec)
    with pytest.raises(checks.CheckSpecError, match="mount must be one of"):
        checks.parse_spec({"type": "volume_mounted", "name": "c", "destination": "/d",
                           "mount": "nfs"})


# ------------------------------------------------------------------------------
# No step of the networking and volumes labs passes in an earlier step's end state
# ------------------------------------------------------------------------------


def _lab_steps(lab_id):
    from labs import content
    return content.get_lab("week1", lab_id).steps


def _assert_in_order(lab_id, end_states):
    steps = _lab_steps(lab_id)
    assert [s.id for s in steps] == [sid for sid, _ in end_states]
    for i, (sid, state) in enumerate(end_states):
        assert steps[i].check.run(state).passed, sid
        for later in steps[i + 1:]:
            assert not later.check.run(state).passed, (sid, later.id)


def test_no_networking_step_passes_before_its_commands():
    nets = (*DEFAULT_NETS, LABNET)
    api, client = box("api", ("labnet",)), box("client", ("labnet",))
    answered = box("api", ("labnet",), http_requests=1)
    local_only = ContainerObs(name="local-only", image="nginx", image_id="sha256:aaa",
                              state="running", ports=(PortBinding("80/tcp", "127.0.0.1", 8090),))
    ends = [
        ("create-network", EngineState(networks=nets)),
        ("run-pair", EngineState(containers=(api, client), networks=nets)),
        ("call-by-name", EngineState(containers=(answered, client), networks=nets)),
        ("publish-local", EngineState(containers=(answered, client, local_only), networks=nets)),
        ("no-network", EngineState(containers=(answered, client, local_only,
                                               box("isolated", ("none",))), networks=nets)),
    ]
    _assert_in_order("networking", ends)


def test_no_volumes_step_passes_before_its_commands():
    vols = (VolumeObs("notes"),)
    writer = box("writer", state="exited", exit_code=0, mounts=(NOTES_AT_DATA,))
    reader = box("reader", state="exited", exit_code=0,
                 mounts=(MountObs("volume", "/data", name="notes", rw=False),))
    site = box("site", mounts=(MountObs("bind", "/usr/share/nginx/html", source="/root/site",
                                        rw=False),))
    scratch = box("scratchpad", mounts=(MountObs("tmpfs", "/scratch"),))
    backup = box("backup", state="exited", exit_code=0, command="tar czf /backup/notes.tgz -C /data .",
                 mounts=(MountObs("volume", "/data", name="notes", rw=False),
                         MountObs("bind", "/backup", source="/root/backup")))
    todo = (checks.ContainerFileObs("writer", "/data/todo.txt", kind="file", size=18),)
    ends = [
        ("create-volume", EngineState(volumes=vols)),
        ("write-notes", EngineState(containers=(writer,), volumes=vols, container_files=todo)),
        ("outlive-container", EngineState(containers=(reader,), volumes=vols)),
        ("bind-folder", EngineState(containers=(reader, site), volumes=vols)),
        ("tmpfs-scratch", EngineState(containers=(reader, site, scratch), volumes=vols)),
        ("backup-volume", EngineState(containers=(reader, site, scratch, backup), volumes=vols)),
    ]
    _assert_in_order("volumes", ends)


# ------------------------------------------------------------------------------
# Building images (image_built)
# ------------------------------------------------------------------------------
BASE_LAYERS = ("sha256:l1", "sha256:l2")
NGINX_LAYERED = ImageObs("sha256:aaa", ("nginx:latest",), layers=BASE_LAYERS)
LABELS = {"description": "hello bungeoppang"}


def built(tag, image_id="sha256:h1", layers=(*BASE_LAYERS, "sha256:run1", "sha256:page1"),
          labels=None):
    return ImageObs(image_id, (tag,) if tag else (), labels=LABELS if labels is None else labels,
                    layers=layers)


HELLO1 = built("hello:1")


def test_image_built_passes():
    state = EngineState(images=(NGINX_LAYERED, HELLO1))
    res = checks.image_built(state, image="hello:1", base="nginx", label=LABELS)
    assert res.passed and res.msg is checks.MSG_BUILD_OK_BASE
    with override("en"):
        assert "2 layers of its own" in res.message


@pytest.mark.parametrize("images,msg", [
    ((NGINX_LAYERED,), checks.MSG_BUILD_MISSING),
    ((NGINX_LAYERED, built(None)), checks.MSG_BUILD_UNTAGGED),
    ((NGINX_LAYERED, built("hello:latest")), checks.MSG_BUILD_OTHER_TAG),
    ((NGINX_LAYERED, built("hello:1", labels={})), checks.MSG_BUILD_LABEL),
    ((NGINX_LAYERED, built("hello:1", layers=("sha256:bb", "sha256:page1"))), checks.MSG_BUILD_BASE),
    ((HELLO1,), checks.MSG_BUILD_NO_BASE),
])
def test_image_built_near_misses(images, msg):
    res = checks.image_built(EngineState(images=images), image="hello:1", base="nginx",
                             label=LABELS)
    assert not res.passed and res.msg is msg


def test_an_unnamed_image_counts_as_built_without_a_name_only_when_it_is_the_newest():
    """A rebuild of hello:1 leaves the previous hello:1 without a name: that older unnamed
    image must not tell the learner, at a later step, that they built without -t (it did, for
    shop:2 and menu:1, after a failed build too)."""
    base = ImageObs(NGINX_LAYERED.id, NGINX_LAYERED.tags, layers=NGINX_LAYERED.layers, created=100)
    dangling = ImageObs("sha256:old", (), layers=HELLO1.layers, created=200)  # hello:1 before
    rebuilt = ImageObs("sha256:new", ("hello:1",), labels=LABELS, layers=HELLO1.layers, created=300)
    res = checks.image_built(EngineState(images=(base, dangling, rebuilt)), image="shop:2")
    assert not res.passed and res.msg is checks.MSG_BUILD_MISSING
    # The learner's last build has no name: that is what they are told.
    unnamed = ImageObs("sha256:shop", (), layers=HELLO1.layers, created=400)
    res = checks.image_built(EngineState(images=(base, dangling, rebuilt, unnamed)), image="shop:2")
    assert not res.passed and res.msg is checks.MSG_BUILD_UNTAGGED
    with override("en"):
        assert "without a name, so there is no shop:2" in res.message


def test_image_built_reuses_needs_a_cache_hit():
    cached = built("hello:2", "sha256:h2", (*BASE_LAYERS, "sha256:run1", "sha256:page2"))
    res = checks.image_built(EngineState(images=(NGINX_LAYERED, HELLO1, cached)),
                             image="hello:2", base="nginx", reuses="hello:1")
    assert res.passed and res.msg is checks.MSG_BUILD_REUSED
    with override("en"):
        assert "reuses 1 layer of hello:1" in res.message
    same = ImageObs(HELLO1.id, ("hello:1", "hello:2"), labels=LABELS, layers=HELLO1.layers)
    res = checks.image_built(EngineState(images=(NGINX_LAYERED, same)), image="hello:2",
                             base="nginx", reuses="hello:1")
    assert not res.passed and res.msg is checks.MSG_BUILD_SAME
    fresh = built("hello:2", "sha256:h3", (*BASE_LAYERS, "sha256:run2", "sha256:page2"))
    res = checks.image_built(EngineState(images=(NGINX_LAYERED, HELLO1, fresh)),
                             image="hello:2", base="nginx", reuses="hello:1")
    assert not res.passed and res.msg is checks.MSG_BUILD_NO_CACHE
    # Before hello:2 exists, hello:1 is not mistaken for a wrong tag of it.
    res = checks.image_built(EngineState(images=(NGINX_LAYERED, HELLO1)), image="hello:2",
                             base="nginx", reuses="hello:1")
    assert not res.passed and res.msg is checks.MSG_BUILD_MISSING


def test_image_built_spec_is_validated():
    spec = checks.parse_spec({"type": "image_built", "image": "hello:1", "base": "nginx",
                              "label": {"description": "x"}})
    assert spec.kwargs()["label"] == {"description": "x"}
    with pytest.raises(checks.CheckSpecError, match="does not take"):
        checks.parse_spec({"type": "image_built", "image": "hello:1", "min_layers": 3})


def test_no_dockerfile_step_passes_before_its_commands():
    hello_web = ContainerObs(name="hello-web", image="hello:1", image_id=HELLO1.id,
                             state="running", ports=(PortBinding("80/tcp", "0.0.0.0", 8095),))
    hello2 = built("hello:2", "sha256:h2", (*BASE_LAYERS, "sha256:run1", "sha256:page2"))
    ignore = (checks.FileObs("shop/.dockerignore", kind="file", text="node_modules\n.env\n"),)
    ends = [
        ("build-image", EngineState(images=(NGINX_LAYERED, HELLO1))),
        ("run-image", EngineState(containers=(hello_web,), images=(NGINX_LAYERED, HELLO1))),
        ("rebuild-cache", EngineState(containers=(hello_web,),
                                      images=(NGINX_LAYERED, HELLO1, hello2))),
        ("dockerignore", EngineState(containers=(hello_web,),
                                     images=(NGINX_LAYERED, HELLO1, hello2, SHOP2), files=ignore)),
        ("multi-stage", EngineState(containers=(hello_web,),
                                    images=(NGINX_LAYERED, HELLO1, hello2, SHOP2, MENU1),
                                    files=ignore)),
    ]
    _assert_in_order("dockerfile", ends)


SHOP2 = ImageObs("sha256:s2", ("shop:2",), layers=(*BASE_LAYERS, "sha256:copy"), size=4000)
MENU1 = ImageObs("sha256:m1", ("menu:1",), layers=(*BASE_LAYERS, "sha256:from-kitchen"))


# ------------------------------------------------------------------------------
# Compose projects (compose_project_running, compose_project_stopped, compose_project_down)
# ------------------------------------------------------------------------------
SERVICES = ["web", "api", "db"]
DB_DATA = MountObs("volume", "/data", name="compose-lab_db-data")


def svc(service, state="running", project="compose-lab", history=("start",), exit_code=None,
        http_requests=0, ports=None, mounts=None, workdir=None, oneoff="False"):
    """A container as Compose makes it for ``service`` of ``project``."""
    if ports is None:
        ports = (PortBinding("80/tcp", "0.0.0.0", 8100),) if service == "web" else ()
    if mounts is None:
        mounts = (MountObs("volume", "/data", name=f"{project}_db-data"),) if service == "db" else ()
    labels = {checks.COMPOSE_PROJECT: project, checks.COMPOSE_SERVICE: service,
              checks.COMPOSE_NUMBER: "1", checks.COMPOSE_ONEOFF: oneoff,
              checks.COMPOSE_WORKDIR: workdir or f"/root/{project}"}
    return ContainerObs(name=f"{project}-{service}-1", image="nginx", image_id="sha256:aaa",
                        state=state, history=history, exit_code=exit_code, ports=ports,
                        http_requests=http_requests, mounts=mounts, labels=labels,
                        networks=(f"{project}_backend",))


def proj_net(key="backend", project="compose-lab"):
    return NetworkObs(f"{project}_{key}", labels={checks.COMPOSE_PROJECT: project,
                                                 "com.docker.compose.network": key})


def proj_vol(key="db-data", project="compose-lab"):
    return VolumeObs(f"{project}_{key}", labels={checks.COMPOSE_PROJECT: project,
                                                checks.COMPOSE_VOLUME: key})


NETS = (*DEFAULT_NETS, proj_net("frontend"), proj_net("backend"))
VOLS = (proj_vol(),)


def project(*containers, networks=NETS, volumes=VOLS, **kw):
    return EngineState(containers=containers, networks=networks, volumes=volumes, **kw)


UP = project(svc("web"), svc("api"), svc("db"))


def running(state, **kw):
    return checks.compose_project_running(state, project="compose-lab", services=SERVICES, **kw)


def test_compose_project_running_passes():
    res = running(UP, volumes=["db-data"])
    assert res.passed and res.msg is checks.MSG_COMPOSE_UP_OK
    with override("en"):
        assert res.message == "The compose-lab project is up: web, api, db are running."
    with override("ko"):
        assert res.message == "compose-lab 프로젝트가 올라와 있습니다. web, api, db 서비스가 실행 중입니다."


@pytest.mark.parametrize("state,kw,msg,words", [
    (EngineState(), {}, checks.MSG_COMPOSE_NONE, "In ~/compose-lab, run 'docker compose up -d'"),
    (project(svc("web", project="my-stack"), svc("api", project="my-stack"),
             svc("db", project="my-stack")), {}, checks.MSG_COMPOSE_OTHER_PROJECT,
     "under the project name my-stack (from the folder ~/my-stack), not compose-lab"),
    (project(svc("web"), svc("api")), {}, checks.MSG_COMPOSE_NO_SERVICE,
     "has no db service (it has: api, web)"),
    (project(svc("web", "exited", exit_code=0), svc("api"), svc("db")), {},
     checks.MSG_COMPOSE_EXITED, "exited with code 0"),
    (project(svc("web", "created", history=()), svc("api"), svc("db")), {},
     checks.MSG_COMPOSE_CREATED, "host port is taken"),
    (project(svc("web"), svc("api", "paused"), svc("db")), {}, checks.MSG_COMPOSE_PAUSED,
     "docker compose unpause api"),
    (project(svc("web"), svc("api", "restarting"), svc("db")), {}, checks.MSG_COMPOSE_STATE,
     "api (container compose-lab-api-1) is restarting"),
    (project(svc("web"), svc("api"), svc("db", mounts=()), volumes=()), {"volumes": ["db-data"]},
     checks.MSG_COMPOSE_NO_VOLUME, "no volume db-data (Compose would name it compose-lab_db-data)"),
    (project(svc("web"), svc("api"), svc("db", mounts=())), {"volumes": ["db-data"]},
     checks.MSG_COMPOSE_VOLUME_UNUSED, "no container of compose-lab mounts it"),
    (UP, {"answered": ["web"]}, checks.MSG_COMPOSE_SILENT, "'curl localhost:8100'"),
    (UP, {"answered": ["api"]}, checks.MSG_COMPOSE_SILENT_NOPORT, "publishes no port"),
    (UP, {"started_again": True}, checks.MSG_COMPOSE_NOT_STARTED_AGAIN,
     "web is running, but its container has not been stopped and started again"),
    (project(svc("web", history=("start", "die", "start")), svc("api"), svc("db")),
     {"started_again": True}, checks.MSG_COMPOSE_NOT_STARTED_AGAIN, "api is running, but"),
    (project(svc("web", history=("start", "restart")), svc("api"), svc("db")),
     {"restarted": ["api"]}, checks.MSG_COMPOSE_NOT_RESTARTED,
     "'docker compose restart api'"),
])
def test_compose_project_running_near_misses(state, kw, msg, words):
    res = running(state, **kw)
    assert not res.passed and res.msg is msg
    with override("en"):
        assert words in res.message
    with override("ko"):
        assert res.message


def test_compose_project_running_conditions_pass():
    answered = project(svc("web", http_requests=3), svc("api"), svc("db"))
    res = running(answered, answered=["web"])
    assert res.passed and res.msg is checks.MSG_COMPOSE_ANSWERED_OK
    again = ("start", "die", "start")
    started = project(svc("web", history=again), svc("api", history=again),
                      svc("db", history=again))
    res = running(started, started_again=True)
    assert res.passed and res.msg is checks.MSG_COMPOSE_STARTED_AGAIN_OK
    restarted = project(svc("web"), svc("api", history=("start", "die", "start", "restart")),
                        svc("db"))
    res = running(restarted, restarted=["api"])
    assert res.passed and res.msg is checks.MSG_COMPOSE_RESTARTED_OK


ONCE = ("start", "die", "start", "restart")
EVERY_RESTARTED = project(svc("web", history=ONCE), svc("api", history=ONCE), svc("db", history=ONCE))
API_RESTARTED = project(svc("web", history=ONCE), svc("api", history=ONCE), svc("db"))


@pytest.mark.parametrize("lines,state,msg", [
    # 'docker compose restart' (no service name) restarts web and db too.
    (["cd compose-lab", "docker compose restart"], EVERY_RESTARTED,
     checks.MSG_COMPOSE_RESTARTED_OTHERS),
    (["cd compose-lab", "docker compose restart", "docker compose restart api"], EVERY_RESTARTED,
     checks.MSG_COMPOSE_RESTARTED_OK),
    # QA: web restarted by mistake first, then api as asked: that is api alone (once refused,
    # because web had been restarted as many times as api).
    (["cd compose-lab", "docker compose restart web", "docker compose restart -t 3 api"],
     API_RESTARTED, checks.MSG_COMPOSE_RESTARTED_OK),
    (["cd compose-lab", "docker compose restart api web"], API_RESTARTED,
     checks.MSG_COMPOSE_RESTARTED_NAMED),
    (["docker compose -p compose-lab restart"], EVERY_RESTARTED, checks.MSG_COMPOSE_RESTARTED_OTHERS),
    # Another project's restart is not this one's; with no restart of it in the history, the
    # engine's events alone count.
    (["cd other && docker compose restart"], API_RESTARTED, checks.MSG_COMPOSE_RESTARTED_OK),
    ([], API_RESTARTED, checks.MSG_COMPOSE_RESTARTED_OK),
])
def test_compose_restart_of_one_service_is_not_a_restart_of_all(lines, state, msg):
    """The step restarts api alone while the rest keep running: the latest 'docker compose
    restart' of the project in the shell history tells which services it restarted."""
    state = dataclasses.replace(state, shell_history=hist(*enumerate(lines, 1)))
    res = running(state, restarted=["api"])
    assert res.msg is msg and res.passed is (msg is checks.MSG_COMPOSE_RESTARTED_OK)
    with override("en"):
        if msg is checks.MSG_COMPOSE_RESTARTED_OTHERS:
            assert ("web, db restarted as well as api: 'docker compose restart' without a service "
                    "name restarts every service") in res.message
        if msg is checks.MSG_COMPOSE_RESTARTED_NAMED:
            assert ("Your latest restart, 'docker compose restart api web', restarted web as well "
                    "as api") in res.message
        if not res.passed:
            assert "run 'docker compose restart api'" in res.message
    with override("ko"):
        assert res.passed or "'docker compose restart api'" in res.message
    # The observer reads the shell history for this step (and only for steps that restart).
    assert checks.compose_project_running_reads(state, restarted=["api"]) == frozenset({"history"})
    assert checks.compose_project_running_reads(state) == frozenset()


def test_compose_one_off_containers_and_other_projects_do_not_count():
    """'docker compose run' makes one-off containers; another project's services are not ours."""
    oneoff = project(svc("web"), svc("api"), svc("db", oneoff="True"))
    assert running(oneoff).msg is checks.MSG_COMPOSE_NO_SERVICE
    unrelated = project(svc("cache", project="other"))
    assert running(unrelated).msg is checks.MSG_COMPOSE_NONE


def stopped_all(code=0):
    died = ("start", "die")
    return project(svc("web", "exited", history=died, exit_code=code),
                   svc("api", "exited", history=died, exit_code=code),
                   svc("db", "exited", history=died, exit_code=code))


def test_compose_project_stopped_both_ways():
    stop = functools.partial(checks.compose_project_stopped, project="compose-lab",
                             services=SERVICES)
    res = stop(stopped_all())
    assert res.passed and res.msg is checks.MSG_CSTOP_OK
    assert stop(stopped_all(code=137)).passed  # a command that ignores SIGTERM is killed at 10 s
    res = stop(project(svc("web", "exited", exit_code=0), svc("api"), svc("db")))
    assert not res.passed and res.msg is checks.MSG_CSTOP_RUNNING
    with override("en"):
        assert "still up: api, db" in res.message
    paused = project(svc("web", "exited", exit_code=0), svc("api", "exited", exit_code=0),
                     svc("db", "paused"))
    assert stop(paused).msg is checks.MSG_CSTOP_RUNNING
    downed = EngineState(removed=("compose-lab-web-1", "compose-lab-api-1", "compose-lab-db-1"),
                         removed_networks=("compose-lab_frontend",), volumes=(proj_vol(),))
    res = stop(downed)
    assert not res.passed and res.msg is checks.MSG_CSTOP_REMOVED
    with override("en"):
        assert "removed, not stopped" in res.message
    assert stop(EngineState()).msg is checks.MSG_COMPOSE_NONE
    assert stop(project(svc("web", "exited"), svc("api", "exited"))).msg is \
        checks.MSG_COMPOSE_NO_SERVICE
    created = project(svc("web", "created"), svc("api", "exited"), svc("db", "exited"))
    assert stop(created).msg is checks.MSG_COMPOSE_CREATED


REMOVED_CONTAINERS = ("compose-lab-web-1", "compose-lab-api-1", "compose-lab-db-1")
DOWN = EngineState(networks=DEFAULT_NETS, volumes=(proj_vol(),), removed=REMOVED_CONTAINERS,
                   removed_networks=("compose-lab_frontend", "compose-lab_backend"))
DOWN_V = EngineState(networks=DEFAULT_NETS, removed=REMOVED_CONTAINERS,
                     removed_networks=("compose-lab_frontend", "compose-lab_backend"),
                     removed_volumes=("compose-lab_db-data",))


def down(state, keep):
    return checks.compose_project_down(state, project="compose-lab", services=SERVICES,
                                       volumes=["db-data"], keep_volumes=keep)


def test_compose_project_down_both_ways():
    res = down(DOWN, keep=True)
    assert res.passed and res.msg is checks.MSG_CDOWN_KEPT_OK
    with override("en"):
        assert "volume compose-lab_db-data is kept" in res.message
    res = down(DOWN_V, keep=False)
    assert res.passed and res.msg is checks.MSG_CDOWN_REMOVED_OK


@pytest.mark.parametrize("state,keep,msg,words", [
    (UP, True, checks.MSG_CDOWN_UP, "still up: api, db, web running. Run 'docker compose down'"),
    (UP, False, checks.MSG_CDOWN_UP, "Run 'docker compose down -v'"),
    (stopped_all(), True, checks.MSG_CDOWN_STOPPED, "'docker compose stop' only stops them"),
    # docker rm -f of every container: the project's networks stay behind.
    (EngineState(networks=NETS, volumes=(proj_vol(),), removed=REMOVED_CONTAINERS), True,
     checks.MSG_CDOWN_BY_HAND, "network compose-lab_frontend is still there"),
    (DOWN_V, True, checks.MSG_CDOWN_VOLUME_GONE, "The volume compose-lab_db-data is gone"),
    (DOWN, False, checks.MSG_CDOWN_VOLUME_KEPT,
     "the volume compose-lab_db-data is still there: plain 'down' keeps volumes"),
    # Never started: no trace of the project, whether the volume is to be kept or removed.
    (EngineState(networks=DEFAULT_NETS), True, checks.MSG_COMPOSE_NONE, "no Compose project"),
    (EngineState(networks=DEFAULT_NETS), False, checks.MSG_COMPOSE_NONE, "no Compose project"),
    # Everything gone, but the volume's removal was not seen (its event left the buffer).
    (EngineState(networks=DEFAULT_NETS, removed=REMOVED_CONTAINERS), False,
     checks.MSG_CDOWN_NOT_SEEN, "removal of its volume compose-lab_db-data was not seen"),
])
def test_compose_project_down_near_misses(state, keep, msg, words):
    res = down(state, keep)
    assert not res.passed and res.msg is msg
    with override("en"):
        assert words in res.message
    with override("ko"):
        assert res.message


def test_compose_specs_are_validated():
    spec = checks.parse_spec({"type": "compose_project_down", "project": "p", "volumes": ["v"],
                              "keep_volumes": True})
    assert spec.kwargs()["volumes"] == ("v",)
    with pytest.raises(checks.CheckSpecError, match="needs keep_volumes"):
        checks.parse_spec({"type": "compose_project_down", "project": "p", "volumes": ["v"]})
    with pytest.raises(checks.CheckSpecError, match="does not take"):
        checks.parse_spec({"type": "compose_project_running", "project": "p",
                           "services": ["web"], "state": "up"})


def test_no_compose_step_passes_before_its_commands():
    again = ("start", "die", "start")
    web_seen = svc("web", http_requests=3)
    logs = project(web_seen, svc("api"), svc("db"))
    stopped = project(svc("web", "exited", history=("start", "die"), exit_code=0, http_requests=3),
                      svc("api", "exited", history=("start", "die"), exit_code=0),
                      svc("db", "exited", history=("start", "die"), exit_code=0))
    started = project(svc("web", history=again, http_requests=3), svc("api", history=again),
                      svc("db", history=again))
    restarted = project(svc("web", history=again, http_requests=3),
                        svc("api", history=(*again, "die", "start", "restart")),
                        svc("db", history=again))
    ends = [
        ("compose-up", UP),
        ("ps-logs", logs),
        ("stop", stopped),
        ("start", started),
        ("restart-api", restarted),
        ("down", DOWN),
        ("down-volumes", DOWN_V),
    ]
    _assert_in_order("compose", ends)


# ------------------------------------------------------------------------------
# Image tags, created containers, build details (own_layers, shares, max_added)
# ------------------------------------------------------------------------------


def test_image_present_with_a_tag_needs_that_tag():
    latest = EngineState(images=(ImageObs("sha256:x", ("nginx:latest",)),))
    res = checks.image_present(latest, image="nginx:1.27")
    assert not res.passed and res.msg is checks.MSG_IMAGE_OTHER_TAG
    with override("en"):
        assert "You have nginx:latest, but this step needs the tag nginx:1.27" in res.message
    both = EngineState(images=(ImageObs("sha256:x", ("nginx:latest", "nginx:1.27")),))
    assert checks.image_present(both, image="nginx:1.27").passed
    assert checks.image_present(EngineState(), image="nginx:1.27").msg is checks.MSG_IMAGE_MISSING
    # A full name is the same image as the short one.
    short = EngineState(images=(ImageObs("sha256:b", ("busybox:latest",)),))
    assert checks.image_present(short, image="docker.io/library/busybox:latest").passed
    # Without a tag, any tag still counts (the earlier labs rely on it).
    assert checks.image_present(both, image="nginx").passed


FULL_BUSYBOX = "docker.io/library/busybox:latest"


@pytest.mark.parametrize("command", [
    "docker pull docker.io/library/busybox:latest",
    "docker image pull -q docker.io/library/busybox:latest",
    "sudo docker pull --platform linux/amd64 docker.io/library/busybox:latest && docker images",
])
def test_image_present_full_name_passes_after_a_pull_by_the_full_name(command):
    state = EngineState(images=(BUSYBOX,), shell_history=hist((1, "docker pull busybox"),
                                                              (2, command)))
    res = checks.image_present(state, image=FULL_BUSYBOX, full_name=True)
    assert res.passed and res.msg is checks.MSG_IMAGE_FULL_OK, res.message
    # It reads the history only once the image is there.
    spec = checks.parse_spec({"type": "image_present", "image": FULL_BUSYBOX, "full_name": True})
    assert spec.reads(state) == {"history"} and spec.reads(EngineState()) == frozenset()


@pytest.mark.parametrize("command", ["docker pull busybox", "docker pull busybox:latest",
                                     "docker pull library/busybox:latest",
                                     "docker pull docker.io/busybox:latest",
                                     "docker pull docker.io/library/busybox"])
def test_image_present_full_name_fails_after_a_pull_by_a_short_name(command):
    state = EngineState(images=(BUSYBOX,), shell_history=hist((1, command)))
    res = checks.image_present(state, image=FULL_BUSYBOX, full_name=True)
    assert not res.passed and res.msg is checks.MSG_IMAGE_SHORT_NAME
    with override("en"):
        assert f"You ran '{command}', which leaves parts of the name" in res.message
        assert "run 'docker pull docker.io/library/busybox:latest'" in res.message


def test_image_present_full_name_without_any_pull_or_image():
    res = checks.image_present(EngineState(images=(BUSYBOX,)), image=FULL_BUSYBOX, full_name=True)
    assert not res.passed and res.msg is checks.MSG_IMAGE_NOT_PULLED_FULL
    # A full-name pull of another image does not count either.
    other = EngineState(images=(BUSYBOX,), shell_history=hist(
        (1, "docker pull docker.io/library/alpine:latest")))
    assert checks.image_present(other, image=FULL_BUSYBOX, full_name=True).msg \
        is checks.MSG_IMAGE_NOT_PULLED_FULL
    # The image must be there too: a history line alone is not enough.
    gone = EngineState(shell_history=hist((1, "docker pull docker.io/library/busybox:latest")))
    assert checks.image_present(gone, image=FULL_BUSYBOX, full_name=True).msg \
        is checks.MSG_IMAGE_MISSING


@pytest.mark.parametrize("ref,full", [
    ("docker.io/library/busybox:latest", True), ("localhost:5000/team/app:1.0", True),
    ("ghcr.io/org/image@sha256:" + "a" * 64, True), ("localhost:5000/a/b@sha256:" + "a" * 64, True),
    ("busybox", False), ("busybox:latest", False), ("library/busybox:latest", False),
    ("docker.io/busybox:latest", False), ("docker.io/library/busybox", False),
    ("team/app/x:1", False),
])
def test_written_in_full(ref, full):
    assert checks.written_in_full(ref) is full


def created(name="step-web", state="created", image="nginx:1.27", image_id="sha256:aaa",
            asked=((("80/tcp", 8085)),)):
    """A container made by 'docker create', asking to publish ``asked`` ((port, host port)...)."""
    return ContainerObs(name=name, image=image, image_id=image_id, state=state, created=100,
                        requested_ports=tuple(PortBinding(cp, "", hp) for cp, hp in asked))


@pytest.mark.parametrize("containers,msg", [
    ((created(),), checks.MSG_CREATED_OK),
    ((created(state="running"),), checks.MSG_CREATED_STARTED),
    ((created(name="eager_turing"),), checks.MSG_CREATED_OTHER),
    ((created(image="busybox", image_id="sha256:bbb"),), checks.MSG_WRONG_IMAGE),
    ((), checks.MSG_NO_CONTAINER),
])
def test_container_created(containers, msg):
    res = checks.container_created(EngineState(containers=containers, images=(NGINX,)),
                                   name="step-web", image="nginx:1.27")
    assert res.msg is msg and res.passed == (msg is checks.MSG_CREATED_OK)


@pytest.mark.parametrize("asked,msg", [
    ((("80/tcp", 8085),), checks.MSG_CREATED_OK),
    ((("80/tcp", 8086),), checks.MSG_CREATED_WRONG_PORT),
    ((), checks.MSG_CREATED_NOT_PUBLISHED),
    ((("81/tcp", 8085),), checks.MSG_CREATED_NOT_PUBLISHED),
])
def test_container_created_asks_for_the_port_the_next_step_needs(asked, msg):
    """QA: a step-web created with another host port, or none, passed, and the start step then
    had the learner remove it and make it again."""
    res = checks.container_created(EngineState(containers=(created(asked=asked),), images=(NGINX,)),
                                   name="step-web", image="nginx:1.27", publish={"80/tcp": 8085})
    assert res.msg is msg and res.passed == (msg is checks.MSG_CREATED_OK)
    if msg is checks.MSG_CREATED_WRONG_PORT:
        with override("en"):
            assert "on host port 8086, not 8085" in res.message
            assert "run 'docker create --name step-web -p 8085:80 nginx:1.27'" in res.message


def test_container_created_removed_says_create_it_again():
    """A step-web created and removed since: the advice is to create it again (the shared
    "run it again" is the wrong command for this step), keeping the port the next step needs."""
    state = EngineState(images=(NGINX,), removed=("step-web",))
    res = checks.container_created(state, name="step-web", image="nginx:1.27",
                                   publish={"80/tcp": 8085})
    assert not res.passed and res.msg is checks.MSG_CREATED_REMOVED
    with override("en"):
        assert "Create it again with 'docker create --name step-web -p 8085:80 nginx:1.27'" \
            in res.message
        assert "Run it again" not in res.message
    with override("ko"):
        assert "'docker create --name step-web -p 8085:80 nginx:1.27'" in res.message


def test_container_created_waits_until_it_has_stayed_created():
    """A container created moments ago may be 'docker run' between its create and its start."""
    fresh = EngineState(containers=(created(),), images=(NGINX,), observed_at=100.9)
    res = checks.container_created(fresh, name="step-web", image="nginx:1.27")
    assert res.msg is checks.MSG_CREATED_SETTLING and not res.passed
    with override("en"):
        assert "step-web was created just now" in res.message
    settled = EngineState(containers=(created(),), images=(NGINX,),
                          observed_at=100 + checks.CREATED_SETTLE_S)
    assert checks.container_created(settled, name="step-web", image="nginx:1.27").passed


def test_container_created_running_says_run_does_both():
    res = checks.container_created(EngineState(containers=(created(state="running"),)),
                                   name="step-web", image="nginx:1.27")
    with override("en"):
        assert "step-web is already running: 'docker run' creates and starts" in res.message


STACK_BASE = ImageObs("sha256:bb", ("busybox:latest",), layers=("sha256:b1",), size=2_000_000)
STACK1 = ImageObs("sha256:s1", ("stack:1",), layers=("sha256:b1", "sha256:d", "sha256:f", "sha256:k"))
STACK2 = ImageObs("sha256:s2", ("stack:2",),
                  layers=("sha256:b1", "sha256:d", "sha256:f2", "sha256:k2"))


def test_image_built_counts_its_own_layers():
    state = EngineState(images=(STACK_BASE, STACK1))
    assert checks.image_built(state, image="stack:1", base="busybox", own_layers=3).passed
    res = checks.image_built(state, image="stack:1", base="busybox", own_layers=1)
    assert not res.passed and res.msg is checks.MSG_BUILD_OWN_LAYERS
    with override("en"):
        assert "stack:1 has 3 layers of its own on top of busybox, but this step expects 1" \
            in res.message


@pytest.mark.parametrize("stack2,msg", [
    (STACK2, checks.MSG_BUILD_REUSED),
    (ImageObs("sha256:s3", ("stack:2",), layers=("sha256:b1", "sha256:d2", "sha256:f3", "sha256:k3")),
     checks.MSG_BUILD_SHARES),
    (ImageObs("sha256:s4", ("stack:2",), layers=("sha256:b1", "sha256:d", "sha256:f", "sha256:k4")),
     checks.MSG_BUILD_SHARES),
    (ImageObs(STACK1.id, ("stack:2",), layers=STACK1.layers), checks.MSG_BUILD_SAME_LINE),
])
def test_image_built_shares_tells_which_line_changed(stack2, msg):
    res = checks.image_built(EngineState(images=(STACK_BASE, STACK1, stack2)), image="stack:2",
                             base="busybox", reuses="stack:1", shares=1)
    assert res.msg is msg and res.passed == (msg is checks.MSG_BUILD_REUSED)


def test_image_built_max_added_catches_a_fat_build_context():
    small = ImageObs("sha256:c1", ("shop:2",), layers=(*BASE_LAYERS, "sha256:c"), size=1_000_400)
    fat = ImageObs("sha256:c2", ("shop:2",), layers=(*BASE_LAYERS, "sha256:c"), size=6_000_400)
    nginx = ImageObs("sha256:aaa", ("nginx:latest",), layers=BASE_LAYERS, size=1_000_000)
    assert checks.image_built(EngineState(images=(nginx, small)), image="shop:2", base="nginx",
                              max_added=1_000_000).passed
    res = checks.image_built(EngineState(images=(nginx, fat)), image="shop:2", base="nginx",
                             max_added=1_000_000)
    assert not res.passed and res.msg is checks.MSG_BUILD_TOO_BIG
    with override("en"):
        assert "shop:2 is 5.0MB bigger than nginx; this step expects at most 1.0MB" in res.message



@pytest.mark.parametrize("ignore_file,passes", [
    ("node_modules\n.env\n*.log\n", True),
    ("# secrets\n\nnode_modules\n.env*\n", True),
    ("**/.env\nnode_modules\n", True),
    ("*\n!index.html\n", True),  # everything but the page
    ("node_modules\n", False),
    ("node_modules\n.env\n!.env\n", False),  # the last matching line wins
    ("", False),
    (None, False),  # no .dockerignore at all
])
def test_image_built_ignores_reads_the_build_folders_dockerignore(ignore_file, passes):
    """A .env of a few bytes does not show in the image's size: the step reads the build
    folder's .dockerignore and matches it as Docker does (docker-py's PatternMatcher)."""
    small = ImageObs("sha256:c1", ("shop:2",), layers=(*BASE_LAYERS, "sha256:c"), size=1_000_400)
    nginx = ImageObs("sha256:aaa", ("nginx:latest",), layers=BASE_LAYERS, size=1_000_000)
    files = () if ignore_file is None else (
        checks.FileObs("shop/.dockerignore", kind="file", size=len(ignore_file), text=ignore_file),)
    spec = checks.parse_spec({"type": "image_built", "image": "shop:2", "base": "nginx",
                              "max_added": 1_000_000, "context": "shop", "ignores": [".env"]})
    assert spec.workspace_texts() == ("shop/.dockerignore",)
    res = spec.run(EngineState(images=(nginx, small), files=files))
    assert res.passed is passes, res.message
    with override("en"):
        if ignore_file is None:
            assert res.msg is checks.MSG_BUILD_NO_IGNORE_FILE
            assert "shop has no .dockerignore, so .env went into the image" in res.message
        elif not passes:
            assert res.msg is checks.MSG_BUILD_NOT_IGNORED
            assert "shop/.dockerignore does not leave out .env" in res.message

# ------------------------------------------------------------------------------
# Loading and importing images (image_loaded, image_imported)
# ------------------------------------------------------------------------------
BB_ID = "sha256:248c9a66921b81902cbe162300e505a9afa4014b15f139f177ddf6fa658023de"
BB = ImageObs(BB_ID, ("busybox:latest",), layers=("sha256:b1",), cmd=("sh",))


@pytest.mark.parametrize("images,events,msg", [
    ((BB,), (checks.ImageEvent("pull", "busybox:latest"), checks.ImageEvent("delete", BB_ID),
             checks.ImageEvent("load", BB_ID)), checks.MSG_LOAD_OK),
    ((BB,), (checks.ImageEvent("load", BB_ID), checks.ImageEvent("pull", "busybox:latest")),
     checks.MSG_LOAD_PULLED),
    ((BB,), (checks.ImageEvent("pull", "docker.io/library/busybox:latest"),),
     checks.MSG_LOAD_PULLED),
    ((BB,), (), checks.MSG_LOAD_NOT_YET),
    # Loading or pulling another image says nothing about busybox.
    ((BB,), (checks.ImageEvent("load", "sha256:other"), checks.ImageEvent("pull", "alpine:latest")),
     checks.MSG_LOAD_NOT_YET),
    ((), (checks.ImageEvent("delete", BB_ID),), checks.MSG_LOAD_MISSING),
])
def test_image_loaded(images, events, msg):
    res = checks.image_loaded(EngineState(images=images, image_events=events), image="busybox",
                              archive="busybox.tar")
    assert res.msg is msg and res.passed == (msg is checks.MSG_LOAD_OK)
    with override("en"):
        assert "~/busybox.tar" in res.message or res.passed


FLAT = ImageObs("sha256:f1", ("bakery:flat",), layers=("sha256:fs",))


@pytest.mark.parametrize("images,msg", [
    ((BB, FLAT), checks.MSG_IMPORT_OK),
    ((ImageObs(BB_ID, ("busybox:latest", "bakery:flat"), layers=("sha256:b1",), cmd=("sh",)),),
     checks.MSG_IMPORT_CMD),
    ((ImageObs("sha256:c", ("bakery:flat",), layers=("sha256:b1", "sha256:c1"),
               cmd=("sh", "-c", "echo")),), checks.MSG_IMPORT_LAYERS),
    ((BB, ImageObs("sha256:f1", (), layers=("sha256:fs",))), checks.MSG_IMPORT_UNTAGGED),
    ((BB,), checks.MSG_IMPORT_MISSING),
])
def test_image_imported(images, msg):
    res = checks.image_imported(EngineState(images=images), image="bakery:flat",
                                archive="bakery-fs.tar")
    assert res.msg is msg and res.passed == (msg is checks.MSG_IMPORT_OK)


def test_image_imported_messages_name_the_archive():
    res = checks.image_imported(EngineState(images=(BB,)), image="bakery:flat",
                                archive="bakery-fs.tar")
    with override("en"):
        assert "'docker import ~/bakery-fs.tar bakery:flat'" in res.message


# ------------------------------------------------------------------------------
# Files in the workspace (image_archive, filesystem_archive)
# ------------------------------------------------------------------------------
SAVED = functools.partial(checks.FileObs, kind="file", size=2_158_080, tar=True, manifest=True)


@pytest.mark.parametrize("files,workspace,msg", [
    ((SAVED("busybox.tar", repo_tags=("busybox:latest",)),), (), checks.MSG_ARCHIVE_OK),
    ((), (), checks.MSG_FILE_MISSING),
    ((), ("bb.tar",), checks.MSG_FILE_OTHER),
    ((checks.FileObs("busybox.tar", kind="link"),), (), checks.MSG_FILE_NOT_REGULAR),
    ((checks.FileObs("busybox.tar", kind="file", unread=True),), (), checks.MSG_FILE_UNREAD),
    ((checks.FileObs("busybox.tar", kind="file", size=10),), (), checks.MSG_FILE_NOT_TAR),
    ((SAVED("busybox.tar", manifest=False, exported=True),), (), checks.MSG_ARCHIVE_EXPORTED),
    ((SAVED("busybox.tar", manifest=False),), (), checks.MSG_ARCHIVE_NO_MANIFEST),
    ((SAVED("busybox.tar", repo_tags=("alpine:latest",)),), (), checks.MSG_ARCHIVE_LACKS),
    ((SAVED("busybox.tar", gzip=True, gzip_ok=False),), (), checks.MSG_FILE_BAD_GZIP),
])
def test_image_archive(files, workspace, msg):
    other = SAVED(workspace[0], repo_tags=("busybox:latest",)) if workspace else None
    state = EngineState(files=files, workspace=workspace, other_file=other)
    res = checks.image_archive(state, path="busybox.tar", images=["busybox"])
    assert res.msg is msg and res.passed == (msg is checks.MSG_ARCHIVE_OK)


def test_image_archive_names_what_it_found():
    state = EngineState(files=(SAVED("base.tar", repo_tags=("busybox:latest",)),))
    res = checks.image_archive(state, path="base.tar", images=["busybox", "alpine"])
    with override("en"):
        assert "~/base.tar holds busybox:latest, but not alpine" in res.message
        assert "'docker save busybox alpine -o ~/base.tar'" in res.message
    bb = SAVED("bb.tar", repo_tags=("busybox:latest",))
    other = checks.image_archive(EngineState(workspace=("bb.tar",), other_file=bb),
                                 path="busybox.tar", images=["busybox"])
    with override("en"):
        assert "There is no ~/busybox.tar, but there is ~/bb.tar" in other.message


@pytest.mark.parametrize("found,named", [
    (SAVED("bakery.tar", manifest=False, exported=True), True),
    # An image saved for another step (lab 5's alpine, gzip-compressed) is no export.
    (SAVED("alpine.tgz", gzip=True, gzip_ok=True, repo_tags=("alpine:latest",)), False),
    (checks.FileObs("big.tar", kind="file", unread=True), False),  # not read in time: unknown
    (None, False),  # not read at all
])
def test_a_missing_archive_names_another_file_only_when_it_is_an_attempt_at_it(found, named):
    """Lab 5's export step said "There is no ~/bakery-fs.tar, but there is ~/alpine.tgz", an
    image the learner had saved for another step: only an archive of the kind the step makes
    is named as its file under another name."""
    name = found.path if found is not None else "alpine.tgz"
    state = EngineState(workspace=(name, "older.tar"), other_file=found)
    res = checks.filesystem_archive(state, path="bakery-fs.tar", container="bakery")
    assert not res.passed
    with override("en"):
        if named:
            assert res.msg is checks.MSG_FILE_OTHER
            assert f"There is no ~/bakery-fs.tar, but there is ~/{name}" in res.message
        else:
            assert res.msg is checks.MSG_FILE_MISSING and name not in res.message
            assert res.message == ("There is no file ~/bakery-fs.tar yet. Make it with "
                                   "'docker export bakery -o ~/bakery-fs.tar'.")
    # The other way round: an export is no attempt at a saved image.
    res = checks.image_archive(state, path="alpine.tar.gz", images=["alpine"], gzip=True)
    assert res.msg is (checks.MSG_FILE_OTHER if found is not None and found.manifest
                       else checks.MSG_FILE_MISSING)


def test_image_archive_gzip():
    gz = SAVED("a.tar.gz", size=1_039_231, gzip=True, gzip_ok=True, repo_tags=("alpine:latest",))
    res = checks.image_archive(EngineState(files=(gz,)), path="a.tar.gz", images=["alpine"],
                               gzip=True)
    assert res.passed and res.msg is checks.MSG_ARCHIVE_OK_GZ
    with override("en"):
        assert "(1.0MB)" in res.message
    plain = SAVED("a.tar.gz", repo_tags=("alpine:latest",))
    res = checks.image_archive(EngineState(files=(plain,)), path="a.tar.gz", images=["alpine"],
                               gzip=True)
    assert not res.passed and res.msg is checks.MSG_FILE_NOT_GZIP
    with override("en"):
        assert "'docker save alpine | gzip > ~/a.tar.gz'" in res.message
    # A gzip-compressed save still counts where a plain tar is asked for: docker load reads both.
    assert checks.image_archive(EngineState(files=(gz,)), path="a.tar.gz", images=["alpine"]).passed


@pytest.mark.parametrize("file,msg", [
    (SAVED("fs.tar", manifest=False, exported=True), checks.MSG_FS_OK),
    (SAVED("fs.tar", repo_tags=("busybox:latest",)), checks.MSG_FS_IS_IMAGE),
    (SAVED("fs.tar", manifest=False), checks.MSG_FS_NOT_EXPORT),
    (checks.FileObs("fs.tar"), checks.MSG_FILE_MISSING),
    (checks.FileObs("fs.tar", kind="dir"), checks.MSG_FILE_NOT_REGULAR),
])
def test_filesystem_archive(file, msg):
    res = checks.filesystem_archive(EngineState(files=(file,)), path="fs.tar", container="bakery")
    assert res.msg is msg and res.passed == (msg is checks.MSG_FS_OK)
    with override("en"):
        assert res.passed or "docker export bakery -o ~/fs.tar" in res.message or \
            msg is checks.MSG_FILE_NOT_REGULAR


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/b.tar", "-rf.tar", "", "x y"])
def test_workspace_paths_are_plain_names_in_the_home_folder(path):
    with pytest.raises(checks.CheckSpecError, match="plain file name"):
        checks.parse_spec({"type": "image_archive", "path": path, "images": ["busybox"]})
    with pytest.raises(checks.CheckSpecError, match="plain file name"):
        checks.parse_spec({"type": "image_loaded", "image": "busybox", "archive": path})


def test_specs_say_what_they_read():
    archive = checks.parse_spec({"type": "image_archive", "path": "b.tar", "images": ["busybox"]})
    assert archive.workspace_paths() == ("b.tar",) and archive.reads() == {"files"}
    ran = checks.parse_spec({"type": "ran_command", "command": "docker info"})
    assert ran.workspace_paths() == () and ran.reads() == {"history"}
    loaded = checks.parse_spec({"type": "image_loaded", "image": "busybox", "archive": "b.tar"})
    assert loaded.workspace_paths() == () and loaded.reads() == {"image_events"}
    assert checks.parse_spec({"type": "image_present", "image": "nginx"}).reads() == frozenset()


# ------------------------------------------------------------------------------
# Shell history (ran_command)
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("line,commands", [
    ("docker image history nginx", [["docker", "history", "nginx"]]),
    ("sudo docker --debug -H unix:///x top web | head", [["docker", "top", "web"], ["head"]]),
    ("docker inspect -f '{{.State.Status}}' step-web && echo ok",
     [["docker", "inspect", "-f", "{{.State.Status}}", "step-web"], ["echo", "ok"]]),
    # A file descriptor written against its redirection is no argument.
    ("X=1 docker system info > /tmp/i 2>&1", [["docker", "info"]]),
    ("docker inspect web 2>/dev/null 1>&2", [["docker", "inspect", "web"]]),
    ("docker save alpine | gzip > ~/a.tar.gz", [["docker", "save", "alpine"], ["gzip"]]),
    ("echo 'unclosed", [["echo", "'unclosed"]]),
    ("docker --version", [["docker"]]),
])
def test_shell_commands(line, commands):
    assert checks.shell_commands(line) == commands


def hist(*entries):
    return tuple(checks.HistoryEntry(time=t, text=c) for t, c in entries)


STEP_WEB = ContainerObs(name="step-web", image="nginx:1.27", image_id="sha256:aaa",
                        state="running", id="0d46392ceebb1bca", created=1000)


@pytest.mark.parametrize("history,msg,words", [
    (hist((1001, "docker inspect step-web")), checks.MSG_RAN_OK, "You ran 'docker inspect step-web'"),
    (hist((1001, "docker container inspect -f '{{.State.Pid}}' step-web")), checks.MSG_RAN_OK, ""),
    (hist((1001, "docker inspect 0d46")), checks.MSG_RAN_OK, ""),
    (hist((1001, "docker inspect step-web | less"), (1002, "ls")), checks.MSG_RAN_OK, ""),
    (hist((1001, "docker inspect step-web"), (1002, "docker ps")), checks.MSG_RAN_OK, ""),
    ((), checks.MSG_RAN_NONE, "Run 'docker inspect step-web' in the terminal"),
    (hist((1001, "docker ps -a")), checks.MSG_RAN_OTHER,
     "Your latest command was 'docker ps -a', but this step needs 'docker inspect step-web'"),
    (hist((1001, "docker inspect nginx:1.27")), checks.MSG_RAN_TARGET,
     "You ran 'docker inspect nginx:1.27', but this step needs it on step-web"),
    (hist((999, "docker inspect step-web")), checks.MSG_RAN_EARLY, "before step-web was created"),
    # Echoing the words is not running the command.
    (hist((1001, "echo docker inspect step-web")), checks.MSG_RAN_NONE, ""),
])
def test_ran_command_on_a_container(history, msg, words):
    state = EngineState(containers=(STEP_WEB,), images=(NGINX,), shell_history=history)
    res = checks.ran_command(state, command="docker inspect", container="step-web")
    assert res.msg is msg and res.passed == (msg is checks.MSG_RAN_OK)
    with override("en"):
        assert words in res.message


def test_ran_command_needs_the_container_or_image_to_exist():
    state = EngineState(shell_history=hist((1, "docker top step-web")))
    assert checks.ran_command(state, command="docker top", container="step-web").msg \
        is checks.MSG_NO_CONTAINER
    res = checks.ran_command(EngineState(shell_history=hist((1, "docker history nginx"))),
                             command="docker history", image="nginx")
    assert not res.passed and res.msg is checks.MSG_IMAGE_MISSING


@pytest.mark.parametrize("line,passed", [
    ("docker history nginx", True),
    ("docker image history nginx:latest", True),
    ("docker history docker.io/library/nginx", True),
    ("docker history aaaa", False),  # an id prefix of another image
    ("docker history sha256:f07", False),  # ids are matched from 4 hex digits on
    ("docker history busybox", False),
    ("docker images nginx", False),
])
def test_ran_command_on_an_image(line, passed):
    nginx = ImageObs("sha256:f07b81857d80", ("nginx:latest", "nginx:1.27"))
    state = EngineState(images=(nginx, BUSYBOX), shell_history=hist((5, line)))
    assert checks.ran_command(state, command="docker history", image="nginx").passed is passed
    by_id = EngineState(images=(nginx,), shell_history=hist((5, "docker history f07b8")))
    assert checks.ran_command(by_id, command="docker history", image="nginx").passed


def test_ran_command_with_args():
    kw = {"command": "curl", "args": ["docker.sock", "/version"],
          "example": "curl -s --unix-socket /var/run/docker.sock http://localhost/version"}
    ok = hist((5, "curl -s --unix-socket /var/run/docker.sock http://localhost/version | jq"))
    assert checks.ran_command(EngineState(shell_history=ok), **kw).passed
    miss = hist((5, "curl -s http://localhost/version"))
    res = checks.ran_command(EngineState(shell_history=miss), **kw)
    assert not res.passed and res.msg is checks.MSG_RAN_ARGS_MISSING
    with override("en"):
        assert ("You ran 'curl -s http://localhost/version', but this step needs 'curl -s "
                "--unix-socket") in res.message
        assert "Look closely at 'docker.sock'" in res.message


def test_ran_command_reads_only_the_first_line_of_a_here_document():
    heredoc = hist((5, "cat > notes.txt <<'EOF'\ndocker version\nEOF"))
    assert not checks.ran_command(EngineState(shell_history=heredoc), command="docker version").passed
    continued = hist((5, "docker \\\nversion"))
    assert checks.ran_command(EngineState(shell_history=continued), command="docker version").passed


def test_ran_command_quotes_long_commands_shortly():
    long = hist((5, "docker ps " + "x" * 200))
    res = checks.ran_command(EngineState(shell_history=long), command="docker version")
    with override("en"):
        assert len(res.message) < 200 and "…" in res.message


@pytest.mark.parametrize("line,msg", [
    ("docker info", checks.MSG_RAN_OK),
    ("docker system info", checks.MSG_RAN_OK),
    ("docker info | less", checks.MSG_RAN_OK),
    ("docker info 2>&1 | tee info.txt", checks.MSG_RAN_OK),
    ("docker info > info.txt", checks.MSG_RAN_OK),
    ("docker info | head -3", checks.MSG_RAN_CUT),
    ("docker info |& grep Storage", checks.MSG_RAN_CUT),
    ("docker info | tail -n 5 && echo done", checks.MSG_RAN_CUT),
    # Counted, one field, or the help: none of it read (QA: these passed).
    ("docker info | wc -l", checks.MSG_RAN_COUNTED),
    ("docker info --format '{{.Driver}}'", checks.MSG_RAN_FORMATTED),
    ("docker info -f '{{.Driver}}'", checks.MSG_RAN_FORMATTED),
    ("docker info --help", checks.MSG_RAN_HELP),
])
def test_ran_command_with_whole_output_refuses_an_output_cut_short(line, msg):
    """Lab 4 has the learner read the lines under 'Server:' of 'docker info': 'docker info |
    head -3' shows only the client's part, and passed the step."""
    state = EngineState(shell_history=hist((5, line)))
    res = checks.ran_command(state, command="docker info", whole_output=True)
    assert res.msg is msg and res.passed is (msg is checks.MSG_RAN_OK)
    if msg is checks.MSG_RAN_CUT:
        reader = checks.shell_pipes(line)[0][1][0]
        with override("en"):
            assert f"You ran '{line}', so its output went to {reader}, which does not show all" in res.message
            assert f"run 'docker info' without '| {reader}'" in res.message
        with override("ko"):
            assert f"'| {reader}'" in res.message
    # Without whole_output, any reader but a count will do, and a format too (never the help);
    # a full run after a cut one still passes.
    assert checks.ran_command(state, command="docker info").passed is (
        msg not in (checks.MSG_RAN_COUNTED, checks.MSG_RAN_HELP))
    later = EngineState(shell_history=hist((5, line), (6, "docker info")))
    assert checks.ran_command(later, command="docker info", whole_output=True).passed


@pytest.mark.parametrize("line,passes", [
    ("docker top step-web", True),
    ("docker top step-web -o pid,cmd", True),
    ("docker top step-web -h", True),  # words after the container go to ps: no help there
    ("docker top --help step-web", False),
    ("docker inspect step-web | grep State", True),
    ("docker inspect step-web | wc -l", False),
    ("docker inspect -h step-web", False),
])
def test_ran_command_takes_the_command_not_its_help_or_a_count(line, passes):
    web = ContainerObs(name="step-web", image="nginx", image_id="sha256:aaa", state="running",
                       created=1, id="0d46")
    state = EngineState(containers=(web,), shell_history=hist((5, line)))
    command = " ".join(line.split()[:2])
    assert checks.ran_command(state, command=command, container="step-web").passed is passes


def test_shell_pipes_pair_each_command_with_its_reader():
    assert checks.shell_pipes("a | b -x && c; d |& e") == [
        (["a"], ["b", "-x"]), (["b", "-x"], None), (["c"], None), (["d"], ["e"]), (["e"], None)]
    assert checks.shell_commands("a | b && c") == [["a"], ["b"], ["c"]]


def test_shell_parse_tells_where_each_command_stands_and_where_its_output_goes():
    first, second, third = checks.shell_parse("docker start web && docker top web | cat > /dev/null")
    assert (first.words, first.last, first.discarded) == (["docker", "start", "web"], False, False)
    assert (second.words, second.reader, second.index, second.size, second.last) == (
        ["docker", "top", "web"], ["cat"], 0, 2, True)
    # Piped into a command whose output is thrown away: so is its own.
    assert second.discarded and third.discarded and (third.index, third.size) == (1, 2)


@pytest.mark.parametrize("line,discarded", [
    ("docker inspect web > /dev/null", True),
    ("docker inspect web >/dev/null 2>&1", True),
    ("docker inspect web &> /dev/null", True),
    ("docker inspect web 1>/dev/null", True),
    ("docker inspect web >> /dev/null", True),
    ("docker inspect web 2>/dev/null", False),
    ("docker inspect web 2> /dev/null", False),
    ("docker inspect web > inspect.json", False),
    ("docker inspect web 1>&2", False),
    ("docker inspect web | less", False),
])
def test_shell_parse_sees_output_sent_to_dev_null(line, discarded):
    assert checks.shell_parse(line)[0].discarded is discarded


def run(time, text, status=None, pipe_status=None):
    """A history entry with its noted exit status (None: unknown, as in an older history)."""
    return checks.HistoryEntry(time=time, text=text, status=status,
                               pipe_status=pipe_status or ((status,) if status is not None else ()))


CREATED_WEB = dataclasses.replace(STEP_WEB, state="created")


def test_ran_command_does_not_count_a_command_that_failed():
    """QA: 'docker top step-web' of a step-web only created fails ("container ... is not
    running") and ticked the step. It says why, and how to make it work."""
    failed = (run(1001, "docker top step-web", 1),)
    res = checks.ran_command(EngineState(containers=(CREATED_WEB,), shell_history=failed),
                             command="docker top", container="step-web")
    assert not res.passed and res.msg is checks.MSG_RAN_NOT_RUNNING
    with override("en"):
        assert res.message == (
            "You ran 'docker top step-web', but it failed (exit status 1): step-web is created, "
            "not running, and 'docker top' needs a running container. Start it first with "
            "'docker start step-web', then run 'docker top step-web' again.")
    with override("ko"):
        assert "생성됨(created)" in res.message and "'docker start step-web'" in res.message
    # Started since: the failure is told plainly, and running it again passes.
    running = EngineState(containers=(STEP_WEB,), shell_history=failed)
    res = checks.ran_command(running, command="docker top", container="step-web")
    assert not res.passed and res.msg is checks.MSG_RAN_FAILED
    with override("en"):
        assert "You ran 'docker top step-web', but it failed (exit status 1). Read the" in res.message
    again = dataclasses.replace(running, shell_history=failed + (
        run(1002, "docker start step-web", 0), run(1003, "docker top step-web", 0)))
    assert checks.ran_command(again, command="docker top", container="step-web").passed
    # A status nobody noted (a history from before the bashrc noted them) counts as before.
    old = dataclasses.replace(running, shell_history=hist((1001, "docker top step-web")))
    assert checks.ran_command(old, command="docker top", container="step-web").passed


@pytest.mark.parametrize("entry,passed", [
    (run(1001, "docker top step-web | cat", 0, (1, 0)), False),  # PIPESTATUS tells
    (run(1001, "docker start step-web && docker top step-web", 1, (1,)), False),
    (run(1001, "docker top step-web; echo done", 0), True),  # the line's status is echo's
    (run(1001, "docker top step-web; false", 1), True),
    (run(1001, "docker top step-web | head -3", 0, (141, 0)), True),  # head stopped reading
    (run(1001, "docker top step-web | grep nginx", 1, (0, 1)), True),  # grep found nothing
])
def test_ran_command_reads_the_status_of_the_command_itself(entry, passed):
    state = EngineState(containers=(STEP_WEB,), shell_history=(entry,))
    assert checks.ran_command(state, command="docker top", container="step-web").passed is passed


@pytest.mark.parametrize("line,passed", [
    ("docker inspect step-web > /dev/null", False),
    ("docker inspect step-web &>/dev/null", False),
    ("docker inspect step-web | cat >/dev/null", False),
    ("docker inspect step-web 2>/dev/null", True),
    ("docker inspect step-web > step-web.json", True),
])
def test_ran_command_does_not_count_output_sent_to_dev_null(line, passed):
    state = EngineState(containers=(STEP_WEB,), shell_history=(run(1001, line, 0),))
    res = checks.ran_command(state, command="docker inspect", container="step-web")
    assert res.passed is passed
    if not passed:
        assert res.msg is checks.MSG_RAN_DISCARDED
        with override("en"):
            assert f"You ran '{line}', but its output went to /dev/null, so nothing" in res.message


@pytest.mark.parametrize("line,msg", [
    ("docker info > /dev/null", checks.MSG_RAN_DISCARDED),
    ("docker info | head -n 200", checks.MSG_RAN_OK),
    ("docker info | head -200", checks.MSG_RAN_OK),
    ("docker info | head --lines=80", checks.MSG_RAN_OK),
    ("docker info | head -n 20", checks.MSG_RAN_CUT),
    ("docker info | head", checks.MSG_RAN_CUT),
    ("docker info | head -c 5000", checks.MSG_RAN_CUT),
    ("docker info | head -n -5", checks.MSG_RAN_CUT),
])
def test_ran_command_with_whole_output_takes_a_long_head_but_not_dev_null(line, msg):
    """'docker info' prints about 60 lines: a head of 80 or more shows all of them."""
    state = EngineState(shell_history=(run(5, line, 0, (0, 0) if "|" in line else (0,)),))
    res = checks.ran_command(state, command="docker info", whole_output=True)
    assert res.msg is msg and res.passed is (msg is checks.MSG_RAN_OK)


@pytest.mark.parametrize("line,passed", [
    ("curl -s --unix-socket /var/run/docker.sock http://localhost/version", True),
    ("curl -s --unix-socket /var/run/docker.sock http://localhost/v1.43/version", True),
    ("curl -s --unix-socket /var/run/docker.sock 'http://localhost/version?x=1'", True),
    ("curl -s --unix-socket /var/run/docker.sock http://localhost/versions", False),
    ("curl -s --unix-socket /var/run/docker.socket http://localhost/version", False),
    ("curl -s --unix-socket /var/run/mydocker.sock http://localhost/version", False),
])
def test_ran_command_args_are_whole_names(line, passed):
    """QA: '/version' was found in '.../versions' (the engine answers 404) and 'docker.sock' in
    '/var/run/docker.socket' (no such socket)."""
    kw = {"command": "curl", "args": ["docker.sock", "/version"],
          "example": "curl -s --unix-socket /var/run/docker.sock http://localhost/version"}
    res = checks.ran_command(EngineState(shell_history=hist((5, line))), **kw)
    assert res.passed is passed
    if not passed:
        assert res.msg is checks.MSG_RAN_ARGS_MISSING
        missing = "/version" if "versions" in line else "docker.sock"
        assert res.params["missing"] == missing


@pytest.mark.parametrize("lang,says", [
    ("en", ("Look closely at 'docker.sock'", "Yours also failed (exit status 7)")),
    ("ko", ("'docker.sock' 부분을", "실패했습니다(종료 코드 7)")),
])
def test_a_mistyped_socket_is_named_and_its_silent_failure_told(lang, says):
    """QA: 'curl -s' to /var/run/docker.socket prints nothing (exit status 7) and the message
    only said which command the step needs: 'socket' and 'sock' are easy to miss in two long
    lines. It names what differs, and that it failed; a curl that worked is not called failed."""
    kw = {"command": "curl", "args": ["docker.sock", "/version"],
          "example": "curl -s --unix-socket /var/run/docker.sock http://localhost/version"}
    line = "curl -s --unix-socket /var/run/docker.socket http://localhost/version"
    res = checks.ran_command(EngineState(shell_history=(run(5, line, 7),)), **kw)
    assert not res.passed and res.msg is checks.MSG_RAN_ARGS_MISSING_FAILED
    with override(lang):
        assert all(part in res.message for part in says), res.message
    worked = checks.ran_command(EngineState(shell_history=(run(5, line, 0),)), **kw)
    assert worked.msg is checks.MSG_RAN_ARGS_MISSING


def test_ran_command_does_not_count_a_curl_that_failed():
    kw = {"command": "curl", "args": ["docker.sock", "/version"],
          "example": "curl -s --unix-socket /var/run/docker.sock http://localhost/version"}
    failed = (run(5, "curl -s --unix-socket /var/run/docker.sock http://localhost/version", 7),)
    res = checks.ran_command(EngineState(shell_history=failed), **kw)
    assert not res.passed and res.msg is checks.MSG_RAN_FAILED
    with override("en"):
        assert "but it failed (exit status 7)" in res.message


def test_ran_command_spec_is_validated():
    assert checks.parse_spec({"type": "ran_command", "command": "docker top",
                              "container": "web"}).kwargs()["container"] == "web"
    with pytest.raises(checks.CheckSpecError, match="does not take"):
        checks.parse_spec({"type": "ran_command", "command": "docker top", "name": "web"})


# ------------------------------------------------------------------------------
# No step of the new labs passes before its commands (all checks run on every observation)
# ------------------------------------------------------------------------------


def test_docker_run_start_step_names_the_image_a_container_really_runs():
    """The start step asks for step-web from nginx:1.27 but takes any nginx tag: its messages
    name the image each container really runs, not the step's nginx:1.27."""
    start = next(s for s in _lab_steps("docker-run") if s.id == "start")
    nginx = ImageObs("sha256:aaa", ("nginx:latest", "nginx:1.27"))
    # A container run without --name runs plain nginx.
    res = start.check.run(EngineState(images=(nginx,), containers=(web(name="eager_turing"),)))
    with override("en"):
        assert not res.passed
        assert res.message.startswith("A container from nginx is running as eager_turing."), \
            res.message
    # my-web from the earlier lab is no attempt at this step: it is not blamed.
    res = start.check.run(EngineState(images=(nginx,), containers=(web(),)))
    assert not res.passed and res.msg is checks.MSG_NO_CONTAINER
    ok = web(name="step-web", port=8085, image="nginx:1.27")
    res = start.check.run(EngineState(images=(nginx,), containers=(ok,)))
    with override("en"):
        assert res.passed and res.message.startswith("step-web is running from nginx:1.27")
    latest = web(name="step-web", port=8085)
    res = start.check.run(EngineState(images=(nginx,), containers=(latest,)))
    with override("en"):
        assert res.passed and res.message.startswith("step-web is running from nginx and")
    with override("ko"):
        assert "nginx 이미지로 실행 중" in res.message


def test_no_docker_run_step_passes_before_its_commands():
    nginx = ImageObs("sha256:aaa", ("nginx:latest", "nginx:1.27"))
    made = created()
    running = ContainerObs(name="step-web", image="nginx:1.27", image_id="sha256:aaa",
                           state="running", created=100, id="0d46",
                           ports=(PortBinding("80/tcp", "0.0.0.0", 8085),))
    inspected = hist((101, "docker inspect step-web"))
    ends = [
        ("pull-tag", EngineState(images=(nginx,))),
        ("create", EngineState(images=(nginx,), containers=(made,))),
        ("start", EngineState(images=(nginx,), containers=(running,))),
        ("inspect", EngineState(images=(nginx,), containers=(running,), shell_history=inspected)),
        ("top", EngineState(images=(nginx,), containers=(running,),
                            shell_history=inspected + hist((102, "docker top step-web")))),
    ]
    _assert_in_order("docker-run", ends)


def test_no_architecture_step_passes_before_its_commands():
    version = hist((1, "docker version"))
    info = version + hist((2, "docker info"))
    api = info + hist((3, "curl -s --unix-socket /var/run/docker.sock http://localhost/version"))
    ends = [
        ("version", EngineState(shell_history=version)),
        ("info", EngineState(shell_history=info)),
        ("rest-api", EngineState(shell_history=api)),
        ("pull-full-name", EngineState(images=(BUSYBOX,), shell_history=api + hist(
            (4, "docker pull docker.io/library/busybox:latest")))),
    ]
    _assert_in_order("docker-architecture", ends)


def test_no_save_and_load_step_passes_before_its_commands():
    alpine = ImageObs("sha256:al", ("alpine:latest",), layers=("sha256:a1", "sha256:a2"),
                      cmd=("/bin/sh",))
    ev = checks.ImageEvent
    files1 = (SAVED("busybox.tar", repo_tags=("busybox:latest",)),)
    events1 = (ev("pull", "busybox:latest"),)
    events2 = events1 + (ev("delete", BB_ID), ev("load", BB_ID))
    files3 = files1 + (SAVED("base-images.tar", repo_tags=("busybox:latest", "alpine:latest")),)
    events3 = events2 + (ev("pull", "alpine:latest"),)
    files4 = files3 + (SAVED("alpine.tar.gz", gzip=True, gzip_ok=True,
                             repo_tags=("alpine:latest",)),)
    events5 = events3 + (ev("delete", "sha256:al"), ev("load", "sha256:al"))
    files6 = files4 + (SAVED("bakery-fs.tar", manifest=False, exported=True,
                             top_files=(".dockerenv", "filling.txt")),)
    bakery = ContainerObs(name="bakery", image="busybox", image_id=BB_ID, state="exited",
                          exit_code=0)
    ends = [
        ("save-one", EngineState(images=(BB,), files=files1, image_events=events1)),
        ("load-one", EngineState(images=(BB,), files=files1, image_events=events2)),
        ("save-several", EngineState(images=(BB, alpine), files=files3, image_events=events3)),
        ("save-gzip", EngineState(images=(BB, alpine), files=files4, image_events=events3)),
        ("load-gzip", EngineState(images=(BB, alpine), files=files4, image_events=events5)),
        ("export", EngineState(images=(BB, alpine), files=files6, image_events=events5,
                               containers=(bakery,))),
        ("import", EngineState(images=(BB, alpine, FLAT), files=files6, image_events=events5,
                               containers=(bakery,))),
    ]
    _assert_in_order("save-and-load", ends)


def test_no_layers_step_passes_before_its_commands():
    nginx = ImageObs("sha256:aaa", ("nginx:latest",))
    looked = hist((1, "docker history nginx"))
    bun = ContainerObs(name="bun", image="stack:2", image_id=STACK2.id, state="running",
                       created=10, id="b0b0")
    ends = [
        ("history", EngineState(images=(nginx,), shell_history=looked)),
        ("build-stack", EngineState(images=(nginx, STACK_BASE, STACK1), shell_history=looked)),
        ("change-middle", EngineState(images=(nginx, STACK_BASE, STACK1, STACK2),
                                      shell_history=looked)),
        ("writable-layer", EngineState(images=(nginx, STACK_BASE, STACK1, STACK2),
                                       containers=(bun,),
                                       shell_history=looked + hist((11, "docker diff bun")))),
    ]
    _assert_in_order("layers", ends)


# ------------------------------------------------------------------------------
# Near misses a QA pass found: each right action passes, the wrong one fails with its message
# ------------------------------------------------------------------------------
WRITER_KW = {"name": "writer", "destination": "/data", "mount": "volume", "volume": "notes",
             "holds": "todo.txt"}
WRITER_DONE = box("writer", state="exited", exit_code=0, mounts=(NOTES_AT_DATA,))


@pytest.mark.parametrize("files,msg,words", [
    ((), checks.MSG_MOUNT_NO_FILE, "writer mounts notes at /data, but there is no /data/todo.txt"),
    ((checks.ContainerFileObs("writer", "/data/todo.txt"),), checks.MSG_MOUNT_NO_FILE,
     "there is no /data/todo.txt in it"),
    ((checks.ContainerFileObs("writer", "/data/todo.txt", kind="dir", size=4096),),
     checks.MSG_MOUNT_NO_FILE, "there is no /data/todo.txt in it"),
    ((checks.ContainerFileObs("writer", "/data/todo.txt", kind="file"),),
     checks.MSG_MOUNT_EMPTY_FILE, "/data/todo.txt in it is empty"),
    # Another container's file does not count.
    ((checks.ContainerFileObs("other", "/data/todo.txt", kind="file", size=5),),
     checks.MSG_MOUNT_NO_FILE, "there is no /data/todo.txt in it"),
])
def test_volume_mounted_holds_needs_the_file_written_into_the_volume(files, msg, words):
    """'docker run --name writer -v notes:/data busybox true' mounts notes but writes nothing."""
    state = EngineState(containers=(WRITER_DONE,), container_files=files)
    res = checks.volume_mounted(state, **WRITER_KW)
    assert not res.passed and res.msg is msg
    with override("en"):
        assert words in res.message and "docker rm -f writer" in res.message
    with override("ko"):
        assert res.message


def test_volume_mounted_holds_passes_with_the_file_and_names_what_it_reads():
    files = (checks.ContainerFileObs("writer", "/data/todo.txt", kind="file", size=18),)
    res = checks.volume_mounted(EngineState(containers=(WRITER_DONE,), container_files=files),
                                **WRITER_KW)
    assert res.passed and res.msg is checks.MSG_MOUNT_OK
    step = content_step("volumes", "write-notes")
    assert step.check.container_paths() == (("writer", "/data/todo.txt"),)
    assert content_step("volumes", "bind-folder").check.container_paths() == ()


def content_step(lab_id, step_id):
    from labs import content
    return content.get_lab("week1", lab_id).step(step_id)


READER_MOUNT = (MountObs("volume", "/data", name="notes", rw=False),)
READER_KW = {"name": "reader", "destination": "/data", "mount": "volume", "volume": "notes",
             "read_only": True, "gone": ["writer"], "finished": True}


def test_volume_mounted_finished_waits_until_the_command_has_ended():
    """reader's 'cat' observed while it still runs has proved nothing (it may fail next)."""
    running = EngineState(containers=(box("reader", mounts=READER_MOUNT,
                                          command="cat /data/todo.txt"),))
    res = checks.volume_mounted(running, **READER_KW)
    assert not res.passed and res.msg is checks.MSG_MOUNT_UNFINISHED
    assert not checks.settling(res)  # long running: its 'die' event brings the next check
    with override("en"):
        assert "reader is still running" in res.message
    with override("ko"):
        assert res.message
    failed = EngineState(containers=(box("reader", state="exited", exit_code=1,
                                         mounts=READER_MOUNT),))
    res = checks.volume_mounted(failed, **READER_KW)
    assert not res.passed and res.msg is checks.MSG_MOUNT_FAILED
    done = EngineState(containers=(box("reader", state="exited", exit_code=0,
                                       mounts=READER_MOUNT),))
    assert checks.volume_mounted(done, **READER_KW).passed
    # Without 'finished' a running container still counts (a web server that keeps running).
    kw = {k: v for k, v in READER_KW.items() if k != "finished"}
    assert checks.volume_mounted(running, **kw).passed


def gone_life(exit_code, history=("start", "die"), name="life"):
    return ContainerObs(name=name, image="nginx", image_id="", state="removed", id="c9",
                        exit_code=exit_code, history=history)


def test_lifecycle_kill_then_rm_still_counts_as_the_kill():
    """'docker kill life; sleep 2; docker rm life': the engine's events keep how the removed
    container ended (exit code 137, no start after its die), and the shell history that it was
    'docker kill' (not 'docker rm -f', which leaves the same events)."""
    state = EngineState(images=(NGINX,), removed=("life",), gone=(gone_life(137),),
                        shell_history=hist((0, "docker kill life; sleep 2; docker rm life")))
    res = checks.container_lifecycle(state, name="life", command="kill")
    assert res.passed and res.msg is checks.MSG_LC_KILL_OK
    assert checks.container_lifecycle(state, name="life", command="rm").passed
    assert not checks.container_lifecycle(state, name="life", command="stop").passed
    # 'docker stop life; docker rm life' counts as the stop, not as the kill.
    stopped = EngineState(images=(NGINX,), removed=("life",),
                          gone=(gone_life(0, ("start", "die", "stop")),))
    assert checks.container_lifecycle(stopped, name="life", command="stop").passed
    res = checks.container_lifecycle(stopped, name="life", command="kill")
    assert not res.passed and res.msg is checks.MSG_CONTAINER_REMOVED


@pytest.mark.parametrize("gone", [
    (),  # its events are no longer in the engine's buffer
    (gone_life(None),),  # a die event without an exit code
    (gone_life(137, ("start",)),),  # removed without dying first (nothing to go by)
    (gone_life(137, ("start", "die", "start")),),  # started again after the kill
    (gone_life(137, name="other"),),  # another container was killed
    (gone_life(137), gone_life(0, ("start", "die", "stop"))),  # the latest life was stopped
])
def test_lifecycle_kill_of_a_removed_container_needs_the_evidence(gone):
    state = EngineState(images=(NGINX,), removed=("life",), gone=gone)
    res = checks.container_lifecycle(state, name="life", command="kill")
    assert not res.passed and res.msg is checks.MSG_CONTAINER_REMOVED


def test_lifecycle_unpause_needs_a_real_unpause():
    """'docker pause life; docker stop life; docker start life': the stop unpauses the container
    on the way (the engine reports an unpause), but no 'docker unpause' was run."""
    stopped_paused = life("running", ("start", "pause", "unpause", "die", "stop", "start"))
    state = EngineState(containers=(stopped_paused,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="unpause")
    assert not res.passed and res.msg is checks.MSG_LC_STOPPED_NOT_UNPAUSED
    with override("en"):
        assert "life was paused, then stopped and started again" in res.message
        assert "'docker unpause life'" in res.message
    with override("ko"):
        assert res.message
    # A real unpause after the latest start passes, also after an earlier stop and start.
    again = life("running", stopped_paused.history + ("pause", "unpause"))
    for c in (UNPAUSED, again):
        assert checks.container_lifecycle(EngineState(containers=(c,), images=(NGINX,)),
                                          name="life", command="unpause").passed


@pytest.mark.parametrize("error,msg,words", [
    ("driver failed programming external connectivity on endpoint life (ae20): Bind for "
     "0.0.0.0:8080 failed: port is already allocated", checks.MSG_LC_START_FAILED_PORT,
     "remove it with 'docker rm life' and run it again without -p, or with a free host port"),
    ('failed to create task for container: failed to create shim task: OCI runtime create '
     'failed: runc create failed: unable to start container process: exec: "ngin": executable '
     'file not found in $PATH: unknown',
     checks.MSG_LC_START_FAILED, 'exec: "ngin": executable file not found in $PATH)'),
    ("", checks.MSG_LC_CREATED, "Start it with 'docker start life'"),
])
def test_lifecycle_created_after_a_failed_start_says_to_run_it_again(error, msg, words):
    c = dataclasses.replace(life("created", ()), start_error=error)
    state = EngineState(containers=(c,), images=(NGINX,))
    for command in ("run", "pause", "stop"):
        res = checks.container_lifecycle(state, name="life", command=command, image="nginx")
        assert not res.passed and res.msg is msg
        with override("en"):
            assert words in res.message
            assert error == "" or "Start it with" not in res.message
        with override("ko"):
            assert res.message


@pytest.mark.parametrize("other,hinted", [
    ("step-web", False),  # another lab's container, named on purpose
    ("my-web", False),
    ("eager_turing", True),  # Docker named it: run without --name
    ("eager_turing1", True),
    ("lfie", True),  # a typo
    ("lif", True),
])
def test_other_name_hint_only_for_an_attempt_at_the_step(other, hinted):
    state = EngineState(containers=(life(name=other, image="nginx:1.27"),), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="run", image="nginx")
    assert not res.passed and res.msg is (checks.MSG_OTHER_NAME if hinted
                                          else checks.MSG_NO_CONTAINER)
    res = checks.container_running(state, name="life", image="nginx")
    assert not res.passed and res.msg is (checks.MSG_OTHER_NAME if hinted
                                          else checks.MSG_NO_CONTAINER)


def test_image_built_names_a_label_with_another_value():
    state = EngineState(images=(NGINX_LAYERED, built("hello:1",
                                                     labels={"description": "hello bungeo"})))
    res = checks.image_built(state, image="hello:1", base="nginx", label=LABELS)
    assert not res.passed and res.msg is checks.MSG_BUILD_LABEL_VALUE
    with override("en"):
        assert ('hello:1 has the label description="hello bungeo", not '
                'description="hello bungeoppang"') in res.message
        assert "has no label" not in res.message
    with override("ko"):
        assert res.message


def test_filesystem_archive_must_be_the_named_containers():
    """'docker export my-web -o ~/bakery-fs.tar' is a container's filesystem, but not bakery's:
    it lacks the /filling.txt bakery wrote."""
    theirs = SAVED("fs.tar", manifest=False, exported=True, top_files=(".dockerenv",))
    res = checks.filesystem_archive(EngineState(files=(theirs,)), path="fs.tar",
                                    container="bakery", holds="filling.txt")
    assert not res.passed and res.msg is checks.MSG_FS_OTHER_CONTAINER
    with override("en"):
        assert "~/fs.tar holds a container's filesystem, but not bakery's: it has no " \
               "/filling.txt" in res.message
        assert "'docker export bakery -o ~/fs.tar'" in res.message
    with override("ko"):
        assert res.message
    mine = dataclasses.replace(theirs, top_files=(".dockerenv", "filling.txt"))
    res = checks.filesystem_archive(EngineState(files=(mine,)), path="fs.tar",
                                    container="bakery", holds="filling.txt")
    assert res.passed and res.msg is checks.MSG_FS_OK


def hist(*entries):
    return tuple(checks.HistoryEntry(t, text) for t, text in entries)


STEP_WEB_KW = {"name": "step-web", "image": "nginx:1.27", "publish": {"80/tcp": 8085}}


@pytest.mark.parametrize("history", [
    ((10, "docker create --name step-web -p 8085:80 nginx:1.27"), (20, "docker start step-web")),
    ((10, "docker create --name step-web -p 8085:80 nginx:1.27 && docker start step-web"),),
    ((5, "docker run -d --name step-web nginx:1.27"), (6, "docker rm -f step-web"),
     (10, "docker container create --name=step-web -p 8085:80 nginx:1.27"),
     (20, "docker container start step-web")),
])
def test_container_created_then_started_passes(history):
    state = EngineState(containers=(created(state="running"),), images=(NGINX,),
                        shell_history=hist(*history))
    res = checks.container_created(state, **STEP_WEB_KW)
    assert res.passed and res.msg is checks.MSG_CREATED_THEN_STARTED
    with override("ko"):
        assert res.message


@pytest.mark.parametrize("history", [
    (),
    ((10, "docker run -d --name step-web -p 8085:80 nginx:1.27"),),
    ((5, "docker create --name step-web nginx:1.27"), (6, "docker rm step-web"),
     (10, "docker run -d --name step-web -p 8085:80 nginx:1.27")),
    ((10, "docker create --name other -p 8085:80 nginx:1.27"),),
])
def test_container_created_by_docker_run_fails_and_keeps_the_port(history):
    state = EngineState(containers=(created(state="running"),), images=(NGINX,),
                        shell_history=hist(*history))
    res = checks.container_created(state, **STEP_WEB_KW)
    assert not res.passed and res.msg is checks.MSG_CREATED_STARTED
    with override("en"):
        assert "step-web is already running: 'docker run' creates and starts in one go" \
               in res.message
        assert "'docker create --name step-web -p 8085:80 nginx:1.27'" in res.message
    with override("ko"):
        assert res.message


def test_container_created_reads_the_history_only_once_started():
    spec = content_step("docker-run", "create").check
    fresh = EngineState(containers=(created(),), images=(NGINX,))
    assert spec.reads(fresh) == frozenset()
    assert spec.reads(EngineState()) == frozenset()
    started = EngineState(containers=(created(state="running"),), images=(NGINX,))
    assert spec.reads(started) == frozenset({"history"})


def test_volume_mounted_unfinished_is_looked_at_again_while_it_may_be_ending():
    """The engine lists a container as running for a moment after its 'docker run' returned:
    a container created just now, or one whose 'die' is already in its history, is looked at
    again (labs.consumers re-checks settling verdicts); a long-running one is not."""
    def reader(created, history=("start",)):
        return dataclasses.replace(box("reader", mounts=READER_MOUNT), created=created,
                                   history=history)

    now = 1000.0
    for c, again in [(reader(999), True), (reader(1000 - checks.UNFINISHED_RECHECK_S - 1), False),
                     (reader(1, ("start", "die")), True), (reader(0), False)]:
        res = checks.volume_mounted(EngineState(containers=(c,), observed_at=now), **READER_KW)
        assert res.msg is checks.MSG_MOUNT_UNFINISHED and not res.passed
        assert checks.settling(res) is again, c


# ------------------------------------------------------------------------------
# Lab 6 (container-lifecycle): removal after a life, kill apart from 'docker rm -f'
# ------------------------------------------------------------------------------


def test_lifecycle_rm_of_a_container_that_never_ran_does_not_count():
    """Before anything else in the lab: 'docker run --name life -p 8080:80 nginx' fails on a
    taken port (life is left created), and 'docker rm life', as its message advises, removes
    it. That life never ran: no removal step yet."""
    never = gone_life(None, ("create",))
    state = EngineState(images=(NGINX,), removed=("life",), gone=(never,))
    res = checks.container_lifecycle(state, name="life", command="rm")
    assert not res.passed and res.msg is checks.MSG_LC_RM_NEVER_RAN
    with override("en"):
        assert res.message.startswith("life has been removed, but it never ran")
        assert "'docker run -d --name life nginx'" in res.message
    with override("ko"):
        assert "한 번도 실행된 적이 없습니다" in res.message
    # The life of the lab: created, run, taken through the steps, killed, then removed.
    lived = gone_life(137, ("create", "start", "pause", "unpause", "die", "stop", "start", "die"))
    for gone in [(lived,), (never, lived),
                 (gone_life(0, ("start", "die", "stop")),),  # its 'create' left the engine's buffer
                 (gone_life(None, ()),)]:  # so did all its events: nothing says it never ran
        state = EngineState(images=(NGINX,), removed=("life",), gone=gone)
        res = checks.container_lifecycle(state, name="life", command="rm")
        assert res.passed and res.msg is checks.MSG_LC_RM_OK, gone
    # The latest removal counts: a life that ran, then one that never did.
    state = EngineState(images=(NGINX,), removed=("life", "life"), gone=(lived, never))
    assert checks.container_lifecycle(state, name="life", command="rm").msg \
        is checks.MSG_LC_RM_NEVER_RAN


def test_lifecycle_created_and_removed_passes_no_lifecycle_step():
    """The same failed run and removal pass none of the lab's steps."""
    state = EngineState(images=(NGINX,), removed=("life",), gone=(gone_life(None, ("create",)),))
    for command in checks.LIFECYCLE_COMMANDS:
        assert not checks.container_lifecycle(state, name="life", command=command,
                                              image="nginx").passed, command


KILLED_AT = 1000.4  # when the removed life died (its 'die' event)


@pytest.mark.parametrize("history", [
    ((1000, "docker kill life"), (1003, "docker rm life")),
    ((1000, "docker kill life && docker rm life"),),
    ((1000, "docker container kill life; docker rm life"),),
    ((998, "docker kill $(docker ps -q)"), (1001, "docker rm life")),
    ((0, "docker kill life"),),  # a history without times
])
def test_lifecycle_kill_then_rm_passes_after_docker_kill(history):
    ended = dataclasses.replace(gone_life(137), died_at=KILLED_AT)
    state = EngineState(images=(NGINX,), removed=("life",), gone=(ended,),
                        shell_history=hist(*history))
    res = checks.container_lifecycle(state, name="life", command="kill")
    assert res.passed and res.msg is checks.MSG_LC_KILL_OK


@pytest.mark.parametrize("history", [
    ((1000, "docker rm -f life"),),
    ((1000, "docker rm --force life"),),
    ((1000, "docker container rm -f life"),),
    # An older 'docker kill' (of an earlier life) does not explain this death.
    ((900, "docker kill life"), (950, "docker start life"), (1000, "docker rm -f life")),
    (),
])
def test_lifecycle_rm_f_is_no_kill(history):
    """'docker rm -f life' kills life (SIGKILL, exit code 137: the same 'kill' and 'die' events
    as 'docker kill') and removes it: no 'docker kill' was run, so the kill step fails and says
    to use it."""
    ended = dataclasses.replace(gone_life(137), died_at=KILLED_AT)
    state = EngineState(images=(NGINX,), removed=("life",), gone=(ended,),
                        shell_history=hist(*history))
    res = checks.container_lifecycle(state, name="life", command="kill")
    assert not res.passed and res.msg is checks.MSG_LC_KILLED_BY_RM
    with override("en"):
        assert "as 'docker rm -f' does, but this step asks for 'docker kill' on its own" \
            in res.message
        assert "use 'docker kill life'" in res.message
    with override("ko"):
        assert "'docker kill life'로 강제 종료하세요" in res.message
    # Nor is it the removal step: removed while it ran, before it went through the steps
    # (step 1's advice for a wrong image is 'docker rm -f').
    res = checks.container_lifecycle(state, name="life", command="rm")
    assert not res.passed and res.msg is checks.MSG_LC_RM_WHILE_RUNNING
    with override("en"):
        assert "life was removed while it still ran" in res.message
    # A life that went through the steps, running again at the end: 'docker rm -f' removes it
    # (the lab says so).
    through = dataclasses.replace(ended, history=("create", "start", "pause", "unpause", "die",
                                                  "stop", "start", "die"))
    state = dataclasses.replace(state, gone=(through,))
    assert checks.container_lifecycle(state, name="life", command="rm").passed


def test_lifecycle_kill_reads_the_history_only_for_a_removed_killed_container():
    spec = content_step("container-lifecycle", "kill-life").check
    assert spec.reads(EngineState(containers=(KILLED,), images=(NGINX,))) == frozenset()
    assert spec.reads(EngineState(containers=(RUNNING,), images=(NGINX,))) == frozenset()
    assert spec.reads(EngineState()) == frozenset()
    stopped = EngineState(removed=("life",), gone=(gone_life(0, ("start", "die", "stop")),))
    assert spec.reads(stopped) == frozenset()
    killed = EngineState(removed=("life",), gone=(gone_life(137),))
    assert spec.reads(killed) == frozenset({"history"})
    # So does the removal step (was it removed while it ran?); the others never read it.
    assert content_step("container-lifecycle", "remove-life").check.reads(killed) == frozenset({"history"})
    for step in ("run-life", "stop-life"):
        assert content_step("container-lifecycle", step).check.reads(killed) == frozenset()


# ------------------------------------------------------------------------------
# Container states in messages: Docker's word in English, a Korean word in Korean
# ------------------------------------------------------------------------------

STATE_WORDS = re.compile(r"\b(created|restarting|running|removing|paused|exited|dead)\b")
# Every message that names a container's state, by its constant's name.
STATE_MESSAGES = {n: m for n, m in vars(checks).items()
                  if n.startswith("MSG_") and isinstance(m, Promise) and "%(state)s" in str(m)}


def test_some_messages_name_a_state():
    assert "MSG_LC_STOP_FIRST" in STATE_MESSAGES and len(STATE_MESSAGES) >= 8


@pytest.mark.parametrize("state", sorted(checks.STATE_NAMES))
@pytest.mark.parametrize("name", sorted(STATE_MESSAGES))
def test_a_state_in_a_korean_message_is_said_in_korean(name, state):
    msg = STATE_MESSAGES[name]
    params = {"name": "life", "state": state, "image": "nginx", "example": "docker create x",
              "service": "web", "cport": "80/tcp", "hport": 8080, "cport_num": "80",
              "actual": "bridge", "network": "net", "entry": "docker top life", "target": "life",
              "status": 1, "command": "docker top"}
    res = checks.CheckResult(False, msg, params)
    with override("ko"):
        ko = res.message
    # Docker's word may follow in parentheses ("종료됨(exited)"), never stand on its own.
    bare = [m[0] for m in STATE_WORDS.finditer(ko)
            if not (ko[m.start() - 1:m.start()] == "(" and ko[m.end():m.end() + 1] == ")")]
    assert not bare, ko
    with override("ko"):  # not the active language: an earlier test may have left English on
        assert str(checks.STATE_NAMES[state]) not in ("", state)
    with override("en"):
        assert re.search(rf"\b{state}\b", res.message)  # English keeps Docker's word


def test_state_names_in_korean_and_english():
    res = checks.CheckResult(False, checks.MSG_LC_STOP_FIRST, {"name": "life", "state": "running"})
    with override("en"):
        assert res.message == "life is still running. Stop it with 'docker stop life'."
    with override("ko"):
        assert "실행 중(running) 상태" in res.message and "running 상태" not in res.message
    res = checks.CheckResult(False, checks.MSG_LC_RM_STILL_THERE, {"name": "life", "state": "exited"})
    with override("en"):
        assert res.message == "life still exists (exited). Remove it with 'docker rm life'."
    with override("ko"):
        assert "종료됨(exited) 상태로 남아 있습니다" in res.message
    assert res.params["state"] == "exited"  # the verdict itself keeps Docker's word
    res = checks.container_created(
        EngineState(containers=(created(state="paused"),), images=(NGINX,)), **STEP_WEB_KW)
    with override("ko"):
        assert "일시 정지됨(paused) 상태" in res.message and "생성됨(created) 상태" in res.message


# ------------------------------------------------------------------------------
# Lab 2 (images-and-containers): the pull step wants nginx:latest
# ------------------------------------------------------------------------------


def test_lab2_pull_step_needs_nginx_latest():
    spec = content_step("images-and-containers", "pull-nginx").check
    alpine = EngineState(images=(ImageObs("sha256:a", ("nginx:alpine",)),))
    res = spec.run(alpine)
    assert not res.passed and res.msg is checks.MSG_IMAGE_OTHER_TAG
    with override("en"):
        assert res.message == ("You have nginx:alpine, but this step needs the tag nginx:latest. "
                               "Pull it with 'docker pull nginx:latest'.")
    with override("ko"):
        assert "nginx:latest" in res.message
    assert spec.run(EngineState(images=(NGINX,))).passed  # what 'docker pull nginx' pulls
    assert spec.run(EngineState(images=(ImageObs("sha256:a", ("nginx:alpine", "nginx:latest")),))
                    ).passed
    res = spec.run(EngineState(images=(BUSYBOX,)))
    assert not res.passed and res.msg is checks.MSG_IMAGE_MISSING


# 'docker stop -t 0 life': SIGKILL at once, yet the engine reports a 'stop' event (verified on
# the sandbox's engine: kill 3, kill 9, stop, die), which 'docker kill' never does.
STOPPED_AT_ONCE = life("exited", ("start", "die", "stop"), exit_code=137)


def test_lifecycle_stop_with_no_grace_time_is_a_stop_not_a_kill():
    state = EngineState(containers=(STOPPED_AT_ONCE,), images=(NGINX,))
    res = checks.container_lifecycle(state, name="life", command="kill", image="nginx")
    assert not res.passed and res.msg is checks.MSG_LC_KILLED_BY_STOP
    with override("en"):
        assert "ended by 'docker stop'" in res.message and "'docker kill life'" in res.message
    assert checks.container_lifecycle(state, name="life", command="stop", image="nginx").passed
    # The same death after 'docker kill' (no stop event) passes the kill step, not the stop one.
    assert checks.container_lifecycle(EngineState(containers=(KILLED,), images=(NGINX,)),
                                      name="life", command="kill", image="nginx").passed
    # A stop, a start, then 'docker kill': only the latest end counts.
    stop_start_kill = life("exited", ("start", "die", "stop", "start", "die"), exit_code=137)
    state = EngineState(containers=(stop_start_kill,), images=(NGINX,))
    assert checks.container_lifecycle(state, name="life", command="kill", image="nginx").passed


@pytest.mark.parametrize("gone", [True, False])
def test_lifecycle_kill_advice_runs_the_labs_image_not_the_learners(gone):
    """The kill step takes life from any image (a test kills a busybox life on purpose), but its
    advice to run life again names the lab's image (rerun_image), not the busybox used."""
    bb = {"image": "busybox", "image_id": "sha256:bbb"}
    if gone:  # 'docker rm -f life': killed and removed in one go
        ended = dataclasses.replace(gone_life(137), **bb, died_at=KILLED_AT)
        state = EngineState(images=(NGINX,), removed=("life",), gone=(ended,),
                            shell_history=hist((1000, "docker rm -f life")))
        msg = checks.MSG_LC_KILLED_BY_RM
    else:  # 'docker stop -t 0 life'
        state = EngineState(containers=(dataclasses.replace(STOPPED_AT_ONCE, **bb),),
                            images=(NGINX,))
        msg = checks.MSG_LC_KILLED_BY_STOP
    res = checks.container_lifecycle(state, name="life", command="kill", rerun_image="nginx")
    assert not res.passed and res.msg is msg
    with override("en"):
        assert "'docker run -d --name life nginx'" in res.message and "busybox" not in res.message
    # Without it, the advice keeps the container's own image (no lab image to name).
    res = checks.container_lifecycle(state, name="life", command="kill")
    with override("en"):
        assert "'docker run -d --name life busybox'" in res.message
    # And the check still takes any image: a busybox life killed with 'docker kill' passes.
    killed = dataclasses.replace(KILLED, **bb)
    assert checks.container_lifecycle(EngineState(containers=(killed,)), name="life",
                                      command="kill", rerun_image="nginx").passed


def test_lifecycle_stop_with_no_grace_time_then_rm_is_no_kill():
    """'docker stop -t 0 life; docker rm life', with 'docker kill' typed earlier in the lab."""
    state = EngineState(images=(NGINX,), removed=("life",),
                        gone=(gone_life(137, ("start", "die", "stop")),),
                        shell_history=hist((0, "docker kill life"), (0, "docker stop -t 0 life")))
    res = checks.container_lifecycle(state, name="life", command="kill", image="nginx")
    assert not res.passed and res.msg is checks.MSG_LC_KILLED_BY_STOP
    with override("en"):
        assert "docker run -d --name life nginx" in res.message
    stop = checks.container_lifecycle(state, name="life", command="stop", image="nginx")
    assert stop.passed and stop.msg is checks.MSG_LC_STOP_OK


def test_lifecycle_stop_settles_before_passing_even_when_killed_at_once():
    """A look right after 'docker stop -t 0' waits like any stop ('docker restart' might be
    under way)."""
    died = dataclasses.replace(STOPPED_AT_ONCE, died_at=1000.0)
    state = EngineState(containers=(died,), images=(NGINX,), observed_at=1000.5)
    res = checks.container_lifecycle(state, name="life", command="stop")
    assert not res.passed and res.msg is checks.MSG_LC_EXITED_SETTLING


def test_a_container_that_only_just_started_is_looked_at_again_before_it_counts_on_its_network():
    """busybox run without a command is up for a moment: a look then passed Lab 11's step for
    good. Started 1 s before the look, the verdict waits (and the page looks again); 5 s, it
    passes."""
    def state(age):
        cs = tuple(ContainerObs(name=n, image="busybox", image_id="sha256:b", state="running",
                                networks=("labnet",),
                                created=1000) for n in ("api", "client"))
        return EngineState(containers=cs, observed_at=1000 + age)

    res = checks.containers_on_network(state(1), network="labnet", names=["api", "client"])
    assert not res.passed and res.msg is checks.MSG_STARTED_SETTLING and checks.settling(res)
    with override("en"):
        assert "api started just now" in res.message
    res = checks.containers_on_network(state(5), network="labnet", names=["api", "client"])
    assert res.passed and not checks.settling(res)


# Every check that wants a container running waits until it has run for STARTED_SETTLE_S: QA saw
# 'docker run --name my-web -p 8080:80 nginx true' (up for a few milliseconds) tick "run-nginx"
# for good. Each case: the check, a state that passes it, and the container that starts just now.
T0 = 1_000_000.0  # when that container started, epoch seconds
STARTED_JUST_NOW = [
    (functools.partial(checks.container_running, name="my-web", image="nginx",
                       publish={"80/tcp": 8080}),
     EngineState(containers=(web(),), images=(NGINX,)), "my-web"),
    (functools.partial(checks.containers_from_image, image="nginx", min_running=2),
     EngineState(containers=(web(), web("my-web2", port=8081)), images=(NGINX,)), "my-web2"),
    (functools.partial(checks.container_lifecycle, name="life", command="run", image="nginx"),
     EngineState(containers=(RUNNING,), images=(NGINX,)), "life"),
    # Started again after it ended by itself (no stop or pause): its command may end at once.
    (functools.partial(checks.container_lifecycle, name="life", command="start"),
     EngineState(containers=(life("running", ("start", "die", "start")),), images=(NGINX,)),
     "life"),
    (functools.partial(checks.containers_published, image="nginx", publish=PUBLISH), three(),
     "web2"),
    (functools.partial(checks.published_on, name="local-only", host_port=8090,
                       host_ip="127.0.0.1"), local(), "local-only"),
    (functools.partial(checks.containers_on_network, network="labnet", names=["api", "client"]),
     pair(), "client"),
    (running, UP, "compose-lab-api-1"),
]
STARTED_JUST_NOW_IDS = ["container_running", "containers_from_image", "lifecycle-run",
                        "lifecycle-start", "containers_published", "published_on",
                        "containers_on_network", "compose_project_running"]


@pytest.mark.parametrize("judge,state,young", STARTED_JUST_NOW,
                         ids=STARTED_JUST_NOW_IDS)
def test_a_container_that_started_just_now_passes_only_once_it_has_kept_running(judge, state,
                                                                               young):
    """Seen 0.05 s after its start: not yet, and the page looks again when the settle time is
    over; seen STARTED_SETTLE_S after it, it passes. The other containers started long ago."""
    def seen(age):
        cs = tuple(dataclasses.replace(c, started_at=T0 if c.name == young else T0 - 60)
                   for c in state.containers)
        return dataclasses.replace(state, containers=cs, observed_at=T0 + age)

    assert judge(seen(60)).passed  # the premise: the state passes once settled
    res = judge(seen(0.05))
    assert not res.passed and res.msg is checks.MSG_STARTED_SETTLING and checks.settling(res)
    assert res.params["name"] == young
    assert checks.recheck_after(res) == pytest.approx(
        checks.STARTED_SETTLE_S - 0.05 + checks.SETTLE_MARGIN_S)
    with override("en"):
        assert f"{young} started just now" in res.message
    assert judge(seen(checks.STARTED_SETTLE_S)).passed


@pytest.mark.parametrize("judge,state,young", STARTED_JUST_NOW,
                         ids=STARTED_JUST_NOW_IDS)
def test_a_container_created_just_now_is_looked_at_again_before_it_counts_as_unstarted(
        judge, state, young):
    """'docker run' creates, then starts: QA saw run-nginx say "my-web exists but is created,
    not running. Start it with 'docker start'" for a moment after a right 'docker run'. Created
    0.5 s before the look, with no start error, the verdict waits (MSG_CREATED_STARTING) and the
    page looks again once CREATED_SETTLE_S is over; still created then, the step says it was
    never started. A start the engine refused (a host port taken) is told at once."""
    def seen(age, **changes):
        cs = tuple(dataclasses.replace(c, state="created", created=int(T0), started_at=0.0,
                                       **changes) if c.name == young
                   else dataclasses.replace(c, started_at=T0 - 60) for c in state.containers)
        return dataclasses.replace(state, containers=cs, observed_at=T0 + age)

    res = judge(seen(0.5))
    assert not res.passed and res.msg is checks.MSG_CREATED_STARTING and checks.settling(res)
    assert res.params["name"] == young
    assert checks.recheck_after(res) == pytest.approx(
        checks.CREATED_SETTLE_S - 0.5 + checks.SETTLE_MARGIN_S)
    with override("en"):
        assert f"{young} was created just now: checking again" in res.message
    with override("ko"):
        assert young in res.message and "created" not in res.message
    late = judge(seen(checks.CREATED_SETTLE_S))
    assert not late.passed and not checks.settling(late)
    refused = judge(seen(0.5, start_error="Bind for 0.0.0.0:8080 failed: port is already "
                                          "allocated"))
    assert not refused.passed and not checks.settling(refused)


def test_a_start_after_the_learners_own_stop_or_pause_passes_at_once():
    """QA clicked the lesson's commands 0.7 s apart: 'docker start life' waited out the settle
    time, 'docker kill life' came first, and start-life stayed undone for good (so did Compose's
    start and restart-api before a quick 'down'). A container the learner stopped or paused
    while it ran keeps running when started again: seen 0.05 s after the start, it passes."""
    def seen(c):
        c = dataclasses.replace(c, started_at=T0)
        return EngineState(containers=(c,), images=(NGINX,), observed_at=T0 + 0.05)

    res = checks.container_lifecycle(seen(RESTARTED), name="life", command="start")
    assert res.passed and res.msg is checks.MSG_LC_START_OK
    paused_then_died = life("running", ("start", "pause", "unpause", "die", "start"))
    assert checks.container_lifecycle(seen(paused_then_died), name="life", command="start").passed
    # Ended by itself before (no stop, no pause): it waits.
    res = checks.container_lifecycle(seen(life("running", ("start", "die", "start"))),
                                     name="life", command="start")
    assert not res.passed and res.msg is checks.MSG_STARTED_SETTLING
    # A first run is not proof, even with a 'docker restart' (of an exited container: no stop).
    for history in (("start",), ("start", "die", "start", "restart")):
        res = checks.container_lifecycle(seen(life("running", history)), name="life",
                                         command="run")
        assert not res.passed and res.msg is checks.MSG_STARTED_SETTLING, history


def test_compose_start_and_restart_after_a_stop_pass_at_once():
    """'docker compose stop' then 'start' (each container: stop, then start), and 'docker
    compose restart api' (kill, die, stop, start, restart), seen 0.05 s after: they pass. A
    service whose container ended by itself before its start still waits."""
    def seen(history, api_history=None):
        cs = tuple(dataclasses.replace(svc(name, history=api_history if name == "api"
                                           and api_history else history), started_at=T0)
                   for name in ("web", "api", "db"))
        return dataclasses.replace(project(*cs), observed_at=T0 + 0.05)

    again = ("create", "start", "die", "stop", "start")
    res = running(seen(again), started_again=True)
    assert res.passed and res.msg is checks.MSG_COMPOSE_STARTED_AGAIN_OK
    res = running(seen(again + ("die", "stop", "start", "restart")), restarted=["api"])
    assert res.passed and res.msg is checks.MSG_COMPOSE_RESTARTED_OK
    res = running(seen(again, api_history=("create", "start", "die", "start")),
                  started_again=True)
    assert not res.passed and res.msg is checks.MSG_STARTED_SETTLING
    assert res.params["name"] == "compose-lab-api-1"


def test_a_container_whose_command_ended_at_once_does_not_pass_the_run_step():
    """'docker run --name my-web -p 8080:80 nginx true': running when first seen, exited when
    the page looks again after the settle time (MSG_NOT_RUNNING)."""
    kw = {"name": "my-web", "image": "nginx", "publish": {"80/tcp": 8080}}
    up = dataclasses.replace(web(), started_at=T0)
    res = checks.container_running(EngineState(containers=(up,), images=(NGINX,),
                                               observed_at=T0 + 0.01), **kw)
    assert not res.passed and checks.settling(res)
    ended = dataclasses.replace(up, state="exited", exit_code=0, died_at=T0 + 0.02)
    res = checks.container_running(EngineState(containers=(ended,), images=(NGINX,),
                                               observed_at=T0 + checks.recheck_after(res)), **kw)
    assert not res.passed and res.msg is checks.MSG_NOT_RUNNING
    with override("en"):
        assert "my-web exists but is exited" in res.message


def test_a_start_time_unknown_to_the_events_falls_back_on_the_creation_time():
    """Started after the engine's events were read: its creation time (whole seconds, one more
    for the rounding) stands in. Unknown times, or an unknown look, pass."""
    kw = {"name": "my-web", "image": "nginx", "publish": {"80/tcp": 8080}}
    made = dataclasses.replace(web(), created=int(T0))

    def look(at, c=made):
        return checks.container_running(EngineState(containers=(c,), images=(NGINX,),
                                                    observed_at=at), **kw)

    assert look(T0 + 1 + checks.STARTED_SETTLE_S - 0.1).msg is checks.MSG_STARTED_SETTLING
    assert look(T0 + 1 + checks.STARTED_SETTLE_S).passed
    assert look(T0, c=web()).passed and look(0.0).passed


def test_more_than_enough_containers_settled_pass_the_count_at_once():
    """Three nginx containers, one started just now: two have kept running, which is enough."""
    cs = (dataclasses.replace(web(), started_at=T0 - 60),
          dataclasses.replace(web("my-web2", port=8081), started_at=T0 - 60),
          dataclasses.replace(web("my-web3", port=8082), started_at=T0))
    state = EngineState(containers=cs, images=(NGINX,), observed_at=T0 + 0.1)
    assert checks.containers_from_image(state, image="nginx", min_running=2).passed
    res = checks.containers_from_image(state, image="nginx", min_running=3)
    assert not res.passed and res.params["name"] == "my-web3"


def _started(history=(), removed=(), present=True):
    """Lab "docker-run"'s start step: step-web running (publishing 8085) or gone."""
    c = web(name="step-web", port=8085, image="nginx:1.27")
    return EngineState(containers=(c,) if present else (), images=(NGINX,),
                       shell_history=hist(*history), removed=tuple(removed))


@pytest.mark.parametrize("history,msg", [
    (((10, "docker create --name step-web -p 8085:80 nginx:1.27"), (20, "docker start step-web")),
     checks.MSG_RUNNING_OK),
    ((), checks.MSG_RUNNING_OK),  # no history to go by: it may well have been created
    # QA: the create step's 'docker run' mistake ticked the start step with no 'docker start'.
    (((10, "docker run -d --name step-web -p 8085:80 nginx:1.27"),), checks.MSG_RUN_NOT_STARTED),
    (((5, "docker create --name step-web -p 8085:80 nginx:1.27"), (6, "docker rm step-web"),
      (10, "docker run -d --name=step-web -p 8085:80 nginx:1.27")), checks.MSG_RUN_NOT_STARTED),
])
def test_the_start_step_needs_a_container_made_by_docker_create(history, msg):
    res = checks.container_running(_started(history), created_first=True, **STEP_WEB_KW)
    assert res.msg is msg and res.passed is (msg is checks.MSG_RUNNING_OK)
    if not res.passed:
        with override("en"):
            assert "step-web runs, but it was made with 'docker run'" in res.message
            assert "run 'docker create --name step-web -p 8085:80 nginx:1.27', then 'docker start " \
                   "step-web'" in res.message
    # Without created_first (the other labs' running steps), how it was made does not matter.
    assert checks.container_running(_started(history), **STEP_WEB_KW).passed
    assert checks.container_running_reads(_started(), name="step-web", created_first=True) == \
        frozenset({"history"})
    assert checks.container_running_reads(_started(), name="step-web") == frozenset()


def test_the_start_step_says_create_again_for_a_removed_container():
    res = checks.container_running(_started(removed={"step-web"}, present=False),
                                   created_first=True, **STEP_WEB_KW)
    assert not res.passed and res.msg is checks.MSG_CREATED_REMOVED
    with override("en"):
        assert "Create it again with 'docker create --name step-web -p 8085:80 nginx:1.27'" in res.message


def test_image_built_shares_none_after_a_no_cache_build_says_why():
    """A --no-cache build after stack:1 explains "shares 0" (its layers then stay in BuildKit's
    cache, so building again without it does not help); the same image without such a build
    gets the plain message, and so does a --no-cache build from before stack:1."""
    stack1 = ImageObs("sha256:s1", ("stack:1",), layers=STACK1.layers, created=1000)
    fresh = ImageObs("sha256:s5", ("stack:2",),
                     layers=("sha256:b1", "sha256:d5", "sha256:f5", "sha256:k5"), created=1100)

    def check(*lines: tuple[int, str]):
        state = EngineState(images=(STACK_BASE, stack1, fresh), shell_history=tuple(
            checks.HistoryEntry(t, text) for t, text in lines))
        return checks.image_built(state, image="stack:2", base="busybox", reuses="stack:1",
                                  shares=1)

    res = check((1050, "cd ~/layers && docker build --no-cache -t stack:2 ."),
                (1100, "cd ~/layers && docker build -t stack:2 ."))
    assert not res.passed and res.msg is checks.MSG_BUILD_SHARES_NO_CACHE
    with override("en"):
        assert "stack:2 shares 0 of its own layers with stack:1, but this step expects 1: you " \
               "built with --no-cache" in res.message
    assert check((1060, "docker image build --no-cache=true -t stack:2 ~/layers")).msg \
        is checks.MSG_BUILD_SHARES_NO_CACHE
    assert check((1100, "cd ~/layers && docker build -t stack:2 .")).msg is checks.MSG_BUILD_SHARES
    assert check((900, "docker build --no-cache -t stack:1 ."),
                 (1100, "docker build -t stack:2 .")).msg is checks.MSG_BUILD_SHARES
    assert checks.REGISTRY["image_built"].reads_if(
        EngineState(images=(STACK_BASE, stack1, fresh)), image="stack:2", reuses="stack:1",
        shares=1) == frozenset({"history"})
    assert checks.REGISTRY["image_built"].reads_if(
        EngineState(images=(STACK_BASE, stack1)), image="stack:2", reuses="stack:1",
        shares=1) == frozenset()


@pytest.mark.parametrize("image,passed", [("stack:2", True), ("stack", True), ("busybox", False)])
def test_ran_command_container_image_must_be_the_labs_build(image, passed):
    """Lab 8's writable layer is read on a container of the image the lab built: a 'bun' made
    from busybox (before stack:2 existed) does not count, and its message names both images."""
    bun = ContainerObs(name="bun", image=image, image_id="sha256:s2" if passed else "sha256:bb",
                       state="running",
                       id="b0b0b0b0", created=1000)
    stack2 = ImageObs("sha256:s2", ("stack:2",))
    state = EngineState(containers=(bun,), images=(stack2,),
                        shell_history=hist((1001, "docker diff bun")))
    res = checks.ran_command(state, command="docker diff", container="bun",
                             container_image="stack:2")
    assert res.passed is passed
    if not passed:
        assert res.msg is checks.MSG_WRONG_IMAGE
        with override("en"):
            assert "bun runs the image busybox, but this step needs stack:2" in res.message
    assert checks.ran_command(state, command="docker diff", container="bun").passed


@pytest.mark.parametrize("msg,params,en,ko", [
    (checks.MSG_BUILD_OWN_LAYERS, {"image": "stack:1", "own": 1, "base": "busybox", "want": 3},
     "stack:1 has 1 layer of its own on top of busybox", "자기 레이어가 1개"),
    (checks.MSG_BUILD_OWN_LAYERS, {"image": "stack:1", "own": 2, "base": "busybox", "want": 3},
     "stack:1 has 2 layers of its own on top of busybox", "자기 레이어가 2개"),
    (checks.MSG_BUILD_REUSED, {"image": "hello:2", "shared": 1, "reuses": "hello:1"},
     "hello:2 reuses 1 layer of hello:1", "레이어 1개"),
    (checks.MSG_COUNT_LOW, {"count": 0, "image": "nginx", "min": 2},
     "0 containers running from nginx", "컨테이너가 0개"),
    (checks.MSG_COUNT_STOPPED, {"count": 1, "image": "nginx", "stopped": 1, "min": 2},
     "1 container running from nginx, and 1 more stopped", "실행 중인 컨테이너가 1개"),
], ids=["one-layer", "two-layers", "reused-one", "zero-containers", "one-container"])
def test_counted_messages_take_the_english_singular_or_plural(msg, params, en, ko):
    """A count in a step's message is said as English says it ('1 layer', '2 layers'), not
    '1 layer(s)'; Korean has one form for every count."""
    res = checks.CheckResult(False, msg, params)
    with override("en"):
        assert en in res.message
        assert "(s)" not in res.message
    with override("ko"):
        assert ko in res.message
        assert "%(" not in res.message


@pytest.mark.parametrize("lines,address", [
    (("docker exec client wget -qO- http://api",), None),
    (("docker exec client wget -qO- http://$(docker inspect -f "
      "'{{.NetworkSettings.Networks.labnet.IPAddress}}' api)",), "its IP address"),
    (("docker exec client wget -qO- http://172.18.0.2",), "172.18.0.2"),
    # The latest request counts: by address, then by name, passes; a ping sends no request.
    (("docker exec client wget -qO- http://172.18.0.2", "docker exec client wget -qO- http://api"),
     None),
    (("docker exec client wget -qO- http://api", "docker exec client ping -c1 172.18.0.2"), None),
    (("docker exec client curl -s api:80/",), None),
    # Run in api itself, to its own loopback: not a request to api by address.
    (("docker exec api wget -qO- http://127.0.0.1",), None),
    # Typed in a shell inside client: the history shows no request, the log's count stands.
    (("docker exec -it client sh",), None),
])
def test_a_request_to_a_containers_address_is_not_by_name(lines, address):
    """QA: the networking lab's 'call by name' passed for a wget to api's IP address."""
    state = EngineState(shell_history=tuple(checks.HistoryEntry(i, line) for i, line in enumerate(lines)))
    with override("en"):
        found = checks._asked_by_address(state, "api")
        assert (None if found is None else str(found)) == address


@pytest.mark.parametrize("command,passes", [
    ("tar czf /backup/notes.tgz -C /data .", True),
    ("tar -czf /backup/notes.tgz -C /data .", True),
    ("tar -zcvf /backup/notes.tgz -C /data .", True),
    ("tar -c -z -f /backup/notes.tgz -C /data .", True),
    ("tar --create --gzip --file /backup/notes.tgz -C /data .", True),
    ("/bin/tar cf /backup/notes.tar /data", True),
    # Not a creation: extract, list, or no tar at all (-C is the folder, not "create").
    ("tar xzf /backup/notes.tgz -C /data", False),
    ("tar -tzf /backup/notes.tgz", False),
    ("tar -xzf /backup/notes.tgz -C /data", False),
    ("cp -r /data /backup", False),
])
def test_a_tar_that_creates_in_any_spelling(command, passes):
    """QA: the volumes lab's backup refused 'tar -czf' for lacking 'tar c'."""
    assert checks._runs(command, "tar c") is passes
    assert checks._runs("sh -c 'cat /data/todo.txt'", "cat /data") is True  # others: a part of it


@pytest.mark.parametrize("text,stages", [
    ("FROM busybox AS kitchen\nRUN mkdir /out\n# stage 2\nFROM nginx\n"
     "COPY --from=kitchen /out/index.html /usr/share/nginx/html/\n", (2, True)),
    ("FROM nginx\nCOPY index.html /usr/share/nginx/html/\n", (1, False)),
    ("FROM busybox\nFROM nginx\nCOPY index.html /usr/share/nginx/html/\n", (2, False)),
    ("FROM nginx\nCOPY --from=busybox /bin/busybox /bin/\n", (1, True)),
    ("# FROM a comment\nFROM nginx \\\n  AS web\nCOPY --from 0 /x /y\n", (1, True)),
])
def test_dockerfile_stages_counts_froms_and_copies_from_a_stage(text, stages):
    assert checks.dockerfile_stages(text) == stages


def test_a_one_stage_build_does_not_pass_the_multi_stage_step():
    """QA: 'FROM nginx' + 'COPY index.html' adds one layer, as the multi-stage build does."""
    nginx = ImageObs("sha256:ng", ("nginx:latest",), layers=("l1", "l2"))
    menu = ImageObs("sha256:mn", ("menu:1",), layers=("l1", "l2", "l3"))
    one = checks.FileObs("menu/Dockerfile", "file",
                         text="FROM nginx\nCOPY index.html /usr/share/nginx/html/\n")
    two = checks.FileObs("menu/Dockerfile", "file", text=(
        "FROM busybox AS kitchen\nRUN mkdir /out\nFROM nginx\n"
        "COPY --from=kitchen /out /usr/share/nginx/html\n"))
    args = {"image": "menu:1", "base": "nginx", "own_layers": 1, "context": "menu", "stages": 2}
    res = checks.image_built(EngineState(images=(nginx, menu), files=(one,)), **args)
    assert not res.passed and res.msg is checks.MSG_BUILD_ONE_STAGE
    with override("en"):
        assert "~/menu/Dockerfile has 1 stage (FROM) and no 'COPY --from=...'" in res.message
    assert checks.image_built(EngineState(images=(nginx, menu), files=(two,)), **args).passed
    # Built from a Dockerfile elsewhere (-f): not held against it.
    assert checks.image_built(EngineState(images=(nginx, menu)), **args).passed


def test_a_build_on_another_image_that_extends_the_base_says_so():
    """The alpine stand-in extends busybox's layers: 'FROM alpine' is not 'four layers of its
    own on top of busybox' (QA) but a build on alpine. A stack:2 built on stack:1 (the same
    repository: a cached rebuild) is no such case."""
    busybox = ImageObs("sha256:bb", ("busybox:latest",), layers=("b1",))
    alpine = ImageObs("sha256:al", ("alpine:latest",), layers=("b1", "a1"))
    stack = ImageObs("sha256:s1", ("stack:1",), layers=("b1", "a1", "s1", "s2", "s3"))
    res = checks.image_built(EngineState(images=(busybox, alpine, stack)),
                             image="stack:1", base="busybox", own_layers=3)
    assert res.msg is checks.MSG_BUILD_BASE_OTHER and not res.passed
    with override("en"):
        assert res.message.startswith("stack:1 is built on alpine:latest, not busybox.")
    older = ImageObs("sha256:s0", ("stack:0",), layers=("b1", "s1"))
    own = ImageObs("sha256:s1", ("stack:1",), layers=("b1", "s1", "s2", "s3", "s4"))
    res = checks.image_built(EngineState(images=(busybox, older, own)),
                             image="stack:1", base="busybox", own_layers=3)
    assert res.msg is checks.MSG_BUILD_OWN_LAYERS
