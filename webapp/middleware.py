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
