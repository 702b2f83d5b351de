"""What the grading pages show, without running any grading: the title of a check being graded,
the status column of the submissions tables, the colour of the score, and the confirmation of a
regrade of every submission. Submissions and progress are made as the pipeline makes them."""
from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client
from django.utils.translation import override

from exercises import registry, services
from exercises.grading import CheckOutcome, GradeReport
from exercises.models import Submission

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "site.css"


@pytest.fixture
def teacher(django_user_model):
    return django_user_model.objects.create_user("teacher", password="pw-t", is_staff=True)


def _sub(user, *, status="done", score=None, max_score=100, language="ko",
         assignment="a3") -> Submission:
    return Submission.objects.create(user=user, assignment=assignment, sha256="0" * 64,
                                     archive_path="x.tar", filenames=["compose.yaml"],
                                     status=status, score=score, language=language,
                                     max_score=max_score if score is not None else None)


# -- 1. a running check shows its title, not its id ----------------------------------------------
@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_running_check_shows_its_title_in_the_submissions_language(student, monkeypatch,
                                                                     language):
    grader = registry.get("a3").grader

    def grade(files, backend, progress, owner):
        progress("two-services", "running", None)
        o = CheckOutcome("two-services", str(grader.TITLES["two-services"][0]), 10, True, 10, "ok")
        progress("two-services", "done", o)
        return GradeReport("a3", [o])

    monkeypatch.setattr(grader, "grade", grade)
    monkeypatch.setattr(registry.Assignment, "grader", grader)
    monkeypatch.setattr(services, "submission_files", lambda sub: {})
    sent = []
    monkeypatch.setattr(services, "_notify", lambda sid, html, staff_html=None: sent.append(html))
    sub = _sub(student, status="queued", language=language)
    services.submission_grade(submission_id=sub.pk, backend=object())
    with override(language):
        title = str(grader.TITLES["two-services"][0])
    assert title == ("Two services, both start" if language == "en" else "서비스 두 개가 모두 시작됨")
    running = next(h for h in sent if h and 'class="check running' in h)
    assert 'id="check-two-services"' in running
    assert f'<span class="title">{title}' in running
    assert '<span class="title">two-services' not in running


# -- 2. the status column is translated ------------------------------------------------------------
LABELS = {
    "en": {"queued": "queued", "running": "being graded", "done": "graded",
           "error": "could not be graded"},
    "ko": {"queued": "대기 중", "running": "채점 중", "done": "채점 완료", "error": "채점 실패"},
}


def _status_cell(page: str, pk: int) -> str:
    row = re.search(rf'<tr id="sub-{pk}">(.*?)</tr>', page, re.S).group(1)
    return re.findall(r"<td>(.*?)</td>", row, re.S)[3 if "<td>student1</td>" in row else 2]


@pytest.mark.parametrize("language", ["en", "ko"])
def test_status_column_is_translated_for_learner_and_instructor(student, teacher, language):
    subs = {status: _sub(student, status=status, score=50 if status == "done" else None)
            for status in ("queued", "running", "done", "error")}
    learner, staff = Client(), Client()
    learner.force_login(student)
    staff.force_login(teacher)
    mine = learner.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    everyone = staff.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    everyone = everyone.split('id="staff-submissions"', 1)[1]
    for status, sub in subs.items():
        for page in (mine, everyone):
            assert _status_cell(page, sub.pk).strip() == LABELS[language][status], status


def test_every_status_has_a_korean_label():
    with override("ko"):
        labels = {value: str(label) for value, label in Submission.Status.choices}
    assert labels == LABELS["ko"]


# -- 3. the score's colour ------------------------------------------------------------------------
@pytest.mark.parametrize(("score", "level"), [(0, "zero"), (35, "partial"), (99.5, "partial"),
                                              (100, "full")])
def test_the_score_line_is_green_only_for_full_marks(client, student, score, level):
    sub = _sub(student, score=score)
    assert sub.score_level == level
    client.force_login(student)
    page = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    status = re.search(r'<p id="grading-status" class="([^"]*)"', page).group(1)
    assert status.split() == ["grading-status", "done", f"score-{level}"]
    assert f"점수: {score:g} / 100" in page


def test_no_score_level_before_a_score():
    assert Submission(status="running").score_level == ""
    assert Submission(status="error").score_level == ""


def test_the_stylesheet_colours_by_score_level():
    rules = dict(re.findall(r"^(\.grading-status[^{]*)\{([^}]*)\}", CSS.read_text(), re.M))
    rules = {sel.strip(): body.strip() for sel, body in rules.items()}
    assert "--ok" not in rules[".grading-status.done"]
    assert "--ok" in rules[".grading-status.done.score-full"]
    assert "--bad" in rules[".grading-status.done.score-zero"]
    assert "--ok" not in rules[".grading-status.done.score-partial"]
    assert "--bad" not in rules[".grading-status.done.score-partial"]


# -- 6. regrading every submission says how many were queued ------------------------------------
@pytest.mark.parametrize(("language", "scope", "said"), [
    ("en", "all", "2 submissions were queued for regrading."),
    ("en", "latest", "1 submission was queued for regrading."),
    ("ko", "all", "제출 2개를 다시 채점하도록 대기열에 넣었어요."),
])
def test_regrade_all_confirms_how_many_were_queued(student, teacher, language, scope, said):
    _sub(student, score=10)
    _sub(student, score=20)
    staff = Client()
    staff.force_login(teacher)
    with mock.patch("exercises.services.submission_enqueue"):
        resp = staff.post("/assignments/a3/regrade/", {"scope": scope}, follow=True,
                          HTTP_ACCEPT_LANGUAGE=language)
        assert resp.redirect_chain[-1][0].endswith("/assignments/a3/")
        assert said in resp.content.decode()
        # A confirmation, not an error: shown as a success, politely announced.
        assert f'<p class="success" role="status">{said}' in resp.content.decode()
        # Nothing left to queue: all are queued already; the page says so too.
        resp = staff.post("/assignments/a3/regrade/", {"scope": "all"}, follow=True,
                          HTTP_ACCEPT_LANGUAGE="en")
    if scope == "all":
        assert "No submission was queued for regrading" in resp.content.decode()


def test_advice_that_is_not_followed_is_not_shown_as_a_failure():
    """QA: hadolint's advice (an advisory check, 0 points) had a red ✗ like a failed check."""
    from django.template.loader import render_to_string

    def row(outcome):
        return render_to_string("exercises/_check_row.html",
                                {"check_id": outcome.id, "outcome": outcome, "state": "done"})

    advice = CheckOutcome("lint", "Dockerfile good practice (hadolint)", 0, False, 0,
                          "Line 8 (DL3018): Pin versions in apk add.", advisory=True)
    missed = CheckOutcome("builds", "The image builds", 20, False, 0, "COPY failed")
    assert 'class="check done advice"' in row(advice)
    assert 'class="check done fail"' in row(missed)
    # No "0 / 0" beside advice: it gives no points (QA retest).
    assert '<span class="points"></span>' in row(advice) and "0 / 20" in row(missed)
    # The final result, as the page shows it once grading is done (QA retest: still a red ✗ there).
    from exercises.models import CheckResult as Row

    rows = [Row(check_id="lint", title="Dockerfile good practice (hadolint)", passed=False, points=0,
                max_points=0, advisory=True, message="hadolint has 1 suggestion"),
            Row(check_id="builds", title="The image builds", passed=False, points=0,
                max_points=20, message="COPY failed")]
    result = render_to_string("exercises/_result.html", {"results": rows})
    assert 'class="check done advice"' in result and 'class="check done fail"' in result
    assert result.count('<span class="points"></span>') == 1 and "0 / 20" in result
    css = CSS.read_text()
    assert ".check.advice .mark::before" in css and ".check.advice .message" in css


@pytest.mark.parametrize("lang,says", [
    ("en", "Class: 3 submissions; learners who submitted: 2."),
    ("ko", "수강생 전체: 제출 3건, 제출한 학습자 2명."),
])
def test_the_assignments_list_gives_staff_the_class_counts(student, teacher, django_user_model,
                                                           lang, says):
    """QA: the instructor's list said "Not submitted yet" on every card and nothing about the
    class. Learners see only their own scores."""
    other = django_user_model.objects.create_user("student2", password="pw-s2")
    for user in (student, student, other):
        _sub(user, score=50, assignment="a3")
    staff, learner = Client(), Client()
    staff.force_login(teacher)
    learner.force_login(student)
    page = staff.get("/assignments/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert says in page
    assert page.count('class="muted staff-counts"') == len(registry.assignments())
    assert "staff-counts" not in learner.get("/assignments/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()


def test_the_staff_table_says_when_it_lists_only_the_newest(student, teacher, monkeypatch):
    """QA: the table stopped at 200 rows without a word."""
    from exercises import views

    monkeypatch.setattr(views, "STAFF_ROWS", 2)
    staff = Client()
    staff.force_login(teacher)
    for _ in range(2):
        _sub(student, score=50, assignment="a3")
    page = staff.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "are listed" not in page
    _sub(student, score=50, assignment="a3")
    page = staff.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The newest 2 of 3 submissions are listed." in page
    assert page.count('<tr id="sub-') == 2  # the teacher has none of their own
