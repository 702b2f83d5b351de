"""Sandbox actions a learner can take from the page."""
from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .backend import SandboxError, get_backend, learner_owner

log = logging.getLogger(__name__)
CLASSROOM_REFRESH_S = 10  # seconds between refreshes of the staff's classroom page
MSG_NOT_RUNNING_START = gettext_lazy("The sandbox is not running. Start it from a lab page (Start again, or "
                          "open a lab).")


@require_POST
@login_required
def reset(request: HttpRequest) -> HttpResponse:
    """Restart the learner's own sandbox (images and files kept). Answers an htmx fragment.

    A sandbox that is not running (stopped, or none yet) starts only if that takes nobody's
    place (``admission.may_start``): at capacity, a learner waiting in line stays in line.
    Staff never wait (nor does their terminal: webapp.sandboxes.consumers.TerminalConsumer)."""
    from . import admission

    backend = get_backend()
    owner = learner_owner(request.user)
    try:
        sb = backend.find(owner=owner)
        if (sb is None or not sb.running) and not request.user.is_staff \
                and not admission.may_start(backend, owner):
            text = _("All of this classroom's sandboxes are in use, so yours cannot start now. "
                     "Keep the lab open: its terminal keeps your place in line.")
            return HttpResponse(f'<span class="reset-result error">{escape(text)}</span>')
        if sb is None:
            backend.ensure(owner=owner)
        else:
            backend.restart(sb.id)
        text, outcome = _("Your sandbox was reset. Your files and images are still there."), "done"
    except SandboxError as exc:
        log.warning("reset for user %s failed: %s", request.user.pk, exc)
        text, outcome = str(exc), "error"
    # terminal.js clears a "done" message after a few seconds; an error stays until the next try.
    return HttpResponse(f'<span class="reset-result {outcome}">{escape(text)}</span>')


# ------------------------------------------------------------------------------------------------
# Published-port preview
# ------------------------------------------------------------------------------------------------
PREVIEW_TIMEOUT = 10.0  # seconds to connect and to wait for each read
PREVIEW_MAX_BYTES = 20 * 2 ** 20  # a longer answer is refused (502) or, streamed, cut off
# Requests to one sandbox's ports under way at once (per server process). The relay holds no
# thread (it is asynchronous: an open request costs two sockets and a little memory), but an app
# that answers a byte every few seconds, asked again and again, must not take every socket the
# server process may open: past this, the next request to that sandbox gets 429 at once.
PREVIEW_PER_SANDBOX = 8
# Requests to all sandboxes under way at once (per server process): with two sockets each, well
# inside the 1024 open files a process gets by default (``ulimit -n``). Past it, 503 at once.
PREVIEW_TOTAL = 256
_streams: dict[int, int] = {}  # owner's user id -> requests under way
_streams_lock = threading.Lock()


def _take_stream(owner_id: int) -> bool:
    """Count one more request to ``owner_id``'s sandbox; False (nothing counted) when
    PREVIEW_PER_SANDBOX are under way to it already, or PREVIEW_TOTAL to all sandboxes."""
    with _streams_lock:
        if (_streams.get(owner_id, 0) >= PREVIEW_PER_SANDBOX
                or sum(_streams.values()) >= PREVIEW_TOTAL):
            return False
        _streams[owner_id] = _streams.get(owner_id, 0) + 1
        return True


def _give_stream(owner_id: int) -> None:
    """Count one request to ``owner_id``'s sandbox as ended."""
    with _streams_lock:
        n = _streams.get(owner_id, 0) - 1
        if n > 0:
            _streams[owner_id] = n
        else:
            _streams.pop(owner_id, None)


def _streams_full_message(owner_id: int) -> HttpResponse:
    """429 when ``owner_id``'s sandbox has PREVIEW_PER_SANDBOX requests under way, else 503 (the
    server's PREVIEW_TOTAL are under way)."""
    with _streams_lock:
        own = _streams.get(owner_id, 0)
    # DEBUG: a page that asks for many things at once gets many of these, and a flood more.
    if own >= PREVIEW_PER_SANDBOX:
        return _preview_message(429, _("Too many requests to this sandbox are under way at once "
                                       "(at most %(n)s). Wait for them to finish, then reload.")
                                % {"n": PREVIEW_PER_SANDBOX}, level=logging.DEBUG)
    return _preview_message(503, _("The server is relaying as many previews as it can at once "
                                   "(%(n)s). Try again in a moment.") % {"n": PREVIEW_TOTAL},
                            level=logging.DEBUG)


def _close_later(loop: asyncio.AbstractEventLoop, *closables) -> None:
    """Close httpx objects (``aclose()``) on ``loop`` without waiting: from the loop's own
    thread (a task), from another thread (Django closes a response in a worker thread) or from
    a finalizer. Nothing is done when the loop has closed (its sockets went with it)."""
    async def close_all():
        for c in closables:
            try:
                await c.aclose()
            except Exception:  # noqa: BLE001 - a connection that broke is closed all the same
                log.debug("closing a preview connection failed", exc_info=True)

    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(close_all())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    else:
        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop)
        except RuntimeError:  # the loop closed meanwhile
            pass


_closing: set = set()  # closing tasks under way (the loop keeps only weak references)


class _Relay:
    """The body of the app's answer (an httpx response sent with ``stream=True`` by ``client``)
    as an async iterator (:func:`_relay`) that ends the request's count (:func:`_give_stream`)
    and closes the connection once: when the body ends, when Django closes the response
    (``close()``, from a worker thread), or when the response is dropped unsent (a client that
    left while the view waited for the app: Django then closes nothing)."""

    def __init__(self, upstream, client, owner_id: int) -> None:
        self.upstream, self.client, self.owner_id, self.done = upstream, client, owner_id, False
        self.loop = asyncio.get_running_loop()

    def __aiter__(self):
        return self._body()

    async def _body(self):
        try:
            async for chunk in _relay(self.upstream):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if not self.done:
            self.done = True
            _give_stream(self.owner_id)
            _close_later(self.loop, self.upstream, self.client)

    __del__ = close


# The headers of the browser's request that reach the app (with its own cookies, not bungeo's).
PREVIEW_FORWARD_HEADERS = {"accept", "accept-language", "content-type", "user-agent", "range",
                           "if-range"}
# The headers of the app's answer that reach the browser; every other one is dropped. An
# allowlist, because some headers act on bungeo's whole origin: Clear-Site-Data would log the
# viewer (staff too) out of bungeo, WWW-Authenticate would open a password prompt under
# bungeo's name, Refresh would send the viewer elsewhere. Set-Cookie and Location are handled
# on their own (:func:`_rewrite_cookie`, :func:`_preview_location`).
PREVIEW_PASS_HEADERS = {"content-type", "content-language", "content-encoding",
                        "content-disposition", "content-range", "accept-ranges", "etag",
                        "last-modified", "vary", "retry-after", "expires", "allow"}
# The learner's page runs in a unique opaque origin: its scripts can run, but never with
# bungeo's cookies or same-origin access to bungeo (CSP "sandbox" directive, CSP Level 3 §6.3.2).
PREVIEW_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals"


def _preview_message(status: int, text: str, *, level: int = logging.INFO) -> HttpResponse:
    """A small page telling the learner why the preview has nothing to show (``status``: 400 a
    bad port, 403 an expired link or a form from elsewhere, 405 a method not forwarded, 413 a
    body over the limit, 429 too many requests to this sandbox, 502 nothing listens, the app's
    answer is no HTTP or it redirects out of the sandbox, 503 the sandbox is not running or the
    server relays all it may, 504 the app does not answer in time). These are a learner's
    everyday situations, not server faults: logged at ``level`` (INFO) here, and marked as
    logged so that Django's request logger does not report each as an ERROR with a 5xx."""
    body = (f'<!doctype html><meta charset="utf-8"><title>bungeo</title>'
            f'<p style="font:16px sans-serif;margin:2em">{escape(text)}</p>')
    resp = HttpResponse(body, status=status)
    resp["Content-Security-Policy"] = PREVIEW_CSP
    log.log(level, "preview answered %s: %s", status, text)
    resp._has_been_logged = True  # django.utils.log.log_response skips a logged response
    return resp


@login_required
def preview_open(request: HttpRequest) -> HttpResponse:
    """The "open port" form: redirect to the preview of the chosen port of one's own sandbox."""
    from django.shortcuts import redirect

    try:
        port = int(request.GET.get("port", ""))
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        return _preview_message(400, _("Enter a port number between 1 and 65535."))
    return redirect("sandboxes:preview_root", user_id=request.user.pk, port=port)


async def _relay(upstream):
    """Yield the body of the httpx response ``upstream`` (sent with ``stream=True``) as it
    arrives, undecoded (a compressed body stays compressed: its Content-Encoding goes along). An
    async generator: under ASGI, Django buffers a synchronous iterator whole before sending
    anything (its "must consume synchronous iterators" warning), which held up to
    PREVIEW_MAX_BYTES per request in memory and showed a slowly streaming page only at its end.

    Raises :class:`webapp.aborts.ResponseAborted` (logged here at INFO) past PREVIEW_MAX_BYTES,
    at a read that waits over PREVIEW_TIMEOUT seconds, or when the app's connection breaks: the
    server then ends the browser's connection without completing the answer, so that the browser
    reports it incomplete rather than showing a cut page as a whole one."""
    import httpx

    from webapp.aborts import ResponseAborted

    sent = 0
    try:
        async for chunk in upstream.aiter_raw():
            sent += len(chunk)
            if sent > PREVIEW_MAX_BYTES:
                log.info("preview %s: cut after %d bytes (the limit is %d)", upstream.url,
                         sent - len(chunk), PREVIEW_MAX_BYTES)
                raise ResponseAborted(f"over {PREVIEW_MAX_BYTES} bytes")
            yield chunk
    except httpx.HTTPError as exc:
        log.info("preview %s: the answer broke off after %d bytes: %r", upstream.url, sent, exc)
        raise ResponseAborted(repr(exc)) from exc


# A preview link: /sandbox/preview/<owner>/<port>/ (the session checks who may look) redirects
# to /sandbox/p/<owner>.<port>.<viewer>/<signature>/, a link signed for that port and that viewer
# (Django's TimestampSigner and SECRET_KEY: https://docs.djangoproject.com/en/stable/topics/signing/).
# The page runs in an opaque origin (PREVIEW_CSP), so the browser sends bungeo's SameSite=Lax
# session cookie only on its top-level GET navigations: its images, stylesheets, scripts,
# fetches and form POSTs came without it and were sent to the login page. Those requests are let
# through by the link's signature; a page itself (a request that accepts HTML) is shown only
# to the viewer, logged in, or as the answer to a form of the previewed page (Origin "null"),
# so that a link handed to someone else never shows a learner's page under bungeo's address.
# The link is valid for PREVIEW_LINK_S seconds; a reload after that, logged in, gets a fresh one.
PREVIEW_LINK_S = 8 * 3600
PREVIEW_LINK_SALT = "bungeo.sandboxes.preview-link"
PREVIEW_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PREVIEW_BODY_MAX = 10 * 2 ** 20  # bytes of a request body forwarded to the learner's app, at most


def _preview_body_max() -> int:
    """Bytes of a request body the preview forwards: PREVIEW_BODY_MAX, or less when the server
    takes less of any request (BUNGEO_REQUEST_MAX_BYTES, webapp.middleware), so that the page
    and the docs say the limit that applies."""
    return min(PREVIEW_BODY_MAX, settings.BUNGEO_REQUEST_MAX_BYTES)
PATH_SAFE = "/:@!$&'()*+,;=-._~"  # "/", pchar's sub-delims, ":" and "@" (RFC 3986, section 3.3)


def _encoded(path: str) -> str:
    """``path`` as Django's URL resolver gives it (decoded: "%3F" is "?" there) encoded again,
    so that it stays a path in a URL: its "?", "#", spaces and non-ASCII characters
    percent-encoded, what a path segment may hold as it is left (RFC 3986, section 3.3)."""
    from urllib.parse import quote

    return quote(path, safe=PATH_SAFE)


def _bungeo_cookie_names() -> frozenset[str]:
    """Cookies of bungeo itself: never sent to a learner's app, never set by one."""
    return frozenset({settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME,
                      settings.LANGUAGE_COOKIE_NAME, "messages"})


def _signer():
    from django.core.signing import TimestampSigner

    return TimestampSigner(salt=PREVIEW_LINK_SALT)


def preview_link(owner_id: int, port: int, viewer_id: int) -> str:
    """The path of a new preview link of ``port`` of ``owner_id``'s sandbox for ``viewer_id``,
    ending in "/": ``/sandbox/p/<owner>.<port>.<viewer>/<signature>/`` (valid PREVIEW_LINK_S s).
    The first part stays the same from one link to the next, so the app's cookies, kept under
    it, last across links."""
    from django.urls import reverse

    who = f"{owner_id}.{port}.{viewer_id}"
    return reverse("sandboxes:preview_link_root", args=[who, _signer().sign(who)[len(who) + 1:]])


def _may_preview(viewer, owner) -> bool:
    return bool(viewer and owner and viewer.is_active
                and (viewer.pk == owner.pk or viewer.is_staff))


def _wants_a_page(request: HttpRequest) -> bool:
    """Whether the request loads a page (a document) rather than something a page uses: it
    accepts HTML, as browsers' navigations do (images, scripts and fetch() ask for other
    types), or it names no type at all. curl and a bare fetch() ask for ``*/*``: not a page, so
    a link works for them without the session, as for the page's images (the link is the
    credential)."""
    accept = request.headers.get("Accept", "")
    return not accept or "text/html" in accept


@login_required
def preview(request: HttpRequest, user_id: int, port: int, path: str = "") -> HttpResponse:
    """Open ``port`` of the learner ``user_id``'s sandbox: a redirect to a preview link for the
    logged-in user (:func:`preview_link`), keeping ``path`` and the query. Only the sandbox's
    owner and staff may (404 for anyone else, so that user ids cannot be probed)."""
    from django.contrib.auth import get_user_model
    from django.http import Http404
    from django.shortcuts import redirect

    if request.method not in ("GET", "HEAD"):
        return _preview_message(405, _("Open the port with its link first; the page you open "
                                       "can then send any request to your sandbox."))
    owner = get_user_model().objects.filter(pk=user_id).first()
    if not _may_preview(request.user, owner) or not 1 <= port <= 65535:
        raise Http404
    query = request.META.get("QUERY_STRING", "")
    return redirect(preview_link(user_id, port, request.user.pk) + _encoded(path)
                    + (f"?{query}" if query else ""))


@csrf_exempt  # the link authenticates the request; no bungeo state changes behind it
async def preview_by_link(request: HttpRequest, who: str, sig: str, path: str = "") -> HttpResponse:
    """Forward a request (PREVIEW_METHODS, a body up to :func:`_preview_body_max` bytes) through a preview
    link to the learner's sandbox and stream the answer back (an answer whose Content-Length is
    over PREVIEW_MAX_BYTES gets 502; a streamed one is cut there, and at a read that waits over
    PREVIEW_TIMEOUT seconds, by ending the connection: :func:`_relay`).

    ``who`` (``<owner>.<port>.<viewer>``) and its signature ``sig`` name the port and the viewer
    the link was made for. Refused (404) when the signature is wrong, when the viewer may no
    longer look (no longer staff, or inactive), or when someone else is logged in in this
    browser. A page (:func:`_wants_a_page`) is shown only to the viewer logged in (anyone else is
    sent to the login page) or as the answer to a form of the previewed page (Origin "null").
    An expired link sends a logged-in viewer to a fresh one, and tells anyone else to open the
    port again. The target is always the sandbox's own address on the sandbox network, never a
    host named in the request. Cookies: bungeo's own are never forwarded; the app's are kept
    under the link's path (:func:`_rewrite_cookie`). Answers 502 with a learner-facing
    explanation when nothing listens, 503 when the sandbox is not running, 413 for a body over
    the limit, 429 or 503 when too many requests are under way (:func:`_take_stream`).

    Asynchronous: a request waiting for a slow app holds no thread (every terminal of the
    server shares bungeo's thread pool, :mod:`.blocking`).
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.views import redirect_to_login
    from django.core import signing
    from django.http import Http404
    from django.shortcuts import redirect

    try:
        owner_id, port, viewer_id = (int(x) for x in who.split("."))
    except ValueError:
        raise Http404 from None
    query = request.META.get("QUERY_STRING", "")
    user = await request.auser()
    try:
        _signer().unsign(f"{who}:{sig}", max_age=PREVIEW_LINK_S)
    except signing.SignatureExpired:
        if request.method == "GET" and user.is_authenticated and user.pk == viewer_id:
            from django.urls import reverse

            fresh = reverse("sandboxes:preview_root", args=[owner_id, port]) + _encoded(path)
            return redirect(fresh + (f"?{query}" if query else ""))
        return _preview_message(403, _("This preview link has expired. Open the port again from "
                                       "the lab page."))
    except signing.BadSignature:
        raise Http404 from None
    users = get_user_model().objects
    owner = await users.filter(pk=owner_id).afirst()
    viewer = await users.filter(pk=viewer_id).afirst()
    if not _may_preview(viewer, owner) or not 1 <= port <= 65535:
        raise Http404
    if user.is_authenticated and user.pk != viewer.pk:
        raise Http404  # a link made for another user
    if request.method not in PREVIEW_METHODS:
        return _preview_message(405, _("This request method is not forwarded to your sandbox."))
    if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
        return _cors_preflight(request)
    if _wants_a_page(request) and not user.is_authenticated:
        if request.method in ("GET", "HEAD"):
            return redirect_to_login(request.get_full_path())
        if request.headers.get("Origin") != "null":
            return _preview_message(403, _("This preview link opens only for the user it was "
                                           "made for. Open the port from the lab page."))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    most = _preview_body_max()
    body = request.read(most + 1) if request.method not in ("GET", "HEAD") else b""
    if length > most or len(body) > most:
        return _preview_message(413, _("The request is larger than %(mb)d MB, the most the "
                                       "preview forwards.") % {"mb": most // 2 ** 20})
    root = request.path[: len(request.path) - len(path)] if path else request.path
    return await _forward(request, owner, viewer, port, path, root, body)


def _cors_preflight(request: HttpRequest) -> HttpResponse:
    """Answer a CORS preflight (Fetch standard, "CORS-preflight request") for the previewed
    page: its origin is opaque ("null"), so its own fetch() calls with a JSON body are
    cross-origin. The link is the credential, so any origin and no cookies (credentials) are
    allowed."""
    resp = HttpResponse(status=204)
    resp["Access-Control-Allow-Origin"] = "*"
    resp["Access-Control-Allow-Methods"] = ", ".join(PREVIEW_METHODS)
    resp["Access-Control-Allow-Headers"] = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")[:1000]
    resp["Access-Control-Max-Age"] = "600"
    return resp


def _rewrite_cookie(morsel, prefix: str) -> dict | None:
    """The ``set_cookie`` arguments for a cookie the learner's app set (an ``http.cookies``
    Morsel), or None to drop it: bungeo's own names are refused (an app must not replace the
    viewer's session), the Domain is dropped (host-only), and the Path becomes ``prefix``
    (``/sandbox/p/<owner>.<port>.<viewer>/``), so the cookie goes back only to this app, for
    this viewer, through any of its links (RFC 6265, section 5.1.4, paths and path-match)."""
    if morsel.key in _bungeo_cookie_names():
        return None
    max_age = morsel["max-age"]
    try:
        max_age = int(max_age) if max_age != "" else None
    except ValueError:
        max_age = None
    return {"key": morsel.key, "value": morsel.value, "max_age": max_age,
            "expires": morsel["expires"] or None, "path": prefix,
            "secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"] or None}


def _preview_location(location: str, root: str, address: str, port: int) -> str | None:
    """Where a redirect of the app leads inside the preview (``root``: the link's path, ending in
    "/"), or None when it leads out of the sandbox's port: a path ("/next") or a URL of the
    sandbox's own address or localhost on ``port`` stays in the preview; any other host is not
    followed (the preview is no open redirect)."""
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        if not location.startswith("/"):
            return location  # relative to the current page: it stays under the link
        inside = location
    else:
        if parts.scheme not in ("http", "") or parts.hostname not in (address, "localhost", "127.0.0.1"):
            return None
        if (parts.port or 80) != port:
            return None
        inside = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return root.rstrip("/") + inside


async def _forward(request: HttpRequest, owner, viewer, port: int, path: str, root: str,
                   body: bytes) -> HttpResponse:
    """Send the request to ``port`` of ``owner``'s sandbox and stream its answer back
    (``root``: the path of the preview link, ending in "/"), with httpx's asynchronous client
    (https://www.python-httpx.org/async/): no redirect followed, no proxy from the environment,
    PREVIEW_TIMEOUT seconds to connect and for each read. The request's place
    (:func:`_take_stream`) is taken before anything else (the sandbox's lookup takes a thread of
    the pool terminals share) and given back on every way out but a relayed answer, whose
    :class:`_Relay` gives it back."""
    if not _take_stream(owner.pk):
        return _streams_full_message(owner.pk)
    held: dict = {}
    try:
        return await _send(request, owner, viewer, port, path, root, body, held)
    finally:  # an answer of bungeo's own, an error, or the client gone (cancelled)
        if "relay" not in held:
            _give_stream(owner.pk)
            if "client" in held:  # closing the client closes its connection
                _close_later(asyncio.get_running_loop(), held["client"])


async def _send(request: HttpRequest, owner, viewer, port: int, path: str, root: str,
                body: bytes, held: dict) -> HttpResponse:
    """:func:`_forward`'s work, once its place is taken. Puts the httpx client it opens in
    ``held["client"]``, and the :class:`_Relay` of a relayed answer in ``held["relay"]`` (which
    then owns the place and the connection)."""
    from http.cookies import CookieError, SimpleCookie

    import httpx
    from django.http import StreamingHttpResponse

    from . import blocking

    try:
        sb = await blocking.to_thread(get_backend().find, owner=learner_owner(owner))
    except SandboxError as exc:
        return _preview_message(503, str(exc))
    if sb is None or not sb.running or not sb.address:
        return _preview_message(503, MSG_NOT_RUNNING_START)
    query = request.META.get("QUERY_STRING", "")
    url = f"http://{sb.address}:{port}/{_encoded(path)}" + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() in PREVIEW_FORWARD_HEADERS}
    ours = _bungeo_cookie_names()
    cookies = "; ".join(f"{k}={v}" for k, v in request.COOKIES.items() if k not in ours)
    if cookies:
        headers["Cookie"] = cookies
    headers["Accept-Encoding"] = "identity"  # httpx would ask for gzip on its own
    # verify=False: plain http only, and building a TLS context (certifi's CA bundle) took
    # 25 ms of the event loop per request, which every other learner's page waited for.
    client = held["client"] = httpx.AsyncClient(
        timeout=httpx.Timeout(PREVIEW_TIMEOUT), follow_redirects=False, trust_env=False,
        verify=False)
    try:
        upstream = await client.send(client.build_request(request.method, url, headers=headers,
                                                          content=body or None), stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        log.info("preview %s failed: %s", url, exc)
        publisher = await blocking.to_thread(_publisher, sb.id, port)
        if publisher is not None:  # published, but nothing listens on the container's port
            return _preview_message(502, _(
                "Port %(port)s is published by the container %(name)s, to its port %(cport)s, but "
                "nothing answers there. Is the app in it listening on port %(cport)s (nginx "
                "listens on 80: -p %(port)s:80)?") % {"port": port, "name": publisher[0],
                                                      "cport": publisher[1]})
        if viewer.pk != owner.pk:  # staff looking at a learner's sandbox
            return _preview_message(502, _(
                "Nothing answers on port %(port)s of the sandbox of %(user)s.") % {
                    "port": port, "user": owner.get_username()})
        return _preview_message(502, _(
            "Nothing answers on port %(port)s of your sandbox. Is a container publishing it "
            "(for example: docker run -d -p %(port)s:80 nginx)?") % {"port": port})
    except httpx.TimeoutException as exc:
        log.info("preview %s timed out: %s", url, exc)
        return _preview_message(504, _(
            "The app on port %(port)s took more than %(s)d seconds to answer.") % {
                "port": port, "s": PREVIEW_TIMEOUT})
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        log.info("preview %s: not an HTTP answer: %s", url, exc)
        return _bad_answer(port, exc)

    if not 100 <= upstream.status_code <= 599:  # what Django (and HTTP, RFC 9110 15) can send
        return _bad_answer(port, f"status {upstream.status_code}")
    location = upstream.headers.get("Location")
    if location is not None:
        try:
            inside = _preview_location(location, root, sb.address, port)
        except ValueError:  # not a URL (a port out of range, a broken IPv6 address)
            inside = None
        if inside is None:
            return _preview_message(502, _("The app sent the browser to %(url)s, outside port "
                                           "%(port)s of the sandbox: the preview does not follow "
                                           "it.") % {"url": location[:200], "port": port})
    length = upstream.headers.get("Content-Length", "")
    if request.method != "HEAD" and length.isdigit() and int(length) > PREVIEW_MAX_BYTES:
        return _preview_message(502, _(
            "The app on port %(port)s answered with %(mb)s MB, more than the %(max)s MB a preview "
            "passes on.") % {"port": port, "mb": f"{int(length) / 2 ** 20:.1f}",
                             "max": PREVIEW_MAX_BYTES // 2 ** 20})
    relay = held["relay"] = _Relay(upstream, client, owner.pk)
    resp = StreamingHttpResponse(relay, status=upstream.status_code)
    for k, v in upstream.headers.items():
        if k.lower() in PREVIEW_PASS_HEADERS:
            resp[k] = v
    if location is not None:
        resp["Location"] = inside
    cookie_path = "/".join(root.split("/")[:4]) + "/"  # /sandbox/p/<owner>.<port>.<viewer>/
    for raw in upstream.headers.get_list("Set-Cookie"):
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            continue
        for morsel in jar.values():
            kwargs = _rewrite_cookie(morsel, cookie_path)
            if kwargs is None:
                continue
            try:
                resp.set_cookie(**kwargs)
            except ValueError:  # an attribute Django refuses (SameSite=Foo, a Max-Age of eons)
                # set_cookie stored the cookie before it checked the attributes: without its
                # path (the link's), the browser would keep it under the request's own path.
                resp.cookies.pop(kwargs["key"], None)
                log.info("preview %s: a cookie dropped: %s", url, raw[:200])
    resp["Content-Security-Policy"] = PREVIEW_CSP
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "no-store"
    resp["Referrer-Policy"] = "no-referrer"  # the link is a credential
    resp["Access-Control-Allow-Origin"] = "*"  # the page's own fetch() (see _cors_preflight)
    return resp


def _publisher(sandbox_id: str, port: int) -> tuple[str, int] | None:
    """(name, container port) of a running container of the sandbox's inner engine that
    publishes ``port`` (TCP) on the sandbox, or None (none does, or the engine does not answer
    within 3 s). Blocking: a Docker API call."""
    import docker

    try:
        api = get_backend().inner_api(sandbox_id, timeout=3)
        try:
            for c in api.containers():
                for p in c.get("Ports") or []:
                    if p.get("PublicPort") == port and p.get("Type", "tcp") == "tcp":
                        return (c.get("Names") or ["/?"])[0].lstrip("/"), int(p["PrivatePort"])
        finally:
            api.close()
    except (docker.errors.DockerException, OSError, KeyError, ValueError) as exc:
        log.info("preview: the publisher of port %s not found: %s", port, exc)
    return None


def _bad_answer(port: int, why) -> HttpResponse:
    """502: something answers on ``port``, but not with an HTTP answer bungeo can pass on."""
    return _preview_message(502, _(
        "Port %(port)s of the sandbox answered, but not with an HTTP answer the preview can pass "
        "on (%(why)s).") % {"port": port, "why": str(why)[:200]})


@require_POST
@login_required
def extend(request: HttpRequest) -> HttpResponse:
    """Extend the learner's own sandbox lease. Answers JSON ``{"ok", "expires_in" (seconds),
    "extensions_left", "message"}``; ``ok`` is false with a reason when the policy refuses."""
    from django.http import JsonResponse

    backend = get_backend()
    try:
        sb = backend.find(owner=learner_owner(request.user))
        if sb is None:
            raise SandboxError(MSG_NOT_RUNNING_START)
        lease = backend.extend(sb.id)
    except SandboxError as exc:
        return JsonResponse({"ok": False, "message": str(exc)}, status=409)
    minutes = settings.BUNGEO_SANDBOX_EXTEND_SECONDS // 60
    return JsonResponse({
        "ok": True, "expires_in": round(lease.remaining()), "extensions_left": lease.extensions_left,
        "message": _("Extended by %(minutes)d minutes.") % {"minutes": minutes}})


# ------------------------------------------------------------------------------------------------
# The classroom's sandboxes (staff)
# ------------------------------------------------------------------------------------------------
def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("staff only")


@require_GET
@login_required
def classroom(request: HttpRequest) -> HttpResponse:
    """Staff: the classroom's sandboxes (webapp.sandboxes.classroom.overview). The whole page,
    or for htmx (its refresh every CLASSROOM_REFRESH_S seconds) the section alone. 403 for
    learners."""
    _staff_only(request)
    page = "sandboxes/_classroom.html" if request.headers.get("HX-Request") \
        else "sandboxes/classroom.html"
    return _render_classroom(request, page)


def _render_classroom(request: HttpRequest, template: str) -> HttpResponse:
    from django.shortcuts import render

    from .classroom import overview

    room, error = None, None
    try:
        room = overview(get_backend())
    except SandboxError as exc:
        error = str(exc)
    return render(request, template, {"room": room, "error": error,
                                      "refresh_s": CLASSROOM_REFRESH_S})


@require_POST
@login_required
def classroom_stop(request: HttpRequest, sandbox_id: str) -> HttpResponse:
    """Staff: stop learner sandbox ``sandbox_id``, which frees its place for the next learner in
    line (their files and images are kept; their terminal says an instructor stopped it). By
    sandbox, not by account: a deleted account's sandbox can be stopped too (QA). Answers the
    refreshed section for htmx, else a redirect to the page. 403 for learners, 404 for what is
    not a learner sandbox of this install."""
    from django.contrib import messages
    from django.http import Http404
    from django.shortcuts import redirect

    from .backend import KIND_LEARNER, STOP_BY_STAFF
    from .classroom import users_by_owner

    _staff_only(request)
    backend = get_backend()
    try:
        sb = backend.get(sandbox_id)
        if sb is None or sb.kind != KIND_LEARNER:
            raise Http404("no such learner sandbox")
        user = users_by_owner([sb.owner]).get(sb.owner)
        name = user.get_username() if user is not None else sb.owner
        if not sb.running:
            messages.info(request, _("%(name)s's sandbox was not running.") % {"name": name},
                          extra_tags="inline")
        else:
            backend.stop(sb.id, reason=STOP_BY_STAFF)
            log.info("sandbox %s stopped by staff %s", sb.id, request.user.get_username())
            messages.success(request, _("%(name)s's sandbox was stopped. Their files and images "
                                        "are kept.") % {"name": name}, extra_tags="inline")
    except SandboxError as exc:
        messages.error(request, str(exc), extra_tags="inline")
    if request.headers.get("HX-Request"):
        return _render_classroom(request, "sandboxes/_classroom.html")
    return redirect("sandboxes:classroom")
