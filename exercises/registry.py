"""Assignments known to bungeo: id -> folder, handout and grader (loaded from the folder)."""
from __future__ import annotations

import functools
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml

ASSIGNMENTS_DIR = Path(__file__).resolve().parent / "assignments"
_FRONT = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n", re.S)


@dataclass(frozen=True)
class Assignment:
    """An assignment: ``id`` (``a3``), its folder, and its grader module."""

    id: str
    folder: Path

    @functools.cached_property
    def grader(self) -> ModuleType:
        """The folder's ``grader.py``; it defines ``grade(files, backend, progress)`` and
        ``ACCEPTED_FILENAMES``."""
        path = self.folder / "grader.py"
        spec = importlib.util.spec_from_file_location(f"exercises.assignments.{self.id}_grader",
                                                      path)
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs, as in importlib's "importing a source file directly"
        # recipe: dataclasses and pickling look a module up by name.
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    def handout(self, lang: str) -> tuple[str, str]:
        """(title, markdown body) of the handout in ``lang`` (falls back to English)."""
        path = self.folder / f"handout.{lang}.md"
        if not path.exists():
            path = self.folder / "handout.en.md"
        text = path.read_text(encoding="utf-8")
        m = _FRONT.match(text)
        if not m:
            return self.id.upper(), text
        front = yaml.safe_load(m.group("yaml")) or {}
        return str(front.get("title", self.id.upper())), text[m.end():]


def assignments() -> dict[str, Assignment]:
    """Every assignment folder that has a grader, by id (the folder name's first part)."""
    out = {}
    for folder in sorted(ASSIGNMENTS_DIR.iterdir()):
        if (folder / "grader.py").exists():
            aid = folder.name.split("-", 1)[0]
            out[aid] = Assignment(id=aid, folder=folder)
    return out


def get(assignment_id: str) -> Assignment | None:
    return assignments().get(assignment_id)
