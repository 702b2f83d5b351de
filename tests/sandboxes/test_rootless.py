"""Isolation mode ``rootless`` (DESIGN.md, "Fallback (rootless mode)"): the container spec (unit),
the lab steps that need cgroups (content, judging and page), and a real rootless sandbox on this
cgroup v1 machine: the learner is uid 1000 without capabilities, runs containers through a
rootless inner engine, and meets the missing cgroups exactly as the notices say; a few attacks of
tests/security are re-run in this mode.

The real-engine tests run only when the rootless sandbox image is built
(``manage.py images build --rootless``); they take about a minute.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import docker
import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from labs import content, services
from labs.checks import CheckResult
from labs.models import StepCompletion
from tests.conftest import inner_sh
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
    with override_settings(BUNGEO_ISOLATION="userns"):
        st = engine.status()
    assert st["isolation"] == "userns" and st["learner_cgroups"] is True and "unavailable" not in st


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


# ------------------------------------------------------------------------------------------------
# A real rootless sandbox (this machine: cgroup v1, the sandbox engine remaps ids)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rootless(backend):
    """(backend in mode rootless, a learner's running sandbox); skipped when the rootless image
    is not built."""
    if not images._exists(engine.client(), images.rootless_recipe().image_ref):
        pytest.skip("the rootless sandbox image is not built (manage.py images build --rootless)")
    with override_settings(BUNGEO_ISOLATION="rootless"):
        b = DockerSandboxBackend(prefix=backend.prefix)
        assert b.mode() == "rootless"
        sb = b.ensure(owner="rootless")
        try:
            yield b, sb
        finally:
            b.remove(sb.id, keep_workspace=False)


def _sh(rootless, script, timeout=60):
    b, sb = rootless
    return inner_sh(b, sb.id, script, timeout=timeout)


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
