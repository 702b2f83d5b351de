"""Admission control: at most ``BUNGEO_SANDBOX_CAPACITY`` learner sandboxes run on this host; a
learner who arrives when it is full waits in a first-come, first-served queue and is shown their
place and an estimate, never a failure.

A learner whose sandbox already runs is always admitted (reattaching costs nothing). Others join
the queue; each waiting page polls :func:`try_admit` (a heartbeat: entries not polled for
``STALE_S`` seconds are dropped, so a closed tab leaves the line). The first ``free`` learners of
the queue are admitted, where ``free`` is the capacity minus running learner sandboxes minus
*reservations* (learners admitted in the last ``RESERVE_S`` seconds whose sandbox is still
starting), so that a burst of arrivals cannot overshoot the capacity.

State lives in Redis when ``REDIS_URL`` is set (shared by every web process; decisions are made
under a Redis lock), else in this process (the single-process development server).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from .backend import KIND_LEARNER, SandboxBackend

STALE_S = 20.0  # a queued learner not heard from for this long has left
# A waiting page that closed keeps its place this long (seconds): a reload, the page's own
# reconnect after a network blip, or the learner's other tab in line polls again within it (the
# terminal polls every 3 s, webapp.sandboxes.consumers.QUEUE_POLL_S).
LEAVE_GRACE_S = 8.0
RESERVE_S = 60.0  # an admitted learner's place is held this long while their sandbox starts
HISTORY = 20  # admissions remembered for the wait estimate
# Seconds between the reaper's rounds (CELERY_BEAT_SCHEDULE "sandboxes-reap-idle"): a sandbox
# whose lease has ended stops within this.
REAP_S = float(settings.CELERY_BEAT_SCHEDULE["sandboxes-reap-idle"]["schedule"])


@dataclass(frozen=True)
class Ticket:
    """The answer to "may I start my sandbox now?": ``admitted``, else the learner's 1-based
    ``position`` in the queue and ``estimate_s``, a rough wait in seconds: the recent pace of
    admissions (:func:`_estimate`), but never later than the running sandboxes' leases allow
    (:func:`_lease_bound`)."""

    admitted: bool
    position: int = 0
    estimate_s: int = 0
    # The learner has waited as long as the pace of admissions (or, without one, the idle
    # timeout) said, and nobody left: that guess is spent. ``latest_s`` is then what is known
    # for sure, the running leases' bound (None when fewer leases than the position are known).
    overdue: bool = False
    latest_s: int | None = None


class _MemoryStore:
    """The queue in this process (development server without Redis)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: dict[str, float] = {}  # owner -> joined at (insertion order = FIFO)
        self.beats: dict[str, float] = {}
        self.reserved: dict[str, float] = {}
        self.admitted_at: list[float] = []

    def locked(self):
        return self.lock

    def join(self, owner: str, now: float) -> None:
        self.queue.setdefault(owner, now)
        self.beats[owner] = now

    def waiting(self) -> list[tuple[str, float]]:
        return [(o, self.beats.get(o, 0.0)) for o in self.queue]

    def joined(self, owner: str) -> float | None:
        return self.queue.get(owner)

    def leave(self, owner: str) -> None:
        self.queue.pop(owner, None)
        self.beats.pop(owner, None)

    def backdate(self, owner: str, beat: float) -> None:
        if owner in self.queue:
            self.beats[owner] = min(self.beats.get(owner, beat), beat)

    def reserve(self, owner: str, now: float) -> None:
        self.reserved[owner] = now

    def reservations(self) -> dict[str, float]:
        return dict(self.reserved)

    def unreserve(self, owner: str) -> None:
        self.reserved.pop(owner, None)

    def record(self, now: float) -> None:
        self.admitted_at = (self.admitted_at + [now])[-HISTORY:]

    def history(self) -> list[float]:
        return list(self.admitted_at)


class _RedisStore:
    """The queue in Redis, shared by every web process (keys under the sandbox prefix)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.r = redis.Redis.from_url(url, socket_timeout=5)
        self.k = f"bungeo:{prefix}:admission"

    def locked(self):
        return self.r.lock(f"{self.k}:lock", timeout=10, blocking_timeout=10)

    def join(self, owner: str, now: float) -> None:
        self.r.zadd(f"{self.k}:queue", {owner: now}, nx=True)
        self.r.hset(f"{self.k}:beats", owner, now)

    def waiting(self) -> list[tuple[str, float]]:
        owners = [o.decode() for o in self.r.zrange(f"{self.k}:queue", 0, -1)]
        beats = self.r.hmget(f"{self.k}:beats", owners) if owners else []
        return [(o, float(b or 0)) for o, b in zip(owners, beats, strict=True)]

    def joined(self, owner: str) -> float | None:
        return self.r.zscore(f"{self.k}:queue", owner)

    def leave(self, owner: str) -> None:
        self.r.zrem(f"{self.k}:queue", owner)
        self.r.hdel(f"{self.k}:beats", owner)

    def backdate(self, owner: str, beat: float) -> None:
        if self.r.zscore(f"{self.k}:queue", owner) is not None:
            old = self.r.hget(f"{self.k}:beats", owner)
            self.r.hset(f"{self.k}:beats", owner, min(float(old or beat), beat))

    def reserve(self, owner: str, now: float) -> None:
        self.r.hset(f"{self.k}:reserved", owner, now)

    def reservations(self) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self.r.hgetall(f"{self.k}:reserved").items()}

    def unreserve(self, owner: str) -> None:
        self.r.hdel(f"{self.k}:reserved", owner)

    def record(self, now: float) -> None:
        self.r.rpush(f"{self.k}:history", now)
        self.r.ltrim(f"{self.k}:history", -HISTORY, -1)

    def history(self) -> list[float]:
        return [float(x) for x in self.r.lrange(f"{self.k}:history", 0, -1)]


_stores: dict[tuple[str, str], object] = {}
_stores_lock = threading.Lock()


def _store():
    key = (settings.REDIS_URL, settings.BUNGEO_SANDBOX_PREFIX)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = (_RedisStore(*key) if settings.REDIS_URL else _MemoryStore())
        return _stores[key]


def _estimate(position: int, history: list[float], waited: float = 0.0) -> int:
    """Seconds until ``position`` is reached: the recent mean gap between admissions times the
    position; without history, the idle timeout that applies while learners wait
    (BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL, or the normal one if shorter: the reaper's rule,
    tasks.sandboxes_reap) spread over the capacity, at least a minute per place. ``waited``
    (seconds since the learner joined the line or since the last admission, whichever is later)
    counts down from it, so that the estimate shrinks while nobody moves; never under a minute."""
    if len(history) >= 2 and history[-1] > history[0]:
        gap = (history[-1] - history[0]) / (len(history) - 1)
    else:
        idle = min(settings.BUNGEO_SANDBOX_IDLE_TIMEOUT, settings.BUNGEO_SANDBOX_IDLE_TIMEOUT_WHEN_FULL)
        gap = idle / max(1, settings.BUNGEO_SANDBOX_CAPACITY)
    return int(max(60.0, position * max(60.0, gap) - max(0.0, waited)))


def _lease_bound(backend: SandboxBackend, running: list, position: int, now: float) -> float | None:
    """Seconds by which ``position`` places are sure to be free: the ``position``-th soonest
    end of a lease (the maximum lifetime; the reaper stops a sandbox whose lease has ended, attached
    or not, within REAP_S) among the ``running`` learner sandboxes (Sandbox objects). None when
    fewer leases than that are known. A learner who extends their lease moves it later, so this
    is "at the latest, unless someone extends"."""
    ends = []
    for sb in running:
        lease = backend.lease(sb.id)
        if lease is not None:
            ends.append(max(0.0, lease.expires - now))
    if len(ends) < position:
        return None
    return sorted(ends)[position - 1] + REAP_S


def _forget_gone(store, running: set[str], now: float) -> None:
    """Drop (under ``store.locked()``) the waiting learners not heard from for STALE_S seconds
    (a closed tab, a web process that stopped) and the reservations that ended: their sandbox
    runs, or RESERVE_S has passed."""
    for o, beat in store.waiting():
        if now - beat > STALE_S:
            store.leave(o)
    for o, t in store.reservations().items():
        if o in running or now - t > RESERVE_S:
            store.unreserve(o)


def try_admit(backend: SandboxBackend, owner: str, *, now: float | None = None) -> Ticket:
    """Admit ``owner`` now or tell them their place in line. Call it again (every few seconds)
    while waiting: that is the heartbeat that keeps the place. Raises ``SandboxError`` when the
    engine cannot be listed."""
    now = time.time() if now is None else now
    running_sbs = [sb for sb in backend.list(kind=KIND_LEARNER) if sb.running]
    running = {sb.owner for sb in running_sbs}
    store = _store()
    with store.locked():
        if owner in running:
            store.leave(owner)
            store.unreserve(owner)
            return Ticket(admitted=True)
        store.join(owner, now)
        _forget_gone(store, running, now)
        reserved = set(store.reservations())
        free = settings.BUNGEO_SANDBOX_CAPACITY - len(running | reserved)
        line = [o for o, _beat in store.waiting()]
        rank = line.index(owner) if owner in line else 0
        if rank < free:
            store.leave(owner)
            store.reserve(owner, now)
            store.record(now)
            return Ticket(admitted=True)
        position = rank - max(0, free) + 1
        history = store.history()
        since = max(store.joined(owner) or now, history[-1] if history else 0.0)
    estimate = _estimate(position, history, waited=now - since)
    # QA: "about 1 min" for minutes on end while every learner in the room kept working: once
    # the guess has run out, the page says a place frees when someone leaves, and by when at
    # the latest.
    overdue = now - since >= _estimate(position, history)
    # Over capacity (it was lowered), more places must free up than the position says.
    bound = _lease_bound(backend, running_sbs, position + max(0, -free), now)
    if bound is not None:
        estimate = int(max(60.0, min(estimate, bound)))
        overdue = overdue and bound > estimate
    return Ticket(admitted=False, position=position, estimate_s=estimate, overdue=overdue,
                  latest_s=None if bound is None else int(max(60.0, bound)))


def room_without_waiting(backend: SandboxBackend, owner: str) -> bool:
    """True when ``owner`` may get a sandbox without anyone's place in line: their sandbox
    already runs, or nobody waits and a place is free (running and reserved sandboxes count).
    For starts nobody asked for yet (the warm-up after login), which must never take a waiting
    learner's place or go past BUNGEO_SANDBOX_CAPACITY. Raises ``SandboxError`` when the engine
    cannot be listed."""
    running = {sb.owner for sb in backend.list(kind=KIND_LEARNER) if sb.running}
    if owner in running:
        return True
    store = _store()
    with store.locked():
        # A line left behind (every tab in it closed while no one else came) must not hold
        # the warm-up and the Reset button back for good: only try_admit pruned it before.
        _forget_gone(store, running, time.time())
        if store.waiting():
            return False
        reserved = set(store.reservations())
        return len(running | reserved) < settings.BUNGEO_SANDBOX_CAPACITY


def may_start(backend: SandboxBackend, owner: str) -> bool:
    """True when a start of ``owner``'s sandbox asked outside the terminal (the Reset button)
    takes nobody's place: their sandbox already runs, they hold the place the queue gave them,
    or nobody waits and a place is free. A learner in line gets their place through the
    terminal's queue (:func:`try_admit`), never past it. Raises ``SandboxError`` when the engine
    cannot be listed."""
    store = _store()
    with store.locked():
        if owner in store.reservations():
            return True
    return room_without_waiting(backend, owner)


def leave(owner: str) -> None:
    """``owner`` stopped waiting, for good (their place goes to the next in line at once)."""
    store = _store()
    with store.locked():
        store.leave(owner)


def page_closed(owner: str, *, now: float | None = None) -> None:
    """A page of ``owner`` that waited in line closed. Their place is kept for LEAVE_GRACE_S
    seconds and then dropped, unless a page of theirs polls (:func:`try_admit`) before: a
    reload, the page's reconnect after a network blip, or their other tab in line keeps it.
    QA: leaving at once sent a learner who reloaded to the back of the line, behind those who
    came after them."""
    now = time.time() if now is None else now
    store = _store()
    with store.locked():
        store.backdate(owner, now - STALE_S + LEAVE_GRACE_S)


def queue_length(*, now: float | None = None) -> int:
    """How many learners wait now: those heard from in the last STALE_S seconds. (Counting the
    entries of learners who left too, until someone's poll pruned them, kept the reaper on its
    shorter "while anyone waits" idle timeout with nobody in line: QA saw an instructor's
    sandbox stopped after 139 s idle.)"""
    now = time.time() if now is None else now
    return sum(1 for _o, beat in _store().waiting() if now - beat <= STALE_S)


def line(*, now: float | None = None) -> list[tuple[str, float]]:
    """The learners waiting now, first in line first: ``(owner, seconds waited)`` for each one
    heard from in the last STALE_S seconds (the same learners :func:`queue_length` counts).
    For the staff's view of the classroom; admitting is :func:`try_admit`'s alone."""
    now = time.time() if now is None else now
    store = _store()
    out = []
    for o, beat in store.waiting():
        if now - beat <= STALE_S:
            out.append((o, max(0.0, now - (store.joined(o) or now))))
    return out


def reset() -> None:
    """Forget the queue, reservations and history (tests, an operator's clean slate)."""
    store = _store()
    with store.locked():
        for o, _beat in store.waiting():
            store.leave(o)
        for o in list(store.reservations()):
            store.unreserve(o)
        if isinstance(store, _RedisStore):
            store.r.delete(f"{store.k}:history")
        else:
            store.admitted_at = []
