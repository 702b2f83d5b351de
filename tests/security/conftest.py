"""The attack suite: each test runs an attack as a learner inside a real sandbox and asserts the
safe outcome. At the end of the run a table (attack, outcome) is printed and written to
``$BUNGEO_SECURITY_TABLE`` when that is set (the issue note quotes it)."""
from __future__ import annotations

import os

import pytest

_RESULTS: dict[str, tuple[str, str]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if "tests/security/" not in item.nodeid:
        return
    doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        verdict = {"passed": "safe (attack failed)", "failed": "FAILED", "skipped": "not tested"}
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2]
        _RESULTS[item.name] = (doc, verdict[report.outcome] + (f": {reason}" if reason else ""))


def security_table() -> str:
    """The results as a Markdown table, in the order the tests ran."""
    lines = ["| attack | outcome |", "|---|---|"]
    lines += [f"| {doc} | {verdict} |" for doc, verdict in _RESULTS.values()]
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    terminalreporter.section("security: attack -> outcome")
    terminalreporter.write_line(security_table())
    path = os.environ.get("BUNGEO_SECURITY_TABLE")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(security_table() + "\n")
