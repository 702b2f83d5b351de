"""Published-port preview in a real browser (Debian's chromium): the previewed page runs in an
opaque origin (CSP sandbox), so the browser sends bungeo's session cookie only on its top-level
GET navigations. Its images and form POSTs used to go to the login page; through the preview
link they reach the learner's app, whose cookie counts the visits; bungeo's session is
untouched by the app's attempts to set or clear it, and the link shows nothing in a browser
without the viewer's session."""
from __future__ import annotations

import pytest

from tests.conftest import serve_in_sandbox
from webapp.sandboxes.backend import learner_owner

pytestmark = [pytest.mark.browser, pytest.mark.docker]

# A page with an image and a form; a CGI script that counts visits in a cookie, answers the
# method and body, and tries to replace bungeo's session cookie.
APP = r"""
mkdir -p /www/cgi-bin && cd /www
printf '<h1 id=t>app</h1><img id=i src="dot.gif"><form method=post action="cgi-bin/app">' > index.html
printf '<input name=filling value=red-bean><button id=b>order</button></form>' >> index.html
printf 'GIF89a\001\000\001\000\200\000\000\000\000\000\377\377\377' > dot.gif
printf '!\371\004\001\000\000\000\000,\000\000\000\000\001\000\001\000\000\002\002D\001\000;' >> dot.gif
cat > cgi-bin/app <<'EOS'
#!/bin/sh
n=$(echo "$HTTP_COOKIE" | sed -n 's/.*visits=\([0-9]*\).*/\1/p'); n=$(( ${n:-0} + 1 ))
body=""; [ -n "$CONTENT_LENGTH" ] && body=$(head -c "$CONTENT_LENGTH")
printf 'Content-Type: text/html\r\nSet-Cookie: visits=%s; Path=/\r\n' "$n"
printf 'Set-Cookie: sessionid=from-the-app; Path=/\r\nClear-Site-Data: "cookies"\r\n\r\n'
printf '<p id=r>visits=%s method=%s body=%s</p>\n' "$n" "$REQUEST_METHOD" "$body"
EOS
chmod +x cgi-bin/app
exec httpd -f -p 8095 -h /www
"""


def test_the_previewed_pages_image_form_and_cookie_work(asgi_server, browser, django_user_model,
                                                        backend):
    user = django_user_model.objects.create_user("learner", password="pw-learner-1")
    sb = backend.ensure(owner=learner_owner(user))
    serve_in_sandbox(backend, sb.id, "app", 8095, APP)
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(f"{asgi_server}/accounts/login/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/labs/")
    page.goto(f"{asgi_server}/sandbox/preview/?port=8095")
    page.wait_for_selector("#t")
    # The image came from the app (before: the login page's HTML, a broken image).
    page.wait_for_function("document.getElementById('i').complete")
    assert page.evaluate("document.getElementById('i').naturalWidth") == 1
    assert "/sandbox/p/" in page.url
    page.click("#b")
    page.wait_for_selector("#r")
    assert page.inner_text("#r") == "visits=1 method=POST body=filling=red-bean"
    page.reload()
    page.wait_for_selector("#r")
    # A reload re-sends the form (the browser asks nothing in headless mode); the app's
    # cookie came back with it.
    assert page.inner_text("#r").startswith("visits=2 ")
    link = page.url
    # The app could neither replace nor clear bungeo's session: the learner is still logged in.
    page.goto(f"{asgi_server}/labs/")
    assert "/login/" not in page.url
    assert "from-the-app" not in str([c["value"] for c in ctx.cookies() if c["name"] == "sessionid"])
    ctx.close()
    # The link in another browser (no session): the login page, not the app's page.
    other = browser.new_context(locale="en-US")
    page = other.new_page()
    page.goto(link)
    assert "/login/" in page.url and page.locator("#r").count() == 0
    other.close()
