"""Template context for staff: the active isolation mode (and its warning in ``trusted``)."""
from __future__ import annotations

from django.http import HttpRequest


def isolation(request: HttpRequest) -> dict[str, object]:
    """``isolation_mode`` for staff pages (``None`` for learners or when the engine is down) and
    ``isolation_trusted`` (True: show the trusted-mode warning)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}
    from .backend import get_backend

    try:
        mode = get_backend().mode()
    except Exception:  # noqa: BLE001 - a page must render while the engine is down
        return {"isolation_mode": None, "isolation_trusted": False}
    return {"isolation_mode": mode, "isolation_trusted": mode == "trusted"}
