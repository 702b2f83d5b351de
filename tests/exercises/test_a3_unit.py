"""A3 grader helpers that need no engine, and refusals that happen before any sandbox starts."""
from __future__ import annotations

import pytest
from django.utils import translation

from exercises import registry

grader = registry.get("a3").grader


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield

BOMB = b"""a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
services: {w: {image: busybox, command: ["echo", *g]}}
"""


class NoBackend:
    """Fails the test if the grader tries to start a sandbox."""

    def create_fresh(self, **kw):
        raise AssertionError("a refused file must not reach a sandbox")


def test_yaml_bomb_is_refused_before_docker():
    report = grader.grade({"compose.yaml": BOMB}, NoBackend())
    first = report.checks[0]
    assert not first.passed and "YAML nodes" in first.message
    assert report.score == 0 and report.duration_s < 2


def test_not_yaml_is_refused_before_docker():
    report = grader.grade({"compose.yaml": b"services: [unclosed"}, NoBackend())
    assert "not valid YAML" in report.checks[0].message


def test_no_compose_file():
    report = grader.grade({"notes.txt": b"hi"}, NoBackend())
    assert "No compose file" in report.checks[0].message
    assert all(not c.passed for c in report.checks)


def test_reasonable_anchors_are_accepted():
    ok = b"x-common: &common {image: busybox}\nservices: {a: *common, b: *common}\n"
    assert grader.yaml_problem(ok) is None


def test_missing_images():
    cfg = {"services": {"a": {"image": "busybox"}, "b": {"image": "docker.io/library/alpine:3.19"},
                        "c": {"image": "node:18"}}}
    assert grader.missing_images(cfg, {"busybox:latest", "alpine:3.19"}) == ["node:18"]


def test_tail_lines_never_cuts_words():
    assert grader.tail_lines("one\n\ntwo three\nfour\n", 2) == "two three\nfour"
