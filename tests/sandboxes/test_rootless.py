"""Isolation mode ``rootless`` (DESIGN.md, "Fallback (rootless mode)"): the container spec (unit),
the lab steps that need cgroups (content, judging and page), and a real rootless sandbox on this
cgroup v1 machine: the learner is uid 1000 without capabilities, runs containers through a
rootless inner engine, and meets the missing cgroups exactly as the notices say; a few attacks of
tests/security are re-run in this mode.

The real-engine tests run only when the rootless sandbox image is built
(``manage.py images build --rootless``); they take about a minute.
"""
from __future__ import annotations

import importlib.util
import io
import os
import re
import select
import time
from pathlib import Path

import docker
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from labs import content, selectors, services
from labs.checks import CheckResult
from labs.models import StepCompletion
from tests.conftest import (
    assert_completion_loads_on_first_tab,
    assert_inner_engine_go_settings,
    assert_pull_from_outside_the_mirror_is_explained,
    assert_reset_stops_containers_like_a_shutdown,
    inner_sh,
)
from webapp.sandboxes import engine, images, isolation
from webapp.sandboxes.docker_backend import DockerSandboxBackend, host_uid_of, rootless_remap_count


def _spec(mode, seccomp="{}"):
    return isolation.host_config(mode, name="bungeo-learner-x", binds={}, seccomp=seccomp)


# ------------------------------------------------------------------------------------------------
# The container spec (unit)
# ------------------------------------------------------------------------------------------------
def test_rootless_spec_is_sys_admin_only_with_the_userns_seccomp_profile():
    spec = _spec("rootless", seccomp='{"defaultAction": "SCMP_ACT_ERRNO"}')
    assert "privileged" not in spec
    assert spec["cap_add"] == ["SYS_ADMIN"] and "cap_drop" not in spec
    userns = _spec("userns", seccomp='{"defaultAction": "SCMP_ACT_ERRNO"}')
    assert spec["security_opt"][0] == userns["security_opt"][0]  # the same profile
    assert spec["security_opt"][0] == 'seccomp={"defaultAction": "SCMP_ACT_ERRNO"}'
    assert "seccomp=unconfined" not in spec["security_opt"]
    assert spec["devices"] == ["/dev/net/tun"]
    assert spec["_raw"] == {"MaskedPaths": [], "ReadonlyPaths": []}  # no UsernsMode=host
    # The limits from outside are those of every mode.
    for key in ("cgroup_parent", "mem_limit", "memswap_limit", "nano_cpus", "pids_limit", "log_config"):
        assert spec[key] == userns[key], key
    assert "uid=1000" in spec["tmpfs"]["/run"] and "uid=" not in userns["tmpfs"]["/run"]


def test_rootless_sandbox_runs_as_the_learner_and_the_others_as_root():
    assert isolation.container_config("rootless") == {"user": "1000:1000"}
    for mode in ("userns", "sysbox", "trusted"):
        assert isolation.container_config(mode) == {}


def test_subordinate_ids_fit_the_engine():
    assert isolation.subid_file(False) is None  # the image's learner:100000:65536
    assert isolation.subid_file(True, 65536) == "learner:1001:64535\n"
    with pytest.raises(ValueError, match="too few"):
        isolation.subid_file(True, 1500)
    line = next(ln for ln in Path("/etc/subuid").read_text().splitlines() if ln.startswith("dockremap:"))
    assert rootless_remap_count() == int(line.split(":")[2])
    assert rootless_remap_count("nobody-has-this-name") == 65536


def test_only_rootless_lacks_cgroups_and_the_host_check_says_so():
    assert isolation.missing_features("rootless") == {"cgroups"}
    for mode in ("userns", "sysbox", "trusted"):
        assert isolation.missing_features(mode) == frozenset()
        assert isolation.fidelity_report(mode, "1") == {"learner_cgroups": True}
    report = isolation.fidelity_report("rootless", "1")
    assert report["learner_cgroups"] is False and "userns or sysbox" in report["advice"]
    assert any("cannot toggle freezer" in u for u in report["unavailable"])


@pytest.mark.docker
def test_the_operators_host_check_reports_the_mode_and_what_learners_lack():
    with override_settings(BUNGEO_ISOLATION="rootless"):
        st = engine.status()
    assert st["isolation"] == "rootless" and st["learner_cgroups"] is False, st
    assert any("docker top" in u for u in st["unavailable"]) and "userns" in st["advice"]
    assert st["tun_device"] == isolation.tun_report("rootless"), st
    with override_settings(BUNGEO_ISOLATION="userns"):
        st = engine.status()
    assert st["isolation"] == "userns" and st["learner_cgroups"] is True and "unavailable" not in st
    assert "tun_device" not in st, st


def test_host_check_says_when_rootless_learners_cannot_open_the_tun_device(tmp_path):
    dev = tmp_path / "tun"
    dev.write_bytes(b"")
    dev.chmod(0o600)  # what a host without udev may leave: root only
    problem = isolation.tun_report("rootless", str(dev))
    assert problem.startswith("not usable") and "0600" in problem and f"chmod 0666 {dev}" in problem
    dev.chmod(0o666)
    assert isolation.tun_report("rootless", str(dev)) == "ok"
    assert isolation.tun_report("userns", str(dev)) is None
    assert isolation.tun_report("rootless", str(tmp_path / "none")).startswith("missing")


def test_this_hosts_tun_device_lets_rootless_sandboxes_start():
    # host-setup.sh makes it so; without it the rootless sandboxes below never become ready.
    assert isolation.tun_report("rootless") == "ok"


def test_explicit_userns_is_refused_on_an_engine_that_does_not_remap(settings):
    settings.BUNGEO_ISOLATION = "userns"
    remapping = {"SecurityOptions": ["name=seccomp,profile=default", "name=userns"]}
    assert isolation.resolve(remapping) == "userns"
    plain = {"Runtimes": {"runc": {}}, "SecurityOptions": ["name=seccomp,profile=default"]}
    for info in (plain, {}):
        with pytest.raises(ImproperlyConfigured) as exc:
            isolation.resolve(info)
        msg = str(exc.value)
        assert "does not remap user ids" in msg and "userns-remap" in msg, msg  # what, how to fix
        assert "BUNGEO_ISOLATION=rootless" in msg and "사용자 ID를 다시 매핑하지 않습니다" in msg, msg
    settings.BUNGEO_ISOLATION = "auto"  # auto picks rootless there instead of refusing
    assert isolation.resolve(plain) == "rootless"


@pytest.mark.docker
def test_userns_against_the_real_engines_docker_info(backend, settings):
    settings.BUNGEO_ISOLATION = "userns"
    info = engine.client().info()
    assert isolation.resolve(info) == "userns"  # bungeo's own engine runs with --userns-remap
    # The backend asks the engine (it used to resolve an explicit userns without docker info).
    assert DockerSandboxBackend(prefix=backend.prefix).mode() == "userns"
    # The same engine's answer without its remapping: refused, and the host check says so.
    stripped = {**info, "SecurityOptions": [o for o in info["SecurityOptions"]
                                            if not o.startswith("name=userns")]}
    with pytest.raises(ImproperlyConfigured, match="does not remap user ids"):
        isolation.resolve(stripped)
    assert engine._isolation_of(stripped).startswith("misconfigured: BUNGEO_ISOLATION=userns but")
    b = DockerSandboxBackend(prefix=backend.prefix)
    b.client.info = lambda: stripped  # the real client, answering as an engine without remapping
    with pytest.raises(ImproperlyConfigured, match="enable|userns-remap"):
        b.mode()


def test_images_list_names_the_rootless_image():
    out = io.StringIO()
    call_command("images", "list", stdout=out)
    assert f"{images.rootless_recipe().image_ref}" in out.getvalue()
    assert "isolation mode rootless only" in out.getvalue()


def test_host_uid_of_reads_the_user_namespace_map():
    # This test process runs in the host's user namespace: every uid is itself.
    assert host_uid_of(os.getpid(), 1000) == 1000


def test_the_rootless_image_is_its_own_recipe():
    r = images.rootless_recipe()
    assert images.sandbox_image("rootless") == r.image_ref != images.sandbox_image()
    assert {"rootlesskit", "slirp4netns", "uidmap", "docker.io"} <= set(r.packages)
    assert r.standin is False


@pytest.mark.parametrize("name", ["term.sh", "containerd.sh", "bash_completion", "tmux.conf", "bashrc",
                                  "bungeo-images.sh"])
def test_files_both_sandbox_recipes_copy_are_the_same(name):
    """Each recipe folder is its own build context, so these files exist twice: a change to one
    must be made to the other."""
    folder = Path(images.IMAGES_DIR)
    assert (folder / "sandbox" / name).read_bytes() == (folder / "sandbox-rootless" / name).read_bytes()


# ------------------------------------------------------------------------------------------------
# The benches' prompt detection (bench/common.py): root's "# " and the rootless learner's "$ "
# ------------------------------------------------------------------------------------------------
def _bench_common():
    spec = importlib.util.spec_from_file_location(
        "bench_common", Path(__file__).resolve().parents[2] / "bench" / "common.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# What the terminal websocket sent on this host (tmux redrawing, then the prompt), in both forms.
ROOT_PROMPT = (b"\x1b[K\r\n\x1b[K\x1b[?12l\x1b[?25h\x1b[H\x1b[32m\x1b[1mroot@bungeo\x1b(B\x1b[m:"
               b"\x1b[34m\x1b[1m~\x1b(B\x1b[m# \x1b[?25l\x1b[?12l\x1b[?25h")
LEARNER_PROMPT = ROOT_PROMPT.replace(b"root@", b"learner@").replace(b"m# ", b"m$ ")


def test_bench_prompt_detection_knows_root_and_the_rootless_learner():
    at_prompt = _bench_common().at_prompt
    assert at_prompt(ROOT_PROMPT) and at_prompt(LEARNER_PROMPT)
    assert at_prompt(b"bungeo:/root/work$ ") and at_prompt(b"learner@bungeo:~/work$ ")
    # Not yet: tmux's screen clearing, a prompt cut before its last byte, a "$" inside output.
    assert not at_prompt(LEARNER_PROMPT.split(b"$ ")[0] + b"$")
    assert not at_prompt(b"\x1b[K\r\n\x1b[K\r\n\x1b[?25h\x1b[H")
    assert not at_prompt(b"costs 5$ \r\n") and not at_prompt(b"")
    assert not at_prompt(b"\x1b]0;learner@bungeo: ~$ \x07")  # a window title is no prompt


def _read_until_prompt(b, sandbox_id, timeout=30.0) -> bytes:
    at_prompt = _bench_common().at_prompt
    term = b.open_terminal(sandbox_id)
    buf, t0 = b"", time.monotonic()
    try:
        while not at_prompt(buf) and time.monotonic() - t0 < timeout:
            if select.select([term.sock], [], [], 0.5)[0]:
                if not (chunk := term.sock.recv(65536)):
                    break
                buf += chunk
    finally:
        term.close()
    return buf


@pytest.mark.docker
def test_bench_prompt_detection_on_real_terminals(backend, rootless):
    b, sb = rootless
    buf = _read_until_prompt(b, sb.id)
    assert _bench_common().at_prompt(buf), buf[-300:]
    assert b"$ " in buf and b"learner@" in buf, buf[-300:]
    with override_settings(BUNGEO_ISOLATION="userns"):  # the rootless fixture sets rootless
        userns = DockerSandboxBackend(prefix=backend.prefix)
        sb_root = userns.ensure(owner="prompt")
        try:
            buf = _read_until_prompt(userns, sb_root.id)
            assert _bench_common().at_prompt(buf) and b"# " in buf and b"$ " not in buf, buf[-300:]
            assert b"root@" in buf, buf[-300:]
        finally:
            userns.remove(sb_root.id, keep_workspace=False)


# ------------------------------------------------------------------------------------------------
# Lab steps that need cgroups (content, judging, page)
# ------------------------------------------------------------------------------------------------
def _lab_folder(tmp_path: Path, needs: str) -> Path:
    folder = tmp_path / "mini"
    folder.mkdir(parents=True)
    (folder / "lab.yaml").write_text(
        "id: mini\nsteps:\n  - id: freeze\n" + (f"    needs: {needs}\n" if needs else "") +
        "    check: {type: container_lifecycle, name: life, command: pause}\n"
        "    solution: [\"docker pause life\"]\n"
        "    mistakes:\n      - commands: [\"docker stop life\"]\n        expect: \"paused\"\n")
    for lang in content.LANGS:
        (folder / f"{lang}.md").write_text("---\ntitle: T\nsummary: S\n---\nIntro\n\n"
                                           "## Freeze {#freeze}\n\nText\n")
    return folder


def test_needs_is_validated(tmp_path):
    lab = content.load_lab(_lab_folder(tmp_path / "a", "cgroups"), "week1", 1)
    assert lab.steps[0].needs == ("cgroups",)
    assert content.load_lab(_lab_folder(tmp_path / "b", ""), "week1", 1).steps[0].needs == ()
    with pytest.raises(content.ContentError, match="needs must list features among cgroups"):
        content.load_lab(_lab_folder(tmp_path / "c", "[cgroup]"), "week1", 1)


def test_course_marks_the_pause_top_steps():
    lifecycle = content.get_lab("week1", "container-lifecycle")
    marked = {s.id for s in lifecycle.steps if s.needs}
    assert marked == {"pause-life", "unpause-life"}
    assert content.get_lab("week1", "docker-run").step("top").needs == ("cgroups",)


def test_judge_skips_steps_the_mode_cannot_do():
    lab = content.get_lab("week1", "container-lifecycle")
    state = CheckResult(False, "engine state stand-in")
    res = services.lab_judge(lab=lab, state=state, unavailable=frozenset({"cgroups"}))
    assert res["pause-life"].passed is False
    with translation.override("en"):
        assert "without cgroups" in res["pause-life"].message
    assert res["run-life"] is state and res["stop-life"] is state
    res = services.lab_judge(lab=lab, state=state, unavailable=frozenset())
    assert res["pause-life"] is state  # checked as usual where cgroups exist


def test_the_active_mode_decides_what_is_unavailable(settings):
    from webapp.sandboxes.backend import get_backend

    try:
        for mode, want in (("rootless", {"cgroups"}), ("userns", set())):
            settings.BUNGEO_ISOLATION = mode
            get_backend.cache_clear()
            assert services.unavailable_features() == want, mode
    finally:
        get_backend.cache_clear()


@pytest.mark.django_db
def test_skipped_steps_are_never_recorded_as_done(student):
    lab = content.get_lab("week1", "container-lifecycle")
    results = services.lab_judge(lab=lab, state=CheckResult(True, "all good"),
                                 unavailable=frozenset({"cgroups"}))
    statuses = services.steps_record(user=student, lab=lab, results=results)
    done = set(StepCompletion.objects.filter(user=student).values_list("step_id", flat=True))
    assert "run-life" in done and "pause-life" not in done and "unpause-life" not in done
    assert not next(s for s in statuses if s.step_id == "pause-life").completed


@pytest.mark.django_db
@pytest.mark.parametrize("lang,words", [("en", "Not available in this classroom"),
                                        ("ko", "이 교실에서는 할 수 없어요")])
def test_lab_page_shows_the_notice_only_where_cgroups_are_missing(client, student, monkeypatch,
                                                                  lang, words):
    client.force_login(student)
    url = reverse("labs:lab", args=["week1", "container-lifecycle"])
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset({"cgroups"}))
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert page.count('class="step-unavailable"') == 2 and words in page
    assert "userns" in page  # what the operator can change
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset())
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert "step-unavailable" not in page and words not in page


def test_progress_counts_neither_done_nor_total_of_skipped_steps():
    lab = content.get_lab("week1", "container-lifecycle")
    n = len(lab.steps)
    ids = selectors.counted_steps(lab, frozenset({"cgroups"}))
    assert len(ids) == n - 2 and "pause-life" not in ids and "unpause-life" not in ids
    assert selectors.counted_steps(lab) == [s.id for s in lab.steps]
    # pause-life done in another mode (userns) before the class moved to rootless: not counted.
    done = {"run-life", "pause-life"}
    assert selectors.lab_progress(done=done, lab=lab, unavailable=frozenset({"cgroups"})) == (1, n - 2)
    assert selectors.lab_progress(done=done, lab=lab) == (2, n)
    every = {s.id for s in lab.steps} - {"pause-life", "unpause-life"}
    assert selectors.lab_progress(done=every, lab=lab, unavailable=frozenset({"cgroups"})) == (n - 2, n - 2)


def _index_progress(page: str, lab_id: str) -> str:
    """The "N of M steps done" line of a lab's card on the course index."""
    card = page.split(f"/labs/week1/{lab_id}/", 1)[1].split("</li>", 1)[0]
    return re.search(r"<small>([^<]*steps done)</small>", card).group(1)


@pytest.mark.django_db
def test_lab_page_and_index_count_only_steps_the_classroom_can_do(client, student, monkeypatch):
    lab = content.get_lab("week1", "container-lifecycle")
    n = len(lab.steps)
    for step_id in ("run-life", "pause-life"):  # pause-life: done earlier, in another mode
        StepCompletion.objects.create(user=student, course_id="week1", lab_id=lab.id, step_id=step_id)
    client.force_login(student)
    url = reverse("labs:lab", args=["week1", lab.id])
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset({"cgroups"}))
    with translation.override("en"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        index = client.get(reverse("labs:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<span id="done-count">1</span> / <span id="total-count">{n - 2}</span>' in page
    # The page's live counter (lab-status.js) leaves out li.skipped: both skipped steps carry it.
    assert len(re.findall(r'<li class="step[^"]*\bskipped\b', page)) == 2
    assert re.search(r'<li class="step done skipped" id="step-pause-life"', page)
    assert _index_progress(index, lab.id) == f"1 of {n - 2} steps done"
    docker_run = content.get_lab("week1", "docker-run")  # its step "top" needs cgroups
    assert _index_progress(index, "docker-run") == f"0 of {len(docker_run.steps) - 1} steps done"

    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset())
    with translation.override("en"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        index = client.get(reverse("labs:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<span id="done-count">2</span> / <span id="total-count">{n}</span>' in page
    assert not re.search(r'<li class="step[^"]*\bskipped\b', page)
    assert _index_progress(index, lab.id) == f"2 of {n} steps done"


@pytest.mark.browser
@pytest.mark.django_db
def test_the_live_counter_leaves_skipped_steps_out(client, student, monkeypatch):
    """static/js/lab-status.js in Chromium on the real page: a step ticked live counts, a
    skipped step (done in another mode) does not."""
    from playwright.sync_api import sync_playwright

    lab = content.get_lab("week1", "container-lifecycle")
    StepCompletion.objects.create(user=student, course_id="week1", lab_id=lab.id, step_id="pause-life")
    client.force_login(student)
    monkeypatch.setattr(services, "unavailable_features", lambda: frozenset({"cgroups"}))
    html = client.get(reverse("labs:lab", args=["week1", lab.id]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    box = re.search(r'<div class="step-status" id="status-run-life"[^>]*>', html).group(0)
    ticked = re.sub(r'data-completed="0"', 'data-completed="1"',
                    re.sub(r'data-observed="\d+"', f'data-observed="{services.now_ms() + 1000}"', box))
    html = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)  # no server to load from
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_content(html)
            page.add_script_tag(path=str(Path(__file__).resolve().parents[2] / "static/js/lab-status.js"))
            assert page.inner_text("#done-count") == "0"
            assert page.evaluate("h => window.bungeoLabStatus.apply('run-life', h)", ticked + "</div>")
            assert page.inner_text("#done-count") == "1"  # run-life; pause-life is skipped here
            assert page.inner_text("#total-count") == str(len(lab.steps) - 2)
        finally:
            browser.close()


# ------------------------------------------------------------------------------------------------
# A real rootless sandbox (this machine: cgroup v1, the sandbox engine remaps ids)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def _rootless_sandbox(backend):
    """(backend, a learner's running sandbox started in mode rootless), shared by the module;
    skipped when the rootless image is not built. The mode is set only while the sandbox starts
    and is removed, and in the tests that use :func:`rootless`, never in the module's others."""
    if not images._exists(engine.client(), images.rootless_recipe().image_ref):
        pytest.skip("the rootless sandbox image is not built (manage.py images build --rootless)")
    with override_settings(BUNGEO_ISOLATION="rootless"):
        b = DockerSandboxBackend(prefix=backend.prefix)
        assert b.mode() == "rootless"
        sb = b.ensure(owner="rootless")
    try:
        yield b, sb
    finally:
        with override_settings(BUNGEO_ISOLATION="rootless"):
            b.remove(sb.id, keep_workspace=False)


@pytest.fixture
def rootless(_rootless_sandbox):
    """The module's rootless sandbox, with BUNGEO_ISOLATION=rootless for this test only."""
    with override_settings(BUNGEO_ISOLATION="rootless"):
        yield _rootless_sandbox


def test_the_rootless_mode_does_not_leak_into_other_tests(settings):
    # Runs after tests that used the rootless sandbox (file order): the default is back.
    assert settings.BUNGEO_ISOLATION != "rootless"


def _sh(rootless, script, timeout=60):
    b, sb = rootless
    return inner_sh(b, sb.id, script, timeout=timeout)


@pytest.mark.docker
def test_rootless_shell_loads_bash_completion_on_its_first_tab(rootless):
    b, sb = rootless
    assert_completion_loads_on_first_tab(b, sb.id)


@pytest.mark.docker
def test_rootless_inner_engine_go_settings(rootless):
    b, sb = rootless
    assert_inner_engine_go_settings(b, sb.id)


@pytest.mark.docker
def test_rootless_explains_a_pull_from_outside_the_mirror(rootless):
    b, sb = rootless
    assert_pull_from_outside_the_mirror_is_explained(b, sb.id)


@pytest.mark.docker
def test_rootless_reset_shuts_the_inner_engine_down_like_a_machine(rootless):
    b, sb = rootless
    assert_reset_stops_containers_like_a_shutdown(b, sb.id)


@pytest.mark.docker
def test_learner_runs_containers_on_a_rootless_engine(rootless):
    res = _sh(rootless, "docker run --rm alpine echo hi-from-rootless", timeout=120)
    assert "hi-from-rootless" in res.output, res.output
    res = _sh(rootless, "docker info -f '{{.SecurityOptions}} {{.CgroupDriver}}'; "
                        "echo hello > ~/work/note && cat ~/work/note")
    assert "rootless" in res.output and "none" in res.output and "hello" in res.output, res.output
    b, sb = rootless
    # bungeo's step checks reach the same inner engine through the host folder's socket.
    inner = docker.DockerClient(base_url=b.engine_url(sb.id), timeout=10)
    try:
        assert any("rootless" in o for o in inner.info()["SecurityOptions"])
    finally:
        inner.close()


@pytest.mark.docker
def test_learner_is_uid_1000_without_capabilities(rootless):
    res = _sh(rootless, "id -u; grep -E '^Cap(Prm|Eff)' /proc/self/status")
    lines = res.output.split()
    assert lines[0] == "1000", res.output
    assert lines[1:] == ["CapPrm:", "0000000000000000", "CapEff:", "0000000000000000"], res.output
    b, sb = rootless
    pid = b.client.containers.get(sb.id).attrs["State"]["Pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1:]
    assert all(int(u) == host_uid_of(pid, 1000) != 0 for u in uids), uids
    assert next(ln for ln in status.splitlines() if ln.startswith("CapEff:")).split()[1] == "0" * 16
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    with pytest.raises(LookupError):
        host_uid_of(pid, 70000)  # the sandbox owns only the engine's remapped range


@pytest.mark.docker
def test_pause_top_and_limits_fail_as_the_notice_says(rootless):
    res = _sh(rootless, "docker run -d --name frozen alpine sleep 300 >/dev/null; "
                        "docker pause frozen; echo pause=$?; docker top frozen; echo top=$?; "
                        "docker rm -f frozen >/dev/null; "
                        "docker run --rm -m 16m alpine sh -c "
                        "'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && echo survived'",
                        timeout=120)
    assert "cannot toggle freezer: cgroups not configured" in res.output, res.output
    assert "pause=1" in res.output and "top=1" in res.output, res.output
    # A 64 MiB buffer under a 16 MiB limit: OOM-killed with cgroups; here nothing holds it.
    assert "survived" in res.output, res.output


@pytest.mark.docker
def test_rootless_only_the_learners_own_docker_socket(rootless):
    """Rootless: the only Docker socket in reach is the learner's own inner engine"""
    res = _sh(rootless, """
      find / /run -xdev -type s 2>/dev/null | sort -u | sed 's/^/sock /'
      ls /run/bungeo-host/ | sed 's/^/shared /'
      echo "inner-id $(docker info -f '{{.ID}}')"
      echo "shared-id $(DOCKER_HOST=unix:///run/bungeo-host/docker.sock docker info -f '{{.ID}}')"
    """)
    socks = [ln.split(" ", 1)[1] for ln in res.output.splitlines() if ln.startswith("sock ")]
    assert "/run/user/1000/docker.sock" in socks, res.output
    assert all(s.startswith("/run/user/1000/") for s in socks), socks
    assert "shared docker.sock" in res.output, res.output
    ids = dict(ln.split(" ", 1) for ln in res.output.splitlines()
               if ln.startswith(("inner-id ", "shared-id ")))
    assert ids["inner-id"] == ids["shared-id"] != engine.client().info()["ID"], res.output


@pytest.mark.docker
def test_rootless_sysrq_and_core_pattern_not_writable(rootless):
    """Rootless: /proc/sysrq-trigger and kernel.core_pattern cannot be written (learner, inner root)"""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    attack = ("for f in /proc/sysrq-trigger /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe; "
              "do [ -e $f ] || { echo absent $f; continue; }; "
              "(echo x > $f) 2>/dev/null && echo WROTE $f; done; echo end")
    res = _sh(rootless, f"{attack}; docker run --rm alpine sh -c '{attack}'", timeout=120)
    assert "WROTE" not in res.output and res.output.count("end") == 2, res.output
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


@pytest.mark.docker
def test_rootless_mknod_of_a_host_disk_fails(rootless):
    """Rootless: no host block device is visible, mknod of a disk fails (learner, inner root)"""
    attack = ("find /dev -type b 2>/dev/null | sed s/^/blockdev/; "
              "for dev in \"8 0\" \"253 0\" \"259 0\"; do mknod /tmp/disk b $dev 2>/dev/null "
              "&& echo mknod-ok $dev; rm -f /tmp/disk; done; echo end")
    res = _sh(rootless, f"{attack}; docker run --rm alpine sh -c '{attack}'; "
                        f"docker run --rm --privileged alpine sh -c '{attack}' 2>&1 | tail -3", timeout=120)
    assert "blockdev" not in res.output and "mknod-ok" not in res.output, res.output
    assert res.output.count("end") >= 2, res.output


@pytest.mark.docker
def test_a_claimed_pool_sandbox_gives_the_learner_their_workspace(rootless):
    b, _sb = rootless
    with override_settings(BUNGEO_ISOLATION="rootless"):
        started = b.pool_fill(size=1)
        assert len(started) == 1
        sb = b.ensure(owner="pooled")
        try:
            assert b.get(started[0]) is None and sb.id.endswith("-learner-pooled")  # claimed
            res = inner_sh(b, sb.id, "id -un; touch ~/work/mine && ls -ln ~/work/mine; "
                                     "docker info -f '{{.SecurityOptions}}'")
            assert res.output.startswith("learner\n"), res.output
            assert " 1000 1000 " in res.output and "rootless" in res.output, res.output
        finally:
            b.remove(sb.id, keep_workspace=False)


@pytest.mark.docker
def test_rootless_terminal_goes_through_the_relay_as_the_learner(rootless):
    from tests.sandboxes.test_terminal_relay import read_until

    b, sb = rootless
    term = b.open_terminal(sb.id, cols=90, rows=20)
    try:
        assert term.via == "relay"
        term.sock.sendall(b"echo \"uid=$(id -u) "
                          b"$(tmux display -p 'size=#{client_width}x#{client_height}')\"\r")
        read_until(term, rb"uid=1000 size=90x20")
    finally:
        term.close()
