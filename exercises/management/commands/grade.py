"""``manage.py grade a1|a2|a3 PATH [--json]``: grade a folder with the same code as the site.

Exit status 0 when grading ran (whatever the score), 2 on an infrastructure error.
"""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exercises import registry
from webapp.sandboxes.backend import SandboxError, get_backend

MAX_FILES = 200


class Command(BaseCommand):
    help = "Grade a submission folder offline and print each check's verdict."

    def add_arguments(self, parser):
        parser.add_argument("assignment", help="assignment id: " + ", ".join(registry.assignments()))
        parser.add_argument("path", type=Path, help="folder holding the submission's files")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, assignment: str, path: Path, **opts):
        a = registry.get(assignment)
        if a is None:
            raise CommandError(f"unknown assignment {assignment!r}")
        if not path.is_dir():
            raise CommandError(f"{path} is not a folder")
        files: dict[str, bytes] = {}
        root = path.resolve()
        for p in sorted(root.rglob("*")):
            if p.is_symlink():
                raise CommandError(f"{p} is a symbolic link; submissions may not contain links")
            if p.is_file():
                files[str(p.relative_to(root))] = p.read_bytes()
            if len(files) > MAX_FILES:
                raise CommandError(f"more than {MAX_FILES} files in {path}")
        try:
            report = a.grader.grade(files, get_backend(), owner="cli")
        except SandboxError as exc:
            self.stderr.write(f"infrastructure error: {exc}")
            raise SystemExit(2) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
            return
        for c in report.checks:
            mark = "PASS" if c.passed else ("ADVICE" if c.advisory else "FAIL")
            self.stdout.write(f"{mark:6} {c.id:16} {c.points:g}/{c.max_points:g}  {c.message}")
        self.stdout.write(f"score {report.score:g}/{report.max_score:g} in {report.duration_s:.1f} s")
