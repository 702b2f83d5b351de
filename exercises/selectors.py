"""Reads of the exercises app: a learner's best and latest scores, a submission's files for staff."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from .models import Submission

# Characters of one submitted file shown on the staff page; the rest is cut with a note.
FILE_SHOW_MAX = 20_000


@dataclass(frozen=True)
class ScoreSummary:
    """One learner's submissions to one assignment, summed up.

    ``count``: how many submissions. ``best``: the "done" submission with the highest score
    (the earliest of equal ones), or None; submissions that are queued, running or ended in
    "error" never count. ``latest``: the newest submission whatever its status, or None.
    """

    count: int = 0
    best: Submission | None = None
    latest: Submission | None = None

    @property
    def latest_ago(self) -> str:
        """How long ago the latest submission came, in the active language ("just now" under a
        minute, else e.g. "2 minutes ago"); "" without submissions."""
        if self.latest is None:
            return ""
        if (timezone.now() - self.latest.created_at).total_seconds() < 60:
            return _("just now")
        return _("%(time)s ago") % {"time": timesince(self.latest.created_at)}


def learner_scores(*, user, assignment_ids: list[str] | None = None) -> dict[str, ScoreSummary]:
    """``{assignment id: ScoreSummary}`` of ``user`` for ``assignment_ids`` (default: every
    assignment they submitted to; an id without submissions gets an empty summary). One query."""
    qs = Submission.objects.filter(user=user).order_by("created_at", "pk")
    if assignment_ids is not None:
        qs = qs.filter(assignment__in=assignment_ids)
    by_assignment: dict[str, list[Submission]] = {aid: [] for aid in assignment_ids or []}
    for sub in qs:
        by_assignment.setdefault(sub.assignment, []).append(sub)
    out = {}
    for aid, subs in by_assignment.items():
        best = None
        for sub in subs:
            if sub.status == Submission.Status.DONE and sub.score is not None and (
                    best is None or sub.score > best.score):
                best = sub
        out[aid] = ScoreSummary(count=len(subs), best=best, latest=subs[-1] if subs else None)
    return out


@dataclass(frozen=True)
class FileView:
    """One submitted file as the staff page shows it: ``name``, ``size`` in bytes, ``text``
    (None for a binary file: not UTF-8, or holding NUL bytes) cut to ``FILE_SHOW_MAX``
    characters, ``cut`` when it was."""

    name: str
    size: int
    text: str | None
    cut: bool = False


def submission_file_views(submission: Submission) -> list[FileView]:
    """The stored files of ``submission`` in name order, for display (text escaped by the
    template). Raises ``OSError`` when the stored archive is missing."""
    from .services import submission_files

    out = []
    for name, data in sorted(submission_files(submission).items()):
        try:
            text = None if b"\0" in data else data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        cut = text is not None and len(text) > FILE_SHOW_MAX
        out.append(FileView(name=name, size=len(data),
                            text=text[:FILE_SHOW_MAX] if cut else text, cut=cut))
    return out


def queue_ahead(submission: Submission) -> int | None:
    """How many queued submissions will be graded before ``submission``, or None when it is not
    queued. Learners' submissions go first, oldest first; staff regrades (``regraded_at`` set)
    after them, in the order they were asked for (the Celery priorities of
    :func:`exercises.services.submission_enqueue`). Gradings already running are not counted.
    One query."""
    from django.db.models import Q

    if submission.status != Submission.Status.QUEUED:
        return None
    queued = Submission.objects.filter(status=Submission.Status.QUEUED).exclude(pk=submission.pk)
    learners = Q(regraded_at__isnull=True)
    if submission.regraded_at is None:
        return queued.filter(learners, pk__lt=submission.pk).count()
    return queued.filter(learners | Q(regraded_at__lt=submission.regraded_at)
                         | Q(regraded_at=submission.regraded_at, pk__lt=submission.pk)).count()
