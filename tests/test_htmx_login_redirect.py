"""A logged-out learner's htmx request is sent to the login page as a whole page, not drawn
into the part of the page htmx would swap (webapp.middleware.HtmxLoginRedirectMiddleware)."""
from __future__ import annotations

import pytest
from django.urls import reverse

LAB = "/labs/week1/images-and-containers/"


@pytest.mark.parametrize("url", [
    reverse("sandboxes:reset"),
    reverse("labs:step_check", args=["week1", "images-and-containers", "pull-nginx"]),
])
def test_a_logged_out_htmx_request_goes_to_the_login_page_and_back_to_the_lab(client, url):
    resp = client.post(url, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{LAB}?x=1")
    assert resp.status_code == 200
    assert resp["HX-Redirect"] == "/accounts/login/?next=/labs/week1/images-and-containers/%3Fx%3D1"
    assert b"<form" not in resp.content  # no login page to swap into the terminal bar


def test_without_htmx_the_redirect_is_left_alone(client):
    resp = client.post(reverse("sandboxes:reset"))
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/?next=/sandbox/reset/")
    assert "HX-Redirect" not in resp


@pytest.mark.parametrize("current", ["https://elsewhere.example/labs/", "", "javascript:alert(1)"])
def test_the_way_back_is_a_page_of_this_site_only(client, current):
    resp = client.post(reverse("sandboxes:reset"), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=current)
    assert resp["HX-Redirect"] == "/accounts/login/?next=/"


@pytest.mark.django_db
def test_a_logged_in_learner_gets_no_redirect(client, django_user_model):
    user = django_user_model.objects.create_user("htmxlearner", password="pw-htmx-1")
    client.force_login(user)
    resp = client.post(reverse("labs:step_check", args=["week1", "images-and-containers", "nope"]),
                       HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{LAB}")
    assert "HX-Redirect" not in resp and resp.status_code == 404
