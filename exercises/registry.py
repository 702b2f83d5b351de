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

    @functools.cached_property
    def config(self) -> GradingConfig:
        """The folder's optional ``grading.yaml`` (see :func:`load_grading_config`)."""
        return load_grading_config(self.folder, self.id,
                                   titles=getattr(self.grader, "TITLES", None))

    @property
    def hidden_checks(self) -> frozenset[str]:
        """Ids of the checks students never see (their points still count)."""
        return self.config.hidden

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


@dataclass(frozen=True)
class GradingConfig:
    """Per-assignment grading settings from ``<folder>/grading.yaml``; every key is optional.

    ``hidden``: ids of checks hidden from students (title, message and evidence; their points
    count in the score). ``workspace_folder``: the folder of the learner's sandbox workspace
    (relative to /root) that "Submit from my workspace" suggests; default: the assignment id.
    """

    hidden: frozenset[str] = frozenset()
    workspace_folder: str = ""


def load_grading_config(folder: Path, assignment_id: str, *,
                        titles: dict | None = None) -> GradingConfig:
    """Read ``folder/grading.yaml`` (YAML mapping, e.g. ``hidden: [reader-follows]``); a missing
    file means the defaults. ``titles`` is the grader's ``{check id: ...}`` (ids not checked when
    None). Raises ``ValueError`` naming the file for an unknown key, a value
    of the wrong type, or a hidden id that is not one of the grader's ``TITLES``."""
    path = folder / "grading.yaml"
    if not path.exists():
        return GradingConfig(workspace_folder=assignment_id)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or set(data) - {"hidden", "workspace_folder"}:
        raise ValueError(f"{path}: expected a mapping with the keys 'hidden', 'workspace_folder'")
    hidden = data.get("hidden") or []
    if not isinstance(hidden, list) or not all(isinstance(h, str) for h in hidden):
        raise ValueError(f"{path}: 'hidden' must be a list of check ids")
    unknown = sorted(set(hidden) - set(titles or hidden))
    if unknown:
        raise ValueError(f"{path}: unknown check id(s) in 'hidden': {', '.join(unknown)}")
    ws = data.get("workspace_folder") or assignment_id
    if not isinstance(ws, str):
        raise ValueError(f"{path}: 'workspace_folder' must be a string")
    return GradingConfig(hidden=frozenset(hidden), workspace_folder=ws)


def assignments() -> dict[str, Assignment]:
    """Every assignment folder that has a grader, by id (the folder name's first part)."""
    out = {}
    for folder in sorted(ASSIGNMENTS_DIR.iterdir()):
        if (folder / "grader.py").exists():
            aid = folder.name.split("-", 1)[0]
            out[aid] = Assignment(id=aid, folder=folder)
    return out


def get(assignment_id: str) -> Assignment | None:
    """The assignment with this id (``a3``), or None."""
    return assignments().get(assignment_id)
