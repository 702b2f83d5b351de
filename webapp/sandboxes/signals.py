"""Start a learner's sandbox in the background as soon as they log in (when a worker runs), and
end the terminals of a login session as it logs out."""
from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver

log = logging.getLogger(__name__)


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


@receiver(user_logged_out)
def end_session_terminals(sender, request, user, **kwargs) -> None:
    """Tell the terminals opened with this login session to close at once (see
    TerminalConsumer.watch_logout): what is typed in a tab still open must not reach the shell.
    Sent before Django empties the session, whose key is still the terminals' one. A channel
    layer that fails does not fail the logout: the terminals then see it at their next input."""
    from .consumers import LAYER_TIMEOUT_S, session_group

    key = getattr(getattr(request, "session", None), "session_key", None)
    layer = get_channel_layer()
    if not key or layer is None:
        return
    async def send() -> None:
        await asyncio.wait_for(layer.group_send(session_group(key), {"type": "session.ended"}),
                               LAYER_TIMEOUT_S)

    try:
        async_to_sync(send)()
    except Exception:  # noqa: BLE001 - see the docstring (a timeout too: Redis not answering)
        log.warning("logout: could not tell the session's terminals", exc_info=True)
