"""Published-port preview: the owner (and staff) open a port of the learner's sandbox through
bungeo; anyone else gets 404; nothing listening gets a clear 502; the answer is fenced off from
bungeo's origin (CSP sandbox)."""
from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse
from django.utils import translation

from tests.conftest import inner_sh
from webapp.sandboxes.backend import learner_owner

pytestmark = [pytest.mark.docker, pytest.mark.django_db]


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


async def _read_all(chunks) -> bytes:
    return b"".join([c async for c in chunks])


def _url(user, port, path=""):
    return reverse("sandboxes:preview_root", args=[user.pk, port]) + path


def test_owner_sees_the_published_port(client, student, serving):
    client.force_login(student)
    resp = client.get(_url(student, 8080))
    assert resp.status_code == 200
    # An async iterator: under ASGI, Django would buffer a synchronous one whole before sending
    # (tests/e2e/test_preview_streaming.py shows it streaming through the real server).
    assert resp.is_async
    body = async_to_sync(_read_all)(resp.streaming_content)
    assert b"nginx" in body.lower()
    assert resp["Content-Security-Policy"].startswith("sandbox")
    assert "allow-same-origin" not in resp["Content-Security-Policy"]
    assert "Set-Cookie" not in resp.headers or "sessionid" not in resp["Set-Cookie"]
    missing = client.get(_url(student, 8080, "no-such-page"))
    assert missing.status_code == 404  # nginx's own 404, passed through


def test_open_form_redirects_to_the_owners_port(client, student):
    client.force_login(student)
    resp = client.get(reverse("sandboxes:preview_open"), {"port": "8080"})
    assert resp.status_code == 302 and resp["Location"] == _url(student, 8080)
    assert client.get(reverse("sandboxes:preview_open"), {"port": "99999"}).status_code == 400


def test_nothing_listening_gets_a_clear_message(client, student, serving, caplog):
    """... and is no server error in the log: nothing listening is a learner's everyday case."""
    client.force_login(student)
    with translation.override("en"), caplog.at_level(logging.INFO):
        resp = client.get(_url(student, 8081), HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 502
    assert b"Nothing answers on port 8081" in resp.content and b"-p 8081:80" in resp.content
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert any("preview answered 502" in r.getMessage() for r in caplog.records)


def test_other_learners_cannot_open_it_but_staff_can(client, student, other_student, serving,
                                                     django_user_model):
    client.force_login(other_student)
    assert client.get(_url(student, 8080)).status_code == 404
    client.logout()
    assert client.get(_url(student, 8080)).status_code == 302  # to the login page
    staff = django_user_model.objects.create_user("teacher", password="pw-teacher", is_staff=True)
    client.force_login(staff)
    assert client.get(_url(student, 8080)).status_code == 200
    # Nothing on that port: the message names the learner's sandbox, not the teacher's own.
    resp = client.get(_url(student, 8081), HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 502, resp.content
    assert f"port 8081 of the sandbox of {student.username}".encode() in resp.content
    assert b"your sandbox" not in resp.content


def test_stopped_sandbox_and_post_are_refused(client, student, backend):
    client.force_login(student)
    assert client.get(_url(student, 8080)).status_code == 503  # no sandbox yet
    assert client.post(_url(student, 8080)).status_code in (403, 405)
