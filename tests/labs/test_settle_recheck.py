"""The lab terminal looks again by itself when a verdict waits for a container to settle (created
or ended just now: labs.checks.settling), and only then. Unit test: the engine, the database and
the socket are replaced by fakes; the real-engine side is in test_steps_real.py."""
from __future__ import annotations

import asyncio
import types

import pytest

from labs import checks, consumers, services
from labs.checks import CheckResult


class _Loop:
    """Records call_later instead of scheduling."""

    def __init__(self):
        self.later = []

    def call_later(self, delay, fn, *args):
        self.later.append((delay, fn, args))


async def _run_checks(monkeypatch, verdict: CheckResult):
    c = consumers.LabTerminalConsumer.__new__(consumers.LabTerminalConsumer)
    c.lab = types.SimpleNamespace(step=lambda step_id: None)
    c.user, c.lang, c._check_lock, c.loop = None, "en", asyncio.Lock(), _Loop()
    sent = []

    async def send(text_data):
        sent.append(text_data)

    c.send = send
    monkeypatch.setattr(services, "lab_observe", lambda **kw: object())
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset())
    monkeypatch.setattr(services, "lab_judge", lambda **kw: {"stop": verdict})
    monkeypatch.setattr(services, "steps_record", lambda **kw: [])
    await c.run_checks()
    return c, sent


@pytest.mark.parametrize("msg", [checks.MSG_LC_EXITED_SETTLING, checks.MSG_CREATED_SETTLING])
async def test_a_settling_verdict_brings_one_more_check(monkeypatch, msg):
    c, sent = await _run_checks(monkeypatch, CheckResult(False, msg, {"name": "life"}))
    assert c.loop.later == [(checks.SETTLE_RECHECK_S, c.schedule_check, (0,))]
    assert len(sent) == 1  # the page still gets this round's status


async def test_a_plain_verdict_brings_no_extra_check(monkeypatch):
    c, sent = await _run_checks(monkeypatch, CheckResult(False, checks.MSG_IMAGE_MISSING,
                                                         {"image": "nginx"}))
    assert c.loop.later == [] and len(sent) == 1


async def test_a_command_that_may_be_ending_brings_one_more_check(monkeypatch):
    """volume_mounted's finished: a container still listed as running just after it was run."""
    verdict = CheckResult(False, checks.MSG_MOUNT_UNFINISHED, {"name": "reader", "recheck": True})
    c, sent = await _run_checks(monkeypatch, verdict)
    assert c.loop.later == [(checks.SETTLE_RECHECK_S, c.schedule_check, (0,))]
    c, sent = await _run_checks(monkeypatch, CheckResult(
        False, checks.MSG_MOUNT_UNFINISHED, {"name": "reader", "recheck": False}))
    assert c.loop.later == []
