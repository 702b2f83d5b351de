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
@pytest.mark.parametrize("origin, ok", [
    ("https://bungeo.school.lan", True),
    ("https://school.lan", True),  # Django's wildcard covers the domain itself
    ("https://a.b.school.lan", True),
    ("HTTPS://Bungeo.School.Lan", True),
    ("http://bungeo.school.lan", False),  # another scheme
    ("https://bungeo.school.lan:8443", False),  # another port than the entry's
    ("https://evilschool.lan", False),  # not a subdomain: only the name ends the same
    ("https://school.lan.evil.example", False),
])
async def test_a_wildcard_trusted_origin_covers_subdomains_as_in_django(settings, origin, ok):
    """``https://*.school.lan`` in CSRF_TRUSTED_ORIGINS trusts the websocket origins Django's
    CSRF check trusts with it, and no others."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.school.lan"]
    assert await _connects(origin, "127.0.0.1:8000") is ok


@pytest.mark.parametrize("origin", ["https://bungeo.school.lan", "https://school.lan",
                                    "https://bungeo.school.lan:8443", "https://evilschool.lan",
                                    "http://bungeo.school.lan"])
def test_the_websocket_and_django_csrf_agree_on_trusted_origins(settings, rf, origin):
    """The same answer as Django's own CSRF origin check, for the same setting."""
    from django.middleware.csrf import CsrfViewMiddleware

    from webapp.middleware import trusted_origin

    settings.CSRF_TRUSTED_ORIGINS = ["https://*.school.lan", "https://exact.example:8443"]
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    request = rf.post("/", HTTP_ORIGIN=origin, HTTP_HOST="127.0.0.1")
    django_says = CsrfViewMiddleware(lambda r: None)._origin_verified(request)
    scheme, netloc = origin.split("://")
    assert trusted_origin(scheme, netloc) is django_says


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
