"""Assignments known to bungeo: id -> folder, handout and grader (loaded from the folder)."""
from __future__ import annotations

import functools
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pydantic
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


class GradingConfigError(ValueError):
    """A ``grading.yaml`` that cannot be used. ``path`` is the file; ``problems`` lists what is
    wrong, one line each (``"hidden: unknown check id(s): x"``); ``str()`` gives both."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, list(problems)
        super().__init__(f"{path}: {'; '.join(self.problems)}")


_KEYS = "expected a mapping with the keys 'hidden', 'workspace_folder'"


class _GradingFile(pydantic.BaseModel):
    """The schema of ``grading.yaml`` (validated by pydantic: no other key, no type coercion)."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    hidden: list[str] | None = None  # an empty key ("hidden:") means none
    workspace_folder: str | None = None

    @pydantic.field_validator("hidden")
    @classmethod
    def _known_checks(cls, hidden: list[str] | None,
                      info: pydantic.ValidationInfo) -> list[str] | None:
        titles = (info.context or {}).get("titles")
        unknown = sorted(set(hidden or ()) - set(titles)) if titles is not None else []
        if unknown:
            raise ValueError(f"unknown check id(s): {', '.join(unknown)} "
                             f"(the grader's checks: {', '.join(titles)})")
        return hidden

    @pydantic.field_validator("workspace_folder")
    @classmethod
    def _relative_folder(cls, folder: str | None) -> str | None:
        if folder is None:
            return None
        parts = folder.split("/")
        if (not folder or "\\" in folder or folder.startswith(("/", "~"))
                or any(part in ("", ".", "..") for part in parts)):
            raise ValueError(f"{folder!r} is not a folder relative to the learner's home (/root): "
                             "write it like 'a3' or 'work/a3' (no leading '/' or '~', no '.' or "
                             "'..' parts, no empty parts or backslashes)")
        return folder


def _problem(err: dict) -> str:
    """One pydantic error as a line naming the key: ``"hidden.1: Input should be a valid
    string"``."""
    where = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r} ({_KEYS})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def load_grading_config(folder: Path, assignment_id: str, *,
                        titles: dict | None = None) -> GradingConfig:
    """Read ``folder/grading.yaml`` (YAML mapping, e.g. ``hidden: [reader-follows]``); a missing
    file means the defaults. ``titles`` is the grader's ``{check id: ...}`` (ids not checked when
    None). The schema is :class:`_GradingFile`, validated with pydantic. Raises
    :class:`GradingConfigError` (a ``ValueError``) naming the file and every problem: YAML that
    does not parse, not a mapping, an unknown key, a value of the wrong type, a hidden id that is
    not one of the grader's ``TITLES``, a ``workspace_folder`` that is not relative to /root."""
    path = folder / "grading.yaml"
    if not path.exists():
        return GradingConfig(workspace_folder=assignment_id)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise GradingConfigError(path, [f"not valid YAML: {exc}".replace("\n", " ")]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GradingConfigError(path, [f"{_KEYS}, not {type(data).__name__}"])
    try:
        parsed = _GradingFile.model_validate(data, context={"titles": titles})
    except pydantic.ValidationError as exc:
        raise GradingConfigError(path, [_problem(e) for e in exc.errors()]) from exc
    return GradingConfig(hidden=frozenset(parsed.hidden or ()),
                         workspace_folder=parsed.workspace_folder or assignment_id)


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
