"""A2 graded on the real sandbox engine: the reference scores full marks, every broken variant
loses exactly the checks it should (with the message a learner needs), every tricky-but-correct
variant scores full marks; the compose policy refuses before anything runs, in A2 and A3.

Variants under broken/ and tricky/ hold only the files that differ from reference/ (see
``variant_files``). Each grading starts its own fresh sandbox, as on the site.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from exercises import registry

A2 = registry.get("a2")
ALL = set(A2.grader.TITLES)
THROUGH_NGINX = {"proxy-answers", "load-spread", "sessions-shared", "session-in-redis",
                 "items-stored", "db-wait"}

# variant -> (checks it must lose, a phrase of the first lost check's message)
VARIANTS = {
    "reference": (set(), None),
    "broken/upstream-localhost": (THROUGH_NGINX, "localhost"),
    "broken/publish-on-loopback": (THROUGH_NGINX, "on 127.0.0.1 only"),
    "broken/db-on-both-networks": ({"networks"}, "backend only"),
    "broken/pgdata-bind-mount": ({"db-volume"}, "bind mount"),
    "broken/sessions-in-memory": ({"sessions-shared", "session-in-redis"},
                                  "each instance keeps its own sessions"),
    "broken/no-db-wait": ({"db-wait"}, "did not recover"),
    "broken/one-api-instance": ({"load-spread", "sessions-shared"}, "Only 1 API container"),
    "broken/items-in-memory": ({"items-stored"}, "GET /api/items"),
    "broken/privileged": (ALL, "privileged: true"),
    # The feedback names the missing build folder relative to the submission. The database
    # (no build) still starts, on its named volume.
    "broken/build-folder-missing": (ALL - {"compose-valid", "db-volume"},
                                    "the build folder ./backend (of api1, api2) is not in your "
                                    "submission"),
    # Compose's "`version` is obsolete" warning must not hide the file from the policy.
    "broken/privileged-with-version": (ALL, "privileged: true"),
    "tricky/replicas": (set(), None),
    "tricky/healthcheck-depends": (set(), None),
    "tricky/resolver-variables": (set(), None),
    "tricky/docker-compose-yml": (set(), None),
    "tricky/nginx-image-redis-password": (set(), None),
    "tricky/templates-wget-healthcheck-redis-db1": (set(), None),
}


def variant_files(name: str) -> dict[str, bytes]:
    """The files of a variant: reference/'s files, overridden by the variant's own; a variant
    with a compose file of its own (under any accepted name) replaces the reference's."""
    def read(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    files = read(A2.folder / "reference")
    if name == "reference":
        return files
    own = read(A2.folder / name)
    assert own, f"variant {name} has no files"
    if any(n in own for n in A2.grader.ACCEPTED_FILENAMES):
        for n in A2.grader.ACCEPTED_FILENAMES:
            files.pop(n, None)
    files.update(own)
    return files


def test_every_variant_folder_is_listed():
    folders = {f"{kind}/{p.name}" for kind in ("broken", "tricky")
               for p in (A2.folder / kind).iterdir() if p.is_dir()}
    assert folders == set(VARIANTS) - {"reference"}
    assert sum(v.startswith("broken/") for v in VARIANTS) >= 6
    assert sum(v.startswith("tricky/") for v in VARIANTS) >= 3


# Gradings wait a lot (pulls, npm, the database hold, node starting), so the module grades its
# variants a few at a time, each in its own fresh sandbox as on the site; every test then judges
# one variant's report.
GRADING_WORKERS = int(os.environ.get("BUNGEO_TEST_GRADING_WORKERS", "2"))
TIMING_SENSITIVE = {"broken/no-db-wait"}


@pytest.fixture(scope="module")
def graded(backend, request):
    """variant -> GradeReport (or the exception its grading raised), for the variants whose test
    was selected (``-k``), so that a run of a few variants does not grade them all."""
    selected = {item.callspec.params["variant"] for item in request.session.items
                if item.module is request.module and "variant" in getattr(
                    getattr(item, "callspec", None), "params", {})}

    def one(variant):
        with translation.override("en"):
            try:
                return A2.grader.grade(variant_files(variant), backend, owner="test")
            except Exception as exc:  # noqa: BLE001 - reported by the variant's own test
                return exc

    # Start-up ordering is judged by timing: that variant is graded alone, after the others.
    alone = [v for v in VARIANTS if v in selected and v in TIMING_SENSITIVE]
    rest = [v for v in VARIANTS if v in selected and v not in TIMING_SENSITIVE]
    with ThreadPoolExecutor(GRADING_WORKERS) as ex:
        out = dict(zip(rest, ex.map(one, rest), strict=True))
    out.update({v: one(v) for v in alone})
    return out


@pytest.mark.docker
@pytest.mark.timeout(3600)  # the first test waits for the whole module's gradings
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_gets_exactly_its_verdicts(graded, variant):
    failing, phrase = VARIANTS[variant]
    report = graded[variant]
    if isinstance(report, Exception):
        raise report
    checks = {c.id: c for c in report.checks}
    assert set(checks) == ALL
    lost = {cid for cid, c in checks.items() if not c.passed}
    assert lost == failing, {cid: checks[cid].message for cid in lost}
    assert report.score == 100 - sum(checks[c].max_points for c in failing)
    for c in report.checks:
        assert c.message, c.id
        if c.passed:
            assert c.evidence, c.id
    if phrase:
        first_lost = next(c for c in report.checks if not c.passed)
        assert phrase in first_lost.message, first_lost.message


@pytest.mark.docker
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("variant", ["broken/build-folder-missing"])
def test_feedback_never_shows_the_grading_sandboxs_own_paths(graded, variant):
    """Messages and evidence name files relative to the submission (./backend), never where
    the grading sandbox keeps it."""
    report = graded[variant]
    if isinstance(report, Exception):
        raise report
    assert "./backend" in report.checks[1].evidence  # stack-up's build output
    for c in report.checks:
        assert A2.grader.WORKDIR not in c.message + c.evidence, (c.id, c.message, c.evidence)


@pytest.mark.docker
def test_grade_command_json_in_korean_for_a_refused_file(backend, tmp_path, capsys):
    for name, data in variant_files("broken/privileged").items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with translation.override("ko"):
        call_command("grade", "a2", str(tmp_path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["assignment"] == "a2" and out["passed"] is False
    assert out["score"] == 0 and out["max_score"] == 100
    first = out["checks"][0]
    assert first["id"] == "compose-valid" and "privileged: true" in first["message"]
    assert "강의실" in first["message"]


@pytest.mark.docker
def test_a3_grader_applies_the_compose_policy(backend):
    compose = b"""services:
  writer:
    image: alpine
    command: ["sh", "-c", "while true; do date >> /shared/t.log; sleep 1; done"]
    volumes: ["/:/shared"]
  reader:
    image: busybox
    network_mode: host
    command: ["tail", "-F", "/shared/t.log"]
"""
    with translation.override("en"):
        report = registry.get("a3").grader.grade({"compose.yaml": compose}, backend)
    first = report.checks[0]
    assert not first.passed and "refuses" in first.message
    assert "host path /" in first.message and "network_mode: host" in first.message
    assert report.score == 0
    assert all("Skipped" in c.message for c in report.checks[1:])
