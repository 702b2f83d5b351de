"""``grading.yaml`` is validated by a Django system check (``manage.py check``): every mistake is
reported with the file and what is wrong, before any learner's grading run reads it."""
from __future__ import annotations

import shutil

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from exercises import registry
from exercises.checks import E_GRADER, E_GRADING_YAML, TAG, check_grading_yaml

REAL = {aid: a.folder for aid, a in registry.assignments().items()}


@pytest.fixture
def copies(tmp_path, monkeypatch):
    """Test-only copies of the three assignments (grader and handouts); the registry, and so the
    check, reads them instead of the shipped ones."""
    root = tmp_path / "assignments"
    for folder in REAL.values():
        shutil.copytree(folder, root / folder.name,
                        ignore=shutil.ignore_patterns("reference", "broken", "tricky", "__pycache__"))
    monkeypatch.setattr(registry, "ASSIGNMENTS_DIR", root)
    return {aid: root / folder.name for aid, folder in REAL.items()}


def _write(folder, text: str):
    path = folder / "grading.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_assignments_pass_the_check():
    assert set(REAL) == {"a1", "a2", "a3"}
    # Each ships a grading.yaml (a template for operators), so this checks real files.
    assert all((folder / "grading.yaml").is_file() for folder in REAL.values())
    assert check_grading_yaml() == []
    assert [m for m in checks.run_checks(tags=[TAG]) if m.id.startswith("exercises.")] == []
    call_command("check", tags=[TAG])  # raises SystemCheckError on any error


def test_a_valid_file_and_no_file_pass(copies):
    _write(copies["a3"], "hidden: [reader-follows]\nworkspace_folder: work/a3\n")
    _write(copies["a1"], "hidden:\n")  # an empty key means none
    assert check_grading_yaml() == []
    assert registry.get("a3").config == registry.GradingConfig(frozenset({"reader-follows"}),
                                                               "work/a3")
    assert registry.get("a1").config == registry.GradingConfig(frozenset(), "a1")
    assert registry.get("a2").config == registry.GradingConfig(frozenset(), "a2")


@pytest.mark.parametrize(("text", "expected"), [
    ("hiden: [reader-follows]\n",
     "unknown key 'hiden' (expected a mapping with the keys 'hidden', 'workspace_folder')"),
    ("hidden: [reader-follows, reader-folows]\n",
     "hidden: unknown check id(s): reader-folows (the grader's checks: compose-valid, "
     "two-services, named-volume, writer-appends, reader-follows)"),
    ("hidden: reader-follows\n", "hidden: Input should be a valid list"),
    ("hidden: [reader-follows, 3]\n", "hidden.1: Input should be a valid string"),
    ("workspace_folder: 3\n", "workspace_folder: Input should be a valid string"),
    ("workspace_folder: ../x\n", "workspace_folder: '../x' is not a folder relative to the "
                                 "learner's home (/root)"),
    ("workspace_folder: /root/a3\n", "workspace_folder: '/root/a3' is not a folder relative"),
    ("workspace_folder: ~/a3\n", "workspace_folder: '~/a3' is not a folder relative"),
    ("workspace_folder: a3/./x\n", "workspace_folder: 'a3/./x' is not a folder relative"),
    ("workspace_folder: ''\n", "workspace_folder: '' is not a folder relative"),
    ("- reader-follows\n", "expected a mapping with the keys 'hidden', 'workspace_folder', not list"),
    ("hidden: [reader-follows\n", "not valid YAML: while parsing a flow sequence"),
])
def test_each_kind_of_mistake_is_an_error_naming_the_file(copies, text, expected):
    path = _write(copies["a3"], text)
    errors = check_grading_yaml()
    assert len(errors) == 1, errors
    err = errors[0]
    assert err.level == checks.ERROR and err.id == E_GRADING_YAML and err.obj == str(path)
    assert err.msg.startswith(expected), err.msg
    # The registry refuses the same file with the same words (a ValueError naming the file).
    with pytest.raises(ValueError, match="grading.yaml: ") as exc:
        _ = registry.get("a3").config
    assert expected in str(exc.value) and str(path) in str(exc.value)


def test_every_problem_of_every_file_is_reported_by_manage_py_check(copies):
    a3 = _write(copies["a3"], "hiden: [x]\nworkspace_folder: /etc\n")
    a1 = _write(copies["a1"], "hidden: [reader-follows]\n")  # an A3 check, not one of A1's
    errors = check_grading_yaml()
    assert sorted((e.obj, e.msg.split(":")[0].split(" (")[0]) for e in errors) == sorted([
        (str(a3), "unknown key 'hiden'"), (str(a3), "workspace_folder"), (str(a1), "hidden")])
    with pytest.raises(SystemCheckError) as exc:
        call_command("check", tags=[TAG])
    out = str(exc.value)
    assert f"{a3}: (exercises.E001) unknown key 'hiden'" in out
    assert f"{a1}: (exercises.E001) hidden: unknown check id(s): reader-follows" in out
    assert "3 issues" in out


def test_a_grader_that_cannot_load_is_reported(copies):
    _write(copies["a2"], "hidden: []\n")
    (copies["a2"] / "grader.py").write_text("raise RuntimeError('boom')\n")
    errors = check_grading_yaml()
    assert [(e.id, e.obj) for e in errors] == [(E_GRADER, str(copies["a2"] / "grader.py"))]
    assert "RuntimeError: boom" in errors[0].msg
