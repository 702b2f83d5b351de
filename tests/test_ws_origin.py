"""Websocket handshakes are taken only from pages of this site, port included."""
from __future__ import annotations

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from webapp.middleware import SameOriginWebsocketMiddleware


class _Accepts(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()


def _headers(origin: str | None, host: str = "127.0.0.1:8000") -> list[tuple[bytes, bytes]]:
    h = [(b"host", host.encode())]
    if origin is not None:
        h.append((b"origin", origin.encode()))
    return h


async def _connects(origin: str | None, host: str = "127.0.0.1:8000") -> bool:
    comm = WebsocketCommunicator(SameOriginWebsocketMiddleware(_Accepts.as_asgi()), "/ws/x/",
                                 headers=_headers(origin, host))
    connected, _code = await comm.connect(timeout=3)
    await comm.disconnect()
    return connected


@pytest.mark.asyncio
@pytest.mark.parametrize("origin, host, ok", [
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
    ("HTTP://LocalHost:8000", "localhost:8000", True),  # scheme and host name ignore case
    ("https://bungeo.school.lan", "bungeo.school.lan", True),  # default port on both sides
    # Another port of the same host: another service, whose page the learner's cookie follows.
    ("http://127.0.0.1:9999", "127.0.0.1:8000", False),
    ("http://localhost:1", "localhost:8000", False),
    ("https://bungeo.school.lan:8443", "bungeo.school.lan", False),
    ("http://evil.example", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),  # a sandboxed frame (a learner's preview)
    (None, "127.0.0.1:8000", False),
    ("file://", "127.0.0.1:8000", False),
])
async def test_origin_must_be_the_site_itself(origin, host, ok):
    assert await _connects(origin, host) is ok


@pytest.mark.asyncio
async def test_the_public_origin_behind_a_proxy_is_trusted(settings):
    # The proxy passes its own Host (the app's port); the browser's origin is the public one.
    assert not await _connects("https://bungeo.school.lan", "127.0.0.1:8000")
    settings.CSRF_TRUSTED_ORIGINS = ["https://bungeo.school.lan"]
    assert await _connects("https://bungeo.school.lan", "127.0.0.1:8000")
    assert not await _connects("http://bungeo.school.lan", "127.0.0.1:8000")  # not that scheme


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_site_refuses_a_terminal_opened_from_another_port():
    """The whole websocket stack (webapp.asgi): a handshake from another port of the same host
    never reaches the terminal's consumer, which refuses a visitor who is not logged in with its
    own code (4401) instead."""
    from webapp.asgi import application

    async def code(origin: str) -> int:
        comm = WebsocketCommunicator(application, "/ws/labs/week1/images-and-containers/terminal/",
                                     headers=_headers(origin, "127.0.0.1:8000"))
        connected, close_code = await comm.connect(timeout=5)
        await comm.disconnect()
        assert not connected
        return close_code

    assert await code("http://127.0.0.1:8000") == 4401
    assert await code("http://127.0.0.1:9999") != 4401
