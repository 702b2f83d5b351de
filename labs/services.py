"""Writes and actions for labs: evaluate a learner's steps against their engine, record progress."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from webapp.sandboxes.backend import SandboxError, get_backend, learner_owner

from . import observe
from .checks import CheckResult, EngineState
from .content import Lab
from .models import StepCompletion

log = logging.getLogger(__name__)

MSG_NO_SANDBOX = _("Your sandbox is not running. Open the terminal to start it.")
MSG_ENGINE_SILENT = _(
    "Your Docker engine did not answer. If this repeats, press \"Reset sandbox\" above the terminal."
)


@dataclass(frozen=True)
class StepStatus:
    """A step's state for one learner: ``completed`` (stored) and the latest check ``result``."""

    step_id: str
    completed: bool
    result: CheckResult


def lab_observe(*, user, lab: Lab | None = None) -> EngineState | CheckResult:
    """Observe the learner's engine, plus the workspace files, shell history and image events
    that ``lab``'s checks read (nothing more); a failed :class:`CheckResult` explains when it
    cannot.

    Blocking I/O (Docker); does not touch the database.
    """
    backend = get_backend()
    try:
        sb = backend.find(owner=learner_owner(user))
    except SandboxError:
        sb = None
    if sb is None or not sb.running:
        return CheckResult(False, MSG_NO_SANDBOX)
    try:
        return observe.lab_state(backend, sb.id, [s.check for s in lab.steps] if lab else [])
    except Exception as exc:  # noqa: BLE001 - an untrusted engine can fail in any way
        log.info("observe %s failed: %s", sb.id, exc)
        return CheckResult(False, MSG_ENGINE_SILENT)


def lab_judge(*, lab: Lab, state: EngineState | CheckResult) -> dict[str, CheckResult]:
    """Run every step check of ``lab`` on ``state`` (pure)."""
    if isinstance(state, CheckResult):
        return {s.id: state for s in lab.steps}
    return {s.id: s.check.run(state) for s in lab.steps}


def steps_record(*, user, lab: Lab, results: dict[str, CheckResult],
                 source: str = "auto") -> list[StepStatus]:
    """Store completions for passed steps; return every step's status in lab order."""
    done = set(
        StepCompletion.objects.filter(user=user, course_id=lab.course_id, lab_id=lab.id)
        .values_list("step_id", flat=True)
    )
    for step_id, res in results.items():
        if res.passed and step_id not in done:
            try:
                with transaction.atomic():
                    StepCompletion.objects.create(user=user, course_id=lab.course_id,
                                                  lab_id=lab.id, step_id=step_id, source=source)
            except IntegrityError:
                pass  # completed concurrently (event and button at once)
            done.add(step_id)
            log.info("user %s completed %s/%s", user.pk, lab.id, step_id)
    return [StepStatus(s.id, s.id in done, results[s.id]) for s in lab.steps if s.id in results]


def steps_evaluate(*, user, lab: Lab, source: str = "auto") -> list[StepStatus]:
    """Observe, judge and record in one call (for sync callers such as views and tests)."""
    return steps_record(user=user, lab=lab,
                        results=lab_judge(lab=lab, state=lab_observe(user=user, lab=lab)),
                        source=source)


def quiz_answer(*, user, lab: Lab, question_id: str, answer: list[str]):
    """Grade and store an answer to a quiz question; returns (question, verdict).

    Raises ``KeyError`` for an unknown question. The latest answer is kept, with a count.
    """
    from django.db.models import F

    from . import quiz
    from .models import QuizAnswer

    question = lab.question(question_id)
    if question is None:
        raise KeyError(question_id)
    verdict = quiz.grade(question, answer)
    with transaction.atomic():
        row, created = QuizAnswer.objects.get_or_create(
            user=user, course_id=lab.course_id, lab_id=lab.id, question_id=question_id,
            defaults={"answer": answer, "correct": verdict.correct})
        if not created:
            QuizAnswer.objects.filter(pk=row.pk).update(
                answer=answer, correct=verdict.correct, attempts=F("attempts") + 1)
    return question, verdict
