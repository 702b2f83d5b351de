"""Sandbox actions a learner can take from the page."""
from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .backend import SandboxError, get_backend, learner_owner

log = logging.getLogger(__name__)


@require_POST
@login_required
def reset(request: HttpRequest) -> HttpResponse:
    """Restart the learner's own sandbox (images and files kept). Answers an htmx fragment."""
    backend = get_backend()
    try:
        sb = backend.find(owner=learner_owner(request.user))
        if sb is None:
            backend.ensure(owner=learner_owner(request.user))
        else:
            backend.restart(sb.id)
        text = _("Your sandbox was reset. Your files and images are still there.")
    except SandboxError as exc:
        log.warning("reset for user %s failed: %s", request.user.pk, exc)
        text = str(exc)
    return HttpResponse(f'<span class="reset-result">{escape(text)}</span>')
