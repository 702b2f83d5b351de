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


class SameOriginWebsocketMiddleware:
    """ASGI middleware: refuse a websocket handshake whose ``Origin`` is not this site itself.

    Channels' ``AllowedHostsOriginValidator`` compares host names only, so a page served from
    another port of the same host (another web service on the school's server, or another
    bungeo) could open a learner's terminal with their session cookie, which browsers send
    whatever the port. Here the origin must be the site the browser asked for: its host and port
    (``netloc``) equal the request's ``Host`` header, or the whole origin is listed in
    ``CSRF_TRUSTED_ORIGINS`` (the public origin behind a reverse proxy). This is the rule of
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
        trusted = {o.strip().lower().rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}
        return f"{parts.scheme}://{parts.netloc}" in trusted

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket" and not self.allowed(scope):
            from channels.security.websocket import WebsocketDenier

            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
