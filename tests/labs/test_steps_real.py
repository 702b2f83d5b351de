"""Every step of every lab on a real sandbox, both ways: the initial state and each plausible
mistake fail with the expected message; the solution passes. Steps build on each other, so each
test first runs the solutions of the steps before it."""
from __future__ import annotations

import pytest
from django.utils.translation import override

from labs import content, observe
from tests.conftest import inner_sh, reset_inner_engine

pytestmark = pytest.mark.docker

STEPS = [(lab, i) for course in content.courses().values() for lab in course.labs
         for i in range(len(lab.steps))]


@pytest.fixture(scope="module")
def sandbox(backend):
    sb = backend.ensure(owner="steps")
    yield sb
    backend.remove(sb.id, keep_workspace=False)


def _run(backend, sandbox, commands):
    for cmd in commands:
        inner_sh(backend, sandbox.id, cmd, timeout=90)


def _judge(backend, sandbox, step):
    state = observe.engine_state(backend.engine_url(sandbox.id))
    return step.check.run(state)


@pytest.mark.parametrize("lab,index", STEPS, ids=[f"{lab.id}/{lab.steps[i].id}" for lab, i in STEPS])
def test_step_both_ways(backend, sandbox, lab, index):
    step = lab.steps[index]
    # Image checks need an empty image store; the others keep images (pulls cost seconds).
    images = step.check.type == "image_present"
    before = [cmd for s in lab.steps[:index] for cmd in s.solution]

    reset_inner_engine(backend, sandbox.id, images=images)
    _run(backend, sandbox, before)
    initial = _judge(backend, sandbox, step)
    assert not initial.passed, f"{step.id} passes before anything was done"

    for mistake in step.mistakes:
        reset_inner_engine(backend, sandbox.id, images=images)
        _run(backend, sandbox, before + list(mistake.commands))
        res = _judge(backend, sandbox, step)
        with override("en"):
            msg = res.message
        assert not res.passed, f"{step.id}: mistake {mistake.commands} passes"
        assert mistake.expect in msg, f"{step.id}: {msg!r} lacks {mistake.expect!r}"

    reset_inner_engine(backend, sandbox.id, images=images)
    _run(backend, sandbox, before + list(step.solution))
    res = _judge(backend, sandbox, step)
    with override("en"):
        assert res.passed, f"{step.id}: solution fails: {res.message}"
