"""Every step of every lab on a real sandbox, both ways: the initial state and each plausible
mistake fail with the expected message; the solution passes. Steps build on each other, so each
test first runs the solutions of the steps before it.

Every attempt starts from an empty engine (images may stay) and a fresh home folder, and runs each
command as a learner types it: in an interactive bash that reads the sandbox's bashrc and appends
the command to ~/.bash_history, which some checks read. The engine is observed as the lab page
observes it: with the workspace files, history and image events its lab's checks read."""
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


# What a new learner's home folder holds (images/sandbox/Dockerfile); everything else goes.
RESET_WORKSPACE = ("find /root -mindepth 1 -maxdepth 1 ! -name .bashrc ! -name .profile "
                   "! -name work -exec rm -rf {} +")


def _reset(backend, sandbox, *, images):
    reset_inner_engine(backend, sandbox.id, images=images)
    res = inner_sh(backend, sandbox.id, RESET_WORKSPACE + " && ls -A /root")
    assert res.output.split() == [".bashrc", ".profile", "work"], res.output


def _run(backend, sandbox, commands):
    for cmd in commands:
        # The command goes to an interactive bash on its standard input, as typed in a terminal.
        res = backend.exec(sandbox.id, ["bash", "-c", 'printf "%s\\n" "$1" | bash -i', "bash", cmd],
                           timeout=90)
        print(f"$ {cmd}\n{res.output[-2000:]}")  # shown when the test fails


def _judge(backend, sandbox, lab, step):
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    return step.check.run(state)


@pytest.mark.parametrize("lab,index", STEPS, ids=[f"{lab.id}/{lab.steps[i].id}" for lab, i in STEPS])
def test_step_both_ways(backend, sandbox, lab, index):
    step = lab.steps[index]
    # Image checks need an empty image store; the others keep images (pulls cost seconds).
    images = step.check.type == "image_present"
    before = [cmd for s in lab.steps[:index] for cmd in s.solution]

    _reset(backend, sandbox, images=images)
    _run(backend, sandbox, before)
    initial = _judge(backend, sandbox, lab, step)
    assert not initial.passed, f"{step.id} passes before anything was done"

    for mistake in step.mistakes:
        _reset(backend, sandbox, images=images)
        _run(backend, sandbox, before + list(mistake.commands))
        res = _judge(backend, sandbox, lab, step)
        with override("en"):
            msg = res.message
        assert not res.passed, f"{step.id}: mistake {mistake.commands} passes"
        assert mistake.expect in msg, f"{step.id}: {msg!r} lacks {mistake.expect!r}"

    _reset(backend, sandbox, images=images)
    _run(backend, sandbox, before + list(step.solution))
    res = _judge(backend, sandbox, lab, step)
    with override("en"):
        assert res.passed, f"{step.id}: solution fails: {res.message}"
