"""Lab content: loads, is complete in both languages, and bad content is reported with file:line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labs import content, markdown

COURSE = content.CONTENT_DIR / "week1"


def test_all_content_is_valid():
    assert content.validate() == []


def test_each_assignment_is_offered_after_the_lab_that_teaches_it():
    # "Go to the assignment" at the end of a lab: only where the learner has just learnt what
    # the assignment needs (lab 2 sent learners to A3, shared volumes, ten labs early).
    labs = content.courses()["week1"].labs
    offered = {lab.id: lab.assignment for lab in labs if lab.assignment}
    assert offered == {"dockerfile": "a1", "compose": "a2", "volumes": "a3"}


def test_every_step_has_check_solution_mistakes_and_both_languages():
    course = content.load_course(COURSE)
    assert course.labs, "week 1 has no labs"
    for lab in course.labs:
        for lang in content.LANGS:
            assert lab.t(lang).title and lab.t(lang).intro_html
        for step in lab.steps:
            assert step.check.type in content.checks.REGISTRY
            assert step.solution and step.mistakes
            for lang in content.LANGS:
                text = step.text[lang]
                assert text.title and text.body_html, (lab.id, step.id, lang)


def test_korean_and_english_differ():
    lab = content.load_course(COURSE).labs[0]
    assert lab.t("ko").title != lab.t("en").title


@pytest.fixture
def broken_course(tmp_path) -> Path:
    dst = tmp_path / "week1"
    shutil.copytree(COURSE, dst)
    return dst


def test_missing_translation_is_reported(broken_course):
    (broken_course / "images-and-containers" / "en.md").unlink()
    errors = content.validate(broken_course.parent)
    assert len(errors) == 1
    assert errors[0].path.endswith("en.md") and "missing" in errors[0].message


def test_unknown_check_type_is_reported_with_line(broken_course):
    spec = broken_course / "images-and-containers" / "lab.yaml"
    spec.write_text(spec.read_text().replace("type: image_present", "type: image_there"))
    [err] = content.validate(broken_course.parent)
    assert "unknown check type 'image_there'" in err.message
    lines = spec.read_text().splitlines()
    assert "id: pull-nginx" in lines[err.line - 1]


def test_step_without_text_is_reported(broken_course):
    md = broken_course / "images-and-containers" / "ko.md"
    md.write_text(md.read_text().replace("{#second-container}", "{#second}"))
    [err] = content.validate(broken_course.parent)
    assert "'second' is not a step" in err.message and err.path.endswith("ko.md")
    assert "{#second}" in md.read_text().splitlines()[err.line - 1]


def test_markdown_run_blocks_and_sanitizing():
    html = markdown.render("```run\ndocker ps -a\n```\n\n<script>alert(1)</script>\n")
    assert 'data-run="docker ps -a"' in html
    assert "<script" not in html


def test_hints_are_split_in_order():
    body, hints = markdown.split_hints("Text\n\n::: hint\nfirst\n:::\n\n::: hint\nsecond\n:::\n")
    assert body == "Text" and hints == ["first", "second"]
