"""System check: lab content is validated at start-up (``labs.E001``)."""
from __future__ import annotations

from django.core import checks


@checks.register("labs")
def content_check(app_configs, **kwargs):
    from . import content

    return [
        checks.Error(e.message, hint=f"{e.path}:{e.line}", obj=e.path, id="labs.E001")
        for e in content.validate()
    ]
