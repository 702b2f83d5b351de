"""Site-wide middleware."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class HtmxLoginRedirectMiddleware:
    """Turn a redirect to the login page answering an htmx request into a whole-page redirect.

    htmx follows a redirect inside its request and swaps what it gets into the page's target: a
    learner logged out in another tab who pressed "Reset sandbox" or a step's "Check" saw the
    whole login page drawn into the terminal bar. Here such an answer becomes ``200`` with an
    ``HX-Redirect`` header (htmx then loads the login page in the tab, see
    https://htmx.org/reference/#response_headers), whose ``next`` is the page the learner was
    on (the ``HX-Current-URL`` request header), not the POST-only endpoint the request went to.
    Requests without ``HX-Request`` pass unchanged. Place it after ``HtmxMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code not in (301, 302, 303, 307, 308):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        page = urlsplit(htmx.current_url or "")
        # Only a page of this site may be the way back (never another host's address).
        back = (page.path + (f"?{page.query}" if page.query else "")) if page.path.startswith("/") \
            and page.netloc in ("", request.get_host()) else "/"
        return HttpResponseClientRedirect(redirect_to_login(back, login)["Location"])


def trusted_origin(scheme: str, netloc: str) -> bool:
    """Whether the origin ``scheme://netloc`` (both lower case) is listed in
    ``CSRF_TRUSTED_ORIGINS``: exactly, or by a wildcard entry such as ``https://*.school.lan``,
    which covers ``school.lan`` and every subdomain of it with that scheme (and that port, if the
    entry names one). These are the rules of Django's CSRF origin check
    (``CsrfViewMiddleware._origin_verified``, ``django.utils.http.is_same_domain``;
    https://docs.djangoproject.com/en/stable/ref/settings/#csrf-trusted-origins)."""
    from django.utils.http import is_same_domain

    for entry in settings.CSRF_TRUSTED_ORIGINS:
        entry = entry.strip().lower().rstrip("/")
        if entry == f"{scheme}://{netloc}":
            return True
        if "*" in entry:
            trusted = urlsplit(entry)
            if trusted.scheme == scheme and is_same_domain(netloc, trusted.netloc[len("*"):]):
                return True
    return False


class SameOriginWebsocketMiddleware:
    """ASGI middleware: refuse a websocket handshake whose ``Origin`` is not this site itself.

    Channels' ``AllowedHostsOriginValidator`` compares host names only, so a page served from
    another port of the same host (another web service on the school's server, or another
    bungeo) could open a learner's terminal with their session cookie, which browsers send
    whatever the port. Here the origin must be the site the browser asked for: its host and port
    (``netloc``) equal the request's ``Host`` header, or the whole origin is listed in
    ``CSRF_TRUSTED_ORIGINS``, exactly or by a wildcard (:func:`trusted_origin`; the public
    origin behind a reverse proxy). This is the rule of
    Django's own CSRF origin check (``django.middleware.csrf``). Browsers send ``Origin`` with
    every websocket handshake (RFC 6455, section 4.1; section 10.2 on why servers check it); a
    handshake without one, or with ``null``, is refused. Non-websocket scopes pass unchanged."""

    def __init__(self, app) -> None:
        self.app = app

    @staticmethod
    def allowed(scope) -> bool:
        """Whether the handshake in ``scope`` (an ASGI websocket scope) comes from this site."""
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1").strip().lower()
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        if not origin or origin == "null":
            return False
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if host and parts.netloc == host:
            return True
        return trusted_origin(parts.scheme, parts.netloc)

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket" and not self.allowed(scope):
            from channels.security.websocket import WebsocketDenier

            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


# The page a browser shows for a refused body (the upload form checks the size first, so only a
# form sent some other way, or a huge request, gets here). It is answered before Django runs,
# without the learner's language or session: both languages, the site's look, and ways back.
TOO_LARGE_HTML = (
    '<!doctype html><html lang="ko"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<title>413 · bungeo</title><link rel="stylesheet" href="{css}">'
    '<main class="page"><section class="card">'
    '<h1>요청이 너무 큽니다</h1><p>{mb} MB까지 받습니다. 보낸 것은 저장되지 않았습니다. '
    '파일을 줄이거나(node_modules 같은 폴더는 빼고) 다시 보내 주세요.</p>'
    '<h1 lang="en">The request is too large</h1><p lang="en">At most {mb} MB is accepted; '
    'nothing of it was kept. Make the file smaller (leave out folders such as node_modules) '
    'and send it again.</p>'
    '<p><a href="javascript:history.back()">← 돌아가기 · Go back</a> · '
    '<a href="{home}">실습 · Labs</a></p></section></main></html>')


class RequestBodyLimitMiddleware:
    """ASGI middleware: refuse an HTTP request body larger than ``BUNGEO_REQUEST_MAX_BYTES``
    with ``413 Content Too Large`` (RFC 9110, section 15.5.14), before Django reads it.

    Django's ASGI handler reads the whole body into a temporary file (in memory up to
    ``FILE_UPLOAD_MAX_MEMORY_SIZE``, then on disk) before any middleware or view runs, and the
    server (uvicorn) sets no limit: without this, anyone, logged in or not, could fill the host's
    disk with slow, endless uploads. A declared ``Content-Length`` over the limit is refused at
    once, without reading; a chunked body is counted as it arrives and cut off at the limit (the
    app then sees the client as gone, and this answers 413 if it has not answered yet).
    Other scopes pass unchanged."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        limit = settings.BUNGEO_REQUEST_MAX_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > limit:
            return await self._too_large(send, limit)
        received, cut, started = 0, False, False

        async def limited_receive():
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracked_send)
        if cut and not started:
            await self._too_large(send, limit)

    @staticmethod
    async def _too_large(send, limit: int) -> None:
        from django.templatetags.static import static
        from django.urls import reverse

        body = TOO_LARGE_HTML.format(mb=f"{limit / 1e6:.1f}", css=static("css/site.css"),
                                     home=reverse("labs:index")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
