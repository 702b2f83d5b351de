"""Every step status the page receives carries when its observation began (data-observed, ms
since the epoch) and whether the step is completed, so that the page can keep the newest one
(static/js/lab-status.js; the race itself is replayed in tests/e2e/test_lab_status_race.py)."""
from __future__ import annotations

import re

import pytest

from labs import content, services
from labs.checks import CheckResult
from labs.models import StepCompletion

pytestmark = pytest.mark.django_db
LAB = content.get_lab("week1", "images-and-containers")


def _boxes(html: str) -> dict[str, tuple[int, str]]:
    return {m[0]: (int(m[1]), m[2]) for m in re.findall(
        r'<div class="step-status" id="status-([\w-]+)" data-observed="(\d+)" '
        r'data-completed="([01])">', html)}


@pytest.mark.docker  # the "Check" answer looks for the learner's sandbox on the engine
def test_page_and_check_answer_are_stamped_in_order(client, student, backend):
    client.force_login(student)
    StepCompletion.objects.create(user=student, course_id="week1", lab_id=LAB.id,
                                  step_id=LAB.steps[0].id)
    before = services.now_ms()
    page = client.get(f"/labs/week1/{LAB.id}/").content.decode()
    boxes = _boxes(page)
    assert set(boxes) == {s.id for s in LAB.steps}
    stamp = boxes[LAB.steps[0].id][0]
    assert before <= stamp <= services.now_ms()
    assert boxes[LAB.steps[0].id][1] == "1" and boxes[LAB.steps[1].id][1] == "0"

    # No sandbox runs: the answer says so, stamped later than the page.
    answer = client.post(f"/labs/week1/{LAB.id}/steps/{LAB.steps[1].id}/check/").content.decode()
    (observed, completed), = _boxes(answer).values()
    assert observed >= stamp and completed == "0"


def test_steps_record_stamps_every_status(student):
    results = {s.id: CheckResult(False, "x") for s in LAB.steps}
    statuses = services.steps_record(user=student, lab=LAB, results=results, observed_ms=1234)
    assert [st.observed_ms for st in statuses] == [1234] * len(LAB.steps)
