"""Why grading could not run (time limit, sandbox error, a bug) is stored in the submission's
language, as its check messages are: the Korean page showed these reasons in English."""
from __future__ import annotations

from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from exercises import tasks
from exercises.models import Submission

pytestmark = pytest.mark.django_db


def _sub(user, language):
    return Submission.objects.create(user=user, assignment="a3", sha256="0" * 64,
                                     archive_path="x", status="running", language=language)


@pytest.mark.parametrize("language, expected", [
    ("ko", "채점이 너무 오래 걸려서 중단했습니다."),
    ("en", "Grading took too long and was stopped."),
])
def test_the_time_limit_reason_is_in_the_submissions_language(student, language, expected):
    sub = _sub(student, language)
    with mock.patch("exercises.services.submission_grade", side_effect=SoftTimeLimitExceeded()):
        tasks.grade_submission.apply(args=[sub.pk])
    sub.refresh_from_db()
    assert sub.status == "error" and sub.error == expected


def test_an_internal_error_is_named_in_korean_for_a_korean_submission(student):
    sub = _sub(student, "ko")
    with mock.patch("exercises.services.submission_grade", side_effect=KeyError("x")):
        tasks.grade_submission.apply(args=[sub.pk])
    sub.refresh_from_db()
    assert sub.error == "채점 중 내부 오류: KeyError"
