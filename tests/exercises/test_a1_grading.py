"""A1 graded on the real sandbox engine: the reference scores full marks (also through the real
Celery worker), every broken variant gets exactly its expected verdicts with the right message,
the tricky variants pass, and bad input (a package the offline cache lacks, a build that floods
output and never ends) gets a clear verdict. Variants are graded once, two at a time, in a
module fixture; the node stand-in image is pulled from the classroom mirror by each fresh
grading sandbox, as in production."""
from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils.translation import override

from exercises import registry, services
from exercises.models import Submission
from tests.exercises.helpers import wait_finished

A1 = registry.get("a1").folder
grader = registry.get("a1").grader
ALL = set(grader.TITLES)
DYNAMIC = {"build", "app-listens", "http-hello", "image-size", "no-dev-deps"}

# variant -> {failing check id: a phrase its message must hold}. Every other check passes.
EXPECTED: dict[str, dict[str, str]] = {
    "reference": {},
    "broken/listen-localhost": {
        "app-listens": "listens on 127.0.0.1:3000 only",
        "http-hello": "No HTTP answer through the published port 3000",
    },
    "broken/single-stage": {"multi-stage": "one stage",
                            "copy-from": "There is no COPY --from in the Dockerfile"},
    "broken/expose-in-build-stage": {"expose-3000": "does not carry over to the final stage"},
    "broken/copy-from-missing-stage": {
        "copy-from": "COPY --from=build names no stage (stages above it: builder)",
        "build": "build:latest is not in the classroom",
        "app-listens": "Skipped: the image was not built.",
        "http-hello": "Skipped: the image was not built.",
        "image-size": "Skipped: the image was not built.",
        "no-dev-deps": "Skipped: the image was not built.",
    },
    "broken/dev-deps-in-final": {
        "image-size": "A1 allows at most 20 MB",
        "no-dev-deps": "/app/node_modules: eslint, jest, nodemon",
    },
    "broken/crlf-entry-script": {
        "app-listens": "start.sh has Windows (CRLF) line endings",
        "http-hello": "Skipped: the app is not running.",
        "lint": "start.sh has Windows (CRLF) line endings",
    },
    "broken/final-not-alpine": {"final-base": "node:18-slim, which is not an alpine variant"},
    "broken/apk-add": {
        "build": "it has no apk",
        "app-listens": "Skipped: the image was not built.",
        "http-hello": "Skipped: the image was not built.",
        "image-size": "Skipped: the image was not built.",
        "no-dev-deps": "Skipped: the image was not built.",
        "lint": "DL3018",
    },
    "broken/wrong-message": {"http-hello": "the body is not JSON: Hello from Docker!"},
    "tricky/pinned-tag-capital-stages": {"lint": "DL3025"},
    "tricky/arg-base-lockfile-user-node": {},
    "tricky/shared-base-stage": {},
    "tricky/build-on-debian-install-in-final": {},
    # A here-document, ${VAR:-default} in FROM and ENTRYPOINT ["/usr/local/bin/node"]: before,
    # "Line 10: unknown instruction 'SET'" (0 points), a crash on the base "node::-18}-alpine",
    # and "no such file" for node at the official images' path.
    "tricky/heredoc-arg-default-usr-local-node": {},
}
# Graded through `manage.py grade a1 PATH --json` instead of the grader function.
BY_COMMAND = "broken/final-not-alpine"
# Bad input made here rather than kept as folders.
NOT_CACHED = "inline/not-in-offline-cache"
FLOOD = "inline/flood-never-ends"
FLOOD_TIMEOUT_S = 20


def files_of(variant: str) -> dict[str, bytes]:
    folder = A1 / variant
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def inline_files(name: str) -> dict[str, bytes]:
    files = files_of("reference")
    if name == NOT_CACHED:
        del files["package-lock.json"]
        pkg = json.loads(files["package.json"])
        pkg["dependencies"]["lodash"] = "^4.17.21"
        files["package.json"] = json.dumps(pkg).encode()
        files["Dockerfile"] = files["Dockerfile"].replace(b"COPY package.json package-lock.json",
                                                          b"COPY package.json").replace(
            b"RUN npm ci --omit=dev", b"RUN npm install --omit=dev")
    else:
        files["Dockerfile"] = (b"FROM node:18-alpine AS build\nRUN yes 'flooding the build log'\n"
                               b"FROM node:18-alpine\nCOPY --from=build /etc/hostname /x\n")
    return files


# The module grades every variant once (two at a time) before its first test: on a busy 2-core
# host that takes about 10 minutes, all charged to the first test that uses ``graded``.
pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def graded(backend):
    """Every variant's verdicts: ``{variant: {check id: (passed, message, evidence)}}``."""

    def run(variant: str):
        with override("en"):
            if variant == BY_COMMAND:
                out = io.StringIO()
                call_command("grade", "a1", str(A1 / variant), "--json", stdout=out)
                data = json.loads(out.getvalue())
                return variant, data, {c["id"]: (c["passed"], c["message"], "")
                                       for c in data["checks"]}
            files = inline_files(variant) if variant.startswith("inline/") else files_of(variant)
            report = grader.grade(files, backend, owner="a1test")
            return variant, report, {c.id: (c.passed, c.message, c.evidence)
                                     for c in report.checks}

    variants = [v for v in EXPECTED if v != "reference"] + [NOT_CACHED]
    saved = grader.BUILD_TIMEOUT_S
    grader.BUILD_TIMEOUT_S = FLOOD_TIMEOUT_S
    try:
        flood = run(FLOOD)  # alone: the short build limit must not cut the others
    finally:
        grader.BUILD_TIMEOUT_S = saved
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, variants))
    out = {v: (report, verdicts) for v, report, verdicts in results + [flood]}
    out["leftover sandboxes"] = backend.list(kind="grading")
    return out


@pytest.mark.docker
@pytest.mark.parametrize("variant", [v for v in EXPECTED if v != "reference"])
def test_variant_gets_exactly_its_verdicts(graded, variant):
    report, verdicts = graded[variant]
    assert set(verdicts) == ALL
    failing = {cid for cid, (passed, _m, _e) in verdicts.items() if not passed}
    assert failing == set(EXPECTED[variant]), {c: verdicts[c][1] for c in failing}
    for cid, phrase in EXPECTED[variant].items():
        assert phrase in verdicts[cid][1], (cid, verdicts[cid][1])
    for cid, (_p, message, evidence) in verdicts.items():  # paths as the learner knows them
        assert "/srv/submission" not in message + evidence, (cid, message, evidence)


@pytest.mark.docker
@pytest.mark.parametrize("variant", [v for v in EXPECTED if v.startswith("tricky/")])
def test_tricky_variants_score_full_marks(graded, variant):
    report, _verdicts = graded[variant]
    assert report.passed and report.score == report.max_score == 100


@pytest.mark.docker
def test_grade_command_json_shape(graded):
    data, _verdicts = graded[BY_COMMAND]
    assert data["assignment"] == "a1" and data["passed"] is False
    assert data["score"] == 90 and data["max_score"] == 100
    assert set(data["checks"][0]) == {"id", "title", "passed", "advisory", "points",
                                      "max_points", "message"}
    lint = next(c for c in data["checks"] if c["id"] == "lint")
    assert lint["advisory"] is True and lint["max_points"] == 0


@pytest.mark.docker
def test_passing_checks_show_their_evidence(graded):
    _report, verdicts = graded["tricky/arg-base-lockfile-user-node"]
    assert "succeeded" in verdicts["build"][1] and "npm ci --omit=dev" in verdicts["build"][2]
    assert "listening on ::" in verdicts["app-listens"][2]
    assert verdicts["http-hello"][2].startswith("HTTP 200")
    assert "node:18-alpine" in verdicts["image-size"][1]
    assert "jest, supertest" in verdicts["no-dev-deps"][1]


@pytest.mark.docker
def test_a_package_missing_from_the_offline_cache_is_named(graded):
    _report, verdicts = graded[NOT_CACHED]
    passed, message, evidence = verdicts["build"]
    assert not passed and "npm could not install lodash" in message
    assert "ENOTCACHED" in evidence
    assert all(verdicts[c][0] for c in ALL - DYNAMIC)


@pytest.mark.docker
def test_a_build_that_floods_and_never_ends_is_stopped(graded):
    report, verdicts = graded[FLOOD]
    passed, message, evidence = verdicts["build"]
    assert not passed and f"did not finish within {FLOOD_TIMEOUT_S} s" in message
    assert len(evidence) < 5000 and "flooding the build log" in evidence
    assert report.duration_s < FLOOD_TIMEOUT_S + 60


@pytest.mark.docker
def test_no_grading_sandbox_is_left_behind(graded):
    assert graded["leftover sandboxes"] == []


def _wait_finished(pk: int, timeout: float = 240) -> Submission:
    return wait_finished(pk, timeout)


@pytest.mark.docker
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_reference_through_celery_scores_full_marks(celery_worker_real, student):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # a zipped project folder, as learners upload it
        for name, data in files_of("reference").items():
            zf.writestr(f"my-a1/{name}", data)
    sub = services.submission_create(user=student, assignment_id="a1", filename="my-a1.zip",
                                     data=buf.getvalue(), language="ko")
    assert (Path(services.settings.MEDIA_ROOT) / sub.archive_path).exists()
    assert "Dockerfile" in sub.filenames and "package-lock.json" in sub.filenames
    sub = _wait_finished(sub.pk)
    assert sub.status == "done", sub.error
    results = {r.check_id: r for r in sub.results.all()}
    assert set(results) == ALL
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items()
                                                     if not r.passed}
    assert sub.score == sub.max_score == 100
    assert results["lint"].advisory and results["lint"].max_points == 0
    # graded in the submitter's language (Korean)
    assert "Hello from Docker!" in results["http-hello"].message
    assert results["build"].message != "docker build succeeded."
    assert results["http-hello"].evidence.startswith("HTTP 200")


NODE_CHECKS = r"""
set -e
node --version | grep -q '^v18\.'
test "$(npm --version)" = 10.8.2
test "$(id -u node)" = 1000
test "$(npm config get offline)" = true
if apk add curl 2>/tmp/apk.err; then exit 10; fi
grep -q "offline stand-in for node:18-alpine" /tmp/apk.err
mkdir -p /tmp/old /tmp/new && chown node /tmp/old /tmp/new
# What learners write for Node 18 (older majors), installed as the unprivileged node user ...
cd /tmp/old && su node -s /bin/sh -c 'npm init -y >/dev/null && npm install --no-progress \
  express@4 express-session connect-redis@7 redis@4 pg ioredis dotenv cors morgan body-parser \
  && npm install --no-progress --save-dev nodemon@2 jest@29 supertest@6 eslint@8'
# ... and what `npm install NAME` picks today, as root; then npm ci from the lock just made.
cd /tmp/new && npm init -y >/dev/null && npm install --no-progress express connect-redis redis \
  && npm install --no-progress --save-dev nodemon jest supertest eslint @eslint/js globals
rm -rf node_modules && npm ci --no-progress
echo NODE-STANDIN-OK
"""


@pytest.mark.docker
def test_node_standin_installs_the_course_packages_offline(backend):
    """The node stand-in as learners use it, with no network at all: versions, the node user,
    apk's explanation, and `npm install`/`npm ci` of the packages the handout promises."""
    sandbox = backend.create_fresh(owner="a1node")
    try:
        res = backend.exec(sandbox.id, ["docker", "run", "--rm", "--network", "none",
                                        "node:18-alpine", "sh", "-c", NODE_CHECKS], timeout=400)
    finally:
        backend.remove(sandbox.id, keep_workspace=False)
    assert res.exit_code == 0 and "NODE-STANDIN-OK" in res.output, res.output[-3000:]
    assert "ENOTCACHED" not in res.output
