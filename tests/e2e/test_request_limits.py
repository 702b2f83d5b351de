"""The real server (uvicorn with bungeo's ASGI app) refuses a huge request body at once."""
from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings

pytestmark = pytest.mark.docker


def _connect(base: str) -> socket.socket:
    u = urlsplit(base)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    return s


def _status(s: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def test_a_declared_2_gb_upload_is_refused_before_its_body(asgi_server):
    """Anyone (not logged in) posting 2 GB: refused from the headers alone, nothing read."""
    s = _connect(asgi_server)
    t0 = time.monotonic()
    s.sendall(b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000000\r\n\r\n")
    status = _status(s)
    assert status.startswith("HTTP/1.1 413"), status
    assert time.monotonic() - t0 < 5
    s.close()


def test_a_chunked_flood_is_cut_off_near_the_limit(asgi_server):
    """A chunked body that never ends: the server answers 413 once the limit is passed."""
    limit = settings.BUNGEO_REQUEST_MAX_BYTES
    s = _connect(asgi_server)
    s.sendall(b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    sent = 0
    s.settimeout(0.05)
    answer = b""
    while sent < 20 * limit:
        try:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        except (BlockingIOError, TimeoutError, BrokenPipeError, ConnectionResetError):
            break
        try:
            answer += s.recv(4096)
            if answer:
                break
        except (BlockingIOError, TimeoutError):
            pass
    s.settimeout(10)
    if not answer:
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), (answer[:200], sent)
    # Refused near the limit, not after the client gave up: a few socket buffers of slack.
    assert sent < limit + 8 * 1024 * 1024, sent
    s.close()
