"""Lab content: files under ``labs/content/`` parsed once into frozen dataclasses.

Layout of a course folder (e.g. ``labs/content/week1/``)::

    course.yaml              id, title {ko, en}, labs: [lab-id, ...] in teaching order
    <lab-id>/lab.yaml        id, assignment, steps: [{id, check: {type, ...}, solution: [cmd],
                             needs: [feature]}] (``needs`` optional, see :data:`FEATURES`)
    <lab-id>/ko.md, en.md    front matter (title, summary), intro, then one "## Title {#step-id}"
                             section per step (``::: hint`` blocks inside), and an optional
                             closing section "## Title {#summary}"

Everything language-neutral (checks, solutions) lives in lab.yaml; everything a learner reads lives
in the language files. :func:`validate` reports problems with file and line.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings

from . import checks, markdown, quiz

CONTENT_DIR = Path(settings.BASE_DIR) / "labs" / "content"
LANGS = ("ko", "en")
SUMMARY_ID = "summary"
_HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*\{#(?P<id>[a-z0-9][a-z0-9-]*)\}\s*$")
_FRONT = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n", re.S)
# What a step may need from the learner's engine beyond plain containers (``needs:`` in lab.yaml).
# A sandbox isolation mode that lacks one (webapp.sandboxes.isolation.missing_features) shows the
# step with a notice instead of checking it. cgroups: docker pause/unpause, top, stats and
# per-container limits (--memory, --cpus, --pids-limit).
FEATURES = ("cgroups",)


class ContentError(Exception):
    """A problem in a content file: ``path`` and 1-based ``line`` say where."""

    def __init__(self, path: Path | str, line: int, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{self.path}:{line}: {message}")


@dataclass(frozen=True)
class StepText:
    """One language's text of a step: title, body HTML and hints HTML (revealed one by one)."""

    title: str
    body_html: str
    hints_html: tuple[str, ...]


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong attempt at a step (test data): shell commands, and words the check's
    English message must contain."""

    commands: tuple[str, ...]
    expect: str


@dataclass(frozen=True)
class Step:
    """A hands-on step: an automatic check, the commands that solve it, plausible mistakes (for
    tests), and its text per language."""

    id: str
    check: checks.CheckSpec
    solution: tuple[str, ...]
    text: dict[str, StepText] = field(hash=False)
    mistakes: tuple[Mistake, ...] = ()
    # Engine features the step needs (names from FEATURES), e.g. ("cgroups",).
    needs: tuple[str, ...] = ()

    def t(self, lang: str) -> StepText:
        return self.text.get(lang) or self.text["en"]


@dataclass(frozen=True)
class LabText:
    title: str
    summary: str
    intro_html: str
    outro_title: str
    outro_html: str


@dataclass(frozen=True)
class Lab:
    """A lab: ordered steps, its text per language, and the assignment it leads to."""

    id: str
    course_id: str
    number: int
    assignment: str | None
    steps: tuple[Step, ...]
    text: dict[str, LabText] = field(hash=False)
    questions: tuple[quiz.Question, ...] = ()

    def t(self, lang: str) -> LabText:
        return self.text.get(lang) or self.text["en"]

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def question(self, question_id: str) -> quiz.Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True)
class Course:
    id: str
    title: dict[str, str]
    labs: tuple[Lab, ...]

    def lab(self, lab_id: str) -> Lab | None:
        return next((lab for lab in self.labs if lab.id == lab_id), None)


def _lang_sections(path: Path) -> tuple[dict, str, list[tuple[str, str, str, int]]]:
    """Parse a language file: (front matter, intro markdown, [(id, title, markdown, line)])."""
    text = path.read_text(encoding="utf-8")
    m = _FRONT.match(text)
    if not m:
        raise ContentError(path, 1, "missing front matter (--- title: ... ---)")
    try:
        front = yaml.safe_load(m.group("yaml")) or {}
    except yaml.YAMLError as exc:
        raise ContentError(path, 2, f"front matter is not valid YAML: {exc}") from exc
    offset = text[: m.end()].count("\n")
    lines = text[m.end() :].splitlines(keepends=True)
    intro: list[str] = []
    sections: list[tuple[str, str, list[str], int]] = []
    current: list[str] | None = None
    in_fence = False
    for n, line in enumerate(lines, start=offset + 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        h = None if in_fence else _HEADING.match(line.rstrip("\n"))
        if h:
            current = []
            sections.append((h["id"], h["title"], current, n))
            continue
        if line.startswith("## ") and not in_fence:
            raise ContentError(path, n, "a '## ' heading needs an id: '## Title {#step-id}'")
        (intro if current is None else current).append(line)
    return front, "".join(intro), [(i, t, "".join(b), n) for i, t, b, n in sections]


def _check_figures(path: Path, lang: str) -> None:
    """Every ``::: figure NAME`` in a language file names a diagram that exists in
    ``static/img/diagrams/`` (``NAME.LANG.svg`` or ``NAME.svg``). Raises :class:`ContentError`
    at the figure's line."""
    text = path.read_text(encoding="utf-8")
    m = _FRONT.match(text)
    offset = text[: m.end()].count("\n") if m else 0
    for name, index in markdown.figure_refs(text[m.end():] if m else text):
        line = offset + index + 1
        if not name:
            raise ContentError(path, line, "a figure needs a diagram name: '::: figure NAME'")
        if markdown.diagram_file(name, lang) is None:
            raise ContentError(path, line, f"figure {name!r}: there is no "
                               f"static/{markdown.DIAGRAMS}/{name}.{lang}.svg or {name}.svg "
                               "(names are lowercase letters, digits and dashes)")


def load_lab(folder: Path, course_id: str, number: int) -> Lab:
    """Load one lab folder. Raises :class:`ContentError` for any problem."""
    spec_path = folder / "lab.yaml"
    if not spec_path.exists():
        raise ContentError(spec_path, 1, "lab.yaml is missing")
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ContentError(spec_path, getattr(getattr(exc, "problem_mark", None), "line", 0) + 1,
                           f"not valid YAML: {exc}") from exc
    lab_id = spec.get("id")
    if lab_id != folder.name:
        raise ContentError(spec_path, 1, f"id {lab_id!r} must equal the folder name {folder.name!r}")
    raw_steps = spec.get("steps") or []
    questions: tuple[quiz.Question, ...] = ()
    if (folder / "quiz.yaml").exists():
        try:
            questions = quiz.load(folder / "quiz.yaml")
        except (quiz.QuizError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise ContentError(folder / "quiz.yaml", 1, str(exc)) from exc
    if not raw_steps and not questions:
        raise ContentError(spec_path, 1, "a lab needs at least one step or a quiz.yaml")
    spec_lines = spec_path.read_text(encoding="utf-8").splitlines()

    def line_of(step_id: str) -> int:
        return next((i + 1 for i, ln in enumerate(spec_lines) if f"id: {step_id}" in ln), 1)

    texts: dict[str, dict[str, StepText]] = {}
    lab_texts: dict[str, LabText] = {}
    for lang in LANGS:
        path = folder / f"{lang}.md"
        if not path.exists():
            raise ContentError(path, 1, f"the {lang} version of lab {lab_id} is missing")
        front, intro, sections = _lang_sections(path)
        _check_figures(path, lang)
        for key in ("title", "summary"):
            if not front.get(key):
                raise ContentError(path, 2, f"front matter needs '{key}'")
        known = {s["id"] for s in raw_steps} | {SUMMARY_ID}
        outro_title, outro_html = "", ""
        texts[lang] = {}
        for sid, title, body, line in sections:
            if sid not in known:
                raise ContentError(path, line, f"section {sid!r} is not a step in lab.yaml")
            if sid == SUMMARY_ID:
                outro_title, outro_html = title, markdown.render(body, lang)
                continue
            body_md, hints = markdown.split_hints(body)
            texts[lang][sid] = StepText(
                title=title, body_html=markdown.render(body_md, lang),
                hints_html=tuple(markdown.render(h, lang) for h in hints),
            )
        lab_texts[lang] = LabText(
            title=str(front["title"]), summary=str(front["summary"]),
            intro_html=markdown.render(intro, lang), outro_title=outro_title,
            outro_html=outro_html,
        )
    steps = []
    seen: set[str] = set()
    for raw in raw_steps:
        sid = raw.get("id")
        line = line_of(str(sid))
        if not sid or sid in seen:
            raise ContentError(spec_path, line, f"step id {sid!r} is missing or repeated")
        seen.add(sid)
        if not raw.get("check"):
            raise ContentError(spec_path, line, f"step {sid} has no check")
        if not raw.get("solution"):
            raise ContentError(spec_path, line, f"step {sid} has no solution")
        try:
            check = checks.parse_spec(raw["check"])
        except checks.CheckSpecError as exc:
            raise ContentError(spec_path, line, f"step {sid}: {exc}") from exc
        for lang in LANGS:
            if sid not in texts[lang]:
                raise ContentError(folder / f"{lang}.md", 1,
                                   f"step {sid} has no '## Title {{#{sid}}}' section in {lang}")
        mistakes = []
        for m in raw.get("mistakes") or []:
            if not isinstance(m, dict) or not m.get("commands") or not m.get("expect"):
                raise ContentError(spec_path, line, f"step {sid}: a mistake needs commands and expect")
            mistakes.append(Mistake(commands=tuple(m["commands"]), expect=str(m["expect"])))
        if not mistakes:
            raise ContentError(spec_path, line, f"step {sid} lists no plausible mistake to test")
        needs = raw.get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        if not isinstance(needs, list) or any(n not in FEATURES for n in needs):
            raise ContentError(spec_path, line, f"step {sid}: needs must list features among "
                               f"{', '.join(FEATURES)}, not {raw.get('needs')!r}")
        steps.append(Step(id=sid, check=check, solution=tuple(raw["solution"]),
                          text={lang: texts[lang][sid] for lang in LANGS},
                          mistakes=tuple(mistakes), needs=tuple(needs)))
    return Lab(id=lab_id, course_id=course_id, number=number, assignment=spec.get("assignment"),
               steps=tuple(steps), text=lab_texts, questions=questions)


def load_course(folder: Path) -> Course:
    """Load ``course.yaml`` and every lab it lists. Raises :class:`ContentError`."""
    path = folder / "course.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    labs = []
    for n, lab_id in enumerate(data.get("labs") or [], start=1):
        lab_folder = folder / lab_id
        if not lab_folder.is_dir():
            raise ContentError(path, 1, f"lab {lab_id!r} is listed but {lab_folder} is missing")
        labs.append(load_lab(lab_folder, data["id"], n))
    title = data.get("title") or {}
    for lang in LANGS:
        if not title.get(lang):
            raise ContentError(path, 1, f"course title has no {lang} version")
    return Course(id=data["id"], title=title, labs=tuple(labs))


def validate(root: Path = CONTENT_DIR) -> list[ContentError]:
    """Every content problem under ``root`` (empty when all is well)."""
    errors: list[ContentError] = []
    for course_yaml in sorted(root.glob("*/course.yaml")):
        try:
            load_course(course_yaml.parent)
        except ContentError as exc:
            errors.append(exc)
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            errors.append(ContentError(course_yaml, 1, str(exc)))
    return errors


@functools.cache
def courses() -> dict[str, Course]:
    """All courses, loaded once per process, by id."""
    return {c.parent.name: load_course(c.parent) for c in sorted(CONTENT_DIR.glob("*/course.yaml"))}


def get_lab(course_id: str, lab_id: str) -> Lab | None:
    course = courses().get(course_id)
    return course.lab(lab_id) if course else None
