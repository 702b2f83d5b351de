"""Quizzes: validation, instant grading both ways, answers stored, explanations per choice."""
from __future__ import annotations

from pathlib import Path

import pytest

from labs import content, quiz
from labs.models import QuizAnswer

LAB = content.CONTENT_DIR / "week1" / "why-containers"


@pytest.fixture
def lab():
    return content.load_lab(LAB, "week1", 1)


def test_reading_lab_loads_with_its_quiz(lab):
    assert lab.steps == () and len(lab.questions) == 3


def test_choice_right_and_wrong(lab):
    q = lab.question("shares-kernel")
    right = quiz.grade(q, ["kernel"])
    wrong = quiz.grade(q, ["faster-cpu"])
    assert right.correct and not wrong.correct
    assert "cgroup" in wrong.why["en"]  # the explanation of that wrong choice


def test_order_right_and_wrong(lab):
    q = lab.question("history-order")
    assert quiz.grade(q, ["physical", "vm", "container"]).correct
    assert not quiz.grade(q, ["vm", "physical", "container"]).correct
    assert [o.id for o in q.shuffled()] != ["physical", "vm", "container"]


def test_unknown_answer_is_wrong(lab):
    assert not quiz.grade(lab.question("shares-kernel"), ["nope"]).correct
    assert not quiz.grade(lab.question("shares-kernel"), []).correct


@pytest.mark.parametrize("text,error", [
    ("questions: [{id: q, type: choice, prompt: {ko: a, en: b}, choices: []}]", "exactly one correct"),
    ("questions: [{id: q, type: essay, prompt: {ko: a, en: b}}]", "choice or order"),
    ("questions: [{id: q, type: order, prompt: {ko: a}, items: []}]", "both ko and en"),
])
def test_bad_quiz_files(tmp_path: Path, text, error):
    f = tmp_path / "quiz.yaml"
    f.write_text(text)
    with pytest.raises(quiz.QuizError, match=error):
        quiz.load(f)


@pytest.mark.django_db
def test_answers_are_graded_and_stored(client, student, lab, monkeypatch):
    monkeypatch.setattr(content, "get_lab", lambda c, lab_id: lab if lab_id == lab.id else None)
    client.force_login(student)
    url = f"/labs/week1/{lab.id}/quiz/shares-kernel/"
    wrong = client.post(url, {"answer": "smaller-disk"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Not quite." in wrong and "not booting a kernel" in wrong
    right = client.post(url, {"answer": "kernel"}, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "커널" in right and 'quiz-verdict pass' in right
    row = QuizAnswer.objects.get(user=student, question_id="shares-kernel")
    assert row.correct and row.attempts == 2 and row.answer == ["kernel"]
    assert client.post(f"/labs/week1/{lab.id}/quiz/nope/", {"answer": "x"}).status_code == 404


@pytest.mark.django_db
def test_reading_lab_page_has_no_terminal(client, student, lab, monkeypatch):
    monkeypatch.setattr(content, "get_lab", lambda c, lab_id: lab if lab_id == lab.id else None)
    client.force_login(student)
    page = client.get(f"/labs/week1/{lab.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="terminal"' not in page and "Check your understanding" in page
    assert page.count('class="quiz-question"') == 3
    assert "lab-progress" not in page  # a reading lab has no steps to count


def test_arranged_keeps_the_learners_order(lab):
    q = lab.question("history-order")
    assert q.arranged(None) == q.shuffled() == q.arranged([])
    assert [o.id for o in q.arranged(["vm", "container", "physical"])] == ["vm", "container",
                                                                          "physical"]
    # Unknown and repeated ids are skipped; the missing ones follow in the shuffled order.
    rest = [o.id for o in q.shuffled() if o.id != "container"]
    assert [o.id for o in q.arranged(["x", "container", "container"])] == ["container", *rest]


def _order_items(html: str) -> list[str]:
    import re

    return re.findall(r'<li class="order-item" draggable="true" data-id="([\w-]+)">', html)


@pytest.mark.django_db
def test_order_question_is_a_draggable_list_with_move_buttons(client, student, lab, monkeypatch):
    monkeypatch.setattr(content, "get_lab", lambda c, lab_id: lab if lab_id == lab.id else None)
    client.force_login(student)
    q = lab.question("history-order")
    page = client.get(f"/labs/week1/{lab.id}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert _order_items(page) == [o.id for o in q.shuffled()]
    assert "<select" not in page and "js/quiz.js" in page
    assert page.count('data-move="up"') == 3 and 'aria-label="위로 옮기기: ' in page
    assert "항목을 끌어서 순서대로 놓거나" in page
    # The answer comes back in the order posted, graded, with the learner's order kept.
    url = f"/labs/week1/{lab.id}/quiz/history-order/"
    wrong = client.post(url, {"answer": ["vm", "physical", "container"]},
                        HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Not quite." in wrong and "VMs came to share physical servers" in wrong
    assert _order_items(wrong) == ["vm", "physical", "container"]
    right = client.post(url, {"answer": ["physical", "vm", "container"]},
                        HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "quiz-verdict pass" in right and _order_items(right) == ["physical", "vm", "container"]
    row = QuizAnswer.objects.get(user=student, question_id="history-order")
    assert row.correct and row.answer == ["physical", "vm", "container"] and row.attempts == 2


def test_choices_are_shown_in_a_stable_order_that_does_not_start_with_the_right_one(lab):
    for qid in ("shares-kernel", "works-on-my-machine"):
        q = lab.question(qid)
        assert q.options[0].correct  # how quiz.yaml lists them
        shown = q.shuffled()
        assert sorted(o.id for o in shown) == sorted(o.id for o in q.options)
        assert not shown[0].correct and shown == q.shuffled()


def _choice_ids(html: str) -> list[str]:
    import re

    return re.findall(r'<input type="radio" name="answer" value="([\w-]+)"', html)


@pytest.mark.django_db
def test_a_reload_shows_the_latest_answers_graded_in_the_pages_language(client, student, lab,
                                                                         monkeypatch):
    monkeypatch.setattr(content, "get_lab", lambda c, lab_id: lab if lab_id == lab.id else None)
    client.force_login(student)
    page_url = f"/labs/week1/{lab.id}/"
    fresh = client.get(page_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "quiz-verdict" not in fresh and "checked" not in fresh
    assert _choice_ids(fresh)[:3] == [o.id for o in lab.question("shares-kernel").shuffled()]
    base = f"/labs/week1/{lab.id}/quiz/"
    client.post(base + "shares-kernel/", {"answer": "smaller-disk"}, HTTP_ACCEPT_LANGUAGE="en")
    client.post(base + "history-order/", {"answer": ["vm", "physical", "container"]},
                HTTP_ACCEPT_LANGUAGE="en")
    en = client.get(page_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="smaller-disk" checked' in en and en.count("checked") == 1
    assert "Not quite." in en and "not booting a kernel" in en
    assert _order_items(en) == ["vm", "physical", "container"]  # the learner's order, kept
    assert en.count("quiz-verdict") == 2  # the unanswered question shows no verdict
    ko = client.get(page_url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'value="smaller-disk" checked' in ko and "Not quite." not in ko
    assert "quiz-verdict fail" in ko
