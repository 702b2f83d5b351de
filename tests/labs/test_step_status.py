"""Every step status the page receives carries when its observation began (data-observed, ms
since the epoch) and whether the step is completed, so that the page can keep the newest one
(static/js/lab-status.js; the race itself is replayed in tests/e2e/test_lab_status_race.py)."""
from __future__ import annotations

import re
import types

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


def _render(status, lab) -> str:
    from django.template.loader import render_to_string
    return render_to_string("labs/_step_status.html", {
        "lab": lab, "step": lab.step(status.step_id), "completed": status.completed,
        "result": status.result, "observed_ms": status.observed_ms})


@pytest.mark.parametrize("lab_id,removed,step_id,container", [
    # Lab 12: the next step has the learner remove writer ('docker rm writer').
    ("volumes", ("writer",), "write-notes", "writer"),
    # Lab 6: its last step removes life ('docker rm life').
    ("container-lifecycle", ("life",), "run-life", "life"),
    ("container-lifecycle", ("life",), "start-life", "life"),
])
def test_a_done_step_stays_quiet_once_the_lab_removes_its_container(student, lab_id, removed,
                                                                    step_id, container):
    """A step passed once stays done, and says nothing about what later steps changed: no
    "There is no container named writer any more: it has been removed" under a done step."""
    from django.utils.translation import override

    from labs.checks import EngineState

    lab = content.get_lab("week1", lab_id)
    StepCompletion.objects.create(user=student, course_id="week1", lab_id=lab.id, step_id=step_id)
    results = services.lab_judge(lab=lab, state=EngineState(removed=removed),
                                 unavailable=frozenset())
    assert not results[step_id].passed  # the check itself still fails in that state
    statuses = {st.step_id: st for st in services.steps_record(user=student, lab=lab,
                                                               results=results)}
    done = statuses[step_id]
    assert done.completed and done.result is None
    for lang in ("en", "ko"):
        with override(lang):
            html = _render(done, lab)
        assert 'data-completed="1"' in html and "check-message" not in html, html
        assert f"named {container} any more" not in html and "삭제" not in html
    # A step not done yet still says what is missing.
    todo = next(st for st in statuses.values() if not st.completed)
    assert todo.result is not None and not todo.result.passed
    with override("en"):
        assert 'class="check-message fail"' in _render(todo, lab)


def test_a_done_step_that_still_passes_keeps_its_message(student):
    StepCompletion.objects.create(user=student, course_id="week1", lab_id=LAB.id,
                                  step_id=LAB.steps[0].id)
    results = {s.id: CheckResult(True, "ok") for s in LAB.steps}
    statuses = services.steps_record(user=student, lab=LAB, results=results)
    assert all(st.completed and st.result is results[st.step_id] for st in statuses)


async def test_the_terminal_sends_a_done_step_without_a_message(monkeypatch):
    """The lab terminal's check runs push the same quiet status for a done step whose check
    fails now (labs.consumers)."""
    import asyncio
    import json

    from labs import consumers

    lab = content.get_lab("week1", "volumes")
    c = consumers.LabTerminalConsumer.__new__(consumers.LabTerminalConsumer)
    c.lab, c.user, c.lang, c._check_lock = lab, None, "en", asyncio.Lock()
    c.loop = types.SimpleNamespace(call_later=lambda *a: None)
    sent = []

    async def send(text_data):
        sent.append(json.loads(text_data))

    c.send = send
    monkeypatch.setattr(services, "lab_observe", lambda **kw: object())
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset())
    monkeypatch.setattr(services, "lab_judge", lambda **kw: {})
    monkeypatch.setattr(services, "steps_record", lambda **kw: [
        services.StepStatus("write-notes", True, None, 5),
        services.StepStatus("outlive-container", False, CheckResult(False, "not yet"), 5)])
    await c.run_checks()
    (msg,) = sent
    done, todo = msg["steps"]
    assert done["completed"] and done["passed"] and "check-message" not in done["html"]
    assert not todo["passed"] and "not yet" in todo["html"]


@pytest.mark.parametrize("lang,badge", [("en", "Checking…"), ("ko", "확인 중…")])
def test_a_verdict_that_waits_to_settle_is_shown_as_checking_not_as_a_miss(student, lang, badge):
    """QA: "started just now: checking in a moment" came in red under "Not done yet", like a
    failure. A settling verdict shows a pending badge and a muted message; a miss stays red."""
    from django.utils.translation import override

    from labs import checks

    step = LAB.steps[0]
    waiting = checks.CheckResult(False, checks.MSG_STARTED_SETTLING,
                                 {"name": "my-web", "recheck_s": 1.2})
    missed = checks.CheckResult(False, checks.MSG_NOT_RUNNING,
                                {"name": "my-web", "state": "exited"})
    with override(lang):
        pending_html = _render(services.StepStatus(step.id, False, waiting, 1), LAB)
        missed_html = _render(services.StepStatus(step.id, False, missed, 1), LAB)
    assert f'<span class="badge pending" role="status">{badge}</span>' in pending_html
    assert 'class="check-message pending"' in pending_html and "fail" not in pending_html
    assert 'class="badge todo"' in missed_html and 'class="check-message fail"' in missed_html
    assert "pending" not in missed_html
