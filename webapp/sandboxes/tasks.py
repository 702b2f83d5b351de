"""Periodic sandbox housekeeping (Celery beat)."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from .backend import get_backend


@shared_task(ignore_result=True)
def sandboxes_reconcile() -> list[str]:
    """Remove grading sandboxes that outlived the grading time limit (a crashed worker's)."""
    return get_backend().reconcile(grading_max_age=settings.BUNGEO_GRADING_TIME_LIMIT + 60)
