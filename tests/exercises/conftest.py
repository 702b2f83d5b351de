from __future__ import annotations

import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def celery_worker_real(backend):
    """A real Celery worker (solo pool, in a thread) on the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from webapp.celery import app

    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: the grading tests need a real Redis ('make test')")
    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=30) as worker:
        yield worker
