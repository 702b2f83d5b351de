"""Submissions: validate and store an upload, grade it, record results.

Validation errors are module constants (tests import them). A submission is stored immutably
(content-addressed by SHA-256) before anything runs, so nothing a learner sends is ever lost.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path, PurePosixPath

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from . import registry, uploads
from .grading import CheckOutcome, GradeReport, files_to_tar
from .models import CheckResult, Submission

log = logging.getLogger(__name__)

MSG_UNKNOWN_ASSIGNMENT = _("There is no such assignment.")
MSG_NO_FILE = _("Choose a file to submit.")
MSG_EMPTY = _("The file is empty.")
MSG_TOO_LARGE = _("The file is too large: at most %(limit)s bytes.")
MSG_BAD_NAME = _("Name the file one of: %(names)s.")
MSG_NOT_TEXT = _("The file must be UTF-8 text.")
MSG_ARCHIVE_MISSING = _("The archive must contain one of these at its top level: %(names)s.")


class SubmissionError(ValueError):
    """The upload was refused; ``str(exc)`` explains why to the learner."""


def group_name(submission_id: int) -> str:
    """The channel-layer group that follows one submission's grading."""
    return f"submission.{submission_id}"


def _store(data: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    rel = Path("submissions") / sha[:2] / f"{sha}.tar"
    path = Path(settings.MEDIA_ROOT) / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        path.chmod(0o444)
    return sha, str(rel)


def submission_create(*, user, assignment_id: str, filename: str, data: bytes,
                      language: str = "ko") -> Submission:
    """Validate an upload (one file, or a .zip/.tar/.tar.gz of the submission's folder), store it,
    create the submission and queue grading on commit.

    Raises :class:`SubmissionError` (unknown assignment, empty, too large, wrong name, not text,
    unsafe or oversized archive, archive without the required file).
    """
    assignment = registry.get(assignment_id)
    if assignment is None:
        raise SubmissionError(MSG_UNKNOWN_ASSIGNMENT)
    if not data:
        raise SubmissionError(MSG_EMPTY)
    limit = settings.BUNGEO_SUBMISSION_MAX_BYTES
    if len(data) > limit:
        raise SubmissionError(MSG_TOO_LARGE % {"limit": limit})
    accepted = assignment.grader.ACCEPTED_FILENAMES
    if uploads.is_archive(filename):
        try:
            files = uploads.files_from_upload(filename, data)
        except uploads.UploadError as exc:
            raise SubmissionError(str(exc)) from exc
        if not any(n in files for n in accepted):
            raise SubmissionError(MSG_ARCHIVE_MISSING % {"names": ", ".join(accepted)})
    else:
        name = PurePosixPath(filename.replace("\\", "/")).name
        if name not in accepted:
            raise SubmissionError(MSG_BAD_NAME % {"names": ", ".join(accepted)})
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SubmissionError(MSG_NOT_TEXT) from exc
        files = {name: data}
    archive = files_to_tar(files)
    sha, rel = _store(archive)
    sub = Submission.objects.create(user=user, assignment=assignment_id, sha256=sha,
                                    archive_path=rel, filenames=sorted(files),
                                    size_bytes=sum(len(b) for b in files.values()),
                                    language=language)
    submission_enqueue(submission=sub)
    return sub


def submission_enqueue(*, submission: Submission) -> None:
    """Queue grading after the current transaction commits (Celery task takes the id)."""
    from .tasks import grade_submission

    transaction.on_commit(lambda: grade_submission.delay(submission.pk))


def submission_files(submission: Submission) -> dict[str, bytes]:
    """The stored files of a submission: ``{name: bytes}``."""
    import tarfile

    path = Path(settings.MEDIA_ROOT) / submission.archive_path
    out: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        for m in tar:
            if m.isfile():
                out[m.name] = tar.extractfile(m).read()
    return out


def _notify(submission_id: int, html: str, event: str = "grading.progress") -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(submission_id), {"type": event, "html": html})
    except Exception as exc:  # noqa: BLE001 - progress is best effort, results are stored
        log.warning("progress for submission %s not sent: %s", submission_id, exc)


def submission_grade(*, submission_id: int, backend=None) -> Submission:
    """Grade a stored submission now (the Celery task calls this). Idempotent: a finished
    submission is returned unchanged. Stores every check's result; streams progress."""
    from webapp.sandboxes.backend import get_backend

    sub = Submission.objects.get(pk=submission_id)
    if sub.finished:
        return sub
    assignment = registry.get(sub.assignment)
    sub.status, sub.started_at = Submission.Status.RUNNING, timezone.now()
    sub.save(update_fields=["status", "started_at"])
    with override(sub.language):
        _notify(sub.pk, render_to_string("exercises/_status.html",
                                         {"submission": sub, "oob": True}))

    def progress(check_id: str, state: str, outcome: CheckOutcome | None) -> None:
        with override(sub.language):
            html = render_to_string("exercises/_check_row.html", {
                "check_id": check_id, "state": state, "outcome": outcome, "oob": True})
        _notify(sub.pk, html)

    with override(sub.language):
        report: GradeReport = assignment.grader.grade(
            submission_files(sub), backend or get_backend(), progress, owner=f"s{sub.pk}")
    submission_record(submission=sub, report=report)
    return sub


@transaction.atomic
def submission_record(*, submission: Submission, report: GradeReport) -> None:
    """Store a grading report's results on ``submission`` and mark it done."""
    submission.results.all().delete()
    CheckResult.objects.bulk_create([
        CheckResult(submission=submission, order=i, check_id=c.id, title=c.title,
                    passed=c.passed, points=c.points, max_points=c.max_points,
                    advisory=c.advisory, hidden=c.hidden, message=c.message, evidence=c.evidence)
        for i, c in enumerate(report.checks)
    ])
    submission.status = Submission.Status.DONE
    submission.score, submission.max_score = report.score, report.max_score
    submission.finished_at = timezone.now()
    submission.duration_s = report.duration_s
    submission.save()
    transaction.on_commit(lambda: _notify_final(submission.pk))


def submission_fail(*, submission_id: int, reason: str) -> None:
    """Record that grading could not run (infrastructure error), with the reason."""
    Submission.objects.filter(pk=submission_id).update(
        status=Submission.Status.ERROR, error=reason[:2000], finished_at=timezone.now())
    _notify_final(submission_id)


def _notify_final(submission_id: int) -> None:
    sub = Submission.objects.get(pk=submission_id)
    ctx = {"submission": sub, "results": sub.results.filter(hidden=False), "oob": True}
    with override(sub.language):
        html = render_to_string("exercises/_status.html", ctx) + render_to_string(
            "exercises/_result.html", ctx)
    _notify(submission_id, html)
