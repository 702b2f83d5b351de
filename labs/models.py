"""Learner progress through labs. Content itself lives in files (labs/content), not here."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class StepCompletion(models.Model):
    """A learner completed a step (its check passed once). Kept even if the state later changes:
    later steps often undo earlier ones (stop, remove)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="step_completions")
    course_id = models.CharField(max_length=64)
    lab_id = models.CharField(max_length=64)
    step_id = models.CharField(max_length=64)
    completed_at = models.DateTimeField(auto_now_add=True)
    # How the step was completed: "auto" (engine event or prompt) or "button".
    source = models.CharField(max_length=16, default="auto")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course_id", "lab_id", "step_id"],
                                    name="unique_step_completion"),
        ]
        indexes = [models.Index(fields=["user", "course_id", "lab_id"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.course_id}/{self.lab_id}/{self.step_id}"


class QuizAnswer(models.Model):
    """A learner's latest answer to one quiz question, with how many times they answered."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="quiz_answers")
    course_id = models.CharField(max_length=64)
    lab_id = models.CharField(max_length=64)
    question_id = models.CharField(max_length=64)
    answer = models.JSONField()
    correct = models.BooleanField()
    attempts = models.PositiveIntegerField(default=1)
    answered_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course_id", "lab_id", "question_id"],
                                    name="unique_quiz_answer"),
        ]
