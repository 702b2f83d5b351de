"""``manage.py sandbox-engine start|stop|status``: bungeo's dedicated sandbox engine."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from webapp.sandboxes import engine


class Command(BaseCommand):
    help = "Start, stop or report bungeo's dedicated sandbox engine and its registry mirror."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status", "firewall", "reconcile"])

    def handle(self, *args, action: str, **opts):
        if action == "start":
            try:
                engine.start()
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(json.dumps(engine.status(), indent=2))
        elif action == "stop":
            engine.stop()
            self.stdout.write("sandbox engine stopped")
        elif action == "reconcile":
            from django.conf import settings

            from webapp.sandboxes.backend import get_backend

            removed = get_backend().reconcile(grading_max_age=settings.BUNGEO_GRADING_TIME_LIMIT + 60)
            self.stdout.write(f"removed {len(removed)} leftover grading sandbox(es)")
        elif action == "firewall":
            engine.firewall_apply()
            self.stdout.write(json.dumps(engine.firewall_rules(), indent=2))
        else:
            self.stdout.write(json.dumps(engine.status(), indent=2))
