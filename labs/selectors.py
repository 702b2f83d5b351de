"""Reads about labs and progress."""
from __future__ import annotations

from .content import Lab
from .models import StepCompletion


def completed_steps(*, user, lab: Lab) -> set[str]:
    """Ids of the steps of ``lab`` that ``user`` has completed."""
    return set(
        StepCompletion.objects.filter(user=user, course_id=lab.course_id, lab_id=lab.id)
        .values_list("step_id", flat=True)
    )


def course_progress(*, user, course) -> dict[str, tuple[int, int]]:
    """Per lab id: (completed steps, total steps) for ``user``."""
    done: dict[str, int] = {}
    for lab_id in StepCompletion.objects.filter(user=user, course_id=course.id).values_list(
        "lab_id", flat=True
    ):
        done[lab_id] = done.get(lab_id, 0) + 1
    return {lab.id: (done.get(lab.id, 0), len(lab.steps)) for lab in course.labs}
