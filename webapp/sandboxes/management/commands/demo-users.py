"""``manage.py demo-users``: create (or reset) a demo student and a demo instructor and print
their logins. For ``make run`` on a single machine; never for a real class."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO = (("student", "bungeo-student", False), ("instructor", "bungeo-instructor", True))


class Command(BaseCommand):
    help = "Create the demo student and instructor accounts and print their logins."

    def handle(self, *args, **opts):
        User = get_user_model()
        for username, password, staff in DEMO:
            u, _ = User.objects.get_or_create(username=username)
            u.is_staff = staff
            u.set_password(password)
            u.save()
            role = "instructor" if staff else "student"
            self.stdout.write(f"  {role:10}  user: {username:10}  password: {password}")
