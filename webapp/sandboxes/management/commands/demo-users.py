"""``manage.py demo-users``: create (or reset) a demo student and a demo instructor and print
their logins. For ``make run`` on a single machine; never for a real class.

A password that is already the demo one is left as it is: setting it again (even to the same
text) gives it a new salt, which ends every login session of that account, so each restart of
``make run`` logged the demo learner out of their open lab."""
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
            changed = u.is_staff != staff
            u.is_staff = staff
            if not u.check_password(password):
                u.set_password(password)
                changed = True
            if changed:
                u.save()
            role = "instructor" if staff else "student"
            self.stdout.write(f"  {role:10}  user: {username:10}  password: {password}")
