"""Grading in a real browser (Playwright driving Debian's chromium), real Celery worker, real
engine: a learner uploads A3, watches it graded live and sees best and latest scores; an
instructor opens the submission (files, evidence) and regrades it."""
from __future__ import annotations

from pathlib import Path

import pytest

from exercises import registry
from exercises.models import Submission

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.celery]

SHOTS = Path("/tmp/shots")
A3_REFERENCE = registry.get("a3").folder / "reference" / "compose.yaml"


def _login(browser, base: str, path: str, username: str, password: str):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900}, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{base}{path}")
    return ctx, page


@pytest.mark.django_db(transaction=True)
def test_learner_submits_and_instructor_regrades(asgi_server, browser, celery_worker_real,
                                                 django_user_model):
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    django_user_model.objects.create_user("teacher", password="pw-teacher-1", is_staff=True)
    SHOTS.mkdir(exist_ok=True)

    ctx, page = _login(browser, asgi_server, "/assignments/a3/", "learner", "pw-learner-1")
    assert "Not submitted yet" in page.inner_text("#scores-a3")
    # No sandbox yet: submitting from the workspace says what to do, nothing is stored.
    page.fill("#workspace-form input[name=folder]", "a3")
    page.click("#workspace-form button[type=submit]")
    error = page.wait_for_selector("#workspace-form .form-error:has-text('You have no workspace yet')")
    # Said beside the form, in sight (QA: at the top of the page, far above the form).
    assert error.evaluate("e => { const r = e.getBoundingClientRect();"
                          " return r.top >= 0 && r.bottom <= window.innerHeight; }")
    assert Submission.objects.count() == 0

    page.set_input_files("#submit-form input[name=file]", str(A3_REFERENCE))
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector("#grading-status")
    assert "/assignments/submissions/" in page.url, page.url
    # Live progress over the websocket, then the final result swapped in.
    page.wait_for_selector("#grading-status.done", timeout=150_000)
    assert "Score: 100 / 100" in page.inner_text("#grading-status")
    assert page.locator("#checks li.check.pass").count() == 5
    assert page.locator("#submitted-files").count() == 0  # files are for staff
    sub = Submission.objects.get()

    page.goto(f"{asgi_server}/assignments/")
    scores = page.inner_text("#scores-a3")
    assert "Best 100/100" in scores and "Latest 100/100" in scores and "1 submission" in scores
    page.goto(f"{asgi_server}/assignments/a3/")
    page.locator("#submit-form").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "pipeline-learner-assignment.png"))
    assert page.locator("#staff-submissions").count() == 0
    ctx.close()

    ctx, page = _login(browser, asgi_server, "/assignments/a3/", "teacher", "pw-teacher-1")
    row = page.locator(f"#staff-submissions #sub-{sub.pk}")
    assert "learner" in row.inner_text() and "100 / 100" in row.inner_text()
    page.click(f"#sub-{sub.pk} a")
    page.wait_for_selector("#submitted-files")
    page.click("#submitted-files details summary")
    assert "writer:" in page.inner_text("#submitted-files pre")
    page.click("#check-named-volume details summary")
    assert page.locator("#check-named-volume details pre").is_visible()

    page.click("form.regrade button[type=submit]")
    page.wait_for_selector(".regraded:has-text('grading run 2')")
    page.wait_for_selector("#grading-status.done", timeout=150_000)
    assert "Score: 100 / 100" in page.inner_text("#grading-status")
    page.reload()
    page.click("#submitted-files details summary")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar belongs at the top
    page.screenshot(path=str(SHOTS / "pipeline-staff-submission.png"), full_page=True)
    ctx.close()
    sub.refresh_from_db()
    assert sub.attempt == 2 and sub.regraded and sub.score == 100


def test_a_check_message_with_a_second_paragraph_shows_it_on_a_line_of_its_own(browser):
    """A1's message for a container that could not run adds a paragraph on the scripts saved
    with CRLF after a line break; the page ran the two together ("...not found start.sh has
    Windows (CRLF) line endings")."""
    from django.template.loader import render_to_string

    html = render_to_string("exercises/_check_row.html", {
        "check_id": "runs", "state": "done",
        "outcome": {"title": "The container runs", "passed": False, "points": 0, "max_points": 10,
                    "message": "exec ./start.sh: not found\nstart.sh has Windows (CRLF) line endings."}})
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_content(f"<ol class='checks'>{html}</ol>")
    page.add_style_tag(path=str(Path(__file__).resolve().parents[2] / "static/css/site.css"))
    first, second = page.evaluate("""() => {
        const p = document.querySelector('.check .message'), r = document.createRange();
        const t = p.firstChild, cut = t.textContent.indexOf('start.sh has');
        r.setStart(t, 0); r.setEnd(t, 1); const a = r.getBoundingClientRect().top;
        r.setStart(t, cut); r.setEnd(t, cut + 1); return [a, r.getBoundingClientRect().top]; }""")
    assert second > first, (first, second)
    page.close()


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_limit_is_refused_by_the_page_before_it_is_sent(asgi_server, browser,
                                                                         django_user_model):
    """A zip over the limit (a folder with node_modules, say): the page says the limit at once
    and sends nothing; choosing a file within the limit clears the message."""
    from django.conf import settings

    from exercises.uploads import size_text

    django_user_model.objects.create_user("learner", password="pw-learner-1")
    ctx, page = _login(browser, asgi_server, "/assignments/a1/", "learner", "pw-learner-1")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    big = settings.BUNGEO_SUBMISSION_MAX_BYTES + 1
    page.set_input_files("#submit-form input[name=file]",
                         files=[{"name": "a1.zip", "mimeType": "application/zip", "buffer": b"x" * big}])
    error = page.locator("#submit-form .upload-error")
    assert error.is_visible()
    # Said as the handouts say it (1 MB by default), not in bytes.
    assert f"at most {size_text(settings.BUNGEO_SUBMISSION_MAX_BYTES)}." in error.inner_text()
    page.click("#submit-form button[type=submit]")
    page.wait_for_timeout(500)
    assert posts == [] and page.url.endswith("/assignments/a1/")
    assert Submission.objects.count() == 0
    # A file within the limit instead: the message goes (sending it is the test above).
    page.set_input_files("#submit-form input[name=file]",
                         files=[{"name": "Dockerfile", "mimeType": "text/plain", "buffer": b"FROM\n"}])
    assert error.is_hidden()
    ctx.close()
