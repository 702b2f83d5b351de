"""``manage.py sandbox-engine start|stop|status|firewall|reconcile|purge``: bungeo's dedicated
sandbox engine, and the sandboxes of this installation on it."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from webapp.sandboxes import engine


class Command(BaseCommand):
    help = "Start, stop or report bungeo's dedicated sandbox engine and its registry mirror."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status", "firewall", "reconcile", "purge"])
        parser.add_argument("--yes", action="store_true",
                            help="purge: really remove (without it, purge only lists what it would remove)")
        parser.add_argument("--workspaces", action="store_true",
                            help="purge: remove the learners' workspaces (their files) too")

    def handle(self, *args, action: str, **opts):
        if action == "purge":
            self._purge(yes=opts["yes"], workspaces=opts["workspaces"])
        elif action == "start":
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
            self.stdout.write(f"removed {_sandboxes(len(removed))} left over from gradings")
        elif action == "firewall":
            engine.firewall_apply()
            self.stdout.write(json.dumps(engine.firewall_rules(), indent=2))
        else:
            self.stdout.write(json.dumps(engine.status(), indent=2))

    def _purge(self, *, yes: bool, workspaces: bool) -> None:
        """Remove every sandbox of this installation (its BUNGEO_SANDBOX_PREFIX): learners',
        warm-pool and grading sandboxes with their inner engines' images and containers. The
        learners' workspaces stay unless ``workspaces``; without ``yes`` nothing is removed and
        the sandboxes are only listed. Other installations' sandboxes on the engine (another
        prefix, such as the tests') are never touched."""
        from webapp.sandboxes.backend import get_backend

        backend = get_backend()
        sandboxes = backend.list()
        for sb in sandboxes:
            self.stdout.write(f"{sb.id}  {sb.kind}  {'running' if sb.running else 'stopped'}")
        what = "sandboxes and the learners' workspaces" if workspaces else "sandboxes (workspaces kept)"
        if not yes:
            self.stdout.write(f"{_sandboxes(len(sandboxes))} of prefix {backend.prefix!r} would be "
                              f"removed: {what}. Run again with --yes to remove them.")
            return
        if workspaces:
            n = backend.purge()
        else:
            n = 0
            for sb in sandboxes:
                backend.remove(sb.id, keep_workspace=True)
                n += 1
            if not backend.list():
                backend.forget_run_files()
        self.stdout.write(f"removed {_sandboxes(n)} of prefix {backend.prefix!r}: {what}")


def _sandboxes(n: int) -> str:
    """``n`` with the right English noun: "1 sandbox", "3 sandboxes"."""
    return f"{n} sandbox" if n == 1 else f"{n} sandboxes"
