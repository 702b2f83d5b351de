"""Every command a lab gives with a "Send to terminal" button can be read in full where it
stands, beside the terminal, in both languages (QA: the long 'curl ... | jq' of the REST API
step ran out of its box under the button, its end out of sight)."""
from __future__ import annotations

import pytest

from labs import content

pytestmark = [pytest.mark.browser, pytest.mark.docker]


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_every_run_block_shows_its_whole_command(asgi_server, browser, django_user_model, locale):
    django_user_model.objects.create_user("student", password="pw-student-1")
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale=locale)
    page = ctx.new_page()
    page.goto(f"{asgi_server}/accounts/login/")
    page.fill("input[name=username]", "student")
    page.fill("input[name=password]", "pw-student-1")
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state()
    hidden, blocks = [], 0
    for lab in content.courses()["week1"].labs:
        page.goto(f"{asgi_server}/labs/week1/{lab.id}/", wait_until="domcontentloaded")
        found = page.eval_on_selector_all(
            ".run-block",
            """els => els.map(el => {
                 const pre = el.querySelector('pre'), btn = el.querySelector('.run-button');
                 const p = pre.getBoundingClientRect(), b = btn.getBoundingClientRect();
                 return {cmd: btn.dataset.run, cut: pre.scrollWidth > pre.clientWidth + 1,
                         under: p.right > b.left + 1 && p.bottom > b.top && p.top < b.bottom};
               })""")
        blocks += len(found)
        hidden += [(lab.id, f["cmd"]) for f in found if f["cut"] or f["under"]]
    ctx.close()
    assert blocks > 50  # the premise: the labs give many commands this way
    assert not hidden, hidden
