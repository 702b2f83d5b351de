"""Diagrams in lesson Markdown: '::: figure NAME' shows static/img/diagrams/NAME[.LANG].svg with
its caption, nothing else can be shown as an image, and a missing diagram is a content error
with file and line."""
from __future__ import annotations

import shutil

import pytest

from labs import content, markdown

COURSE = content.CONTENT_DIR / "week1"


def test_figure_shows_the_diagram_of_the_page_language_with_its_caption():
    html = markdown.render("::: figure layers\nImage layers are **read-only**.\n:::\n", "ko")
    assert '<figure class="diagram"><img src="/static/img/diagrams/layers.ko.svg"' in html
    assert 'alt="Image layers are **read-only**."' in html
    assert "<figcaption><p>Image layers are <strong>read-only</strong>.</p>" in html
    assert "layers.en.svg" in markdown.render("::: figure layers\nx\n:::\n", "en")


def test_every_diagram_exists_in_both_languages():
    names = {p.name.split(".")[0] for p in markdown.DIAGRAMS_DIR.glob("*.svg")}
    assert {"layers", "container-lifecycle", "docker-architecture", "docker-run"} <= names
    for name in names:
        for lang in content.LANGS:
            assert markdown.diagram_file(name, lang).name == f"{name}.{lang}.svg"


@pytest.mark.parametrize("src", [
    "https://example.com/x.png",
    "/static/img/bungeo.svg",
    "/static/img/diagrams/../bungeo.svg",
    "/static/img/diagrams/layers.svg?x=1",
    "javascript:alert(1)",
])
def test_images_from_elsewhere_are_dropped(src):
    html = markdown.render(f"![pic]({src})")
    assert "src=" not in html


def test_markdown_image_syntax_works_for_the_diagrams_folder():
    html = markdown.render("![layers](/static/img/diagrams/layers.en.svg)")
    assert 'src="/static/img/diagrams/layers.en.svg"' in html


def test_a_figure_cannot_smuggle_markup():
    html = markdown.render('::: figure layers\n<img src=x onerror=alert(1)> "quoted"\n:::\n', "en")
    assert html.count("<img") == 1  # the diagram; the caption's tag stays text, in alt too
    assert "<p>&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'alt="&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot;"' in html


@pytest.fixture
def broken_course(tmp_path):
    dst = tmp_path / "week1"
    shutil.copytree(COURSE, dst)
    return dst


def test_a_missing_diagram_is_reported_with_file_and_line(broken_course):
    md = broken_course / "layers" / "en.md"
    md.write_text(md.read_text().replace("::: figure layers", "::: figure layer-cake"))
    [err] = content.validate(broken_course.parent)
    assert err.path.endswith("layers/en.md") and "figure 'layer-cake'" in err.message
    assert md.read_text().splitlines()[err.line - 1] == "::: figure layer-cake"


def test_a_figure_without_a_name_is_reported(broken_course):
    md = broken_course / "docker-run" / "ko.md"
    md.write_text(md.read_text().replace("::: figure docker-run", "::: figure"))
    [err] = content.validate(broken_course.parent)
    assert "needs a diagram name" in err.message
    assert md.read_text().splitlines()[err.line - 1] == "::: figure"


def test_figure_names_cannot_leave_the_diagrams_folder():
    assert markdown.diagram_file("../bungeo") is None
    assert markdown.diagram_file("Layers") is None
    assert markdown.figure_refs("::: figure ../../x\ncap\n:::\n") == [("../../x", 0)]
