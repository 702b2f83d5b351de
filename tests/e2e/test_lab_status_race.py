"""The live step status when two check runs race: the status of an observation made before the
step was done reaches the page after the status of a newer one that ticked it. The page keeps
the newer status (each status box carries when its observation began) and never turns a done
step back.

The race is made deterministic in the browser (Playwright's websocket routing): the first
"steps" message after the learner presses Enter on an empty line (a check run that sees nothing
yet) is held back until the step has ticked, then delivered."""
from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.docker]

LAB = "/labs/week1/images-and-containers/"


def _stale_run_nginx(message: str) -> bool:
    data = json.loads(message)
    return data.get("type") == "steps" and any(
        s["id"] == "run-nginx" and not s["completed"] for s in data["steps"])


def test_a_stale_status_does_not_undo_a_fresh_tick(asgi_server, browser, django_user_model):
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = ctx.new_page()
    routes, held, armed = [], [], []

    def route_ws(ws):
        server = ws.connect_to_server()
        ws.on_message(lambda m: server.send(m))

        def from_server(m):
            if armed and not held and isinstance(m, str) and _stale_run_nginx(m):
                held.append(m)  # delivered later, after the step has ticked
                return
            ws.send(m)
        server.on_message(from_server)
        routes.append(ws)

    page.route_web_socket(re.compile(r"/ws/labs/"), route_ws)
    page.goto(f"{asgi_server}{LAB}")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)

    # The rule on its own: newer replaces older, older never replaces newer, and "not done"
    # never replaces "done", whatever their times.
    got = page.evaluate("""() => {
        const box = (t, done) => { const d = document.createElement('div');
            d.className = 'step-status'; d.dataset.observed = String(t);
            d.dataset.completed = done ? '1' : '0'; return d; };
        const f = window.bungeoLabStatus.fresher;
        return [f(box(2, false), box(1, false)), f(box(1, false), box(2, false)),
                f(box(1, true), box(2, false)), f(box(3, false), box(2, true)),
                f(box(3, true), box(2, true)), f(box(1, true), box(2, true))];
    }""")
    assert got == [True, False, False, False, True, False]

    # A check run on an empty command line sees no container yet: hold its status back.
    armed.append(True)
    page.click("#terminal")
    page.keyboard.press("Enter")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "no check run after Enter"

    page.keyboard.type("docker run -d --name my-web -p 8080:80 nginx")
    page.keyboard.press("Enter")
    page.wait_for_selector("#step-run-nginx.done", timeout=90_000)
    # Let the server's own later looks after that Enter (0.4, 1.5 and 3.5 s, and a settling
    # container's second look at 2.5 s) arrive first: one of them, fresh and applied, was once
    # the first event the listener below saw (CI), instead of the held one.
    page.wait_for_timeout(4500)
    fresh = int(page.get_attribute("#status-run-nginx", "data-observed"))
    stale = next(s for s in json.loads(held[0])["steps"] if s["id"] == "run-nginx")
    assert int(re.search(r'data-observed="(\d+)"', stale["html"])[1]) < fresh

    # Now the stale status arrives: the page reads it and keeps the tick.
    page.evaluate("""() => { window.__steps = [];
        document.addEventListener('bungeo:steps', (e) => window.__steps.push(e.detail.applied)); }""")
    routes[-1].send(held[0])
    page.wait_for_function("() => window.__steps.length > 0")
    assert page.inner_text("#status-run-nginx .badge") == "Done"
    assert "run-nginx" not in page.evaluate("window.__steps[0]")
    assert page.locator("#step-run-nginx.done").count() == 1
    assert int(page.get_attribute("#status-run-nginx", "data-observed")) == fresh
    assert page.inner_text("#done-count") != "0"

    # A newer status is taken: the "Check" button's answer replaces the box.
    page.click("#status-run-nginx button")
    page.wait_for_function(
        f"() => Number(document.getElementById('status-run-nginx').dataset.observed) > {fresh}")
    assert page.inner_text("#status-run-nginx .badge") == "Done"
    ctx.close()
