"""Published-port preview through the real ASGI server (uvicorn): the answer of a learner's
container reaches the browser as it is produced, not after the container has finished it.

The container answers "first-part", then waits until the test creates a file before it sends
"second-part". A proxy that buffers the whole body (as Django does under ASGI with a synchronous
iterator) sends nothing until its 10 s read timeout: the test's 8 s wait for the first part fails."""
from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.conftest import inner_sh
from webapp.sandboxes.backend import learner_owner

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("no_preview_places_held")]

# Reads the request head, answers the first part, waits for /tmp/go, answers the rest (HTTP/1.0:
# the body ends when the connection closes). busybox nc -ll runs it once per connection.
SLOW_SERVER = r"""
cat > /slow.sh <<'EOS'
#!/bin/sh
while read -r line; do [ "$line" = "$(printf '\r')" ] && break; done
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst-part\n'
while [ ! -e /tmp/go ]; do sleep 0.1; done
echo second-part
EOS
chmod +x /slow.sh
exec nc -ll -p 8090 -e /slow.sh
"""


def _slow_app(backend, student):
    """The student's sandbox, with SLOW_SERVER answering on its port 8090."""
    sb = backend.ensure(owner=learner_owner(student))
    res = inner_sh(backend, sb.id, f"""
        docker rm -f slow >/dev/null 2>&1
        docker run -d --name slow -p 8090:8090 busybox sh -c {_quote(SLOW_SERVER)} >/dev/null
        for i in $(seq 50); do
          curl -s -m 0.5 localhost:8090 | grep -q first-part && echo up && break; sleep 0.2
        done""", timeout=120)
    assert "up" in res.output, res.output
    return sb


def _preview_link(asgi_server, client, student) -> tuple[str, str]:
    """(cookie header, path of the signed preview link of the student's port 8090)."""
    client.force_login(student)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    base = urlsplit(asgi_server)
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
    conn.request("GET", reverse("sandboxes:preview_root", args=[student.pk, 8090]),
                 headers={"Cookie": cookie})
    resp = conn.getresponse()
    assert resp.status == 302, resp.status  # to the preview link
    conn.close()
    return cookie, resp.getheader("Location")


def test_preview_streams_a_slow_answer_as_it_comes(asgi_server, backend, student, client):
    sb = _slow_app(backend, student)
    cookie, link = _preview_link(asgi_server, client, student)
    base = urlsplit(asgi_server)
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
    try:
        conn.request("GET", link, headers={"Cookie": cookie})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Security-Policy", "").startswith("sandbox")
        got = b""
        try:
            while b"first-part" not in got:
                chunk = resp.read1(1024)
                assert chunk, f"the answer ended early: {got!r}"
                got += chunk
        except TimeoutError:
            pytest.fail(f"the first part did not arrive while the container waited: got {got!r}")
        assert b"second-part" not in got  # the container has not sent it yet
        inner_sh(backend, sb.id, "docker exec slow touch /tmp/go", timeout=30)
        got += resp.read()
        assert got == b"first-part\nsecond-part\n", got
    finally:
        conn.close()


def _quote(script: str) -> str:
    return "'" + script.replace("'", "'\"'\"'") + "'"


def _hold_open(asgi_server: str, cookie: str, link: str, n: int, held: list) -> None:
    """Open ``n`` requests of the slow app's link, each read up to its first part, adding each
    (connection, response) to ``held`` (the caller closes them)."""
    base = urlsplit(asgi_server)
    for _ in range(n):
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
        conn.request("GET", link, headers={"Cookie": cookie})
        resp = conn.getresponse()
        held.append((conn, resp))
        assert resp.status == 200 and b"first-part" in resp.read1(1024)


def _finish(backend, sb, held: list) -> None:
    """Let the slow app send its second part, and read it from every held response."""
    inner_sh(backend, sb.id, "docker exec slow touch /tmp/go", timeout=30)
    for _conn, resp in held:
        assert resp.read().endswith(b"second-part\n")


def test_one_sandbox_gets_a_bounded_number_of_requests_at_once(asgi_server, backend, student,
                                                                client):
    """An app that keeps its answers open (one byte every few seconds, in the attack): past
    PREVIEW_PER_SANDBOX requests under way, the next one is refused at once (429) instead of
    taking a thread that every other learner's preview waits for; once they end, it works."""
    from webapp.sandboxes import views

    sb = _slow_app(backend, student)
    cookie, link = _preview_link(asgi_server, client, student)
    base = urlsplit(asgi_server)
    held = []
    try:
        _hold_open(asgi_server, cookie, link, views.PREVIEW_PER_SANDBOX, held)
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
        conn.request("GET", link, headers={"Cookie": cookie, "Accept-Language": "en"})
        resp = conn.getresponse()
        assert resp.status == 429, resp.status
        assert f"at most {views.PREVIEW_PER_SANDBOX}" in resp.read().decode()
        conn.close()
        _finish(backend, sb, held)
    finally:
        for conn, _resp in held:
            conn.close()
    # Every request that ended gave its place back.
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
    conn.request("GET", link, headers={"Cookie": cookie})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b"first-part\nsecond-part\n"
    conn.close()
    assert student.pk not in views._streams


def test_slow_previews_hold_no_thread_that_terminals_wait_for(asgi_server, backend, student,
                                                              client, monkeypatch):
    """A learner's app that keeps its answers open holds no thread of bungeo's pool (which
    every terminal of the server waits on, webapp.sandboxes.blocking): with the pool cut to 2
    threads and PREVIEW_PER_SANDBOX answers held open, a terminal's call still runs at once.
    (When preview bodies were read in that pool, 8 learners holding 8 slow answers each took
    all 64 threads, and every terminal of the class waited up to PREVIEW_TIMEOUT.)"""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    from webapp.sandboxes import blocking, views

    sb = _slow_app(backend, student)
    cookie, link = _preview_link(asgi_server, client, student)
    small = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bungeo-blocking-test")
    monkeypatch.setattr(blocking, "_pool", small)
    held = []
    try:
        _hold_open(asgi_server, cookie, link, views.PREVIEW_PER_SANDBOX, held)
        try:
            assert small.submit(lambda: "terminal call").result(timeout=2) == "terminal call"
        except FutureTimeout:
            pytest.fail("the pool's threads are all held by previews waiting for the app")
        _finish(backend, sb, held)
    finally:
        for conn, _resp in held:
            conn.close()
        small.shutdown(wait=False, cancel_futures=True)


def test_an_answer_that_stalls_ends_unfinished_for_the_browser(asgi_server, backend, student,
                                                               client, monkeypatch):
    """The slow app sends its first part and then nothing: past PREVIEW_TIMEOUT the relay ends
    the answer, and the real server drops the connection without the last chunk, so the client
    sees an incomplete body (it used to get a complete-looking "first-part" only). uvicorn's
    log gets no "Exception in ASGI application" traceback for it; the place is given back."""
    import logging

    from webapp.sandboxes import views

    _slow_app(backend, student)
    cookie, link = _preview_link(asgi_server, client, student)
    monkeypatch.setattr(views, "PREVIEW_TIMEOUT", 1.0)
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(handler)
    base = urlsplit(asgi_server)
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
    try:
        conn.request("GET", link, headers={"Cookie": cookie})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
        with pytest.raises(http.client.IncompleteRead) as cut:
            resp.read()
        assert cut.value.partial == b"first-part\n"
    finally:
        conn.close()
        uvicorn_log.removeHandler(handler)
    assert not [r for r in records if r.levelno >= logging.ERROR], [r.getMessage() for r in records]
    assert student.pk not in views._streams
