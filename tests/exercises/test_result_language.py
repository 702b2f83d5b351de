"""A finished submission's page in another language than the one it was submitted in: the check
titles follow the page (they are the grader's), the stored explanations cannot, and a note says
so. No grading runs here: the results are stored as the pipeline stores them."""
from __future__ import annotations

import pytest

from exercises.models import CheckResult, Submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded_in_english(student):
    sub = Submission.objects.create(user=student, assignment="a3", sha256="0" * 64,
                                    archive_path="x.tar", status=Submission.Status.DONE,
                                    score=10, max_score=100, language="en")
    CheckResult.objects.create(submission=sub, order=0, check_id="compose-valid",
                               title="The compose file is valid", passed=True, points=10,
                               max_points=10, message="docker compose config accepted it.")
    return sub


def test_titles_follow_the_page_and_a_note_names_the_submissions_language(client, student,
                                                                          graded_in_english):
    client.force_login(student)
    url = f"/assignments/submissions/{graded_in_english.pk}/"
    ko = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "compose 파일이 올바름" in ko and "The compose file is valid" not in ko
    assert "docker compose config accepted it." in ko  # stored as written
    assert "검사별 설명은 제출할 때의 언어(English)로 적혀 있어요." in ko
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The compose file is valid" in en and "feedback-language" not in en
