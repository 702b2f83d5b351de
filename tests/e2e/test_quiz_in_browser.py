"""An ordering question of "Check your understanding" in a real browser: the learner drags the
items into order (HTML5 drag and drop) or moves them with the keyboard's up/down buttons, then
sees the answer graded, right or wrong with the explanation, and stored."""
from __future__ import annotations

from pathlib import Path

import pytest

from labs.models import QuizAnswer

# The server fixture needs the sandbox engine (it cleans up sandboxes), hence "docker".
pytestmark = [pytest.mark.browser, pytest.mark.docker]

SHOTS = Path(__file__).resolve().parents[2] / "test-results"
LAB = "/labs/week1/why-containers/"
Q = "#quiz-history-order"
RIGHT = ["physical", "vm", "container"]


def _login(asgi_server, browser, django_user_model, locale="en-US"):
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = ctx.new_page()
    page.goto(f"{asgi_server}{LAB}")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.press("input[name=password]", "Enter")
    page.wait_for_selector(Q)
    return ctx, page


def _order(page) -> list[str]:
    return page.eval_on_selector_all(f"{Q} .order-item", "els => els.map(e => e.dataset.id)")


def _drag_to_top(page, item_id):
    # Dropped on the upper part of the first item: it lands before it.
    page.drag_and_drop(f"{Q} .order-item[data-id={item_id}]", f"{Q} .order-item >> nth=0",
                       target_position={"x": 40, "y": 3})


def _check(page):
    with page.expect_response(lambda r: "/quiz/history-order/" in r.url):
        page.click(f"{Q} button[type=submit]")
    page.wait_for_selector(f"{Q} .quiz-verdict")


def test_drag_into_order_graded_right_then_wrong(asgi_server, browser, django_user_model):
    ctx, page = _login(asgi_server, browser, django_user_model)
    assert _order(page) != RIGHT
    # Drag the last of the right order to the top first, then the others above it.
    for item in reversed(RIGHT):
        _drag_to_top(page, item)
    assert _order(page) == RIGHT
    _check(page)
    assert page.inner_text(f"{Q} .quiz-verdict").startswith("Correct.")
    assert _order(page) == RIGHT  # the answer shows the learner's order
    SHOTS.mkdir(exist_ok=True)
    page.locator(Q).screenshot(path=str(SHOTS / "quiz-drag-right.png"))

    # Drag 'container' to the top: wrong, with the explanation.
    _drag_to_top(page, "container")
    assert _order(page) == ["container", "physical", "vm"]
    _check(page)
    verdict = page.inner_text(f"{Q} .quiz-verdict")
    assert verdict.startswith("Not quite.") and "VMs came to share physical servers" in verdict
    row = QuizAnswer.objects.get(question_id="history-order")
    assert not row.correct and row.answer == ["container", "physical", "vm"] and row.attempts == 2
    ctx.close()


def test_keyboard_buttons_order_and_grade(asgi_server, browser, django_user_model):
    ctx, page = _login(asgi_server, browser, django_user_model, locale="ko-KR")
    # With the keyboard only: focus an item's "up" button, press Enter until it is at the top.
    for item in reversed(RIGHT):
        up = page.locator(f"{Q} .order-item[data-id={item}] [data-move=up]")
        up.focus()
        for _ in range(3):
            page.keyboard.press("Enter")
        assert _order(page)[0] == item
        # The focus stays on the moved item's button, and the move is announced.
        assert page.evaluate("document.activeElement.closest('.order-item').dataset.id") == item
        assert page.inner_text(f"{Q} .order-live").startswith("옮긴 위치: 1 / 3")
    assert _order(page) == RIGHT
    _check(page)
    assert page.inner_text(f"{Q} .quiz-verdict").startswith("맞았어요.")
    SHOTS.mkdir(exist_ok=True)
    page.locator(Q).screenshot(path=str(SHOTS / "quiz-buttons-ko.png"))
    # "down" moves one place: physical below vm is wrong, with the Korean explanation.
    page.locator(f"{Q} .order-item[data-id=physical] [data-move=down]").click()
    assert _order(page) == ["vm", "physical", "container"]
    _check(page)
    verdict = page.inner_text(f"{Q} .quiz-verdict")
    assert not verdict.startswith("맞았어요.") and "물리 서버를 나눠 쓰려고" in verdict
    assert not QuizAnswer.objects.get(question_id="history-order").correct
    ctx.close()
