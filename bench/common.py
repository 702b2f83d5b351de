"""Shared helpers of the benchmarks: bench users, logging in, the terminal websocket."""
from __future__ import annotations

import os
import re
import statistics
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
LAB_WS = "/ws/labs/week1/images-and-containers/terminal/"


def django_setup() -> None:
    import django

    django.setup()


def ensure_users(n: int, prefix: str = "bench") -> list[tuple[str, str]]:
    """Create (or reset) ``n`` learner accounts in the server's database; returns logins."""
    django_setup()
    from django.contrib.auth import get_user_model

    User = get_user_model()
    out = []
    for i in range(n):
        name, pw = f"{prefix}{i}", f"bench-pw-{i}"
        u, _ = User.objects.get_or_create(username=name)
        u.set_password(pw)
        u.save()
        out.append((name, pw))
    return out


def login(base: str, username: str, password: str) -> str:
    """Log in through the real login form; returns the Cookie header for later requests."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrfmiddlewaretoken": token}).encode()
    req = urllib.request.Request(f"{base}/accounts/login/", data=data,
                                 headers={"Referer": f"{base}/accounts/login/"})
    opener.open(req).read()
    cookies = {c.name: c.value for c in jar}
    if "sessionid" not in cookies:
        raise SystemExit(f"login as {username} failed")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def ws_url(base: str, path: str = LAB_WS) -> str:
    return base.replace("http://", "ws://").replace("https://", "wss://") + path


# The learner's shell prompt as the terminal websocket sends it (through tmux), e.g.
# "\x1b[32m\x1b[1mroot@bungeo\x1b(B\x1b[m:\x1b[34m\x1b[1m~\x1b(B\x1b[m# ": it ends in "# " for root
# (isolation modes userns, sysbox, trusted) and in "$ " for the learner uid 1000 of mode rootless.
# Escape sequences (CSI, OSC such as a window title, character-set selection, other two-byte ones;
# ECMA-48) are removed first.
_ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-9A-Za-z]"
                      rb"|[@-Z\\-_=>])")
PROMPT_RE = re.compile(rb"[^\s:]+:[^\r\n]*?[#$] ")


def at_prompt(buf: bytes) -> bool:
    """Whether the terminal output ``buf`` (raw bytes, escape sequences included) holds a shell
    prompt "<user@host>:<dir># " or "...$ " (``PROMPT_RE``): root's in every isolation mode but
    rootless, the unprivileged learner's in rootless. Every bench that waits for the prompt uses
    this (bench/output_throughput.py too)."""
    return PROMPT_RE.search(_ESCAPES.sub(b"", buf)) is not None


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def table(rows: list[tuple], headers: tuple) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=False))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


__all__ = ["ensure_users", "login", "ws_url", "pct", "table", "statistics", "at_prompt"]


def grading_pool_ready(backend, timeout: float = 600.0) -> float:
    """Fill the grading pool (``BUNGEO_GRADING_POOL_SIZE`` sandboxes pre-pulling
    ``BUNGEO_GRADING_PREPULL``) and wait until every member is ready, as the beat task keeps it
    between gradings. Returns the seconds waited. Raises SystemExit when a pre-pull fails."""
    import time

    t0 = time.monotonic()
    backend.grading_pool_fill()
    while time.monotonic() - t0 < timeout:
        states = [backend._prepull_state(c.labels.get("org.bungeo.slot", c.name))
                  for c in backend._grading_pool_members()]
        if "failed" in states:
            raise SystemExit("a grading pool pre-pull failed: see the sandbox's prepull.failed")
        if states and all(s == "ready" for s in states):
            return time.monotonic() - t0
        time.sleep(0.5)
    raise SystemExit(f"the grading pool was not ready in {timeout:.0f} s")
