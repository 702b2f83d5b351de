"""Reads about labs and progress."""
from __future__ import annotations

from .content import Lab
from .models import QuizAnswer, StepCompletion


def completed_steps(*, user, lab: Lab) -> set[str]:
    """Ids of the steps of ``lab`` that ``user`` has completed."""
    return set(
        StepCompletion.objects.filter(user=user, course_id=lab.course_id, lab_id=lab.id)
        .values_list("step_id", flat=True)
    )


def counted_steps(lab: Lab, unavailable: frozenset[str] = frozenset()) -> list[str]:
    """Ids of the steps of ``lab`` that count towards its progress, in lab order: every step
    but those needing a feature in ``unavailable`` (``labs.services.unavailable_features``,
    e.g. ``{"cgroups"}`` in isolation mode rootless), which are skipped there and never done."""
    return [s.id for s in lab.steps if not set(s.needs) & unavailable]


def lab_progress(*, done: set[str], lab: Lab,
                 unavailable: frozenset[str] = frozenset()) -> tuple[int, int]:
    """(completed, total) counted steps of ``lab``, given the ids ``done`` the learner completed.
    A skipped step is in neither number, even if it was completed in another isolation mode."""
    counted = counted_steps(lab, unavailable)
    return len(done.intersection(counted)), len(counted)


def course_progress(*, user, course,
                    unavailable: frozenset[str] = frozenset()) -> dict[str, tuple[int, int]]:
    """Per lab id: (completed steps, total steps) for ``user``, counting only the steps that are
    not skipped for lack of a feature in ``unavailable`` (see :func:`lab_progress`)."""
    done: dict[str, set[str]] = {}
    for lab_id, step_id in StepCompletion.objects.filter(user=user, course_id=course.id).values_list(
        "lab_id", "step_id"
    ):
        done.setdefault(lab_id, set()).add(step_id)
    return {lab.id: lab_progress(done=done.get(lab.id, set()), lab=lab, unavailable=unavailable)
            for lab in course.labs}


def quiz_answers(*, user, lab: Lab) -> dict[str, list[str]]:
    """The learner's latest answer to each quiz question of ``lab`` they answered:
    ``{question_id: [option id, ...]}`` (one id for a choice, the learner's order for an order
    question)."""
    rows = QuizAnswer.objects.filter(user=user, course_id=lab.course_id, lab_id=lab.id)
    return {r.question_id: list(r.answer or []) for r in rows}
