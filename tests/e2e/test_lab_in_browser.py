"""A learner in a real browser (Playwright driving Debian's chromium): log in, open the lab, type
a command in the terminal, see its output, see the step tick by itself."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from labs.models import StepCompletion

pytestmark = [pytest.mark.browser, pytest.mark.docker]

SHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.mark.parametrize("locale,lang_word,done_word", [("en-US", "Lab 2", "Done"),
                                                        ("ko-KR", "실습 2", "완료")])
def test_learner_runs_nginx_and_the_step_ticks(asgi_server, browser, django_user_model, locale,
                                               lang_word, done_word):
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale=locale)
    page = ctx.new_page()
    page.goto(f"{asgi_server}/labs/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.click("button[type=submit].primary")
    page.click("a.lab-link[href$='/images-and-containers/']")
    page.wait_for_selector(f"text={lang_word}")
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)

    page.click("#terminal")
    page.keyboard.type("docker run -d --name my-web -p 8080:80 nginx")
    page.keyboard.press("Enter")
    page.wait_for_selector(".xterm-rows:has-text('Status: Downloaded')", timeout=60_000)
    page.wait_for_selector("#step-run-nginx.done", timeout=30_000)
    badge = page.inner_text("#status-run-nginx .badge")
    assert badge == done_word
    # Click-to-run sends the command with its Enter: it runs, and the step ticks.
    page.click("#step-second-container .run-button")
    page.wait_for_selector(".xterm-rows:has-text('my-web2')")
    page.wait_for_selector("#step-second-container.done", timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lab-{locale}.png"))
    ctx.close()
    assert set(StepCompletion.objects.values_list("step_id", flat=True)) >= {
        "run-nginx", "second-container"}


def _learner_on_lab(asgi_server, browser, django_user_model, lab="images-and-containers",
                    viewport=(1400, 900)):
    """(context, page): a new learner "learner" logged in on ``lab`` (English, lab 2 unless
    told); the terminal may still be starting."""
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{asgi_server}/labs/week1/{lab}/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.click("button[type=submit].primary")
    return ctx, page


def _lab_with_terminal(asgi_server, browser, django_user_model, lab="images-and-containers"):
    """(context, page): as :func:`_learner_on_lab`, its terminal connected."""
    ctx, page = _learner_on_lab(asgi_server, browser, django_user_model, lab)
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    return ctx, page


def _log_out_in_another_tab(ctx, asgi_server):
    """Log the learner out in a second tab of ``ctx`` and wait for the login page there."""
    other = ctx.new_page()
    other.goto(f"{asgi_server}/labs/")
    other.click("form[action$='logout/'] button")
    other.wait_for_selector("form input[name=username]")
    return other


def _log_in_again(page):
    """Fill in the login page that ``page`` shows (the learner of :func:`_learner_on_lab`)."""
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/labs/week1/images-and-containers/")


def test_countdown_warns_and_extend_adds_time(asgi_server, browser, django_user_model, settings):
    """Inside the warning window the countdown turns into a warning with an Extend button;
    pressing it adds time and says so."""
    settings.BUNGEO_SANDBOX_MAX_LIFETIME = 300
    settings.BUNGEO_SANDBOX_WARN_BEFORE = 600
    settings.BUNGEO_SANDBOX_EXTEND_SECONDS = 3600
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    page.wait_for_selector("#lease.warn .extend:visible", timeout=30_000)
    assert "stops soon" in page.inner_text("#lease .countdown")
    page.click("#lease .extend")
    page.wait_for_selector("#lease .lease-msg:has-text('Extended by 60 minutes')")
    page.wait_for_selector("#lease:not(.warn)")
    text = page.inner_text("#lease .countdown")
    assert text.startswith("Time left 1:0"), text  # 5 min + 60 min
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "lease-extended.png"))
    ctx.close()


def test_keyboard_users_can_leave_the_terminal(asgi_server, browser, django_user_model):
    """Tab belongs to the shell (completion); Esc then Tab leaves the terminal and Esc then
    Shift+Tab goes back, as the line under the terminal says (WCAG 2.1.2, no keyboard trap)."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    in_terminal = "document.activeElement.closest('#terminal') !== null"
    page.wait_for_function(in_terminal)  # focused once connected
    assert "Esc then Tab leaves the terminal" in page.inner_text("#term-keys")
    page.keyboard.press("Tab")
    assert page.evaluate(in_terminal)  # a lone Tab goes to the shell
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate(in_terminal)
    # Back in the terminal, the first key typed is not swallowed by the Esc that left it.
    page.click("#terminal")
    page.keyboard.type("echo back-$((6*7))\n")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('back-42')")
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.closest('.terminal-bar') !== null")
    ctx.close()


@pytest.mark.django_db
def test_terminal_status_texts_and_copy_paste_hint_are_translated(client, django_user_model):
    django_user_model.objects.create_user("reader", password="pw-reader-1")
    client.login(username="reader", password="pw-reader-1")
    page = client.get("/labs/week1/images-and-containers/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'data-reconnecting="다시 연결하는 중…"' in page
    assert 'data-denied="권한이 없습니다. 다시 로그인해 주세요."' in page
    assert 'data-seconds="{n}초"' in page  # the wait before reconnecting: "(2초)", not "(2s)"
    assert 'data-input-label="터미널 입력"' in page
    assert "붙여넣기: Ctrl+V" in page
    # QA: beside "다시 시작" (Start again), "샌드박스 재시작" (Reset sandbox) read as the same
    # button. Reset reboots the sandbox and keeps its disk: "재부팅".
    start = re.search(r'id="term-restart"[^>]*>([^<]*)<', page).group(1)
    reset = re.search(r'class="small reset"[^>]*>([^<]*)<', page).group(1)
    assert (start, reset) == ("다시 시작", "샌드박스 재부팅")
    assert "재시작" not in page.split('id="term-restart"')[1].split("</div>")[0]


HEREDOC = "cat > index.html <<'EOF'"


def test_a_run_button_runs_its_whole_block_and_twice_in_a_row(asgi_server, browser,
                                                               django_user_model, backend):
    """A multi-line block (a here-document) goes to the terminal with an Enter after every line,
    its closing EOF included, so it runs whole; a second click right after runs it again on a
    fresh prompt instead of being glued to the block's last line."""
    from tests.conftest import inner_sh
    from webapp.sandboxes.backend import learner_owner

    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model, lab="dockerfile")
    user = django_user_model.objects.get(username="learner")
    button = page.locator(f'.run-button[data-run^="{HEREDOC}"]').first
    block = button.get_attribute("data-run")
    assert block.count("\n") == 2 and block.endswith("\nEOF")
    assert page.evaluate("(b) => window.bungeoRunKeys(b)", block) == block.replace("\n", "\r") + "\r"
    button.click()
    button.click()
    sandbox = backend.find(owner=learner_owner(user))
    script = "cat /root/index.html; grep -c '^cat > index.html <<' /root/.bash_history"
    want = "<h1>Hello from the bungeoppang stall</h1>\n2"
    for _ in range(60):
        out = inner_sh(backend, sandbox.id, script).output.strip()
        if out == want:
            break
        page.wait_for_timeout(500)
    assert out == want, out
    ctx.close()


def test_on_a_narrow_screen_a_run_button_brings_the_terminal_into_view(asgi_server, browser,
                                                                       django_user_model):
    """At 800 px the terminal sits below the whole lesson: a run button sent its command there
    and the learner saw nothing happen until they scrolled down."""
    ctx, page = _learner_on_lab(asgi_server, browser, django_user_model, viewport=(800, 700))
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    button = page.locator(".run-button").first
    button.scroll_into_view_if_needed()
    in_view = """() => { const r = document.querySelector('#terminal').getBoundingClientRect();
                         return r.top < window.innerHeight && r.bottom > 0; }"""
    assert not page.evaluate(in_view)  # the premise: below the lesson
    button.click()
    page.wait_for_function(in_view, timeout=5_000)
    ctx.close()


def test_ctrl_v_pastes_and_ctrl_c_copies_a_selection(asgi_server, browser, django_user_model):
    """Ctrl+V pastes into the shell (it typed a literal ^V before); Ctrl+C with text selected
    copies it instead of interrupting."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    page.evaluate("navigator.clipboard.writeText('echo pasted-$((6*7))')")
    page.click("#terminal")
    page.keyboard.press("Control+V")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('pasted-42')")
    page.keyboard.type("echo copy-me\n")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('\\ncopy-me')")
    page.evaluate("window.bungeoTerm.selectAll()")
    page.keyboard.press("Control+C")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "copy-me" in copied
    assert not page.evaluate("window.bungeoTerm.hasSelection()")  # cleared after copying
    ctx.close()


def test_terminal_refits_when_the_bar_above_it_grows(asgi_server, browser, django_user_model):
    """A warning in the bar (lease, disk full) makes the terminal's box smaller without any
    window resize: the terminal takes fewer rows instead of running past its box."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    rows = page.evaluate("window.bungeoTerm.rows")
    page.evaluate("""() => {
        const p = document.createElement('p'); p.style.height = '160px'; p.textContent = 'warning';
        document.querySelector('.terminal-bar').appendChild(p); }""")
    page.wait_for_function(f"window.bungeoTerm.rows < {rows}")
    box = page.evaluate("""() => [document.querySelector('#terminal .xterm-screen')
        .getBoundingClientRect().bottom, document.querySelector('#terminal')
        .getBoundingClientRect().bottom, window.innerHeight, window.bungeoTerm.rows]""")
    assert box[0] <= box[1] + 1, box
    ctx.close()


def test_a_warning_takes_a_row_of_its_own_above_the_controls(asgi_server, browser,
                                                             django_user_model):
    """A long warning in the bar (here the disk-full one) runs across the bar's width, at most
    three lines at 1280 px; beside the controls it was a column seven lines tall. The page
    fits a 1280x720 window, the hint under the terminal included."""
    ctx, page = _learner_on_lab(asgi_server, browser, django_user_model, viewport=(1280, 720))
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    # The page fits the window: the hint under the terminal was 6 px below it.
    fit = page.evaluate("""() => [document.getElementById('term-keys').getBoundingClientRect().bottom,
        document.documentElement.scrollHeight, window.innerHeight]""")
    assert fit[0] <= fit[2] + 0.5 and fit[1] <= fit[2], fit
    page.evaluate("""() => { const s = document.getElementById('term-status'); s.dataset.state = 'warn';
        s.textContent = 'Your home folder is full (9.7 of 9.8 GiB used). Remove files you no ' +
          'longer need from it, for example with rm: resetting the sandbox keeps them.'; }""")
    status, bar, reset = (page.locator(sel).bounding_box() for sel in
                          ("#term-status", ".terminal-bar", "button.reset"))
    line = float(page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('term-status')).lineHeight)"))
    assert status["width"] >= 0.9 * bar["width"], (status, bar)
    assert status["height"] <= 3 * line + 1, (status, line)
    assert reset["y"] >= status["y"] + status["height"] - 1  # the controls are below it
    ctx.close()


def test_the_ready_status_is_never_cut_short_at_1280_px(asgi_server, browser, django_user_model):
    """At 1280 px, with the countdown and the controls beside it, the ready status reads in full
    in English and in Korean (it read "Connected to your sa…")."""
    ctx, page = _learner_on_lab(asgi_server, browser, django_user_model, viewport=(1280, 720))
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))",
                           timeout=60_000)
    page.wait_for_selector("#lease:visible")
    fits = "(e => e.scrollWidth <= e.clientWidth)(document.querySelector('#term-status'))"
    page.screenshot(path=str(SHOTS / "ready-1280-en.png"))
    assert page.evaluate(fits), page.inner_text("#term-status")
    ctx.close()
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="ko-KR")
    page = ctx.new_page()
    page.goto(f"{asgi_server}/labs/week1/images-and-containers/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker'))", timeout=60_000)
    page.wait_for_selector("#lease:visible")
    assert page.evaluate(fits), page.inner_text("#term-status")
    ctx.close()


def test_a_long_run_block_wraps_beside_its_run_button_at_1280_px(asgi_server, browser,
                                                                 django_user_model):
    """At 1280 px a run block whose line is wider than the lesson ran under the run button drawn
    on top of it, then scrolled sideways with its end out of sight. It now wraps beside the
    button: all of its text shows, and none of it where the button is."""
    ctx, page = _learner_on_lab(asgi_server, browser, django_user_model, lab="volumes",
                                viewport=(1280, 720))
    page.wait_for_selector(".run-block .run-button")
    blocks = page.evaluate("""() => [...document.querySelectorAll('.run-block')].map(b => {
        const pre = b.querySelector('pre'), btn = b.querySelector('.run-button');
        const p = pre.getBoundingClientRect(), r = btn.getBoundingClientRect();
        const line = parseFloat(getComputedStyle(pre).lineHeight) || 16;
        return {code: pre.innerText.slice(0, 50), lines: Math.round(pre.clientHeight / line),
                scrolls: pre.scrollWidth > pre.clientWidth + 1,
                over: r.left < p.right - 1 && r.right > p.left && r.top < p.bottom
                      && r.bottom > p.top};
    })""")
    assert any(b["lines"] >= 3 for b in blocks), blocks  # the premise: a long one wraps
    assert not [b for b in blocks if b["scrolls"] or b["over"]], blocks
    page.locator(".run-block:has-text('docker run --name writer')").first.screenshot(
        path=str(SHOTS / "run-block-1280.png"))
    ctx.close()


def test_a_stopped_sandbox_waits_for_start_again_instead_of_restarting(asgi_server, browser,
                                                                       django_user_model, backend):
    """The time limit (or the idle reaper) stops the sandbox while its lab is open: the page says
    so and offers Start again; it does not start the sandbox by itself, which kept a place in
    the classroom for as long as a tab stayed open."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    from webapp.sandboxes.backend import learner_owner

    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    backend.wait_engine(sb.id)  # stopped while its engine starts, the page reports an error instead
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))")
    # As if the shell had asked for a blinking cursor (tmux sends its own cursor style).
    page.evaluate("window.bungeoTerm.options.cursorBlink = true")
    assert "stopped" not in (page.get_attribute("#terminal", "class") or "").split()
    backend.stop(sb.id)
    page.wait_for_selector("#term-status[data-state=closed]", timeout=30_000)
    text = page.inner_text("#term-status")
    assert "Your sandbox was stopped" in text and "Start again" in text, text
    page.wait_for_selector("#term-restart:visible")
    # The terminal looks stopped: dimmed, its cursor no longer blinking.
    assert "stopped" in page.get_attribute("#terminal", "class").split()
    assert page.evaluate("getComputedStyle(document.querySelector('#terminal .xterm')).opacity") == "0.55"
    assert page.evaluate("window.bungeoTerm.options.cursorBlink") is False
    assert page.get_attribute("#term-status", "class").split().count("nudge") == 0
    page.click("#terminal")
    page.keyboard.type("ls\n")  # runs nowhere: the bar's advice and Start again flash
    assert "nudge" in page.get_attribute("#term-status", "class").split()
    assert "nudge" in page.get_attribute("#term-restart", "class").split()
    page.wait_for_timeout(5000)  # longer than any automatic reconnect would wait
    assert not backend.get(sb.id).running
    page.click("#term-restart")
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    assert backend.get(sb.id).running and page.is_hidden("#term-restart")
    assert "stopped" not in (page.get_attribute("#terminal", "class") or "").split()
    ctx.close()


def test_after_a_dropped_connection_a_stopped_sandbox_waits_for_start_again(asgi_server, browser,
                                                                          django_user_model,
                                                                          backend):
    """QA: the server restarted while a lab was open, the reaper stopped the sandbox meanwhile
    (its lease ended), and the tab's reconnect started a fresh one with a new lease, unasked.
    Here the page's connection drops without a word (the websocket is cut in the browser, then
    refused for a while, as a server that is down), the sandbox stops meanwhile, and the page's
    own reconnect says so and offers Start again instead of starting it."""
    django_user_model.objects.create_user("learner", password="pw-learner-1")
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = ctx.new_page()
    down, routes, urls = [False], [], []

    def route(ws):
        urls.append(ws.url)
        if down[0]:
            ws.close()  # the server is down: nothing answers for real
            return
        routes.append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r".*/terminal/.*"), route)
    page.goto(f"{asgi_server}/labs/week1/images-and-containers/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "pw-learner-1")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    from webapp.sandboxes.backend import learner_owner

    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    backend.wait_engine(sb.id)
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))")
    assert "resume=1" not in urls[-1]
    down[0] = True
    ws, server = routes[-1]
    server.close()
    ws.close()
    page.wait_for_selector("#term-status[data-state=reconnecting]", timeout=10_000)
    backend.stop(sb.id)  # the reaper, while the server is away
    down[0] = False
    page.wait_for_selector("#term-status[data-state=closed]", timeout=30_000)
    text = page.inner_text("#term-status")
    assert "stopped while this page was away" in text and "Start again" in text, text
    assert "resume=1" in urls[-1], urls
    page.wait_for_selector("#term-restart:visible")
    page.wait_for_timeout(5000)  # longer than any automatic reconnect would wait
    assert not backend.get(sb.id).running
    page.click("#term-restart")
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    assert backend.get(sb.id).running and "resume=1" not in urls[-1]
    ctx.close()


def test_a_reset_from_another_tab_reconnects_this_one_by_itself(asgi_server, browser,
                                                                django_user_model, backend):
    """A reset asked elsewhere (another tab of the same learner) ends this tab's terminal too:
    the sandbox runs again, so the page reconnects by itself, without Start again (it said the
    sandbox was stopped, or that the shell ended)."""
    from webapp.sandboxes.backend import learner_owner

    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    backend.wait_engine(sb.id)
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))")
    connects = page.evaluate("window.bungeoConnects")
    page.evaluate("""() => { window.bungeoStates = []; window.bungeoTexts = [];
        const st = document.querySelector('#term-status');
        new MutationObserver(() => { window.bungeoStates.push(st.dataset.state);
                                     window.bungeoTexts.push(st.textContent); })
          .observe(st, {attributes: true, childList: true, characterData: true, subtree: true}); }""")
    backend.restart(sb.id)
    page.wait_for_function(f"window.bungeoConnects > {connects}", timeout=60_000)
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    assert "closed" not in page.evaluate("window.bungeoStates"), page.evaluate("window.bungeoStates")
    # While it waits to reconnect, the bar says why (it said only "Reconnecting… (2s)").
    texts = page.evaluate("window.bungeoTexts")
    assert any(re.fullmatch(r"Your sandbox was reset: reconnecting… \(\d+ s\)", t) for t in texts), texts
    assert page.is_hidden("#term-restart")
    page.click("#terminal")
    page.keyboard.type("echo after-$((6*7))\n")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('after-42')")
    ctx.close()


def test_reconnecting_without_a_login_says_so_instead_of_retrying_for_ever(asgi_server, browser,
                                                                           django_user_model,
                                                                           backend):
    """The connection drops (here: a reset) after the login session ended (a server restart, an
    expired session; here: the browser's cookies cleared). The server refuses the new
    connection before accepting it, which a browser sees only as code 1006: the page said
    "Reconnecting…" for ever. It now asks whether the session holds and says to log in."""
    from webapp.sandboxes.backend import learner_owner

    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    backend.wait_engine(sb.id)
    connects = page.evaluate("window.bungeoConnects")
    ctx.clear_cookies()
    backend.restart(sb.id)
    page.wait_for_selector("#term-status[data-state=error]:has-text('You were logged out')",
                           timeout=60_000)
    assert page.get_attribute("#term-status a", "href").startswith("/accounts/login/?next=")
    assert page.evaluate("window.bungeoConnects") == connects
    page.wait_for_timeout(3000)  # and it stays so: no more attempts
    assert page.locator("#term-status").get_attribute("data-state") == "error"
    ctx.close()


def test_an_open_terminal_stops_its_sandbox_when_the_lease_runs_out(asgi_server, browser,
                                                                    django_user_model, backend,
                                                                    monkeypatch):
    """At the end of the time limit the open terminal stops its sandbox itself (the reaper's
    next round came up to 30 s later, while the page showed 0:00, said "Connected" and input
    still ran); the page then says why, in full, offers Start again and shows no countdown."""
    from webapp.sandboxes import consumers
    from webapp.sandboxes.backend import Lease, learner_owner

    monkeypatch.setattr(consumers, "LEASE_EVERY", 1.0)
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    backend.wait_engine(sb.id)
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))")
    page.wait_for_selector("#lease:visible")
    lease = backend.lease(sb.id)
    backend._lease_write(sb.id, Lease(lease.started, time.time() + 3, 0))
    page.wait_for_selector("#term-status[data-state=closed]", timeout=30_000)
    assert not backend.get(sb.id).running
    text = page.inner_text("#term-status")
    assert "Your sandbox reached its time limit and was stopped" in text and "Start again" in text, text
    assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)(document.querySelector('#term-status'))")
    # Start again shows when the socket closes, just after the closing status message.
    page.wait_for_selector("#term-restart:visible", timeout=10_000)
    assert page.is_hidden("#lease")
    ctx.close()


def test_reset_of_a_stopped_sandbox_connects_its_terminal(asgi_server, browser, django_user_model,
                                                          backend):
    """Reset pressed on a sandbox the time limit stopped (instead of Start again): the reset
    starts it, and the page connects to it by itself (it stayed on "Resetting…" for ever, the
    terminal closed, while the sandbox's lifetime ran unseen)."""
    from webapp.sandboxes.backend import learner_owner

    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    backend.wait_engine(sb.id)
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))")
    backend.stop(sb.id)
    page.wait_for_selector("#term-restart:visible", timeout=30_000)
    page.on("dialog", lambda d: d.accept())
    page.click(".terminal-bar .reset")
    page.wait_for_selector("#reset-result .reset-result.done", timeout=60_000)
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))",
                           timeout=60_000)
    # The countdown comes in its own message, read beside the engine's wait: it may land just
    # after "Connected" (seen once in CI), so it is waited for rather than looked at once.
    page.wait_for_selector("#lease:visible", timeout=10_000)
    assert page.is_hidden("#term-restart")
    page.click("#terminal")
    page.keyboard.type("echo back-$((6*7))\n")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('back-42')")
    ctx.close()


def test_reset_after_logging_out_elsewhere_goes_to_the_login_page(asgi_server, browser,
                                                                  django_user_model):
    """Logged out in another tab, Reset sandbox (an htmx request) loads the login page in the
    tab, with the way back to the lab, instead of drawing the login page into the terminal
    bar; the terminal's input field is named in the page's language."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    assert page.get_attribute(".xterm-helper-textarea", "aria-label") == "Terminal input"
    _log_out_in_another_tab(ctx, asgi_server)
    page.on("dialog", lambda d: d.accept())
    # The terminal hears of the logout and hides the button (below); a page that has not heard
    # yet (its terminal reconnecting, Redis down) still sends the request: click it from script.
    page.eval_on_selector(".terminal-bar .reset", "b => b.click()")
    page.wait_for_url("**/accounts/login/?next=/labs/week1/images-and-containers/", timeout=15_000)
    _log_in_again(page)
    ctx.close()


def test_no_extension_left_is_said_in_the_warning(asgi_server, browser, django_user_model, backend,
                                                  settings):
    """At the extension limit the Extend button goes, and the warning says there is none left
    (the button just vanished, and the learner had to guess)."""
    from webapp.sandboxes import consumers
    from webapp.sandboxes.backend import Lease, learner_owner

    settings.BUNGEO_SANDBOX_WARN_BEFORE = 600
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    page.wait_for_selector("#lease:visible")
    assert page.is_hidden("#lease .no-more")
    lease = backend.lease(sb.id)
    backend._lease_write(sb.id, Lease(lease.started, time.time() + 300,
                                      settings.BUNGEO_SANDBOX_MAX_EXTENSIONS))
    page.reload()  # the page learns the new lease when its terminal connects
    page.wait_for_selector("#lease.warn .no-more:visible", timeout=30_000 + consumers.LEASE_EVERY * 1000)
    assert page.is_hidden("#lease .extend")
    assert page.inner_text("#lease .no-more") == "No extensions left."
    ctx.close()


def test_after_logging_out_elsewhere_the_next_command_does_not_run(asgi_server, browser,
                                                                   django_user_model, backend):
    """Logged out in another tab, the open terminal refuses the next command at once (it ran
    until the next lease update, up to 20 s later) and says why."""
    from webapp.sandboxes import consumers
    from webapp.sandboxes.backend import learner_owner

    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    _log_out_in_another_tab(ctx, asgi_server)
    page.wait_for_timeout(consumers.SESSION_CHECK_S * 1000 + 500)
    page.click("#terminal")
    page.keyboard.type("touch /root/after-logout\n")
    page.wait_for_selector("#term-status[data-state=error]", timeout=5_000)
    assert "You were logged out" in page.inner_text("#term-status")
    page.wait_for_timeout(1000)
    res = backend.exec(sb.id, ["sh", "-c", "test -e /root/after-logout && echo ran || echo refused"])
    assert res.output.strip() == "refused", res.output
    ctx.close()


def test_logging_out_closes_the_open_terminal(asgi_server, browser, django_user_model,
                                              monkeypatch):
    """Logging out in another tab ends the terminal of the lab that is still open (a shared
    classroom PC must not leave a shell for the next person)."""
    from webapp.sandboxes import consumers

    monkeypatch.setattr(consumers, "LEASE_EVERY", 1.0)
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    assert page.is_visible(".topbar .who") and page.is_visible(".terminal-bar .reset")
    _log_out_in_another_tab(ctx, asgi_server)
    page.wait_for_selector("#term-status[data-state=error]", timeout=15_000)
    text = page.inner_text("#term-status")
    assert "You were logged out" in text and "Not allowed" not in text, text
    # QA: under that banner the header still showed the learner's name, menu and Log out, and
    # the countdown, port preview and Reset looked usable (each led to the login page).
    for gone in (".topbar .who", ".topbar nav a", ".topbar .logout", "#lease",
                 ".terminal-bar .preview-form", ".terminal-bar .reset"):
        assert page.locator(gone).first.is_hidden(), gone
    # The link leads to the login page and, after it, back to this lab, all there again.
    page.click("#term-status a:has-text('Log in again')")
    page.wait_for_selector("form input[name=username]")
    _log_in_again(page)
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    assert page.is_visible(".topbar .who") and page.is_visible(".terminal-bar .reset")
    ctx.close()


def test_keys_typed_after_logging_out_elsewhere_are_not_glued_to_the_next_command(
        asgi_server, browser, django_user_model, backend):
    """QA's case: logged out in another tab, keys typed (no Enter) into the terminal still open
    sat on the shell's command line, and after logging in again the next command ran with them
    glued in front. The terminal now ends at the logout (at once: no lease update or Enter is
    waited for) and says so; the keys go nowhere, and the next command runs as typed."""
    from webapp.sandboxes.backend import learner_owner

    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    sb = backend.find(owner=learner_owner(django_user_model.objects.get(username="learner")))
    _log_out_in_another_tab(ctx, asgi_server)
    page.click("#terminal")
    page.keyboard.type("gluedkeys")
    page.wait_for_selector("#term-status[data-state=error]", timeout=3_000)
    assert "You were logged out" in page.inner_text("#term-status")
    page.wait_for_timeout(500)
    pane = backend.exec(sb.id, ["tmux", "capture-pane", "-p", "-t", "main"]).output
    assert "gluedkeys" not in pane, pane
    page.click("#term-status a:has-text('Log in again')")
    _log_in_again(page)
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    page.click("#terminal")
    page.keyboard.type("echo after-$((6*7))\n")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('after-42')")
    ctx.close()


def test_reset_from_the_page_reconnects_by_itself(asgi_server, browser, django_user_model):
    """Reset sandbox ends the terminal as a stop does, but the learner asked for it: the page
    reconnects without Start again, to the same workspace."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    page.click("#terminal")
    page.keyboard.type("echo kept > ~/work/reset-note\n")
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))")
    page.on("dialog", lambda d: d.accept())
    connects = page.evaluate("window.bungeoConnects")
    page.click(".terminal-bar .reset")
    # The bar says a reset is under way (it takes seconds), once, whole, with the button
    # disabled and on the bar's one row; then that it is done, then clears.
    assert page.inner_text("#term-status") == "Resetting your sandbox…"
    assert page.inner_text("#reset-result") == ""
    assert page.is_disabled(".terminal-bar .reset")
    assert page.locator("#term-status").evaluate("el => el.scrollWidth <= el.clientWidth")
    bar_top = page.locator(".terminal-bar").bounding_box()["y"]
    assert page.locator(".terminal-bar .reset").bounding_box()["y"] < bar_top + 40
    page.screenshot(path=str(SHOTS / "lab-resetting-en.png"))
    # Typed during the reset: held by the page, run by the new shell (it was lost, sent to the
    # terminal the reset ended, while the bar still said "Connected").
    page.click("#terminal")
    page.keyboard.type("echo typed-during-reset-$((6*7))\n")
    page.wait_for_selector("#reset-result .reset-result.done", timeout=60_000)
    assert "files and images are still there" in page.inner_text("#reset-result")
    page.wait_for_function(f"window.bungeoConnects > {connects}", timeout=60_000)  # by itself
    page.wait_for_selector("#term-status[data-state=ready]:not(:has-text('Docker is starting'))",
                           timeout=60_000)
    assert page.is_hidden("#term-restart")
    page.wait_for_function(
        "document.querySelector('.xterm-rows').innerText.includes('typed-during-reset-42')",
        timeout=30_000)
    page.click("#terminal")
    page.keyboard.type("echo note-$(cat ~/work/reset-note)\n")
    page.wait_for_function("document.querySelector('.xterm-rows').innerText.includes('note-kept')")
    page.wait_for_selector("#reset-result .reset-result", state="detached", timeout=15_000)
    ctx.close()


def test_a_learner_in_line_sees_the_whole_place_and_cannot_reset_past_it(asgi_server, browser,
                                                                        django_user_model, backend,
                                                                        settings):
    """At capacity the status bar shows the learner's place and estimate in full (it was cut at
    "You ar…") and the Reset button is disabled (it started a sandbox past the queue); once a
    place frees, the terminal starts and Reset works again."""
    from webapp.sandboxes import admission

    settings.BUNGEO_SANDBOX_CAPACITY = 1
    admission.reset()
    other = backend.ensure(owner="occupant")
    try:
        ctx, page = _learner_on_lab(asgi_server, browser, django_user_model, viewport=(1280, 800))
        page.wait_for_selector("#term-status[data-state=queued]", timeout=60_000)
        status = page.locator("#term-status")
        assert "number 1 in line (about" in status.inner_text()
        assert status.evaluate("el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight")
        assert page.is_disabled("button.reset")
        # The terminal shows the place too, large and in sight (QA: an empty black box).
        card = page.locator("#terminal .queue-card")
        assert card.is_visible() and "number 1 in line (about" in card.inner_text()
        box, term_box = card.bounding_box(), page.locator("#terminal").bounding_box()
        assert term_box["y"] < box["y"] and box["y"] + box["height"] < term_box["y"] + term_box["height"]
        assert card.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") > status.evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)")
        page.screenshot(path=str(SHOTS / "lab-queued-en.png"))
        backend.stop(other.id)
        page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
        assert page.is_enabled("button.reset") and card.is_hidden()
        ctx.close()
    finally:
        backend.remove(other.id, keep_workspace=False)
        admission.reset()


SCREEN_JS = """() => { const b = window.bungeoTerm.buffer.active; const out = [];
  for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true).trim());
  return out; }"""


def _wait_for_line(page, line: str, present: bool = True, timeout_s: float = 15) -> list[str]:
    """The terminal's lines once one of them is exactly ``line`` (or none is, when not
    ``present``); fails after ``timeout_s`` seconds with the screen in the message."""
    deadline = time.monotonic() + timeout_s
    while True:
        screen = page.evaluate(SCREEN_JS)
        if (line in screen) == present:
            return screen
        if time.monotonic() > deadline:
            pytest.fail(f"{line!r} {'never showed' if present else 'stayed'} on the screen: {screen}")
        page.wait_for_timeout(200)


def _wheel(page, steps: int, dy: int) -> None:
    box = page.locator("#terminal").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(steps):
        page.mouse.wheel(0, dy)
        page.wait_for_timeout(30)


def test_the_mouse_wheel_scrolls_back_and_typing_goes_to_the_shell(asgi_server, browser,
                                                                   django_user_model):
    """The wheel shows the output that scrolled off the screen (tmux's history: the browser's
    scrollback has none of it); typing afterwards runs in the shell, not in the history view;
    a reload while scrolled back opens at the prompt; in a full-screen program the wheel moves
    through its text (arrow keys); a tmux that does not bind the keys gets none."""
    ctx, page = _lab_with_terminal(asgi_server, browser, django_user_model)
    page.click("#terminal")
    page.keyboard.type("seq 1 300")
    page.keyboard.press("Enter")
    screen = _wait_for_line(page, "300")
    assert "200" not in screen and "1" not in screen  # scrolled off
    _wheel(page, 12, -50)  # 36 lines back
    _wait_for_line(page, "250")
    _wheel(page, 100, -50)  # far enough to reach the top
    _wait_for_line(page, "1")
    page.keyboard.type("echo back$((40+2))")
    page.keyboard.press("Enter")
    screen = _wait_for_line(page, "back42")
    assert "1" not in screen  # the history view ended with the typing
    # A reload while scrolled back opens at the prompt (the history view ends when a page attaches).
    _wheel(page, 5, -50)
    _wait_for_line(page, "back42", present=False)
    page.reload()
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    _wait_for_line(page, "back42")
    page.click("#terminal")
    # A full-screen program: the wheel scrolls less's text forward, three lines a step.
    page.keyboard.type("seq 1000 1300 | less")
    page.keyboard.press("Enter")
    _wait_for_line(page, "1000")
    _wheel(page, 10, 50)
    screen = _wait_for_line(page, "1000", present=False)
    assert "1030" in screen, screen
    page.keyboard.press("q")
    # A tmux that does not say it binds the wheel's keys (a sandbox started from an older
    # image) gets none of them, which would reach the shell as typed text: the wheel does what
    # xterm.js does by itself (arrow keys: the shell's history), and the history view of tmux
    # does not open.
    page.keyboard.type("tmux set -g set-titles off; clear; seq 2000 2300")
    page.keyboard.press("Enter")
    _wait_for_line(page, "2300")
    page.reload()
    page.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    _wait_for_line(page, "2300")
    page.click("#terminal")
    _wheel(page, 12, -50)
    page.wait_for_timeout(1000)
    assert "2250" not in page.evaluate(SCREEN_JS)
    page.keyboard.press("Control+c")
    page.keyboard.type("echo plain$((1+1))")
    page.keyboard.press("Enter")
    _wait_for_line(page, "plain2")
    ctx.close()


def test_typing_in_one_tab_while_another_is_scrolled_back_goes_to_the_shell(asgi_server, browser,
                                                                            django_user_model):
    """Two tabs of a lab share one shell, and tmux's history view is the shell's: when tab B
    has scrolled back, what tab A types still reaches the shell (its first keys went to the
    history view, and bash got the rest)."""
    ctx, page_a = _lab_with_terminal(asgi_server, browser, django_user_model)
    page_b = ctx.new_page()
    page_b.goto(page_a.url)
    page_b.wait_for_selector("#term-status[data-state=ready]", timeout=60_000)
    page_b.click("#terminal")
    page_b.keyboard.type("seq 1 300")
    page_b.keyboard.press("Enter")
    _wait_for_line(page_b, "300")
    _wheel(page_b, 20, -50)
    _wait_for_line(page_b, "220")
    page_a.click("#terminal")
    page_a.keyboard.type("echo from-tab-$((40+2))")
    page_a.keyboard.press("Enter")
    _wait_for_line(page_a, "from-tab-42")
    _wait_for_line(page_b, "from-tab-42")
    ctx.close()
