"""An instructor, in a real browser, sees a learner's running sandbox on the classroom page and
stops it; the learner's open lab page says an instructor stopped it, with Start again."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.docker]

SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def _logged_in(browser, asgi_server, user, password, path, locale):
    ctx = browser.new_context(viewport={"width": 1300, "height": 850}, locale=locale)
    page = ctx.new_page()
    page.goto(f"{asgi_server}{path}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    return ctx, page


@pytest.mark.parametrize("locale,stopped_text", [
    ("en-US", "An instructor stopped your sandbox."), ("ko-KR", "강사가 샌드박스를 멈췄습니다.")])
def test_an_instructor_stops_a_learners_sandbox_from_the_classroom_page(
        asgi_server, browser, django_user_model, locale, stopped_text):
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    django_user_model.objects.create_user("teacher", password="pw-teacher-1", is_staff=True)
    lctx, lab = _logged_in(browser, asgi_server, "learner", "pw-learner-1",
                           "/labs/week1/images-and-containers/", locale)
    lab.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)

    tctx, room = _logged_in(browser, asgi_server, "teacher", "pw-teacher-1", "/labs/", locale)
    room.click("nav a[href$='/sandbox/classroom/']")
    row = room.locator("#classroom-running tr[data-learner=learner]")
    row.wait_for()
    assert ":" in row.locator("td").nth(1).inner_text()  # the time left, m:ss
    SHOTS.mkdir(exist_ok=True)
    room.screenshot(path=str(SHOTS / f"classroom-{locale}.png"), full_page=True)

    room.once("dialog", lambda d: d.accept())  # "Stop learner's sandbox? …"
    row.locator("button.stop").click()
    room.wait_for_selector("#classroom-stopped [data-learner=learner]", timeout=30_000)
    assert room.locator("#classroom-running tr[data-learner=learner]").count() == 0
    assert room.locator("#classroom p.success").count() == 1

    lab.wait_for_selector("#term-status[data-state=closed]", timeout=30_000)
    assert lab.inner_text("#term-status").startswith(stopped_text)
    assert lab.locator("#term-restart").is_visible()
    lab.screenshot(path=str(SHOTS / f"classroom-stopped-lab-{locale}.png"))
    tctx.close()
    lctx.close()


def test_a_dismissed_confirmation_stops_nothing(asgi_server, browser, django_user_model):
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    django_user_model.objects.create_user("teacher", password="pw-teacher-1", is_staff=True)
    lctx, lab = _logged_in(browser, asgi_server, "learner", "pw-learner-1",
                           "/labs/week1/images-and-containers/", "en-US")
    lab.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    tctx, room = _logged_in(browser, asgi_server, "teacher", "pw-teacher-1",
                            "/sandbox/classroom/", "en-US")
    row = room.locator("#classroom-running tr[data-learner=learner]")
    row.wait_for()
    room.once("dialog", lambda d: d.dismiss())
    row.locator("button.stop").click()
    room.wait_for_timeout(1500)
    assert row.count() == 1
    assert lab.get_attribute("#term-status", "data-state") == "ready"
    tctx.close()
    lctx.close()
