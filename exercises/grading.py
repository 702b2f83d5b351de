"""The grading framework shared by every assignment's grader.

A grader is a list of checks run in order against one submission in a fresh grading sandbox. Each
check has an id, a title, points, learner-facing messages and the evidence behind its verdict
(a log excerpt, an inspect output). Observing happens through the sandbox backend only.
"""
from __future__ import annotations

import io
import logging
import re
import tarfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

EVIDENCE_MAX = 4000  # characters of evidence kept per check


@dataclass
class CheckOutcome:
    """The verdict of one grader check. ``points`` are earned out of ``max_points``; an
    ``advisory`` check gives advice and no points; a ``hidden`` one is not shown to students."""

    id: str
    title: str
    max_points: float
    passed: bool = False
    points: float = 0.0
    message: str = ""
    evidence: str = ""
    advisory: bool = False
    hidden: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradeReport:
    """All check outcomes of one grading run, with its duration in seconds."""

    assignment: str
    checks: list[CheckOutcome] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks if not c.advisory)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks if not c.advisory)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if not c.advisory)

    def as_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``manage.py grade --json`` (documented in issue 5)."""
        return {
            "assignment": self.assignment,
            "passed": self.passed,
            "score": self.score,
            "max_score": self.max_score,
            "checks": [
                {"id": c.id, "title": c.title, "passed": c.passed, "advisory": c.advisory,
                 "points": c.points, "max_points": c.max_points, "message": c.message}
                for c in self.checks
            ],
            "duration_s": round(self.duration_s, 2),
        }


# progress(check_id, state, outcome_or_None): state is "running" or "done"
ProgressFn = Callable[[str, str, CheckOutcome | None], None]


def no_progress(check_id: str, state: str, outcome: CheckOutcome | None) -> None:
    """A progress callback that does nothing (command line, tests)."""


class GradingError(Exception):
    """The grading infrastructure failed (not the submission): the run is recorded as "error"."""


def clip(text: str, limit: int = EVIDENCE_MAX) -> str:
    """Keep the head and tail of long evidence."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… ({len(text) - limit} characters cut) …\n{text[-half:]}"


# Where every grader unpacks the submission in its grading sandbox.
SUBMISSION_DIR = "/srv/submission"
# That folder, as a whole path component ("/srv/submission-x" is another folder).
_SUBMISSION_PATH = re.compile(re.escape(SUBMISSION_DIR) + r"(?![\w.-])")


def in_submission(text: str) -> str:
    """``text`` with the grading sandbox's submission folder (SUBMISSION_DIR) written as the
    learner knows it, relative to the submission: ``/srv/submission/api`` -> ``./api``,
    ``/srv/submission`` -> ``.``; other paths (``/srv/submission-x``) are left alone."""
    return _SUBMISSION_PATH.sub(".", text)


def files_to_tar(files: dict[str, bytes]) -> bytes:
    """A tar archive (bytes) of ``{relative path: content}``, in sorted order, mode 0644."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


class Stopwatch:
    """Seconds since creation (``time.monotonic``)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0
