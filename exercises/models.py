"""Submissions and their per-check grading results."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Submission(models.Model):
    """One submitted attempt at an assignment. The files are stored, content-addressed and never
    changed, before grading starts (``archive_path`` is relative to MEDIA_ROOT)."""

    # The labels are what the pages show (``get_status_display``), in the page's language.
    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("submission status", "queued")
        RUNNING = "running", pgettext_lazy("submission status", "being graded")
        DONE = "done", pgettext_lazy("submission status", "graded")
        ERROR = "error", pgettext_lazy("submission status", "could not be graded")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("upload")
        WORKSPACE = "workspace", _("workspace")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="submissions")
    assignment = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    sha256 = models.CharField(max_length=64)
    archive_path = models.CharField(max_length=255)
    filenames = models.JSONField(default=list)
    size_bytes = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    score = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    # The learner's language when submitting: progress and results are rendered in it.
    language = models.CharField(max_length=8, default="ko")
    # Where the files came from: an upload, or a folder of the learner's sandbox workspace
    # (``source_path``, relative to their /root). ``skipped`` lists folders left out on the way
    # (node_modules, .git).
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    source_path = models.CharField(max_length=255, blank=True)
    skipped = models.JSONField(default=list, blank=True)
    # Grading runs: 1 for the first, one more for each regrade; when the last regrade was asked.
    attempt = models.PositiveSmallIntegerField(default=1)
    regraded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "assignment"])]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.assignment}, {self.status})"

    @property
    def finished(self) -> bool:
        """True once grading ended, with a score ("done") or without ("error")."""
        return self.status in (self.Status.DONE, self.Status.ERROR)

    @property
    def score_level(self) -> str:
        """How a graded submission scored, for the pages' colours: ``"full"`` (every point),
        ``"zero"`` (no point), ``"partial"`` (in between); ``""`` while it has no score."""
        if self.status != self.Status.DONE or self.score is None:
            return ""
        if self.score >= (self.max_score or 0):
            return "full"
        return "zero" if self.score <= 0 else "partial"

    @property
    def regraded(self) -> bool:
        """True when staff asked for this submission to be graded again at least once."""
        return self.regraded_at is not None


class CheckResult(models.Model):
    """The stored verdict of one grader check for one submission."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="results")
    order = models.PositiveSmallIntegerField()
    check_id = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    passed = models.BooleanField()
    points = models.FloatField()
    max_points = models.FloatField()
    advisory = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    message = models.TextField()
    evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["order"]
        constraints = [models.UniqueConstraint(fields=["submission", "check_id"],
                                               name="unique_check_per_submission")]
