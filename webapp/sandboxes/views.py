"""Sandbox actions a learner can take from the page."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .backend import SandboxError, get_backend, learner_owner

log = logging.getLogger(__name__)


@require_POST
@login_required
def reset(request: HttpRequest) -> HttpResponse:
    """Restart the learner's own sandbox (images and files kept). Answers an htmx fragment.

    A sandbox that is not running (stopped, or none yet) starts only if that takes nobody's
    place (``admission.may_start``): at capacity, a learner waiting in line stays in line."""
    from . import admission

    backend = get_backend()
    owner = learner_owner(request.user)
    try:
        sb = backend.find(owner=owner)
        if (sb is None or not sb.running) and not admission.may_start(backend, owner):
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
PREVIEW_MAX_BYTES = 20 * 2 ** 20  # a preview body longer than this is cut off
# Hop-by-hop headers (RFC 9110, section 7.6.1) and those this proxy sets itself.
_DROP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                 "trailer", "transfer-encoding", "upgrade", "content-length", "set-cookie",
                 "content-security-policy", "x-frame-options", "strict-transport-security"}
# The learner's page runs in a unique opaque origin: its scripts can run, but never with
# bungeo's cookies or same-origin access to bungeo (CSP "sandbox" directive, CSP Level 3 §6.3.2).
PREVIEW_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals"


def _preview_message(status: int, text: str) -> HttpResponse:
    """A small page telling the learner why the preview has nothing to show (``status``: 400,
    502 nothing listens, 503 the sandbox is not running). These are a learner's everyday
    situations, not server faults: logged at INFO here, and marked as logged so that Django's
    request logger does not report each as an ERROR with a 5xx."""
    body = (f'<!doctype html><meta charset="utf-8"><title>bungeo</title>'
            f'<p style="font:16px sans-serif;margin:2em">{escape(text)}</p>')
    resp = HttpResponse(body, status=status)
    resp["Content-Security-Policy"] = PREVIEW_CSP
    log.info("preview answered %s: %s", status, text)
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
    """Yield the body of urllib3 response ``upstream`` in pieces of up to 64 KiB as they arrive,
    stopping after PREVIEW_MAX_BYTES. An async generator: under ASGI, Django buffers a synchronous
    iterator whole before sending anything (its "must consume synchronous iterators" warning),
    which held up to PREVIEW_MAX_BYTES per request in memory and showed a slowly streaming page
    only at its end. Each blocking read runs in a worker thread."""
    import urllib3
    from asgiref.sync import sync_to_async

    # read1: what has arrived, up to 64 KiB (read() and stream() wait until 64 KiB are there).
    read = sync_to_async(upstream.read1, thread_sensitive=False)
    sent = 0
    try:
        while True:
            chunk = await read(64 * 1024, decode_content=False)
            if not chunk:
                return
            sent += len(chunk)
            if sent > PREVIEW_MAX_BYTES:
                return
            yield chunk
    except urllib3.exceptions.HTTPError:
        return
    finally:
        upstream.close()  # a socket close, not blocking; the pool is this request's own


@login_required
def preview(request: HttpRequest, user_id: int, port: int, path: str = "") -> HttpResponse:
    """Forward a GET or HEAD to ``port`` of the learner ``user_id``'s sandbox and stream the
    answer back (bodies cut at PREVIEW_MAX_BYTES, PREVIEW_TIMEOUT seconds per read).

    Only the sandbox's owner and staff may use it (404 for anyone else, so that user ids cannot
    be probed). The target is always the sandbox's own address on the sandbox network, never a
    host named in the request. Answers 502 with a learner-facing explanation when nothing
    listens, 503 when the sandbox is not running.
    """
    import urllib3
    from django.contrib.auth import get_user_model
    from django.http import Http404, StreamingHttpResponse

    if request.method not in ("GET", "HEAD"):
        return _preview_message(405, _("Only GET and HEAD requests are forwarded to your sandbox."))
    if request.user.pk != user_id and not request.user.is_staff:
        raise Http404
    owner = get_user_model().objects.filter(pk=user_id).first()
    if owner is None or not 1 <= port <= 65535:
        raise Http404
    try:
        sb = get_backend().find(owner=learner_owner(owner))
    except SandboxError as exc:
        return _preview_message(503, str(exc))
    if sb is None or not sb.running or not sb.address:
        return _preview_message(503, _("The sandbox is not running. Open a lab to start it."))
    query = request.META.get("QUERY_STRING", "")
    url = f"http://{sb.address}:{port}/{path}" + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items()
               if k.lower() in ("accept", "accept-language", "content-type", "user-agent")}
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(PREVIEW_TIMEOUT, PREVIEW_TIMEOUT))
    try:
        upstream = pool.request(request.method, url, headers=headers,
                                preload_content=False, redirect=False, decode_content=False)
    except urllib3.exceptions.HTTPError as exc:
        log.info("preview %s failed: %s", url, exc)
        if request.user.pk != user_id:  # staff looking at a learner's sandbox
            return _preview_message(502, _(
                "Nothing answers on port %(port)s of the sandbox of %(user)s.") % {
                    "port": port, "user": owner.get_username()})
        return _preview_message(502, _(
            "Nothing answers on port %(port)s of your sandbox. Is a container publishing it "
            "(for example: docker run -d -p %(port)s:80 nginx)?") % {"port": port})

    resp = StreamingHttpResponse(_relay(upstream), status=upstream.status)
    for k, v in upstream.headers.items():
        if k.lower() not in _DROP_HEADERS:
            resp[k] = v
    if "location" in {k.lower() for k in upstream.headers}:
        loc = upstream.headers["location"]
        if loc.startswith("/"):  # keep redirects inside the preview
            resp["Location"] = f"/sandbox/preview/{user_id}/{port}{loc}"
    resp["Content-Security-Policy"] = PREVIEW_CSP
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "no-store"
    return resp


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
            raise SandboxError(_("The sandbox is not running. Open a lab to start it."))
        lease = backend.extend(sb.id)
    except SandboxError as exc:
        return JsonResponse({"ok": False, "message": str(exc)}, status=409)
    minutes = settings.BUNGEO_SANDBOX_EXTEND_SECONDS // 60
    return JsonResponse({
        "ok": True, "expires_in": round(lease.remaining()), "extensions_left": lease.extensions_left,
        "message": _("Extended by %(minutes)d minutes.") % {"minutes": minutes}})
