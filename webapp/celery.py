"""Celery application. Tasks live in each app's ``tasks.py``; the broker is ``REDIS_URL``."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("bungeo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
