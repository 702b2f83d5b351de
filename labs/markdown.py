"""Markdown for lesson files: CommonMark (markdown-it-py) plus ``::: hint`` containers,
``::: figure NAME`` diagrams and click-to-run blocks, sanitized with nh3 so that lesson text can
never inject script.

A figure shows an SVG from ``static/img/diagrams/`` (``NAME.ko.svg``/``NAME.en.svg`` for the
page's language, else ``NAME.svg``); the text inside the container is its caption (and the
image's alt text)::

    ::: figure layers
    An image's layers are read-only; each container adds a writable layer.
    :::

Images can come from that folder only: the sanitizer drops any other ``src``.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import nh3
from django.conf import settings
from django.templatetags.static import static
from django.utils import translation
from markdown_it import MarkdownIt
from mdit_py_plugins.container import container_plugin

# Fenced blocks with this info string become click-to-run blocks.
RUN_INFO = "run"

ALLOWED_TAGS = {
    "p", "a", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "h1", "h2", "h3",
    "h4", "h5",
    "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "div", "span", "button", "kbd",
    "del", "img", "figure", "figcaption",
}
ALLOWED_ATTRIBUTES = {
    "*": {"class"},
    "a": {"href", "title"},
    "button": {"type", "data-run", "title"},
    "div": {"data-run"},
    "img": {"src", "alt", "width", "height"},
    "th": {"align"},
    "td": {"align"},
}


def _render_fence(self, tokens, idx, options, env):
    token = tokens[idx]
    info = token.info.strip().split()[0] if token.info.strip() else ""
    code = token.content.rstrip("\n")
    if info == RUN_INFO:
        esc = html.escape(code, quote=True)
        # Same msgid as the solution blocks in templates/labs/lab.html.
        lang = (env or {}).get("lang") or translation.get_language()
        with translation.override(lang):
            title = html.escape(translation.gettext("Send to terminal"), quote=True)
        return (
            f'<div class="run-block"><pre><code>{html.escape(code)}</code></pre>'
            f'<button type="button" class="run-button" data-run="{esc}" '
            f'title="{title}">&#9654;</button></div>\n'
        )
    lang = f' class="language-{html.escape(info)}"' if info else ""
    return f"<pre><code{lang}>{html.escape(code)}</code></pre>\n"


# Diagrams (``::: figure NAME``)
FIGURE = "figure"
DIAGRAMS = "img/diagrams"  # under static/
DIAGRAMS_DIR = Path(settings.BASE_DIR) / "static" / DIAGRAMS
_FIGURE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DIAGRAM_FILE = re.compile(r"^[a-z0-9][a-z0-9-]*(\.(ko|en))?\.svg$")


def figure_name(info: str) -> str:
    """The diagram name of a ``::: figure NAME`` line's info (``"figure layers"`` -> ``layers``);
    empty when it names none."""
    parts = info.split()
    return parts[1] if len(parts) > 1 and parts[0] == FIGURE else ""


def diagram_file(name: str, lang: str | None = None) -> Path | None:
    """The SVG file of diagram ``name`` for ``lang`` (``NAME.LANG.svg``, else ``NAME.svg``), or
    None when the name is not a plain lowercase name or no such file exists."""
    if not _FIGURE_NAME.match(name):
        return None
    names = ([f"{name}.{lang}.svg"] if lang else []) + [f"{name}.svg"]
    return next((DIAGRAMS_DIR / n for n in names if (DIAGRAMS_DIR / n).is_file()), None)


def _diagram_src_ok(src: str) -> bool:
    """True when ``src`` is the URL of a file in the diagrams folder (nothing else may be shown
    as an image in lesson text)."""
    prefix = static(f"{DIAGRAMS}/")
    return src.startswith(prefix) and bool(_DIAGRAM_FILE.match(src[len(prefix):]))


def _render_figure(self, tokens, idx, options, env):
    tok = tokens[idx]
    if tok.nesting != 1:
        return "</figcaption></figure>\n"
    path = diagram_file(figure_name(tok.info), (env or {}).get("lang"))
    # The caption's text (up to the closing marker) is also the image's alt text.
    alt = []
    for t in tokens[idx + 1:]:
        if t.type == "container_figure_close":
            break
        if t.type == "inline":
            alt.append(t.content)
    img = (f'<img src="{html.escape(static(f"{DIAGRAMS}/{path.name}"))}" '
           f'alt="{html.escape(" ".join(alt))}">' if path else "")
    return f'<figure class="diagram">{img}<figcaption>'


def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("fence", _render_fence)
    md.use(container_plugin, FIGURE, render=_render_figure)
    return md


_MD = _md()


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        return value if _diagram_src_ok(value) else None
    return value


def render(text: str, lang: str | None = None) -> str:
    """Render lesson Markdown to sanitized HTML (a string safe to mark safe in templates);
    ``lang`` (``"ko"``/``"en"``, None = the active language) picks the language of a figure's
    diagram and of the UI text the renderer adds (the run buttons' "Send to terminal" tooltip,
    translated with Django's gettext at render time).

    The result depends on ``lang``: :func:`labs.content.courses` caches one rendering per
    language (``Lab.text[lang]``/``Step.text[lang]``), never one for all languages."""
    raw = _MD.render(text, {"lang": lang})
    return nh3.clean(raw, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     link_rel="noopener noreferrer", attribute_filter=_attribute_filter)


def figure_refs(text: str) -> list[tuple[str, int]]:
    """Every ``::: figure`` container in ``text``: (diagram name, 0-based line of its opening
    marker). The name is empty when the line names none."""
    md = MarkdownIt("commonmark").use(container_plugin, FIGURE)
    return [(figure_name(tok.info), tok.map[0]) for tok in md.parse(text)
            if tok.type == "container_figure_open" and tok.map]


def split_hints(text: str) -> tuple[str, list[str]]:
    """Split ``::: hint`` blocks out of a step's Markdown: (body without hints, [hint, ...]).

    The container syntax is markdown-it's (``mdit_py_plugins.container``); hints are returned in
    order as Markdown source.
    """
    md = MarkdownIt("commonmark").use(container_plugin, "hint")
    tokens = md.parse(text)
    lines = text.splitlines(keepends=True)
    hints: list[str] = []
    cut: list[tuple[int, int]] = []
    for tok in tokens:
        if tok.type == "container_hint_open" and tok.map:
            start, end = tok.map  # the closing ":::" line is just past the map
            inner = "".join(lines[start + 1 : end])
            if end < len(lines) and lines[end].strip().startswith(":::"):
                end += 1
            hints.append(inner.strip())
            cut.append((start, end))
    body_lines = [ln for n, ln in enumerate(lines) if not any(s <= n < e for s, e in cut)]
    return "".join(body_lines).strip(), hints
