"""Writes and actions for labs: evaluate a learner's steps against their engine, record progress."""
from __future__ import annotations

import logging
import time
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


def now_ms() -> int:
    """The wall-clock time in milliseconds since the epoch: the "observed at" stamp of a status
    (taken before observing, so that a later stamp never stands for an older observation)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class StepStatus:
    """A step's state for one learner: ``completed`` (stored) and the latest check ``result``;
    ``observed_ms`` (:func:`now_ms`) is when the observation behind it began. The page keeps
    the status of the newest observation whatever order the statuses arrive in (websocket and
    "Check" button race), and never turns a completed step back (static/js/lab-status.js).

    ``result`` is None for a completed step whose check does not pass any more: later steps
    undo earlier ones (the lab has the learner stop and remove the containers it checked), so
    a step once done stays done without a word about what has changed since."""

    step_id: str
    completed: bool
    result: CheckResult | None
    observed_ms: int = 0


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


# A step that needs cgroups in a mode whose inner engine has none (isolation mode rootless).
MSG_UNAVAILABLE_CGROUPS = _(
    "Skipped here: the sandboxes of this classroom run Docker without cgroups, so this step "
    "cannot work. Read it, then go on to the next step."
)
UNAVAILABLE_MESSAGES = {"cgroups": MSG_UNAVAILABLE_CGROUPS}


def unavailable_features() -> frozenset[str]:
    """The lab features (``labs.content.FEATURES``) that the active sandbox isolation mode
    lacks, e.g. ``{"cgroups"}`` in mode ``rootless``; empty when the mode cannot be told."""
    from webapp.sandboxes import isolation

    try:
        mode = get_backend().mode()
    except Exception:  # noqa: BLE001 - the page works on while the engine is down
        return frozenset()
    return isolation.missing_features(mode)


def step_unavailable(step, unavailable: frozenset[str]) -> CheckResult | None:
    """The "skipped here" verdict of ``step`` when it needs a feature in ``unavailable``, else
    None. Such a step is never checked and never recorded as done; it does not block the lab."""
    missing = [n for n in step.needs if n in unavailable]
    return CheckResult(False, UNAVAILABLE_MESSAGES[missing[0]]) if missing else None


def lab_judge(*, lab: Lab, state: EngineState | CheckResult,
              unavailable: frozenset[str] | None = None) -> dict[str, CheckResult]:
    """Run every step check of ``lab`` on ``state``; steps needing a feature in
    ``unavailable`` (default: :func:`unavailable_features`) get their "skipped here" verdict."""
    if unavailable is None:
        unavailable = unavailable_features()
    out = {}
    for s in lab.steps:
        skipped = step_unavailable(s, unavailable)
        if skipped is not None:
            out[s.id] = skipped
        elif isinstance(state, CheckResult):
            out[s.id] = state
        else:
            out[s.id] = s.check.run(state)
    return out


def steps_record(*, user, lab: Lab, results: dict[str, CheckResult],
                 source: str = "auto", observed_ms: int = 0) -> list[StepStatus]:
    """Store completions for passed steps; return every step's status in lab order, stamped
    with ``observed_ms`` (when the observation behind ``results`` began, :func:`now_ms`). A
    completed step whose check fails now carries no result (:class:`StepStatus`)."""
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
    return [StepStatus(s.id, s.id in done,
                       None if s.id in done and not results[s.id].passed else results[s.id],
                       observed_ms)
            for s in lab.steps if s.id in results]


def steps_evaluate(*, user, lab: Lab, source: str = "auto") -> list[StepStatus]:
    """Observe, judge and record in one call (for sync callers such as views and tests)."""
    observed_ms = now_ms()
    return steps_record(user=user, lab=lab,
                        results=lab_judge(lab=lab, state=lab_observe(user=user, lab=lab)),
                        source=source, observed_ms=observed_ms)


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
