"""``manage.py images build|list|push|prune|export|import``: build the sandbox and stand-in
images (cached by recipe hash), fill the classroom mirror, remove older images, and move images
to an air-gapped host."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from webapp.sandboxes import bundle, engine, images


class Command(BaseCommand):
    help = "Build bungeo's images from Debian packages (cached by recipe hash) and fill the mirror."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        b = sub.add_parser("build", help="build every image whose recipe changed, push stand-ins")
        b.add_argument("--no-push", action="store_true", help="do not push to the mirror")
        b.add_argument("--rootless", action="store_true",
                       help="also build the sandbox image of isolation mode 'rootless' (built anyway "
                            "when BUNGEO_ISOLATION=rootless)")
        sub.add_parser("list", help="list recipes, their hashes and the public stand-in names")
        sub.add_parser("push", help="push the built stand-ins to the classroom mirror")
        sub.add_parser("prune", help="remove images of earlier recipes (upgrades, recipe changes) and "
                                     "build leftovers; images a sandbox still uses are kept")
        e = sub.add_parser("export", help="write a bundle (docker save + manifest) for an offline host")
        e.add_argument("dest", help="folder to create (must be empty)")
        e.add_argument("--only", help="comma-separated image names (default: all, and sandbox-rootless "
                                      "when it is built)")
        i = sub.add_parser("import", help="load a bundle written by 'export' and fill the mirror")
        i.add_argument("src", help="bundle folder")
        i.add_argument("--no-push", action="store_true", help="do not push to the mirror")

    def handle(self, *args, action: str, **opts):
        if action == "list":
            sandbox, standins = images.recipes()
            for r in [sandbox, *standins]:
                self.stdout.write(f"{r.image_ref:40} {' '.join(r.tags)}")
            self.stdout.write(f"{images.rootless_recipe().image_ref:40} (isolation mode rootless only)")
            return
        if not engine.engine_answers():
            raise CommandError("the sandbox engine does not answer: run 'manage.py sandbox-engine start'")
        if action in ("export", "import"):
            try:
                if action == "export":
                    only = [n.strip() for n in (opts["only"] or "").split(",") if n.strip()]
                    rep = bundle.export_bundle(opts["dest"], only=only or None)
                else:
                    rep = bundle.import_bundle(opts["src"], push=not opts["no_push"])
            except bundle.BundleError as exc:
                raise CommandError(str(exc)) from exc
            for ref in rep.refs:
                self.stdout.write(f"{action}ed {ref}" + ("  (another bungeo version: not used)"
                                                         if ref in rep.stale else ""))
            if rep.pushed:
                self.stdout.write(f"pushed  {', '.join(rep.pushed)}")
            for note in rep.notes:
                self.stdout.write(self.style.WARNING(note))
            self.stdout.write(f"{rep.archive_bytes / 2**20:.1f} MiB in {rep.seconds:.1f} s")
            return
        if action == "push":
            client = engine.client(timeout=600)
            pushed = []
            for r in images.recipes()[1]:
                if not images._exists(client, r.image_ref):
                    raise CommandError(f"{r.image_ref} is not built: run 'manage.py images build'")
                pushed += images.push_standin(r, client)
            self.stdout.write(f"pushed  {', '.join(pushed) or 'nothing (the mirror is up to date)'}")
            return
        if action == "prune":
            rep = images.prune()
            for ref in rep.removed:
                self.stdout.write(f"removed {ref}")
            for ref in rep.in_use:
                self.stdout.write(self.style.WARNING(
                    f"kept    {ref}: a stopped sandbox still uses it (it moves to the new image when "
                    "it next starts; prune again later)"))
            self.stdout.write(f"{len(rep.removed)} image(s) removed, {rep.freed_bytes / 2**20:.0f} MiB freed")
            return
        t0 = time.monotonic()
        report = images.build_all(push=not opts["no_push"], rootless=opts["rootless"] or None)
        for ref in report.built:
            self.stdout.write(f"built   {ref}")
        for ref in report.cached:
            self.stdout.write(f"cached  {ref}")
        if report.pushed:
            self.stdout.write(f"pushed  {', '.join(report.pushed)}")
        self.stdout.write(f"images ready in {time.monotonic() - t0:.1f} s")
        stale = images.stale_tags(engine.client())
        if stale:
            self.stdout.write(f"{len(stale)} image(s) of earlier recipes are still on the engine: "
                              "'manage.py images prune' removes them")
