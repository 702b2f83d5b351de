"""Screenshots of the lab pages for the issue note, taken as a learner sees them: the lifecycle
lab in Korean and in English with its first step really done in the terminal (ticked by the live
check), its state diagram, and the ordering quiz. Each page is checked for the other language's
UI words on the way. The pictures go to $BUNGEO_SHOTS (default test-results/)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.docker]

SHOTS = Path(os.environ.get("BUNGEO_SHOTS")
             or Path(__file__).resolve().parents[2] / "test-results")
LIFECYCLE = "/labs/week1/container-lifecycle/"
QUIZ = "/labs/week1/why-containers/"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
ENGLISH_UI = {"Send to terminal", "Not done yet", "Done", "Show a hint", "Check", "Reset sandbox",
              "Show the solution", "Open ↗", "Extend", "Check my answer"}


@pytest.mark.parametrize("lang,locale,done", [("ko", "ko-KR", "완료"), ("en", "en-US", "Done")])
def test_lab_and_quiz_pages(asgi_server, browser, django_user_model, lang, locale, done):
    django_user_model.objects.create_user("student", password="pw-student-1")
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale=locale)
    page = ctx.new_page()
    page.goto(f"{asgi_server}{LIFECYCLE}")
    page.fill("input[name=username]", "student")
    page.fill("input[name=password]", "pw-student-1")
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    assert page.get_attribute("html", "lang") == lang

    # Run the first step's command with its click-to-run button, as a learner does.
    page.click("#step-run-life .prose .run-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#step-run-life.done", timeout=90_000)
    assert page.inner_text("#status-run-life .badge") == done
    run_title = page.get_attribute("#step-run-life .prose .run-button", "title")
    assert run_title == ("터미널로 보내기" if lang == "ko" else "Send to terminal")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#step-run-life").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"lab-{lang}.png"))
    fig = page.locator("figure.diagram").first
    fig.scroll_into_view_if_needed()
    assert fig.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(SHOTS / f"lab-{lang}-diagram.png"))
    # The UI's own words (buttons, badges, tooltips, the terminal bar) are all in the page's
    # language: on the English page no Hangul, on the Korean page none of the English words.
    ui = page.eval_on_selector_all(
        "button, .badge, .terminal-bar, [title]",
        "els => els.filter(e => !e.closest('.lang'))"  # the language switch names both
        "  .flatMap(e => [e.innerText.trim(), e.title || ''])")
    ui = [t for t in ui if t]
    if lang == "en":
        assert not [t for t in ui if HANGUL.search(t)]
    else:
        assert not [t for t in ui if t in ENGLISH_UI]

    page.goto(f"{asgi_server}{QUIZ}")
    page.wait_for_selector("#quiz-history-order")
    # One answered wrong (the explanation shows), one right.
    page.click("#quiz-history-order .order-item[data-id=container] [data-move=up]")
    with page.expect_response(lambda r: "/quiz/history-order/" in r.url):
        page.click("#quiz-history-order button[type=submit]")
    page.wait_for_selector("#quiz-history-order .quiz-verdict")
    page.check("#quiz-shares-kernel input[value=kernel]")
    with page.expect_response(lambda r: "/quiz/shares-kernel/" in r.url):
        page.click("#quiz-shares-kernel button[type=submit]")
    page.wait_for_selector("#quiz-shares-kernel .quiz-verdict.pass")
    # A reading lab has no steps to count.
    assert page.locator(".lab-progress").count() == 0
    # The quiz's top just below the sticky page header.
    page.evaluate("""() => { document.querySelector('.quiz').scrollIntoView();
        window.scrollBy(0, -document.querySelector('header').offsetHeight - 8); }""")
    page.screenshot(path=str(SHOTS / f"quiz-{lang}.png"))
    ctx.close()
