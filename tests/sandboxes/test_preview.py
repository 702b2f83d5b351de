"""Published-port preview: the owner (and staff) open a port of the learner's sandbox through
bungeo, by a link signed for them; anyone else gets 404; nothing listening gets a clear 502; the
answer is fenced off from bungeo's origin (CSP sandbox). Through the link, the previewed page's
own requests (any method, with a body) reach the app, and the app's cookies stay under the
link's path while bungeo's own never reach it."""
from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse
from django.utils import translation

from tests.conftest import inner_sh, serve_in_sandbox
from webapp.sandboxes.backend import learner_owner

pytestmark = [pytest.mark.docker, pytest.mark.django_db,
              pytest.mark.usefixtures("no_preview_places_held")]


@pytest.fixture
def serving(backend, student):
    """The student's sandbox, with an inner nginx published on port 8080."""
    sb = backend.ensure(owner=learner_owner(student))
    res = inner_sh(backend, sb.id, "docker rm -f web >/dev/null 2>&1; "
                   "docker run -d -p 8080:80 --name web nginx >/dev/null && "
                   "for i in $(seq 50); do curl -fs localhost:8080 >/dev/null && echo up && break; "
                   "sleep 0.2; done", timeout=120)
    assert "up" in res.output, res.output
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def _fetch(client, method: str, path: str, **extra):
    """``client.<method>(path, **extra)`` with the body read too (as ``resp.body``, bytes), in
    one event loop: the preview view is asynchronous and its answer streams from a connection
    that belongs to the loop the view ran in, as under the real server. ``client``'s cookies
    (its login) are shared; ``HTTP_*`` extras become headers."""
    from django.test import AsyncClient

    ac = AsyncClient()
    ac.cookies = client.cookies
    headers = {k[5:].replace("_", "-").lower(): v for k, v in extra.items() if k.startswith("HTTP_")}
    rest = {k: v for k, v in extra.items() if not k.startswith("HTTP_")}

    async def go():
        from webapp.aborts import ResponseAborted

        resp = await getattr(ac, method)(path, headers=headers, **rest)
        resp.aborted = False  # True: the view ended the body early (the server drops the connection)
        if resp.streaming:
            parts = []
            try:
                async for c in resp:
                    parts.append(c)
            except ResponseAborted:
                resp.aborted = True
            resp.body = b"".join(parts)
        else:
            resp.body = resp.content
        return resp

    return async_to_sync(go)()


def _url(user, port, path=""):
    return reverse("sandboxes:preview_root", args=[user.pk, port]) + path


def _link(client, user, port, path=""):
    """The preview link the entry URL sends the logged-in user to."""
    resp = client.get(_url(user, port))
    assert resp.status_code == 302 and resp["Location"].startswith("/sandbox/p/"), resp
    return resp["Location"] + path


def test_owner_sees_the_published_port(client, student, serving):
    client.force_login(student)
    resp = _fetch(client, "get", _url(student, 8080), follow=True)
    assert resp.status_code == 200
    # An async iterator: under ASGI, Django would buffer a synchronous one whole before sending
    # (tests/e2e/test_preview_streaming.py shows it streaming through the real server).
    assert resp.is_async
    body = resp.body
    assert b"nginx" in body.lower()
    assert resp["Content-Security-Policy"].startswith("sandbox")
    assert "allow-same-origin" not in resp["Content-Security-Policy"]
    assert "Set-Cookie" not in resp.headers or "sessionid" not in resp["Set-Cookie"]
    missing = _fetch(client, "get", _url(student, 8080, "no-such-page"), follow=True)
    assert missing.status_code == 404  # nginx's own 404, passed through
    assert b"nginx" in missing.body


def test_open_form_redirects_to_the_owners_port(client, student):
    client.force_login(student)
    resp = client.get(reverse("sandboxes:preview_open"), {"port": "8080"})
    assert resp.status_code == 302 and resp["Location"] == _url(student, 8080)
    assert client.get(reverse("sandboxes:preview_open"), {"port": "99999"}).status_code == 400


def test_nothing_listening_gets_a_clear_message(client, student, serving, caplog, backend):
    """... and is no server error in the log: nothing listening is a learner's everyday case."""
    client.force_login(student)
    with translation.override("en"), caplog.at_level(logging.INFO):
        resp = client.get(_url(student, 8081), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert resp.status_code == 502
    assert b"Nothing answers on port 8081" in resp.content and b"-p 8081:80" in resp.content
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert any("preview answered 502" in r.getMessage() for r in caplog.records)
    # QA: published to a port nothing in the container listens on ('-p 8092:9999 nginx'): the
    # learner is told which container publishes it, not asked whether one does.
    res = inner_sh(backend, serving.id, "docker run -d --name wrongport -p 8092:9999 nginx", timeout=60)
    assert res.exit_code == 0, res.output
    with translation.override("en"):
        resp = client.get(_url(student, 8092), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert resp.status_code == 502
    assert (b"Port 8092 is published by the container wrongport, to its port 9999, but nothing "
            b"answers there") in resp.content, resp.content


def test_other_learners_cannot_open_it_but_staff_can(client, student, other_student, serving,
                                                     django_user_model):
    client.force_login(student)
    students_link = _link(client, student, 8080)
    client.force_login(other_student)
    assert client.get(_url(student, 8080)).status_code == 404
    # A link made for the owner, opened by another learner who is logged in: refused too.
    assert client.get(students_link).status_code == 404
    client.logout()
    resp = client.get(_url(student, 8080))
    assert resp.status_code == 302 and "/login/" in resp["Location"]
    staff = django_user_model.objects.create_user("teacher", password="pw-teacher", is_staff=True)
    client.force_login(staff)
    assert client.get(_url(student, 8080), follow=True).status_code == 200
    # A staff link stops working once its user is no longer staff.
    staff_link = _link(client, student, 8080)
    staff.is_staff = False
    staff.save()
    assert client.get(staff_link).status_code == 404
    staff.is_staff = True
    staff.save()
    # Nothing on that port: the message names the learner's sandbox, not the teacher's own.
    resp = client.get(_url(student, 8081), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert resp.status_code == 502, resp.content
    assert f"port 8081 of the sandbox of {student.username}".encode() in resp.content
    assert b"your sandbox" not in resp.content


def test_stopped_sandbox_and_a_post_to_the_entry_are_refused(client, student, backend):
    client.force_login(student)
    resp = client.get(_url(student, 8080), follow=True, HTTP_ACCEPT_LANGUAGE="ko")
    assert resp.status_code == 503  # no sandbox yet: where to start it, in the learner's language
    assert "실습 페이지에서 시작하세요" in resp.content.decode()
    assert client.post(_url(student, 8080)).status_code == 405  # the link takes any method


# An app in the learner's sandbox (busybox httpd + a CGI script): counts visits in a cookie it
# sets with Path=/, and answers the method, the body and the cookies it received.
APP = r"""
mkdir -p /www/cgi-bin && cd /www
printf '<h1>app</h1>' > index.html
cat > cgi-bin/app <<'EOS'
#!/bin/sh
n=$(echo "$HTTP_COOKIE" | sed -n 's/.*visits=\([0-9]*\).*/\1/p'); n=$(( ${n:-0} + 1 ))
body=""; [ -n "$CONTENT_LENGTH" ] && body=$(head -c "$CONTENT_LENGTH")
printf 'Content-Type: text/plain\r\nSet-Cookie: visits=%s; Path=/; HttpOnly\r\n' "$n"
printf 'Set-Cookie: sessionid=from-the-app; Path=/\r\n'
printf 'Set-Cookie: other=1; Domain=example.org; Path=/x\r\n\r\n'
printf 'visits=%s method=%s body=%s cookies=%s\n' "$n" "$REQUEST_METHOD" "$body" "$HTTP_COOKIE"
EOS
cat > cgi-bin/bad <<'EOS'
#!/bin/sh
printf 'Content-Type: text/plain\r\nClear-Site-Data: "cookies", "storage"\r\n'
printf 'WWW-Authenticate: Basic realm="bungeo login"\r\nRefresh: 0; url=http://example.invalid/\r\n'
printf 'X-App: kept-out\r\nContent-Language: ko\r\n\r\nbad headers\n'
EOS
cat > cgi-bin/go <<'EOS'
#!/bin/sh
printf 'Status: 302 Found\r\nLocation: %s\r\n\r\n' "$QUERY_STRING"
EOS
chmod +x cgi-bin/app cgi-bin/bad cgi-bin/go
exec httpd -f -p 8096 -h /www
"""


@pytest.fixture
def app(backend, student):
    sb = backend.ensure(owner=learner_owner(student))
    serve_in_sandbox(backend, sb.id, "app", 8096, APP)
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def _text(resp) -> str:
    return resp.body.decode()


def test_the_link_forwards_a_post_with_its_body_and_the_apps_cookies(client, student, app):
    client.force_login(student)
    link = _link(client, student, 8096)
    stable = "/".join(link.split("/")[:4]) + "/"  # /sandbox/p/<owner>.<port>.<viewer>/
    client.logout()  # a form of the previewed page: sent without bungeo's session, Origin null
    resp = _fetch(client, "post", link + "cgi-bin/app", data=b"name=red-bean",
                       content_type="application/x-www-form-urlencoded", HTTP_ORIGIN="null")
    assert resp.status_code == 200
    assert "visits=1 method=POST body=name=red-bean" in _text(resp)
    # The app's cookies are kept under the link's first part (the same in every link of this
    # port for this viewer), their Domain dropped; the app may not set bungeo's session cookie.
    assert resp.cookies["visits"]["path"] == stable and resp.cookies["visits"]["httponly"]
    assert resp.cookies["other"]["path"] == stable and not resp.cookies["other"]["domain"]
    assert "sessionid" not in resp.cookies
    # The browser sends it back (and bungeo's own cookies, which never reach the app); a fetch()
    # of the page (it accepts JSON, not a page) needs no Origin.
    client.cookies["sessionid"] = "bungeo-session"
    client.cookies["csrftoken"] = "bungeo-csrf"
    client.cookies["visits"] = "1"
    body = _text(_fetch(client, "post", link + "cgi-bin/app", data=b"x", content_type="text/plain",
                             HTTP_ACCEPT="application/json"))
    assert "visits=2 method=POST body=x" in body
    assert "bungeo" not in body, body
    # A new link of the same port (opened again) reaches the same cookies.
    client.force_login(student)
    again = _link(client, student, 8096)
    assert again.startswith(stable)


# Raw answers no well-behaved server gives, by path; any other path gets the request line it
# came with, as sent (busybox httpd would decode it first).
RAW_APP = r"""
cat > /raw.sh <<'EOS'
#!/bin/sh
read -r line
# The rest of the request head too: a socket closed with unread data sends a reset, not an end.
while read -r rest; do [ "$rest" = "$(printf '\r')" ] && break; done
case "$line" in
  *" /far "*) printf 'HTTP/1.0 302 Found\r\nLocation: http://localhost:99999/x\r\n\r\n' ;;
  *" /v6 "*) printf 'HTTP/1.0 302 Found\r\nLocation: http://[::1/x\r\n\r\n' ;;
  *" /weird "*) printf 'HTTP/1.0 600 Weird\r\nContent-Type: text/plain\r\n\r\nweird\n' ;;
  *" /cookies "*) printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n%b%b%b\r\ncookies\n' \
      'Set-Cookie: odd=1; SameSite=Foo\r\n' 'Set-Cookie: eons=1; Max-Age=99999999999999\r\n' \
      'Set-Cookie: fine=1\r\n' ;;
  *" /silent "*) sleep 30 ;;
  *" /big "*) printf 'HTTP/1.0 200 OK\r\nContent-Length: 31457280\r\n\r\n'; head -c 1000 /dev/zero ;;
  *" /long "*) printf 'HTTP/1.0 200 OK\r\n\r\n'; head -c 5000 /dev/zero | tr '\0' a ;;
  *" /stall "*) printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nstart\n'; sleep 30 ;;
  *" /short "*) printf 'HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nshort\n' ;;
  *) printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s\n' "$(echo "$line" | tr -d '\r')" ;;
esac
EOS
chmod +x /raw.sh
exec nc -ll -p 8097 -e /raw.sh
"""


def test_the_path_reaches_the_app_as_the_browser_encoded_it(client, student, app, backend):
    """An encoded "?" or space in the path stays part of the path (the view sees it decoded:
    sent as it is, "a?b c" made a query of half the path and a broken request line)."""
    serve_in_sandbox(backend, app.id, "raw", 8097, RAW_APP)
    client.force_login(student)
    link = _link(client, student, 8097)
    resp = _fetch(client, "get", link + "x/a%3Fb%20c?q=1")
    assert resp.status_code == 200
    assert _text(resp) == "GET /x/a%3Fb%20c?q=1 HTTP/1.1\n", _text(resp)
    # The same through the entry URL, which redirects to a link: the path stays encoded there.
    entry = client.get(_url(student, 8097, "x/a%3Fb%23c"), {"q": "1"})
    assert entry.status_code == 302 and entry["Location"].endswith("/x/a%3Fb%23c?q=1"), entry["Location"]


def test_odd_answers_of_the_app_get_a_clear_message_and_give_their_place_back(
        client, student, app, backend, monkeypatch):
    """A redirect to a port out of range (once a 500 that kept the request's place for good:
    eight of them and the sandbox's every preview got 429), a status Django cannot send, cookies
    Django refuses, an app that never answers: each gets the learner a clear answer, and every
    request gives its place back."""
    from webapp.sandboxes import views

    serve_in_sandbox(backend, app.id, "raw", 8097, RAW_APP)
    client.force_login(student)
    link = _link(client, student, 8097)
    with translation.override("en"):
        for _ in range(views.PREVIEW_PER_SANDBOX + 1):
            far = _fetch(client, "get", link + "far", HTTP_ACCEPT_LANGUAGE="en")
            assert far.status_code == 502 and b"the preview does not follow it" in far.body, far.body
        v6 = _fetch(client, "get", link + "v6", HTTP_ACCEPT_LANGUAGE="en")  # httpx refuses it
        assert v6.status_code == 502 and b"not with an HTTP answer" in v6.body, v6.body
        assert b"location" in v6.body.lower() and b"Nothing answers" not in v6.body
        weird = _fetch(client, "get", link + "weird", HTTP_ACCEPT_LANGUAGE="en")
        assert weird.status_code == 502 and b"not with an HTTP answer" in weird.body, weird.body
        assert b"status 600" in weird.body
        cookies = _fetch(client, "get", link + "cookies", HTTP_ACCEPT_LANGUAGE="en")
        assert cookies.status_code == 200 and cookies.body == b"cookies\n"
        assert "fine" in cookies.cookies and "odd" not in cookies.cookies and "eons" not in cookies.cookies
        assert cookies.cookies["fine"]["path"] == "/".join(link.split("/")[:4]) + "/"
        monkeypatch.setattr(views, "PREVIEW_TIMEOUT", 1.0)
        silent = _fetch(client, "get", link + "silent", HTTP_ACCEPT_LANGUAGE="en")
        assert silent.status_code == 504 and b"more than 1 seconds" in silent.body, silent.body
    assert student.pk not in views._streams


def test_an_answer_too_long_or_broken_off_is_never_passed_on_as_whole(
        client, student, app, backend, monkeypatch):
    """An answer that says it is over PREVIEW_MAX_BYTES gets 502 with its size. A streamed
    answer that runs over it, stalls past PREVIEW_TIMEOUT, or breaks off (less than its
    Content-Length) is ended unfinished (ResponseAborted: the server then drops the connection),
    where it used to end as a complete-looking 200. A whole answer is not. Every request gives
    its place back."""
    from webapp.sandboxes import views

    serve_in_sandbox(backend, app.id, "raw", 8097, RAW_APP)
    client.force_login(student)
    link = _link(client, student, 8097)
    with translation.override("en"):
        big = _fetch(client, "get", link + "big", HTTP_ACCEPT_LANGUAGE="en")
    assert big.status_code == 502, big.body
    assert b"answered with 30.0 MB, more than the 20 MB a preview passes on" in big.body, big.body
    whole = _fetch(client, "get", link + "long")
    assert whole.status_code == 200 and whole.body == b"a" * 5000 and not whole.aborted
    monkeypatch.setattr(views, "PREVIEW_MAX_BYTES", 1000)
    long = _fetch(client, "get", link + "long")
    assert long.status_code == 200 and long.aborted and len(long.body) <= 1000, len(long.body)
    monkeypatch.setattr(views, "PREVIEW_TIMEOUT", 1.0)
    stall = _fetch(client, "get", link + "stall")
    assert stall.status_code == 200 and stall.aborted and stall.body == b"start\n", stall.body
    short = _fetch(client, "get", link + "short")
    assert short.status_code == 200 and short.aborted and short.body == b"short\n", short.body
    assert student.pk not in views._streams


def test_the_servers_log_keeps_no_traceback_of_an_intended_abort():
    """uvicorn logs an application's exception as an ERROR with its traceback; for a
    ResponseAborted (the preview's intended end, logged at INFO by the relay) the filter that
    settings put on uvicorn's logger drops that record, and keeps every other one."""
    import logging

    from webapp.aborts import DropAbortedResponses, ResponseAborted

    logger = logging.getLogger("uvicorn.error")
    assert any(isinstance(f, DropAbortedResponses) for f in logger.filters), logger.filters

    def record(exc):
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                 "Exception in ASGI application\n", None,
                                 (type(exc), exc, None) if exc else None)

    assert not logger.filter(record(ResponseAborted("over 20 MB")))
    assert logger.filter(record(ValueError("a real fault")))
    assert logger.filter(record(None))


def test_a_link_shows_pages_only_to_its_viewer(client, student, app):
    """A link handed to someone else (or left in a shared PC's history) never shows the app's
    page under bungeo's address: without the viewer's session a page load goes to the login
    page, and a form from another site is refused. The page's images and fetches need none."""
    client.force_login(student)
    link = _link(client, student, 8096)
    client.logout()
    resp = client.get(link, HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert resp.status_code == 302 and "/login/" in resp["Location"]
    assert client.get(link).status_code == 302  # curl: no Accept at all
    resp = client.post(link + "cgi-bin/app", data=b"a=1",
                       content_type="application/x-www-form-urlencoded",
                       HTTP_ORIGIN="http://phishing.example", HTTP_ACCEPT="text/html",
                       HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 403 and b"only for the user it was made for" in resp.content
    img = _fetch(client, "get", link + "index.html", HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert img.status_code == 200 and "<h1>app</h1>" in _text(img)


def test_headers_that_act_on_bungeo_and_redirects_out_of_the_sandbox_are_not_passed(client, student, app):
    client.force_login(student)
    link = _link(client, student, 8096)
    resp = _fetch(client, "get", link + "cgi-bin/bad")
    assert resp.status_code == 200 and _text(resp) == "bad headers\n"
    for name in ("Clear-Site-Data", "WWW-Authenticate", "Refresh", "X-App"):
        assert name not in resp.headers, name  # Clear-Site-Data logged the viewer out of bungeo
    assert resp["Content-Language"] == "ko" and resp["Content-Type"] == "text/plain"
    # Redirects: inside the sandbox's port they stay in the preview; elsewhere they are not followed.
    for target, inside in (("/next?a=1", "next?a=1"), ("http://localhost:8096/x", "x"),
                           (f"http://{app.address}:8096/y", "y"), ("page2", None)):
        resp = client.get(link + "cgi-bin/go?" + target)
        assert resp.status_code == 302, (target, resp.status_code)
        assert resp["Location"] == (link + inside if inside else "page2"), resp["Location"]
    for target in ("http://example.invalid/x", "//example.invalid/x", "http://localhost:9999/"):
        resp = client.get(link + "cgi-bin/go?" + target, HTTP_ACCEPT_LANGUAGE="en")
        assert resp.status_code == 502 and b"the preview does not follow it" in resp.content, target
        assert "Location" not in resp.headers


def test_a_tampered_expired_or_oversized_request_is_refused(client, student, app, monkeypatch,
                                                           settings):
    from webapp.sandboxes import views

    client.force_login(student)
    link = _link(client, student, 8096)
    who, sig = link.split("/")[3:5]
    assert client.get(link.replace(sig, sig[:-2] + "xx")).status_code == 404
    owner, port, viewer = who.split(".")
    assert client.get(link.replace(who, f"{owner}.8080.{viewer}")).status_code == 404  # another port
    most = views._preview_body_max()  # the server's request limit, if lower (4 MB here)
    assert most == min(views.PREVIEW_BODY_MAX, settings.BUNGEO_REQUEST_MAX_BYTES)
    big = client.post(link + "cgi-bin/app", data=b"x" * (most + 1),
                      content_type="application/octet-stream", HTTP_ACCEPT_LANGUAGE="en")
    assert big.status_code == 413 and f"larger than {most // 2 ** 20} MB".encode() in big.content
    monkeypatch.setattr(views, "PREVIEW_LINK_S", -1)  # every link has expired
    # Logged in as its viewer: a fresh link (the query kept). Anyone else: open the port again.
    resp = client.get(link + "cgi-bin/app?a=1")
    assert resp.status_code == 302 and resp["Location"] == _url(student, 8096, "cgi-bin/app?a=1")
    client.logout()
    resp = client.get(link, HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 403 and b"expired" in resp.content


def test_a_cors_preflight_of_the_page_is_answered(client, student, app):
    client.force_login(student)
    link = _link(client, student, 8096)
    resp = client.options(link + "cgi-bin/app", HTTP_ORIGIN="null",
                          HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type")
    assert resp.status_code == 204
    assert resp["Access-Control-Allow-Origin"] == "*" and "POST" in resp["Access-Control-Allow-Methods"]
    assert resp["Access-Control-Allow-Headers"] == "content-type"


def test_requests_under_way_are_counted_per_sandbox_and_given_back():
    from webapp.sandboxes import views

    owner = 987654
    assert all(views._take_stream(owner) for _ in range(views.PREVIEW_PER_SANDBOX))
    assert not views._take_stream(owner)  # the next one waits for nobody: refused
    assert views._streams_full_message(owner).status_code == 429
    assert views._take_stream(owner + 1)  # another sandbox is not held up
    views._give_stream(owner + 1)

    class _Conn:
        closed = 0

        async def aclose(self):
            self.closed += 1

    async def scenario():
        up, cl = _Conn(), _Conn()
        relay = views._Relay(up, cl, owner)
        relay.close()
        relay.close()  # once only
        views._Relay(_Conn(), _Conn(), owner)  # dropped unsent (the client left): given back too
        await asyncio.sleep(0.05)  # the connections close in a task of the loop
        return up, cl

    up, cl = async_to_sync(scenario)()
    assert up.closed == 1 and cl.closed == 1
    assert views._streams[owner] == views.PREVIEW_PER_SANDBOX - 2
    for _ in range(views.PREVIEW_PER_SANDBOX - 2):
        views._give_stream(owner)
    assert owner not in views._streams


def test_the_server_relays_a_bounded_number_of_previews_in_all(monkeypatch):
    """Past PREVIEW_TOTAL requests under way to all sandboxes, the next gets 503 (the server is
    busy), not 429 (which tells the learner their own sandbox has too many)."""
    from webapp.sandboxes import views

    # Places an earlier test's unread answer may still hold (given back when it is collected).
    held = sum(views._streams.values())
    monkeypatch.setattr(views, "PREVIEW_TOTAL", held + 3)
    owners = [555001, 555002, 555003]
    try:
        assert all(views._take_stream(o) for o in owners)
        assert not views._take_stream(555004)
        with translation.override("en"):
            resp = views._streams_full_message(555004)
        assert resp.status_code == 503
        assert f"as many previews as it can at once ({held + 3})".encode() in resp.content
    finally:
        for o in owners:
            views._give_stream(o)
    assert views._take_stream(555004)
    views._give_stream(555004)


def test_a_request_past_the_limit_costs_no_sandbox_lookup(client, student, monkeypatch):
    """The 429 comes before the sandbox's lookup (a Docker API call in the thread pool the
    terminals share): a flood of refused requests takes none of those threads."""
    from webapp.sandboxes import views

    looked_up = []
    monkeypatch.setattr(views, "get_backend", lambda: looked_up.append(1))
    client.force_login(student)
    link = _link(client, student, 8080)
    for _ in range(views.PREVIEW_PER_SANDBOX):
        assert views._take_stream(student.pk)
    try:
        resp = _fetch(client, "get", link, HTTP_ACCEPT_LANGUAGE="en")
    finally:
        for _ in range(views.PREVIEW_PER_SANDBOX):
            views._give_stream(student.pk)
    assert resp.status_code == 429 and looked_up == []
    assert student.pk not in views._streams
