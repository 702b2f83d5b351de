"""Error pages in the site's look and the learner's language instead of Django's bare English
ones (QA finding)."""
from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_missing_lab_gets_the_sites_404_page_in_korean(client, django_user_model):
    django_user_model.objects.create_user("lost", password="pw-lost-1")
    client.login(username="lost", password="pw-lost-1")
    resp = client.get("/labs/week1/no-such-lab/", HTTP_ACCEPT_LANGUAGE="ko")
    page = resp.content.decode()
    assert resp.status_code == 404
    assert '<html lang="ko">' in page and "페이지를 찾을 수 없어요" in page and "실습 목록으로 가기" in page
    en = client.get("/labs/week1/no-such-lab/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "There is no page at this address" in en


def test_a_stale_form_gets_an_explanation_not_djangos_csrf_page():
    resp = Client(enforce_csrf_checks=True).post("/accounts/logout/", HTTP_ACCEPT_LANGUAGE="en")
    page = resp.content.decode()
    assert resp.status_code == 403
    assert "The form expired" in page and "reload the page" in page and "CSRF verification" not in page


def test_favicon_ico_leads_to_the_sites_icon(client):
    """Pages without an icon of their own (a sandbox's preview) make the browser ask for
    /favicon.ico: it gets bungeo's icon, not a 404."""
    resp = client.get("/favicon.ico")
    assert resp.status_code == 301 and resp["Location"].endswith("/img/bungeo.svg"), resp
    assert client.get("/favicon.ico", follow=True).status_code == 200


def test_a_learner_on_a_staff_page_gets_the_sites_403_page_in_their_language(client, django_user_model):
    """QA: Django's bare English "403 Forbidden" for a learner on the classroom page."""
    django_user_model.objects.create_user("nosy", password="pw-nosy-1")
    client.login(username="nosy", password="pw-nosy-1")
    resp = client.get("/sandbox/classroom/", HTTP_ACCEPT_LANGUAGE="ko")
    page = resp.content.decode()
    assert resp.status_code == 403
    assert '<html lang="ko">' in page and "허용되지 않습니다" in page and "실습 목록으로 가기" in page
    en = client.get("/sandbox/classroom/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This page is for instructors only" in en
