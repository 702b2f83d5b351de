"""The classroom's sandboxes as staff see them: whose sandbox runs, with how much of its lease
left and for how long it has been idle, whose is stopped, and who waits in line for a place.

Read-only: stopping a learner's sandbox is ``views.classroom_stop``; admitting learners stays
with :mod:`webapp.sandboxes.admission`.
"""
from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model

from . import admission
from .backend import KIND_LEARNER, KIND_POOL, SandboxBackend, learner_owner

log = logging.getLogger(__name__)
# Idle looks run at once in this many threads: each is a `docker exec` of tmux in the sandbox
# (about 30-60 ms), so fifty running sandboxes take well under a second.
LOOKS_AT_ONCE = 8
_OWNER = re.compile(r"u(\d+)-\d+")


def clock(seconds: float | None) -> str:
    """``seconds`` as a clock reading, "m:ss" or "h:mm:ss" ("" for None), as the lab page's
    countdown shows a lease."""
    if seconds is None:
        return ""
    m, s = divmod(int(max(0.0, seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass(frozen=True)
class LearnerSandbox:
    """One learner's sandbox. ``user`` is None when no account has that owner string any more
    (a deleted account: ``owner`` is shown instead). ``lease_left_s`` and ``idle_s`` (seconds)
    are for a running sandbox only; ``idle_s`` is None while a terminal is attached (in use) or
    when the look failed."""

    sandbox_id: str
    owner: str
    user: object | None
    running: bool
    lease_left_s: float | None = None
    extensions: int = 0
    idle_s: float | None = None

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else self.owner

    @property
    def lease_left(self) -> str:
        return clock(self.lease_left_s)

    @property
    def idle(self) -> str:
        return clock(self.idle_s)


@dataclass(frozen=True)
class Waiting:
    """A learner in line: 1-based ``position`` in arrival order, ``waited_s`` seconds."""

    position: int
    owner: str
    user: object | None
    waited_s: float

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else self.owner

    @property
    def waited(self) -> str:
        return clock(self.waited_s)


@dataclass(frozen=True)
class Classroom:
    """What the staff page shows: ``running`` (longest idle first, then the rest by name),
    ``stopped`` (by name), ``waiting`` (first in line first), ``capacity`` (places),
    ``warm_pool`` (started sandboxes no learner has claimed yet)."""

    capacity: int
    running: list[LearnerSandbox] = field(default_factory=list)
    stopped: list[LearnerSandbox] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    warm_pool: int = 0

    @property
    def free(self) -> int:
        """Places free now (never negative: the capacity may have been lowered)."""
        return max(0, self.capacity - len(self.running))


def users_by_owner(owners: list[str]) -> dict[str, object]:
    """The accounts behind sandbox owner strings (``learner_owner``), in one query: an owner
    whose account is gone, or was made again under the same id, has no entry."""
    ids = {int(m.group(1)) for o in owners if (m := _OWNER.fullmatch(o))}
    users = get_user_model().objects.filter(pk__in=ids)
    found = {learner_owner(u): u for u in users}
    return {o: found[o] for o in owners if o in found}


def overview(backend: SandboxBackend, *, now: float | None = None) -> Classroom:
    """The classroom now. Raises :class:`SandboxError` when the engine cannot be listed; a
    lease or idle look that fails for one sandbox leaves only that figure empty."""
    now = time.time() if now is None else now
    everyone = backend.list()
    learners = [sb for sb in everyone if sb.kind == KIND_LEARNER]
    pool = sum(1 for sb in everyone if sb.kind == KIND_POOL and sb.running)
    line = admission.line(now=now)
    users = users_by_owner([sb.owner for sb in learners] + [o for o, _w in line])

    def look(sb):
        if not sb.running:
            return LearnerSandbox(sb.id, sb.owner, users.get(sb.owner), running=False)
        try:
            lease = backend.lease(sb.id)
            idle = backend.idle_seconds(sb.id, now=now)
        except Exception as exc:  # noqa: BLE001 - one row's figures, never the whole page
            # (QA: a sandbox stopping between the list and its idle look answered 409, and the
            # whole page gave a bare 500.)
            log.info("classroom: no figures for %s: %s", sb.id, exc)
            lease, idle = None, None
        return LearnerSandbox(
            sb.id, sb.owner, users.get(sb.owner), running=True,
            lease_left_s=None if lease is None else max(0.0, lease.expires - now),
            extensions=0 if lease is None else lease.extensions, idle_s=idle)

    with ThreadPoolExecutor(max_workers=LOOKS_AT_ONCE) as pool_exec:
        rows = list(pool_exec.map(look, learners))
    running = sorted((r for r in rows if r.running),
                     key=lambda r: (-(r.idle_s or -1.0), r.name))
    stopped = sorted((r for r in rows if not r.running), key=lambda r: r.name)
    waiting = [Waiting(i, o, users.get(o), w) for i, (o, w) in enumerate(line, 1)]
    return Classroom(capacity=settings.BUNGEO_SANDBOX_CAPACITY, running=running,
                     stopped=stopped, waiting=waiting, warm_pool=pool)
