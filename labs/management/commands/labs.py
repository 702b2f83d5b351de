"""``manage.py labs validate``: report content errors with file and line."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from labs import content


class Command(BaseCommand):
    help = "Validate lab content (labs/content): checks, solutions, both languages."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["validate", "list"])

    def handle(self, *args, action: str, **opts):
        if action == "list":
            for course in content.courses().values():
                for lab in course.labs:
                    self.stdout.write(f"{course.id}/{lab.id}: {len(lab.steps)} steps")
            return
        errors = content.validate()
        for e in errors:
            self.stderr.write(str(e))
        if errors:
            raise CommandError(f"{len(errors)} content error(s)")
        self.stdout.write("content is valid")
