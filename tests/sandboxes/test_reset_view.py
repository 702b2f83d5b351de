"""The page's "Reset sandbox" answer (an htmx fragment): "done" on success, which the page clears
after a few seconds, "error" with the reason otherwise, which stays. The real reset, in a browser
on a real sandbox, is tests/e2e/test_lab_in_browser.py::test_reset_from_the_page_reconnects_by_itself."""
from __future__ import annotations

import pytest
from django.urls import reverse

from webapp.sandboxes import views
from webapp.sandboxes.backend import Sandbox, SandboxError

pytestmark = pytest.mark.django_db


class _Backend:
    def __init__(self, fail: bool):
        self.fail = fail

    def find(self, owner):
        return Sandbox(id="sb1", owner=owner, kind="learner", state="running")

    def restart(self, sandbox_id):
        if self.fail:
            raise SandboxError("the sandbox did not become ready in time")


@pytest.mark.parametrize("fail", [False, True])
def test_reset_answers_done_or_the_error(client, student, monkeypatch, fail):
    monkeypatch.setattr(views, "get_backend", lambda: _Backend(fail))
    client.force_login(student)
    resp = client.post(reverse("sandboxes:reset"), HTTP_ACCEPT_LANGUAGE="en")
    body = resp.content.decode()
    if fail:
        assert 'class="reset-result error"' in body and "did not become ready in time" in body
    else:
        assert 'class="reset-result done"' in body and "files and images are still there" in body


def test_reset_needs_a_post_from_a_logged_in_user(client, student):
    assert client.get(reverse("sandboxes:reset")).status_code in (302, 405)
    resp = client.post(reverse("sandboxes:reset"))
    assert resp.status_code == 302 and "login" in resp["Location"]
