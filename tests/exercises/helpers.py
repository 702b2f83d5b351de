"""Helpers shared by the grading tests."""
from __future__ import annotations

import time

from exercises.models import Submission


def wait_finished(pk: int, timeout: float) -> Submission:
    """Poll submission ``pk`` until it is done or in error; AssertionError after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sub = Submission.objects.get(pk=pk)
        if sub.finished:
            return sub
        time.sleep(0.2)
    raise AssertionError(f"submission {pk} not graded in {timeout} s (status {sub.status})")
