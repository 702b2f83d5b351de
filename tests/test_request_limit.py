"""Request bodies over BUNGEO_REQUEST_MAX_BYTES are refused before Django reads them."""
from __future__ import annotations

import pytest

from webapp.middleware import RequestBodyLimitMiddleware

LIMIT = 1000


class _Echo:
    """An ASGI app that reads the whole body and answers 200 with its length."""

    def __init__(self):
        self.called, self.saw_disconnect = False, False

    async def __call__(self, scope, receive, send):
        self.called = True
        size = 0
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                self.saw_disconnect = True
                return  # as Django's ASGI handler does (RequestAborted): no answer
            size += len(m.get("body", b""))
            if not m.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


async def _call(app, headers, chunks):
    sent, queue = [], [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                       for i, c in enumerate(chunks)]
    pulled = [0]

    async def receive():
        pulled[0] += 1
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await RequestBodyLimitMiddleware(app)(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled[0]


@pytest.mark.asyncio
async def test_a_small_body_passes(settings):
    settings.BUNGEO_REQUEST_MAX_BYTES = LIMIT
    app = _Echo()
    status, body, _ = await _call(app, [(b"content-length", b"1000")], [b"x" * 600, b"x" * 400])
    assert (status, body) == (200, b"1000")


@pytest.mark.asyncio
async def test_a_declared_large_body_is_refused_unread(settings):
    settings.BUNGEO_REQUEST_MAX_BYTES = LIMIT
    app = _Echo()
    status, body, pulled = await _call(app, [(b"content-length", b"2000000000")], [b"x" * 600] * 5)
    assert status == 413 and not app.called and pulled == 0
    page = body.decode()
    assert "At most 0.0 MB" in page and "요청이 너무 큽니다" in page
    # The site's look and a way back (QA: a bare page, a dead end).
    assert '<link rel="stylesheet" href="/static/css/site.css' in page and 'href="/labs/"' in page


@pytest.mark.asyncio
async def test_a_chunked_body_is_cut_off_at_the_limit(settings):
    settings.BUNGEO_REQUEST_MAX_BYTES = LIMIT
    app = _Echo()
    status, _body, pulled = await _call(app, [], [b"x" * 600] * 50)  # no Content-Length
    assert status == 413 and app.saw_disconnect
    assert pulled == 2  # 1200 bytes read, then no more


@pytest.mark.asyncio
async def test_other_scopes_pass(settings):
    settings.BUNGEO_REQUEST_MAX_BYTES = LIMIT
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    await RequestBodyLimitMiddleware(app)({"type": "websocket", "headers": []}, None, None)
    assert seen == ["websocket"]
