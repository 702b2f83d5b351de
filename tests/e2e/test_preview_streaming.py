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

pytestmark = pytest.mark.docker

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


def test_preview_streams_a_slow_answer_as_it_comes(asgi_server, backend, student, client):
    sb = backend.ensure(owner=learner_owner(student))
    res = inner_sh(backend, sb.id, f"""
        docker rm -f slow >/dev/null 2>&1
        docker run -d --name slow -p 8090:8090 busybox sh -c {_quote(SLOW_SERVER)} >/dev/null
        for i in $(seq 50); do
          curl -s -m 0.5 localhost:8090 | grep -q first-part && echo up && break; sleep 0.2
        done""", timeout=120)
    assert "up" in res.output, res.output
    client.force_login(student)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    base = urlsplit(asgi_server)
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=8)
    try:
        conn.request("GET", reverse("sandboxes:preview_root", args=[student.pk, 8090]),
                     headers={"Cookie": cookie})
        resp = conn.getresponse()
        assert resp.status == 302, resp.status  # to the preview link
        resp.read()
        conn.request("GET", resp.getheader("Location"), headers={"Cookie": cookie})
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
