"""``manage.py demo-users``: the demo accounts exist with their passwords, and running it again
(every ``make run`` does) keeps their login sessions."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_demo_users_are_made_and_a_second_run_keeps_their_sessions(client):
    call_command("demo-users")
    user = get_user_model().objects.get(username="student")
    assert user.check_password("bungeo-student") and not user.is_staff
    assert get_user_model().objects.get(username="instructor").is_staff
    client.login(username="student", password="bungeo-student")
    assert client.get("/labs/").status_code == 200
    call_command("demo-users")  # a restart: before, a new salt logged the student out
    assert client.get("/labs/").status_code == 200


@pytest.mark.django_db
def test_a_changed_demo_password_is_set_back():
    call_command("demo-users")
    user = get_user_model().objects.get(username="student")
    user.set_password("something-else")
    user.is_staff = True
    user.save()
    call_command("demo-users")
    user.refresh_from_db()
    assert user.check_password("bungeo-student") and not user.is_staff
