"""Image bundles for air-gapped hosts: how long `manage.py images export` and `import` take, with
and without the sandbox image of isolation mode rootless (543 MB, in the full export when built).

Usage: python bench/bundle_export.py [--dir /var/tmp] [--no-import]
Needs bungeo's sandbox engine and the built images (manage.py images build [--rootless]); no web
server. Bundles go to a temporary folder under --dir and are removed at the end. The import
loads the full bundle back into the same engine without pushing to the mirror (the images are
there already, so this is the load time of a host that has them, a lower bound for a new host).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import django_setup, table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--no-import", action="store_true")
    args = ap.parse_args()
    django_setup()
    from webapp.sandboxes import bundle, images

    rootless = images.rootless_recipe()
    work = Path(tempfile.mkdtemp(prefix="bungeo-bundle-bench-", dir=args.dir))
    rows = []
    try:
        full = bundle.export_bundle(work / "full")
        for note in full.notes:
            print(note)
        rows.append(("export, all", len(full.refs), f"{full.archive_bytes / 2**20:.0f}",
                     f"{full.seconds:.1f}"))
        without = [r.name for r in bundle._every_recipe() if r.name != rootless.name]
        part = bundle.export_bundle(work / "part", only=without)
        rows.append((f"export, without {rootless.name}", len(part.refs),
                     f"{part.archive_bytes / 2**20:.0f}", f"{part.seconds:.1f}"))
        if not args.no_import:
            imp = bundle.import_bundle(work / "full", push=False)
            rows.append(("import, all (no push)", len(imp.refs), f"{imp.archive_bytes / 2**20:.0f}",
                         f"{imp.seconds:.1f}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows, ("what", "images", "MiB", "seconds")))


if __name__ == "__main__":
    main()
