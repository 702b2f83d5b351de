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
    app.control.purge()  # tasks queued by an earlier, interrupted run
    # The worker stops once its current task ends: a grading queued by a test that did not wait
    # for it can take minutes on a busy host, so allow that (and drop what is still queued).
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=420) as worker:
        yield worker
        app.control.purge()
