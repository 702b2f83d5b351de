"""Unit tests of step checks (pure: no Docker). Each check is tested both ways."""
from __future__ import annotations

import pytest
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
    assert checks.containers_on_network(EngineState(containers=(box("isolated", ("none",)),)),
                                        network="none", names=["isolated"]).passed


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
        assert "--mount type=tmpfs,destination=/scratch" in res.message


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
    ends = [
        ("create-volume", EngineState(volumes=vols)),
        ("write-notes", EngineState(containers=(writer,), volumes=vols)),
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
        assert "2 layer(s) of its own" in res.message


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


def test_image_built_reuses_needs_a_cache_hit():
    cached = built("hello:2", "sha256:h2", (*BASE_LAYERS, "sha256:run1", "sha256:page2"))
    res = checks.image_built(EngineState(images=(NGINX_LAYERED, HELLO1, cached)),
                             image="hello:2", base="nginx", reuses="hello:1")
    assert res.passed and res.msg is checks.MSG_BUILD_REUSED
    with override("en"):
        assert "reuses 1 layer(s) of hello:1" in res.message
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
    ends = [
        ("build-image", EngineState(images=(NGINX_LAYERED, HELLO1))),
        ("run-image", EngineState(containers=(hello_web,), images=(NGINX_LAYERED, HELLO1))),
        ("rebuild-cache", EngineState(containers=(hello_web,),
                                      images=(NGINX_LAYERED, HELLO1, hello2))),
    ]
    _assert_in_order("dockerfile", ends)
