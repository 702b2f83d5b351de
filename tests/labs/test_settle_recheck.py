"""The lab terminal looks again by itself when a verdict waits for a container to settle (created,
started or ended just now: labs.checks.settling), and only then; a step that wants a container
running is done only if it still runs at that look. Unit test: the engine, the database and the
socket are replaced by fakes; the real-engine side is in test_steps_real.py and, through the
websocket, tests/sandboxes/test_terminal_consumer.py."""
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


# 'docker run --name my-web -p 8080:80 nginx true' (found by QA): the lab page saw my-web running
# in its few milliseconds of life, and "run-nginx" was done for good. The real checks of the lab
# judge; the engine's two looks and the record of completions are fakes.
T0 = 1_000_000.0  # when my-web started, epoch seconds
MY_WEB = checks.ContainerObs(
    name="my-web", image="nginx", image_id="sha256:aaa", state="running", started_at=T0,
    ports=(checks.PortBinding("80/tcp", "0.0.0.0", 8080),))
NGINX = checks.ImageObs(id="sha256:aaa", tags=("nginx:latest",))


async def _two_looks(monkeypatch, second: checks.ContainerObs):
    """A look 0.05 s after my-web started, then the one the page schedules for when it has
    settled, which sees ``second``; returns the consumer and the step ids recorded as done."""
    from labs import content

    c = consumers.LabTerminalConsumer.__new__(consumers.LabTerminalConsumer)
    c.lab = content.get_lab("week1", "images-and-containers")
    c.user, c.lang, c._check_lock, c.loop = None, "en", asyncio.Lock(), _Loop()
    looks = [checks.EngineState(containers=(MY_WEB,), images=(NGINX,), observed_at=T0 + 0.05)]
    done: list[str] = []

    async def send(text_data):
        pass

    def record(*, results, **kw):
        done.extend(step_id for step_id, res in results.items() if res.passed)
        c.results = results
        return []

    c.send = send
    monkeypatch.setattr(services, "lab_observe", lambda **kw: looks[-1])
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset())
    monkeypatch.setattr(services, "steps_record", record)
    await c.run_checks()
    assert done == ["pull-nginx"]  # my-web started just now: not yet
    [(delay, fn, args)] = c.loop.later
    assert (fn, args) == (c.schedule_check, (0,))
    # The look again comes once the settle time is over, not SETTLE_RECHECK_S later.
    assert delay == pytest.approx(checks.STARTED_SETTLE_S - 0.05 + checks.SETTLE_MARGIN_S)
    c.loop.later.clear()
    looks.append(checks.EngineState(containers=(second,), images=(NGINX,),
                                    observed_at=T0 + 0.05 + delay))
    await c.run_checks()
    return c, done


async def test_a_container_that_ended_within_the_settle_time_is_not_done(monkeypatch):
    ended = checks.ContainerObs(**{**MY_WEB.__dict__, "state": "exited", "exit_code": 0,
                                   "died_at": T0 + 0.02})
    c, done = await _two_looks(monkeypatch, ended)
    assert "run-nginx" not in done and c.loop.later == []
    assert c.results["run-nginx"].msg is checks.MSG_NOT_RUNNING  # "my-web exists but is exited"


async def test_a_container_still_running_after_the_settle_time_is_done(monkeypatch):
    c, done = await _two_looks(monkeypatch, MY_WEB)
    assert done.count("run-nginx") == 1 and c.loop.later == []


@pytest.mark.parametrize("disconnected", [False, True])
async def test_no_check_runs_once_the_terminal_has_disconnected(monkeypatch, disconnected):
    """Checks scheduled by Enter (and re-looks of settling verdicts) ran after the page had
    left: each observed the learner's engine and wrote to the database for seconds more. Once
    disconnect() has run, none does; without it (the premise) they all run."""
    from webapp.sandboxes.consumers import TerminalConsumer

    async def base_disconnect(self, code):
        return None

    monkeypatch.setattr(TerminalConsumer, "disconnect", base_disconnect)
    monkeypatch.setattr(consumers, "AFTER_ENTER_S", (0.05, 0.1))
    looks = []
    monkeypatch.setattr(services, "lab_observe", lambda **kw: looks.append(1) or object())
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset())
    monkeypatch.setattr(services, "lab_judge", lambda **kw: {})
    monkeypatch.setattr(services, "steps_record", lambda **kw: [])
    c = consumers.LabTerminalConsumer.__new__(consumers.LabTerminalConsumer)
    c.lab, c.user, c.lang, c._check_lock = None, None, "en", asyncio.Lock()
    c._check_handle, c.loop = None, asyncio.get_running_loop()

    async def send(text_data):
        return None

    c.send = send
    c.schedule_check(0.05)
    await c.on_enter()
    if disconnected:
        await c.disconnect(1000)
        c.schedule_check(0)  # an engine event that arrives afterwards
    await asyncio.sleep(0.5)
    assert (looks == []) is disconnected, looks
