""""Check your understanding" quizzes: multiple choice and ordering, graded instantly.

A lab folder may hold ``quiz.yaml``::

    questions:
      - id: kernel                      # unique in the lab
        type: choice                    # one correct choice
        prompt: {ko: ..., en: ...}
        choices:
          - {id: a, text: {ko, en}, correct: true, why: {ko, en}}   # why: shown after answering
          - {id: b, text: {ko, en}, why: {ko, en}}                  # why a wrong choice is wrong
      - id: history
        type: order                     # put the items in order; listed here in the right order
        prompt: {ko, en}
        items: [{id: physical, text: {ko, en}}, {id: vm, text: {ko, en}}, ...]
        why: {ko, en}

Grading is pure (:func:`grade`); answers are stored by :mod:`labs.services`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LANGS = ("ko", "en")


class QuizError(ValueError):
    """A problem in quiz.yaml; the message names the question."""


@dataclass(frozen=True)
class Option:
    id: str
    text: dict[str, str] = field(hash=False)
    correct: bool = False
    why: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Question:
    """A quiz question. For ``order`` questions, ``options`` are in the correct order."""

    id: str
    type: str
    prompt: dict[str, str] = field(hash=False)
    options: tuple[Option, ...]
    why: dict[str, str] = field(default_factory=dict, hash=False)

    def shuffled(self) -> tuple[Option, ...]:
        """The options in the order the page shows them: stable (the same for every learner and
        every reload) but not the order of quiz.yaml, where authors tend to write the right
        choice first and ``order`` items are the answer itself. For ``order`` questions the
        result is never the answer."""
        key = lambda o: hashlib.sha256(f"{self.id}:{o.id}".encode()).hexdigest()  # noqa: E731
        opts = tuple(sorted(self.options, key=key))
        if self.type != "order":
            return opts
        return opts if opts != self.options else opts[1:] + opts[:1]

    def arranged(self, answer: list[str] | None) -> tuple[Option, ...]:
        """The options as the learner last put them: in the order of the option ids in
        ``answer`` (unknown and repeated ids skipped, missing options appended in
        :meth:`shuffled` order), or :meth:`shuffled` when there is no answer."""
        if not answer:
            return self.shuffled()
        by_id = {o.id: o for o in self.options}
        picked = list(dict.fromkeys(by_id[a] for a in answer if a in by_id))
        return tuple(picked + [o for o in self.shuffled() if o not in picked])


@dataclass(frozen=True)
class Verdict:
    """The result of one answer: ``correct`` and the explanation to show, per language."""

    correct: bool
    why: dict[str, str]


def _texts(raw, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or any(not raw.get(lang) for lang in LANGS):
        raise QuizError(f"{where} needs both ko and en text")
    return {lang: str(raw[lang]) for lang in LANGS}


def load(path: Path) -> tuple[Question, ...]:
    """Parse and validate quiz.yaml. Raises :class:`QuizError`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out, seen = [], set()
    for raw in data.get("questions") or []:
        qid, kind = raw.get("id"), raw.get("type")
        if not qid or qid in seen:
            raise QuizError(f"question id {qid!r} is missing or repeated")
        seen.add(qid)
        prompt = _texts(raw.get("prompt"), f"question {qid} prompt")
        if kind == "choice":
            opts = tuple(
                Option(id=str(c["id"]), text=_texts(c.get("text"), f"{qid}/{c.get('id')}"),
                       correct=bool(c.get("correct")),
                       why=_texts(c.get("why"), f"{qid}/{c.get('id')} why"))
                for c in raw.get("choices") or []
            )
            if len(opts) < 2 or sum(o.correct for o in opts) != 1:
                raise QuizError(f"question {qid} needs two or more choices and exactly one correct")
            out.append(Question(id=qid, type=kind, prompt=prompt, options=opts))
        elif kind == "order":
            opts = tuple(Option(id=str(i["id"]), text=_texts(i.get("text"), f"{qid}/{i.get('id')}"))
                         for i in raw.get("items") or [])
            if len(opts) < 3:
                raise QuizError(f"question {qid} needs three or more items to order")
            out.append(Question(id=qid, type=kind, prompt=prompt, options=opts,
                                why=_texts(raw.get("why"), f"{qid} why")))
        else:
            raise QuizError(f"question {qid}: type must be choice or order, not {kind!r}")
    if not out:
        raise QuizError("quiz.yaml has no questions")
    return tuple(out)


def grade(question: Question, answer: list[str]) -> Verdict:
    """Judge an answer: for ``choice`` one option id, for ``order`` the option ids in the order
    the learner put them. Unknown ids count as wrong."""
    if question.type == "choice":
        chosen = next((o for o in question.options if answer and o.id == answer[0]), None)
        if chosen is None:
            return Verdict(False, {lang: "" for lang in LANGS})
        return Verdict(chosen.correct, chosen.why)
    return Verdict(list(answer) == [o.id for o in question.options], question.why)
