"""Lesson Markdown: run blocks carry a tooltip in the page's language, rendered once per language."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from labs import content, markdown

RUN_BLOCK = "```run\ndocker ps\n```\n"


@pytest.mark.parametrize("lang,title", [("ko", "터미널로 보내기"), ("en", "Send to terminal")])
def test_run_button_tooltip_is_in_the_given_language(lang, title):
    # The active language is the other one: the argument must win.
    with translation.override("en" if lang == "ko" else "ko"):
        out = markdown.render(RUN_BLOCK, lang)
    assert f'title="{title}"' in out
    assert 'data-run="docker ps"' in out


def test_run_button_tooltip_defaults_to_the_active_language():
    with translation.override("ko"):
        assert 'title="터미널로 보내기"' in markdown.render(RUN_BLOCK)


def test_cached_course_keeps_one_rendering_per_language():
    lab = next(lab for lab in content.courses()["week1"].labs
               if any('class="run-button"' in s.text["ko"].body_html for s in lab.steps))
    step = next(s for s in lab.steps if 'class="run-button"' in s.text["ko"].body_html)
    assert 'title="터미널로 보내기"' in step.text["ko"].body_html
    assert 'title="Send to terminal"' in step.text["en"].body_html
    assert "Send to terminal" not in step.text["ko"].body_html


@pytest.mark.django_db
@pytest.mark.parametrize("accept,title,other", [("ko", "터미널로 보내기", "Send to terminal"),
                                                ("en", "Send to terminal", "터미널로 보내기")])
def test_lab_page_shows_the_tooltip_in_the_page_language(client, django_user_model, accept, title,
                                                         other):
    # Load the content under the other language first: the cache must not keep that one's text.
    content.courses.cache_clear()
    with translation.override("en" if accept == "ko" else "ko"):
        content.courses()
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    client.login(username="learner", password="pw-learner-1")
    resp = client.get(reverse("labs:lab", args=["week1", "container-lifecycle"]), HTTP_ACCEPT_LANGUAGE=accept)
    page = resp.content.decode()
    assert resp.status_code == 200
    # Both the lesson's run blocks (Markdown) and the solution blocks (template) are translated.
    buttons = re.findall(r'<button[^>]*class="run-button"[^>]*>', page)
    assert len(buttons) > 2
    assert all(f'title="{title}"' in b for b in buttons), [b for b in buttons if title not in b]
    assert f'title="{other}"' not in page
