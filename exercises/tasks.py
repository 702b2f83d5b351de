"""Celery tasks of grading. Tasks take ids, never model instances."""
from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from webapp.sandboxes.backend import SandboxError

from . import services

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.BUNGEO_GRADING_SOFT_TIME_LIMIT,
    time_limit=settings.BUNGEO_GRADING_TIME_LIMIT,
    max_retries=1,
)
def grade_submission(self, submission_id: int) -> None:
    """Grade one submission in a fresh sandbox. Idempotent (a finished submission, or one another
    run is grading, is skipped; a regrade first sets it back to queued);
    retried once on an infrastructure error, then recorded as "error" with the reason."""
    try:
        services.submission_grade(submission_id=submission_id)
    except SoftTimeLimitExceeded:
        services.submission_fail(submission_id=submission_id,
                                 reason=_("Grading took too long and was stopped."))
    except SandboxError as exc:
        if self.request.retries < self.max_retries:
            log.warning("grading %s: %s; retrying", submission_id, exc)
            from .models import Submission

            Submission.objects.filter(pk=submission_id).update(status=Submission.Status.QUEUED)
            raise self.retry(exc=exc, countdown=2) from exc
        services.submission_fail(submission_id=submission_id,
                                 reason=format_lazy(_("Sandbox error: {}"), exc.args[0] if exc.args else ""))
    except Exception as exc:  # noqa: BLE001 - record every failure; never lose a submission
        log.exception("grading %s failed", submission_id)
        services.submission_fail(submission_id=submission_id, reason=format_lazy(
            _("Internal error while grading: {}"), exc.__class__.__name__))
