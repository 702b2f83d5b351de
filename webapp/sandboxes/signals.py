"""Start a learner's sandbox in the background as soon as they log in (when a worker runs)."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver


@receiver(user_logged_in)
def prestart_sandbox(sender, request, user, **kwargs) -> None:
    # Without a broker, tasks would run inside the login request: skip the warm-up then.
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.BUNGEO_PRESTART_ON_LOGIN:
        return
    # Staff log in to review and manage (often through /admin/): a sandbox started for them would
    # hold one of the classroom's places. Theirs starts when they open a lab.
    if user.is_staff:
        return
    from .tasks import sandbox_prestart

    # A warm-up that waited a minute in the queue is useless (and the user may be gone): expire it.
    transaction.on_commit(lambda: sandbox_prestart.apply_async((user.pk,), expires=60))
