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
