"""Isolation modes: the container spec of each mode (unit: sysbox cannot be installed here), the
choice of the strongest available mode, the trusted mode really running on this host with its
warning on staff pages, and the default mode shown to staff."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from tests.conftest import inner_sh
from webapp.sandboxes import isolation
from webapp.sandboxes.docker_backend import DockerSandboxBackend


def _spec(mode):
    return isolation.host_config(mode, name="bungeo-learner-x", binds={}, seccomp="{}")


def test_every_mode_keeps_the_limits_and_never_privileged():
    for mode in isolation.MODES:
        spec = _spec(mode)
        assert spec["cgroup_parent"] == "/bungeo/bungeo-learner-x"
        assert spec["mem_limit"] and spec["pids_limit"] and spec["nano_cpus"]
        assert spec["log_config"]["config"]["max-size"] == "1m"
        assert "privileged" not in spec


def test_sysbox_spec_adds_nothing_and_uses_the_runtime():
    spec = _spec("sysbox")
    assert spec["_raw"] == {"Runtime": "sysbox-runc"}
    assert "cap_add" not in spec and "security_opt" not in spec and "devices" not in spec


def test_userns_spec_is_namespaced_caps_and_seccomp():
    spec = _spec("userns")
    assert spec["cap_add"] == ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"]
    assert spec["security_opt"][0] == "seccomp={}" and spec["cgroupns"] == "private"
    assert "UsernsMode" not in spec["_raw"]


def test_trusted_spec_is_privileged_equivalent():
    spec = _spec("trusted")
    assert spec["cap_add"] == ["ALL"] and spec["security_opt"][0] == "seccomp=unconfined"
    assert spec["_raw"]["UsernsMode"] == "host"


def test_auto_picks_the_strongest_available(settings):
    settings.BUNGEO_ISOLATION = "auto"
    remapping = {"SecurityOptions": ["name=seccomp,profile=default", "name=userns"]}
    assert isolation.resolve({"Runtimes": {"runc": {}}, **remapping}) == "userns"
    assert isolation.resolve({"Runtimes": {"runc": {}, "sysbox-runc": {}}}) == "sysbox"
    # An engine that does not remap ids: userns's namespaced capabilities would be real ones.
    assert isolation.resolve({"Runtimes": {"runc": {}},
                              "SecurityOptions": ["name=seccomp,profile=default"]}) == "rootless"
    settings.BUNGEO_ISOLATION = "sysbox"
    with pytest.raises(ImproperlyConfigured, match="no sysbox-runc runtime"):
        isolation.resolve({"Runtimes": {"runc": {}}})
    settings.BUNGEO_ISOLATION = "rootless"
    assert isolation.resolve({}) == "rootless"
    settings.BUNGEO_ISOLATION = "chroot"
    with pytest.raises(ImproperlyConfigured):
        isolation.resolve({})


@pytest.mark.docker
def test_default_mode_on_this_host_is_userns(backend):
    assert backend.mode() == "userns"


@pytest.mark.docker
@pytest.mark.django_db
def test_trusted_mode_runs_here_and_staff_pages_warn(backend, settings, client, django_user_model, caplog):
    settings.BUNGEO_ISOLATION = "trusted"
    trusted = DockerSandboxBackend(prefix=backend.prefix)
    assert trusted.mode() == "trusted"
    sb = trusted.ensure(owner="laptop")
    try:
        uid_map = inner_sh(trusted, sb.id, "cat /proc/self/uid_map").output
        assert uid_map.split()[:2] == ["0", "0"], uid_map  # the host's user namespace: real root
        res = inner_sh(trusted, sb.id, "docker run --rm busybox echo inner-ok", timeout=120)
        assert "inner-ok" in res.output, res.output
        assert any("trusted" in r.getMessage() for r in caplog.records)
    finally:
        trusted.remove(sb.id, keep_workspace=False)
    from webapp.sandboxes import backend as backend_mod

    backend_mod.get_backend.cache_clear()
    try:
        staff = django_user_model.objects.create_user("teacher", password="pw", is_staff=True)
        learner = django_user_model.objects.create_user("learner", password="pw")
        client.force_login(staff)
        page = client.get(reverse("labs:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "danger-banner" in page and 'class="isolation"' in page and ": trusted<" in page
        client.force_login(learner)
        page = client.get(reverse("labs:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "danger-banner" not in page and 'class="isolation"' not in page
    finally:
        backend_mod.get_backend.cache_clear()


@pytest.mark.docker
@pytest.mark.django_db
def test_staff_see_the_active_mode(backend, client, django_user_model):
    staff = django_user_model.objects.create_user("teacher", password="pw", is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("labs:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'class="isolation"' in page and ": userns<" in page and "danger-banner" not in page


def test_storage_tmpfs_replaces_the_storage_bind_and_raises_the_memory_limit(settings):
    settings.BUNGEO_SANDBOX_MEMORY = "2g"
    spec = isolation.host_config("userns", name="g", binds={}, seccomp="{}", storage_tmpfs=256 * 2**20)
    opts = spec["tmpfs"]["/var/lib/docker"].split(",")
    assert "size=268435456" in opts and "exec" in opts and "noexec" not in opts
    # A full tmpfs must fail writes (ENOSPC), not OOM-kill the inner engine: the memory limit
    # holds the whole tmpfs on top of the usual limit.
    assert spec["mem_limit"] == spec["memswap_limit"] == 2 * 2**30 + 256 * 2**20
    plain = _spec("userns")
    assert "/var/lib/docker" not in plain["tmpfs"] and plain["mem_limit"] == "2g"
    with pytest.raises(ValueError, match="exclude each other"):
        isolation.host_config("userns", name="g", binds={"v": {"bind": "/var/lib/docker"}},
                              seccomp="{}", storage_tmpfs=2**20)


@pytest.mark.parametrize("cpus,procs", [(1.0, 1), (0.5, 1), (1.5, 2), (2.0, 2), (4.0, 4)])
def test_inner_engine_gomaxprocs_follows_the_sandboxs_cpu_limit(settings, cpus, procs):
    settings.BUNGEO_SANDBOX_CPUS = cpus
    assert isolation.engine_gomaxprocs() == procs
