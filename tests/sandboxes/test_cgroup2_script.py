"""images/sandbox/cgroup2.sh (bungeo-cgroup2): on a cgroup v2 host, the sandbox's processes move to
a leaf cgroup and every controller is enabled for the inner engine's containers.

Unit test on a directory laid out like a cgroup v2 namespace root: this machine is cgroup v1, so
the kernel's side (moving a process by writing its pid) cannot run here; what the script writes,
and that it does nothing on cgroup v1, can."""
from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "images" / "sandbox" / "cgroup2.sh"


def run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(SCRIPT), str(root)], capture_output=True, text=True, timeout=30)


def test_on_cgroup_v2_every_process_moves_to_init_and_every_controller_is_enabled(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.procs").write_text("1\n7\n42\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    res = run(tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "init" / "cgroup.procs").read_text() == "1\n7\n42\n"
    assert (tmp_path / "cgroup.subtree_control").read_text().split() == [
        "+cpuset", "+cpu", "+io", "+memory", "+pids"]


def test_a_controller_that_cannot_be_enabled_is_reported_and_the_sandbox_still_starts(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    (tmp_path / "cgroup.procs").write_text("1\n")
    (tmp_path / "cgroup.subtree_control").mkdir()  # every write fails
    res = run(tmp_path)
    assert res.returncode == 0
    assert "controller cpu cannot be enabled" in res.stderr
    assert "controller memory cannot be enabled" in res.stderr
    assert (tmp_path / "init" / "cgroup.procs").read_text() == "1\n"


def test_on_cgroup_v1_it_changes_nothing(tmp_path):
    (tmp_path / "memory").mkdir()  # a v1 layout: one directory per hierarchy, no cgroup.controllers
    res = run(tmp_path)
    assert res.returncode == 0 and res.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory"]
