"""Submissions: validate and store an upload, grade it, record results.

Validation errors are module constants (tests import them). A submission is stored immutably
(content-addressed by SHA-256) before anything runs, so nothing a learner sends is ever lost.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path, PurePosixPath

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
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
MSG_TOO_LARGE = _("The file is too large: at most %(limit)s.")
MSG_BAD_NAME = _("Name the file one of: %(names)s.")
MSG_NOT_TEXT = _("The file must be UTF-8 text.")
MSG_ARCHIVE_MISSING = _("The archive must contain one of these at its top level: %(names)s.")
MSG_FOLDER_NEEDS = _("The folder %(folder)s must contain one of these at its top level: %(names)s.")
MSG_NO_WORKSPACE = _("You have no workspace yet: open a lab once so that your sandbox is made, "
                     "then try again.")
MSG_WORKSPACE_DOWN = _("Your workspace cannot be read right now. Please try again in a moment.")
MSG_STILL_GRADING = _("Your submission #%(id)s of this assignment is still waiting or being graded: "
                      "wait for its result, then submit again.")
# A queued submission older than this (seconds) no longer holds the learner's next one back (its
# task may have been lost with the broker); a running one, once past the grading time limit.
QUEUED_HOLD_S = 1800


class SubmissionError(ValueError):
    """The upload was refused; ``str(exc)`` explains why to the learner."""


def group_name(submission_id: int, *, staff: bool = False) -> str:
    """The channel-layer group that follows one submission's grading: one for its learner, one
    for staff (who also receive the rows of hidden checks)."""
    return f"submission.{submission_id}{'.staff' if staff else ''}"


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
        raise SubmissionError(MSG_TOO_LARGE % {"limit": uploads.size_text(limit)})
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
    return _submission_store(user=user, assignment_id=assignment_id, files=files,
                             language=language)


def submission_create_from_workspace(*, user, assignment_id: str, folder: str,
                                     language: str = "ko", backend=None) -> Submission:
    """Submit the files of ``folder`` of the learner's sandbox workspace (relative to their
    /root, e.g. ``a3``), read from the host side without following any link, within the
    upload limits; ``node_modules`` and ``.git`` folders are left out (listed in
    ``Submission.skipped``). Stored and queued exactly like an upload.

    Raises :class:`SubmissionError` (unknown assignment, no workspace, unsafe or missing folder,
    empty, link or special file, limits, no required file at the folder's top level).
    """
    from webapp.sandboxes.backend import SandboxError, get_backend, learner_owner

    assignment = registry.get(assignment_id)
    if assignment is None:
        raise SubmissionError(MSG_UNKNOWN_ASSIGNMENT)
    try:
        root = (backend or get_backend()).workspace_path(learner_owner(user))
    except SandboxError as exc:
        raise SubmissionError(MSG_WORKSPACE_DOWN) from exc
    if root is None or not Path(root).is_dir():
        raise SubmissionError(MSG_NO_WORKSPACE)
    try:
        files, skipped = uploads.files_from_folder(root, folder)
    except uploads.UploadError as exc:
        raise SubmissionError(str(exc)) from exc
    accepted = assignment.grader.ACCEPTED_FILENAMES
    shown = uploads.normalize_folder(folder)  # valid: files_from_folder checked it
    if not any(n in files for n in accepted):
        raise SubmissionError(MSG_FOLDER_NEEDS % {"folder": shown, "names": ", ".join(accepted)})
    return _submission_store(user=user, assignment_id=assignment_id, files=files,
                             language=language, source=Submission.Source.WORKSPACE,
                             source_path=shown[:255], skipped=skipped)


def _submission_store(*, user, assignment_id: str, files: dict[str, bytes], language: str,
                      source: str = Submission.Source.UPLOAD, source_path: str = "",
                      skipped: list[str] | None = None) -> Submission:
    """Store validated ``files`` immutably (a tar named by its SHA-256), create the submission
    and queue its grading on commit. Shared by uploads and workspace folders.

    One submission per learner and assignment waits or is graded at a time: raises
    :class:`SubmissionError` (MSG_STILL_GRADING) while an earlier one is queued (for at most
    QUEUED_HOLD_S seconds) or running (within the grading time limit), so that one learner's
    repeated clicks cannot hold up the class's queue."""
    pending = _pending_submission(user, assignment_id)
    if pending is not None:
        raise SubmissionError(MSG_STILL_GRADING % {"id": pending})
    archive = files_to_tar(files)
    sha, rel = _store(archive)
    sub = Submission.objects.create(user=user, assignment=assignment_id, sha256=sha,
                                    archive_path=rel, filenames=sorted(files),
                                    size_bytes=sum(len(b) for b in files.values()),
                                    language=language, source=source, source_path=source_path,
                                    skipped=list(skipped or []))
    submission_enqueue(submission=sub)
    return sub


def _pending_submission(user, assignment_id: str) -> int | None:
    """The id of ``user``'s submission of ``assignment_id`` that is still queued or being graded
    (see :func:`_submission_store`), or None. Anonymous uploads (``user`` None) are never held."""
    if user is None or not getattr(user, "pk", None):
        return None
    now = timezone.now()
    # A staff regrade sets a submission back to queued: it never holds the learner back.
    return (Submission.objects.filter(user=user, assignment=assignment_id, regraded_at__isnull=True)
            .filter(Q(status=Submission.Status.QUEUED,
                      created_at__gte=now - timedelta(seconds=QUEUED_HOLD_S))
                    | Q(status=Submission.Status.RUNNING,
                        started_at__gte=now - timedelta(seconds=settings.BUNGEO_GRADING_TIME_LIMIT)))
            .order_by("-pk").values_list("pk", flat=True).first())


# Celery message priorities on the Redis broker, where 0 is the highest (kombu's Redis transport
# keeps one list per priority step, 0, 3, 6 and 9 by default, and takes from 0's first:
# https://docs.celeryq.dev/en/stable/userguide/routing.html#redis-message-priorities).
# A learner's new submission goes before staff regrades: a "regrade all" of a class queued
# dozens of gradings, and the learners who submitted after it waited minutes behind them.
PRIORITY_SUBMISSION = 0
PRIORITY_REGRADE = 6
QUEUE_GROUP = "grading-queue"


def submission_enqueue(*, submission: Submission, regrade: bool = False) -> None:
    """Queue grading after the current transaction commits (the Celery task takes the id), at
    PRIORITY_REGRADE for a staff regrade and PRIORITY_SUBMISSION for a learner's submission."""
    from .tasks import grade_submission

    priority = PRIORITY_REGRADE if regrade else PRIORITY_SUBMISSION
    transaction.on_commit(lambda: grade_submission.apply_async((submission.pk,), priority=priority))
    # A learner's submission goes before waiting regrades: their pages count one more ahead.
    transaction.on_commit(queue_moved)


def queue_moved() -> None:
    """Tell the pages of queued submissions that the line moved (a grading started or ended):
    each shows its new place (:func:`exercises.selectors.queue_ahead`). Best effort."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(QUEUE_GROUP, {"type": "queue.moved"})
    except Exception as exc:  # noqa: BLE001 - a page that misses it shows the place on reload
        log.warning("queue update not sent: %s", exc)


def submission_regrade(*, submission_id: int) -> bool:
    """Grade a stored submission again (staff): its results are cleared, its status set back to
    queued, ``attempt`` counted up, ``regraded_at`` set, and grading queued on commit.

    Returns False, changing nothing, when it is already queued or running: the status changes
    in one conditional UPDATE, so two concurrent requests (a double click) queue one run only
    (PostgreSQL re-checks the condition after the other's row lock is released; SQLite runs one
    writer at a time). The UPDATE is the transaction's first statement: on SQLite a read first
    would make two concurrent requests deadlock on the upgrade to a write lock ("database is
    locked"). Raises ``Submission.DoesNotExist`` for an unknown id."""
    with transaction.atomic():
        changed = Submission.objects.filter(
            pk=submission_id, status__in=[Submission.Status.DONE, Submission.Status.ERROR],
        ).update(status=Submission.Status.QUEUED, score=None, max_score=None, error="",
                 started_at=None, finished_at=None, duration_s=None,
                 attempt=F("attempt") + 1, regraded_at=timezone.now())
        sub = Submission.objects.get(pk=submission_id)
        if not changed:
            return False
        sub.results.all().delete()
        submission_enqueue(submission=sub, regrade=True)
    log.info("submission %s queued for regrading (attempt %s)", sub.pk, sub.attempt)
    return True


REGRADE_LATEST = "latest"
REGRADE_ALL = "all"


def assignment_regrade(*, assignment_id: str, scope: str = REGRADE_LATEST) -> int:
    """Regrade the submissions of one assignment (staff): with ``scope`` ``"latest"`` the
    newest submission of each learner, with ``"all"`` every one. Submissions still queued or
    running are left alone. Returns how many were queued. Raises ``ValueError`` for another
    scope."""
    if scope not in (REGRADE_LATEST, REGRADE_ALL):
        raise ValueError(f"unknown regrade scope {scope!r}")
    subs = Submission.objects.filter(assignment=assignment_id).order_by("user_id", "-created_at",
                                                                          "-pk")
    ids, seen = [], set()
    for pk, uid in subs.values_list("pk", "user_id"):
        if scope == REGRADE_LATEST and uid in seen:
            continue
        seen.add(uid)
        ids.append(pk)
    return sum(submission_regrade(submission_id=pk) for pk in ids)


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


def _notify(submission_id: int, html: str | None, staff_html: str | None = None,
            event: str = "grading.progress") -> None:
    """Send ``html`` to the learner's group and ``staff_html`` (default: ``html``) to the staff
    group of a submission; a None fragment is not sent. Best effort: results are stored."""
    layer = get_channel_layer()
    if layer is None:
        return
    staff_html = html if staff_html is None else staff_html
    for staff, fragment in ((False, html), (True, staff_html)):
        if fragment is None:
            continue
        try:
            async_to_sync(layer.group_send)(group_name(submission_id, staff=staff),
                                            {"type": event, "html": fragment})
        except Exception as exc:  # noqa: BLE001 - progress is best effort, results are stored
            log.warning("progress for submission %s not sent: %s", submission_id, exc)


def _claim(submission_id: int) -> bool:
    """Mark a queued submission running, atomically; also one left "running" by a worker that
    died longer ago than the hard time limit (its task is delivered again, acks_late). False
    when it is finished or another run holds it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BUNGEO_GRADING_TIME_LIMIT)
    return bool(Submission.objects.filter(pk=submission_id).filter(
        Q(status=Submission.Status.QUEUED)
        | Q(status=Submission.Status.RUNNING, started_at__lt=stale)
        | Q(status=Submission.Status.RUNNING, started_at__isnull=True),
    ).update(status=Submission.Status.RUNNING, started_at=now))


def submission_grade(*, submission_id: int, backend=None) -> Submission:
    """Grade a stored submission now (the Celery task calls this). Idempotent: a finished
    submission, or one another run is grading, is returned unchanged. Stores every check's
    result (checks listed as hidden in the assignment's grading.yaml are marked hidden) and
    streams progress; a hidden check's rows go to staff only."""
    from webapp.sandboxes.backend import get_backend

    if not _claim(submission_id):
        return Submission.objects.get(pk=submission_id)
    sub = Submission.objects.get(pk=submission_id)
    assignment = registry.get(sub.assignment)
    hidden = assignment.hidden_checks
    with override(sub.language):
        _notify(sub.pk, render_to_string("exercises/_status.html",
                                         {"submission": sub, "oob": True}))
    queue_moved()

    titles = getattr(assignment.grader, "TITLES", {})

    def progress(check_id: str, state: str, outcome: CheckOutcome | None) -> None:
        # A running check has no outcome yet: its title is the grader's (TITLES), like the
        # finished rows', in the submission's language (the one of the whole live stream).
        with override(sub.language):
            html = render_to_string("exercises/_check_row.html", {
                "check_id": check_id, "state": state, "outcome": outcome, "oob": True,
                "title": titles[check_id][0] if check_id in titles else "",
                "hidden": check_id in hidden})
        _notify(sub.pk, None if check_id in hidden else html, html)

    with override(sub.language):
        report: GradeReport = assignment.grader.grade(
            submission_files(sub), backend or get_backend(), progress, owner=f"s{sub.pk}")
    for c in report.checks:
        c.hidden = c.hidden or c.id in hidden
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


def submission_fail(*, submission_id: int, reason) -> None:
    """Record that grading could not run (infrastructure error), with the reason: a string, or a
    lazy translation, stored in the submission's language (the page shows it as stored)."""
    language = Submission.objects.filter(pk=submission_id).values_list("language", flat=True).first()
    with override(language or settings.LANGUAGE_CODE):
        text = str(reason)
    Submission.objects.filter(pk=submission_id).update(
        status=Submission.Status.ERROR, error=text[:2000], finished_at=timezone.now())
    _notify_final(submission_id)


def _notify_final(submission_id: int) -> None:
    sub = Submission.objects.get(pk=submission_id)
    _notify(submission_id, status_html(sub, staff=False), status_html(sub, staff=True))


def status_html(sub: Submission, *, staff: bool) -> str:
    """The fragments (htmx out-of-band swaps) that bring a submission's page up to date, in the
    submission's language: its status line (with its place in line while queued), and once it
    has finished its results (the hidden checks' rows for ``staff`` only)."""
    from .selectors import queue_ahead

    ctx: dict = {"submission": sub, "oob": True, "staff": staff, "ahead": queue_ahead(sub)}
    with override(sub.language):
        html = render_to_string("exercises/_status.html", ctx)
        if sub.finished:
            results = list(sub.results.all())
            ctx.update(results=results if staff else [r for r in results if not r.hidden],
                       hidden_count=sum(r.hidden for r in results))
            html += render_to_string("exercises/_result.html", ctx)
    return html
