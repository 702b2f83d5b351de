"""``manage.py images build``: build the sandbox and stand-in images (cached) and fill the mirror."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from webapp.sandboxes import engine, images


class Command(BaseCommand):
    help = "Build bungeo's images from Debian packages (cached by recipe hash) and fill the mirror."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        b = sub.add_parser("build", help="build every image whose recipe changed, push stand-ins")
        b.add_argument("--no-push", action="store_true", help="do not push to the mirror")
        sub.add_parser("list", help="list recipes, their hashes and the public stand-in names")

    def handle(self, *args, action: str, **opts):
        if action == "list":
            sandbox, standins = images.recipes()
            for r in [sandbox, *standins]:
                self.stdout.write(f"{r.image_ref:40} {' '.join(r.tags)}")
            return
        if not engine.engine_answers():
            raise CommandError("the sandbox engine does not answer: run 'manage.py sandbox-engine start'")
        t0 = time.monotonic()
        report = images.build_all(push=not opts["no_push"])
        for ref in report.built:
            self.stdout.write(f"built   {ref}")
        for ref in report.cached:
            self.stdout.write(f"cached  {ref}")
        if report.pushed:
            self.stdout.write(f"pushed  {', '.join(report.pushed)}")
        self.stdout.write(f"images ready in {time.monotonic() - t0:.1f} s")
