"""Markdown for lesson files: CommonMark (markdown-it-py) plus ``::: hint`` containers and
click-to-run blocks, sanitized with nh3 so that lesson text can never inject script."""
from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.container import container_plugin

# Fenced blocks with this info string become click-to-run blocks.
RUN_INFO = "run"

ALLOWED_TAGS = {
    "p", "a", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "h1", "h2", "h3",
    "h4", "h5",
    "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "div", "span", "button", "kbd",
    "del", "img",
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
        return (
            f'<div class="run-block"><pre><code>{html.escape(code)}</code></pre>'
            f'<button type="button" class="run-button" data-run="{esc}" '
            f'title="Send to terminal">&#9654;</button></div>\n'
        )
    lang = f' class="language-{html.escape(info)}"' if info else ""
    return f"<pre><code{lang}>{html.escape(code)}</code></pre>\n"


def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("fence", _render_fence)
    return md


_MD = _md()


def render(text: str) -> str:
    """Render lesson Markdown to sanitized HTML (a string safe to mark safe in templates)."""
    raw = _MD.render(text)
    return nh3.clean(raw, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     link_rel="noopener noreferrer")


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
