"""Observe a learner's engine for step checks (the I/O half; :mod:`labs.checks` judges).

The learner controls that engine, so its answers are untrusted: short timeouts and a cap on how
many objects are read. A misleading answer can only mislead the learner's own step checks.
"""
from __future__ import annotations

import docker

from .checks import ContainerObs, EngineState, ImageObs, PortBinding

MAX_OBJECTS = 500
TIMEOUT_S = 5


def engine_state(engine_url: str) -> EngineState:
    """Read containers (all states) and images from the engine at ``engine_url``.

    Raises ``docker.errors.DockerException`` (or ``requests`` errors) when it does not answer.
    """
    api = docker.APIClient(base_url=engine_url, version="1.41", timeout=TIMEOUT_S)
    try:
        containers = []
        for c in api.containers(all=True)[:MAX_OBJECTS]:
            ports = tuple(
                PortBinding(container_port=f"{p['PrivatePort']}/{p.get('Type', 'tcp')}",
                            host_ip=p.get("IP", ""), host_port=int(p["PublicPort"]))
                for p in c.get("Ports") or [] if p.get("PublicPort")
            )
            name = (c.get("Names") or ["/?"])[0].lstrip("/")
            containers.append(ContainerObs(name=name, image=c.get("Image", ""),
                                           image_id=c.get("ImageID", ""),
                                           state=c.get("State", ""), ports=ports))
        imgs = tuple(
            ImageObs(id=i["Id"], tags=tuple(t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"))
            for i in api.images()[:MAX_OBJECTS]
        )
        return EngineState(containers=tuple(containers), images=imgs)
    finally:
        api.close()
