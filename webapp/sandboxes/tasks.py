"""Sandbox housekeeping and warm-up, run by Celery (periodic ones by Celery beat)."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from .backend import KIND_LEARNER, SandboxError, get_backend, learner_owner

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sandboxes_reconcile() -> list[str]:
    """Remove grading sandboxes that outlived the grading time limit (a crashed worker's)."""
    return get_backend().reconcile(grading_max_age=settings.BUNGEO_GRADING_TIME_LIMIT + 60)


@shared_task(ignore_result=True)
def sandboxes_reap_idle() -> list[str]:
    """Stop learner sandboxes whose terminal has been unused for BUNGEO_SANDBOX_IDLE_TIMEOUT
    seconds (nothing attached), and those whose lease (maximum lifetime) has expired, attached or
    not. Files, images and the shell history are kept; the next visit starts the sandbox again.
    Returns the ids stopped."""
    from . import admission

    backend = get_backend()
    stopped = []
    timeout = settings.BUNGEO_SANDBOX_IDLE_TIMEOUT
    if admission.queue_length():  # learners are waiting: free idle places sooner
        timeout = min(timeout, settings.BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL)
    for sb in backend.list(kind=KIND_LEARNER):
        if not sb.running:
            continue
        lease = backend.lease(sb.id)
        if lease is not None and lease.remaining() <= 0:
            backend.stop(sb.id)
            stopped.append(sb.id)
            log.info("sandbox %s stopped: its lease expired", sb.id)
            continue
        try:
            idle = backend.idle_seconds(sb.id)
        except SandboxError:
            continue
        if idle is not None and idle > timeout:
            backend.stop(sb.id)
            stopped.append(sb.id)
            log.info("sandbox %s stopped after %.0f s idle", sb.id, idle)
    return stopped


@shared_task(ignore_result=True)
def sandbox_prestart(user_id: int) -> None:
    """Start a learner's sandbox right after they log in, so that opening a lab finds it warm;
    not when the classroom is full or learners wait in line (admission control decides when
    they open a lab)."""
    from . import admission

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    backend, owner = get_backend(), learner_owner(user)
    try:
        if not admission.room_without_waiting(backend, owner):
            log.info("prestart for user %s skipped: the classroom is full", user_id)
            return
        backend.ensure(owner=owner)
    except SandboxError as exc:
        log.warning("prestart for user %s failed: %s", user_id, exc)


@shared_task(ignore_result=True)
def sandboxes_pool_fill() -> list[str]:
    """Keep BUNGEO_SANDBOX_POOL_SIZE started, unassigned sandboxes ready (Celery beat, every
    15 s). Returns the ids started."""
    backend = get_backend()
    try:
        running = sum(1 for sb in backend.list(kind=KIND_LEARNER) if sb.running)
        if running >= settings.BUNGEO_SANDBOX_CAPACITY:
            return []  # full: a pool sandbox would only take a waiting learner's place
        return backend.pool_fill()
    except SandboxError as exc:
        log.warning("warm pool refill failed: %s", exc)
        return []


@shared_task(ignore_result=True)
def sandboxes_grading_pool_fill() -> list[str]:
    """Keep BUNGEO_GRADING_POOL_SIZE grading sandboxes started with the stand-in images pulled
    (Celery beat, every 15 s). Returns the ids started."""
    try:
        return get_backend().grading_pool_fill()
    except SandboxError as exc:
        log.warning("grading pool refill failed: %s", exc)
        return []
