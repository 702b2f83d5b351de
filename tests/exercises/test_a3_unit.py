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


def test_not_yaml_names_the_line_and_column_and_which_of_two_files_was_graded():
    report = grader.grade({"compose.yaml": b"services:\n  a: {image: busybox}\nbad: [unclosed\n",
                           "docker-compose.yml": b"services: {}\n"}, NoBackend())
    message = report.checks[0].message
    assert message.startswith("The file is not valid YAML: while parsing a flow sequence (line 3, "
                              "column 6): expected ',' or ']', but got '<stream end>' (line 4, "
                              "column 1)")
    assert "compose.yaml was graded, not docker-compose.yml" in message
    assert report.score == 0


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


def test_config_json_skips_warnings_before_the_object():
    out = ('time="2026-01-01T00:00:00Z" level=warning msg="the attribute `version` is obsolete"\n'
           '{"name": "a3", "services": {"w": {"image": "alpine"}}}\n')
    assert grader.config_json(out)["services"] == {"w": {"image": "alpine"}}
    assert grader.config_json('{"services": {}}') == {"services": {}}
    assert grader.config_json("level=warning msg={oops}\nno json here") == {}


def test_file_growth_tells_appended_rewritten_and_unchanged_files():
    before = {"a": ["1", "2"], "b": ["t1"], "c": ["x"], "gone": ["z"]}
    after = {"a": ["1", "2", "3", "4"], "b": ["t2"], "c": ["x"], "new": ["n1", "n2"]}
    g = grader.file_growth(before, after)
    assert g.grown == {"a": ["3", "4"], "new": ["n1", "n2"]}
    assert g.rewritten == ["b"] and g.unchanged == ["c"]
    assert grader.file_growth({}, {}).grown == {}


def test_command_text_joins_entrypoint_and_command():
    attrs = {"Config": {"Entrypoint": ["sh", "-c"], "Cmd": ["while true; do date; done"]}}
    assert grader.command_text(attrs) == "sh -c while true; do date; done"
    assert grader.command_text({"Config": {"Entrypoint": None, "Cmd": ["tail", "-F", "f"]}}) \
        == "tail -F f"
    assert grader.command_text({}) == ""


def test_writes_to_file():
    assert grader.writes_to_file("sh -c while true; do date >> /s/t.log; sleep 1; done")
    assert grader.writes_to_file("sh -c while sleep 1; do date; done>/s/t")
    assert grader.writes_to_file("sh -c while true; do date | tee -a /s/t.log; sleep 1; done")
    assert not grader.writes_to_file("tail -F /s/t.log 2>&1")
    assert not grader.writes_to_file("sh -c tail -F /s/steeple.log")
    assert not grader.writes_to_file("sh -c tail -F /s/t.log >/dev/stdout 2>&1")
    assert not grader.writes_to_file("sh -c tail -F /s/t 2>/dev/null | cat")


def test_runs_in_background():
    assert grader.runs_in_background("sh -c while true; do date >> f; sleep 1; done &")
    assert grader.runs_in_background("sh -c 'while true; do date >> f; sleep 1; done &' ")
    assert not grader.runs_in_background("sh -c while true; do date >> f; sleep 1; done")
    assert not grader.runs_in_background("sh -c loop & wait")
    assert not grader.runs_in_background("sh -c test -d /s && tail -F /s/t")


def test_uses_cat():
    assert grader.uses_cat("cat /shared/times.log")
    assert grader.uses_cat("sh -c sleep 2; cat /shared/times.log")
    assert grader.uses_cat("/bin/cat /s/t")
    assert not grader.uses_cat("tail -F /s/t | cat")
    assert not grader.uses_cat("sh -c concat.sh /s/t")


def test_reader_pipe():
    assert grader.reader_pipe("sh -c tail -F /s/t | sed 's/^/x /'") == "sed"
    assert grader.reader_pipe("sh -c tail -F /s/t |/bin/grep UTC") == "grep"
    assert grader.reader_pipe("tail -F /s/t") is None
    assert grader.reader_pipe("sh -c tail -F /s/t || sleep 1") is None


def test_messages_and_evidence_show_paths_relative_to_the_submission():
    o = grader._fail(grader._outcome("named-volume"), "the host folder /srv/submission/data is bound",
                     "source: /srv/submission/data\nother: /srv/submission-x")
    assert o.message == "the host folder ./data is bound"
    assert o.evidence == "source: ./data\nother: /srv/submission-x"


class ArchiveRecorder:
    """Records what the grader puts into its sandbox; its `docker compose config` fails, so the
    run ends there."""

    def __init__(self):
        self.archives: list[bytes] = []

    def create_fresh(self, **kw):
        from webapp.sandboxes.backend import Sandbox

        return Sandbox(id="g1", owner="t", kind="grading", state="running")

    def put_archive(self, sandbox_id, path, data):
        self.archives.append(data)

    def exec(self, sandbox_id, cmd, **kw):
        from webapp.sandboxes.backend import ExecResult

        return ExecResult(1, "stop here")

    def remove(self, sandbox_id, **kw):
        pass


def test_only_the_compose_file_reaches_the_sandbox_as_the_handout_says():
    import io
    import tarfile

    backend = ArchiveRecorder()
    grader.grade({"compose.yaml": b"services:\n  w: {image: busybox}\n",
                  "writer.sh": b"while true; do date >> /data/t; sleep 1; done\n"}, backend)
    assert len(backend.archives) == 1
    with tarfile.open(fileobj=io.BytesIO(backend.archives[0])) as tar:
        assert tar.getnames() == ["compose.yaml"]
