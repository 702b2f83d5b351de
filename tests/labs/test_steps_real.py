"""Every step of every lab on a real sandbox, both ways: the initial state and each plausible
mistake fail with the expected message; the solution passes. Steps build on each other, so each
test first runs the solutions of the steps before it.

Every attempt starts from an empty engine (images may stay) and a fresh home folder, and runs each
command as a learner types it: in an interactive bash that reads the sandbox's bashrc and appends
the command to ~/.bash_history, which some checks read. The engine is observed as the lab page
observes it: with the workspace files, history and image events its lab's checks read."""
from __future__ import annotations

import time

import pytest
from django.utils.translation import override

from labs import checks, content, observe
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
    """The step's verdict as the lab page shows it: a verdict that says to look again in a moment
    (a container created just now) is taken again, as the page's later checks do."""
    for _ in range(10):
        state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
        res = step.check.run(state)
        if not checks.settling(res):
            return res
        time.sleep(0.5)
    return res


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


def _lab(lab_id: str):
    """The lab ``lab_id`` of any course."""
    return next(lab for course in content.courses().values() for lab in course.labs
                if lab.id == lab_id)


@pytest.mark.parametrize("commands", [["docker info | head -n 200"], ["docker info | less"]],
                         ids=["head-200", "less"])
def test_docker_info_read_whole_through_a_long_head_or_a_pager_passes(backend, sandbox, commands):
    """'docker info' prints well under 80 lines: a head of 200 lines shows all of it."""
    lab = _lab("docker-architecture")
    _reset(backend, sandbox, images=False)
    lines = inner_sh(backend, sandbox.id, "docker info 2>/dev/null | wc -l").output.split()
    assert 20 < int(lines[-1]) < checks.WHOLE_OUTPUT_LINES, lines
    _run(backend, sandbox, commands)
    res = _judge(backend, sandbox, lab, lab.step("info"))
    with override("en"):
        assert res.passed, res.message


def test_a_docker_top_that_failed_passes_once_run_again_on_the_started_container(backend, sandbox):
    """QA: 'docker top step-web' of a step-web that is not running fails, and ticked the step.
    It says to start step-web first; done so, the same command passes."""
    lab = _lab("docker-run")
    step = lab.step("top")
    before = [cmd for s in lab.steps[:lab.steps.index(step)] for cmd in s.solution]
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, before + ["docker stop step-web", "docker top step-web"])
    res = _judge(backend, sandbox, lab, step)
    with override("en"):
        assert not res.passed and res.msg is checks.MSG_RAN_NOT_RUNNING, res.message
        assert "step-web is exited, not running" in res.message
    _run(backend, sandbox, ["docker start step-web", "docker top step-web"])
    res = _judge(backend, sandbox, lab, step)
    assert res.passed and res.msg is checks.MSG_RAN_OK


def test_docker_run_seen_between_create_and_start_never_passes_the_create_step(backend, sandbox):
    """'docker run' creates a container and then starts it. A look in between (seen on a busy
    host) must not take it for one made by 'docker create', whose step then stuck as done."""
    lab = _lab("docker-run")
    step = lab.step("create")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker pull nginx:1.27", "docker create --name step-web nginx:1.27"])
    # Just created, as 'docker run' leaves it for a moment before starting it: not yet.
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    res = step.check.run(state)
    assert res.msg is checks.MSG_CREATED_SETTLING and not res.passed
    # 'docker run' itself: no 'docker create' in the history, and the advice keeps the port.
    _run(backend, sandbox, ["docker rm -f step-web",
                            "docker run -d --name step-web -p 8085:80 nginx:1.27"])
    res = _judge(backend, sandbox, lab, step)
    with override("en"):
        assert not res.passed and "already running: 'docker run' creates and starts" in res.message
        assert "'docker create --name step-web -p 8085:80 nginx:1.27'" in res.message


@pytest.mark.parametrize("commands", [
    ["docker create --name step-web -p 8085:80 nginx:1.27", "docker start step-web"],
    ["docker create --name step-web -p 8085:80 nginx:1.27 && docker start step-web"],
], ids=["two-lines", "one-line"])
def test_a_container_created_and_then_started_passes_the_create_step(backend, sandbox, commands):
    """The engine cannot tell 'docker create' then 'docker start' from 'docker run' (the same
    events, and 'docker run' too starts a moment after it creates): the shell history can. The
    next step's 'docker start' must not take the create step back, nor hide it when both come
    on one line."""
    lab = _lab("docker-run")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker pull nginx:1.27", *commands])
    res = _judge(backend, sandbox, lab, lab.step("create"))
    with override("en"):
        assert res.passed and res.msg is checks.MSG_CREATED_THEN_STARTED, res.message
    assert _judge(backend, sandbox, lab, lab.step("start")).passed


def test_a_restart_of_api_after_a_mistaken_restart_of_web_passes(backend, sandbox):
    """QA: 'docker compose restart web' (a mistake the step names), then 'docker compose restart
    api' as the step says: that is api restarted alone, though web has been restarted as often
    (the step once refused it as a restart of every service)."""
    lab = _lab("compose")
    step = lab.step("restart-api")
    before = [cmd for s in lab.steps[:lab.steps.index(step)] for cmd in s.solution]
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, before + ["cd ~/compose-lab && docker compose restart web",
                                     "cd ~/compose-lab && docker compose restart api"])
    res = _judge(backend, sandbox, lab, step)
    with override("en"):
        assert res.passed and res.msg is checks.MSG_COMPOSE_RESTARTED_OK, res.message


def test_a_container_seen_just_after_it_ended_does_not_pass_the_stop_step_yet(backend, sandbox):
    """'docker restart' stops a container and starts it again. A look in between must not take
    it for 'docker stop' (the step then stuck as done): a container that ended just now waits."""
    lab = _lab("container-lifecycle")
    step = lab.step("stop-life")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker run -d --name life nginx", "docker stop life"])
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    res = step.check.run(state)
    assert res.msg is checks.MSG_LC_EXITED_SETTLING and not res.passed
    time.sleep(checks.EXITED_SETTLE_S)
    res = step.check.run(observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps]))
    with override("en"):
        assert res.passed and "life is stopped (exit code 0)" in res.message, res.message


def test_a_stop_and_a_start_at_once_still_pass_the_stop_step_but_a_restart_does_not(backend,
                                                                                  sandbox):
    """With no settled stopped state to see, the engine's events still tell 'docker stop' then
    'docker start' (the stop step passes) from 'docker restart' (it does not)."""
    lab = _lab("container-lifecycle")
    stop, start = lab.step("stop-life"), lab.step("start-life")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker run -d --name life nginx", "docker restart life"])
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    assert not stop.check.run(state).passed and not start.check.run(state).passed
    _run(backend, sandbox, ["docker stop life; docker start life"])
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    res = stop.check.run(state)
    assert res.msg is checks.MSG_LC_STOPPED_EARLIER and res.passed
    assert _judge(backend, sandbox, lab, start).passed  # once it has kept running a moment


def test_a_kill_followed_by_a_removal_still_passes_the_kill_step(backend, sandbox):
    """'docker kill life; sleep 2; docker rm life': the container is gone before a settled
    look at it, but the engine's events keep how it ended (137, SIGKILL) and that it did not
    start again."""
    lab = _lab("container-lifecycle")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker run -d --name life nginx",
                            "docker kill life; sleep 2; docker rm life"])
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    res = lab.step("kill-life").check.run(state)
    with override("en"):
        assert res.passed and res.msg is checks.MSG_LC_KILL_OK, res.message
    assert lab.step("remove-life").check.run(state).passed
    assert not lab.step("stop-life").check.run(state).passed


def test_a_reader_seen_while_its_command_runs_does_not_pass_before_it_ends(backend, sandbox):
    """writer wrote nothing, and reader's cat of the missing file is seen while it still runs:
    not done yet, and once it has ended (exit code 1) it fails."""
    lab = _lab("volumes")
    write, read = lab.step("write-notes"), lab.step("outlive-container")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker volume rm -f notes", "docker volume create notes",
                            "docker run --name writer -v notes:/data busybox true"])
    res = _judge(backend, sandbox, lab, write)
    with override("en"):
        assert not res.passed and "there is no /data/todo.txt in it" in res.message, res.message
    _run(backend, sandbox, ["docker rm writer",
                            "docker run -d --name reader -v notes:/data:ro busybox "
                            "sh -c 'sleep 4; cat /data/todo.txt'"])
    # One look, as the page's first check after Enter: the page looks again (settling).
    res = read.check.run(observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps]))
    assert not res.passed and res.msg is checks.MSG_MOUNT_UNFINISHED and checks.settling(res)
    _run(backend, sandbox, ["docker wait reader"])
    res = _judge(backend, sandbox, lab, read)
    with override("en"):
        assert not res.passed and "reader ended with exit code 1" in res.message, res.message


def test_a_failed_run_removed_at_once_is_no_removal_step(backend, sandbox):
    """Before anything else in lab 6: 'docker run --name life -p 8080:80 nginx' fails on a taken
    port, and 'docker rm life' (as the run step's message advises) removes what it left. That
    life never ran: the removal step does not tick. The life of the lab, removed at its end,
    does."""
    lab = _lab("container-lifecycle")
    remove = lab.step("remove-life")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker run -d --name hog -p 8080:80 nginx",
                            "docker run -d --name life -p 8080:80 nginx || true",
                            "docker rm life"])
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    res = remove.check.run(state)
    with override("en"):
        assert not res.passed and res.msg is checks.MSG_LC_RM_NEVER_RAN, res.message
        assert "life has been removed, but it never ran" in res.message
    assert not any(s.check.run(state).passed for s in lab.steps)
    # The lab from its start (hog keeps port 8080: life publishes none), up to the kill.
    _run(backend, sandbox, [cmd for s in lab.steps[:-1] for cmd in s.solution])
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    assert not remove.check.run(state).passed
    _run(backend, sandbox, ["docker start life"])
    res = _judge(backend, sandbox, lab, remove)
    with override("ko"):  # a state in a Korean message is said in Korean
        assert "아직 실행 중(running) 상태이고" in res.message, res.message
    _run(backend, sandbox, ["docker kill life", "docker rm life"])
    res = _judge(backend, sandbox, lab, remove)
    assert res.passed and res.msg is checks.MSG_LC_RM_OK


def test_docker_stop_with_no_grace_time_is_no_kill(backend, sandbox):
    """'docker stop -t 0 life' sends SIGKILL at once to a process that ignores the stop signal
    (busybox's sleep as PID 1: exit code 137, as after 'docker kill'), but the engine also
    reports a 'stop' event: the kill step fails and says why; 'docker start' then 'docker kill'
    passes it."""
    lab = _lab("container-lifecycle")
    kill, stop = lab.step("kill-life"), lab.step("stop-life")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker run -d --name life busybox sleep 3600", "docker stop -t 0 life"])
    res = _judge(backend, sandbox, lab, kill)
    with override("en"):
        assert not res.passed and res.msg is checks.MSG_LC_KILLED_BY_STOP, res.message
        assert "exit code" not in res.message and "use 'docker kill life'" in res.message
        # Its advice runs life from the lab's nginx, not from this busybox.
        assert "'docker run -d --name life nginx'" in res.message, res.message
    assert _judge(backend, sandbox, lab, stop).passed  # it was 'docker stop', with no grace time
    _run(backend, sandbox, ["docker start life", "docker kill life"])
    res = _judge(backend, sandbox, lab, kill)
    assert res.passed and res.msg is checks.MSG_LC_KILL_OK


@pytest.mark.parametrize("commands,killed", [
    (["docker kill life && docker rm life"], True),
    (["docker container kill life", "docker rm life"], True),
    (["docker rm -f life"], False),
    (["docker container rm --force life"], False),
], ids=["kill-and-rm", "container-kill", "rm-f", "container-rm-force"])
def test_the_kill_step_tells_docker_kill_from_rm_f(backend, sandbox, commands, killed):
    """'docker rm -f' kills a running container with SIGKILL, as 'docker kill' does, and the
    engine's events are the same (kill, signal 9; die, exit code 137; destroy): the shell
    history tells them apart once the container is gone. Nor is a life removed with 'docker rm
    -f' right after its start the removal step (step 1's advice for a wrong image is that)."""
    lab = _lab("container-lifecycle")
    kill = lab.step("kill-life")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker run -d --name life nginx", *commands])
    res = _judge(backend, sandbox, lab, kill)
    with override("en"):
        if killed:
            assert res.passed and res.msg is checks.MSG_LC_KILL_OK, res.message
        else:
            assert not res.passed and res.msg is checks.MSG_LC_KILLED_BY_RM, res.message
            assert "use 'docker kill life'" in res.message
    res = _judge(backend, sandbox, lab, lab.step("remove-life"))
    assert res.passed is killed
    if not killed:
        assert res.msg is checks.MSG_LC_RM_WHILE_RUNNING


@pytest.mark.django_db
@pytest.mark.parametrize("lab_id,step_id,commands", [
    ("volumes", "write-notes", ["docker rm writer"]),
    ("container-lifecycle", "start-life", ["docker kill life", "docker rm life"]),
])
def test_a_done_step_stays_done_and_quiet_after_the_lab_removes_its_container(
        backend, sandbox, student, lab_id, step_id, commands):
    """The removal the lab itself asks for next must not put a failure under the step done
    before it (labs.services.steps_record)."""
    from labs import services

    lab = _lab(lab_id)
    index = [s.id for s in lab.steps].index(step_id)
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, [cmd for s in lab.steps[:index + 1] for cmd in s.solution])
    time.sleep(checks.EXITED_SETTLE_S)  # a container that ended just now settles first
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    results = services.lab_judge(lab=lab, state=state, unavailable=frozenset())
    done = {st.step_id: st for st in services.steps_record(user=student, lab=lab,
                                                           results=results)}
    assert done[step_id].completed and done[step_id].result.passed
    _run(backend, sandbox, commands)
    state = observe.lab_state(backend, sandbox.id, [s.check for s in lab.steps])
    results = services.lab_judge(lab=lab, state=state, unavailable=frozenset())
    after = {st.step_id: st for st in services.steps_record(user=student, lab=lab,
                                                            results=results)}
    assert after[step_id].completed and after[step_id].result is None


def test_on_the_default_bridge_a_name_gives_wget_a_bad_address(backend, sandbox):
    """Lab 11 shows that names do not resolve on the default bridge: the classroom busybox's
    wget says "bad address 'api'", as the lesson and its hint say (bookworm's busybox 1.35
    crashed instead: exit 139, nothing printed), and one that cannot connect says so too."""
    res = inner_sh(backend, sandbox.id, "docker pull -q busybox >/dev/null && "
                   "docker run --rm busybox wget -qO- -T 3 http://api; echo rc=$?; "
                   "docker run --rm busybox wget -qO- -T 3 http://127.0.0.1:1/; echo rc=$?", timeout=90)
    assert "bad address 'api'" in res.output and "rc=1" in res.output, res.output
    assert "Connection refused" in res.output and "rc=139" not in res.output, res.output
    for lang in ("en", "ko"):
        text = (content.CONTENT_DIR / "week1" / "networking" / f"{lang}.md").read_text()
        assert "docker run --rm busybox wget -qO- -T 3 http://api" in text and "bad address 'api'" in text


def test_a_base_image_is_compared_whatever_its_age(backend, sandbox, monkeypatch):
    """Only the newest images are inspected for their layers. A lab's base image (nginx) is as
    old as its build, so among a learner's images it can fall out of those, and menu:1 then
    seemed to add all of nginx's layers (CI: "menu:1 has 5 layer(s) of its own on top of nginx,
    but this step expects 1"). The images a lab's checks name are read whatever their age."""
    lab = _lab("dockerfile")
    step = lab.step("multi-stage")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, ["docker pull -q nginx", *step.solution])
    monkeypatch.setattr(observe, "MAX_INSPECT", 1)  # menu:1 only, by age
    res = _judge(backend, sandbox, lab, step)
    with override("en"):
        assert res.passed, res.message


@pytest.mark.parametrize("flag,passes", [
    ("--tmpfs /scratch", True),
    ("--tmpfs /scratch:rw,size=16m", True),
    ("--tmpfs /tmp", False),
])
def test_the_short_tmpfs_flag_counts_for_the_tmpfs_step(backend, sandbox, flag, passes):
    """``docker run --tmpfs /scratch`` mounts a tmpfs as ``--mount type=tmpfs`` does, but the
    engine's container list shows only the latter, and the step said "nothing mounted at
    /scratch" (found by a QA helper). A tmpfs elsewhere still fails with that message."""
    lab = _lab("volumes")
    index = next(i for i, s in enumerate(lab.steps) if s.id == "tmpfs-scratch")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, [cmd for s in lab.steps[:index] for cmd in s.solution]
         + [f"docker run -d --name scratchpad {flag} busybox sleep 3600"])
    res = _judge(backend, sandbox, lab, lab.steps[index])
    with override("en"):
        assert res.passed is passes, res.message
        if not passes:
            assert "scratchpad has nothing mounted at /scratch" in res.message


def test_a_backup_with_tar_in_its_dash_spelling_passes(backend, sandbox):
    """QA: 'tar -czf' (the spelling most tutorials use) was refused for lacking 'tar c'."""
    lab = _lab("volumes")
    index = next(i for i, s in enumerate(lab.steps) if s.id == "backup-volume")
    _reset(backend, sandbox, images=False)
    _run(backend, sandbox, [cmd for s in lab.steps[:index] for cmd in s.solution] + [
        "docker run --name backup -v notes:/data:ro -v ~/backup:/backup busybox "
        "tar -czf /backup/notes.tgz -C /data ."])
    res = _judge(backend, sandbox, lab, lab.steps[index])
    with override("en"):
        assert res.passed, res.message
