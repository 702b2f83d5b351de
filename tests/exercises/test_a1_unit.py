"""A1 grader pieces that need no engine: reading Dockerfiles (each static check both ways),
judging what the engine and the app showed, and refusals that happen before any sandbox."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import translation

from exercises import registry

A1 = registry.get("a1").folder
grader = registry.get("a1").grader


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def stages(text: str):
    return grader.parse_dockerfile(text)


def variant_files(variant: str) -> dict[str, bytes]:
    folder = A1 / variant
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


TWO_STAGES = """FROM node:18-alpine AS build
WORKDIR /app
RUN npm ci --omit=dev
FROM {final}
COPY --from={ref} /app/node_modules ./node_modules
{extra}
"""


def two_stages(final="node:18-alpine", ref="build", extra="EXPOSE 3000"):
    return stages(TWO_STAGES.format(final=final, ref=ref, extra=extra))


# -- dockerfile: Docker's syntax rules --------------------------------------------------------------
@pytest.mark.parametrize("text,needle", [
    ("", "no FROM"),
    ("# only a comment\n", "no FROM"),
    ("WORKDIR /app\nFROM node:18-alpine\n", "Line 1: WORKDIR comes before the first FROM"),
    ("FROM node:18-alpine\nFRM x\n", "Line 2: unknown instruction 'FRM'"),
    ("FROM node:18-alpine AS\n", "Line 1: FROM takes an image"),
    ("FROM node:18-alpine AS a\nFROM node:18-alpine AS A\n", "already a stage named 'a'"),
    ("FROM node:18-alpine\nCOPY app.js\n", "Line 2: COPY needs a source and a destination"),
])
def test_dockerfile_syntax_errors_are_named(text, needle):
    with pytest.raises(grader.DockerfileError) as exc:
        stages(text)
    assert needle in str(exc.value)


def test_dockerfile_accepts_args_comments_crlf_and_continuations():
    text = ("# syntax=docker/dockerfile:1\r\nARG V=18\r\nFROM node:${V}-alpine AS Build\r\n"
            "RUN npm ci \\\r\n    --omit=dev\r\nFROM build\r\nCMD [\"node\", \"app.js\"]\r\n")
    got = stages(text)
    assert [(s.name, s.base, s.line) for s in got] == [("build", "node:18-alpine", 3),
                                                       (None, "build", 6)]
    assert [i.keyword for i in got[0].instructions] == ["RUN"]


@pytest.mark.parametrize("value,args,want", [
    ("node:${V:-18}-alpine", {}, "node:18-alpine"),  # unset: the default
    ("node:${V:-18}-alpine", {"V": ""}, "node:18-alpine"),  # ':' counts empty as unset
    ("node:${V-18}-alpine", {"V": ""}, "node:-alpine"),  # without ':', empty is set
    ("node:${V:-18}-alpine", {"V": "18.20"}, "node:18.20-alpine"),
    ("node:18-alpine${S:+3.19}", {}, "node:18-alpine"),
    ("node:18-alpine${S:+3.19}", {"S": "x"}, "node:18-alpine3.19"),
    ("node:18-alpine${S+3.19}", {"S": ""}, "node:18-alpine3.19"),
    ("node:${V:?set V}", {"V": "18"}, "node:18"),
    ("node:\\${V:-18}", {}, "node:\\${V:-18}"),  # escaped: left alone
])
def test_variable_modifiers_are_expanded_as_docker_does(value, args, want):
    assert grader.expand_modifiers(value, args, {}) == want


def test_from_with_a_default_and_an_alternative_value_resolves():
    # Before, the base read "node::-18}-alpine" and the grading crashed on the engine's refusal.
    text = ("ARG NODE_VERSION\nARG SUFFIX\nFROM node:${NODE_VERSION:-18}-alpine${SUFFIX:+$SUFFIX} AS b\n"
            "RUN npm ci\nFROM node:18-alpine${ALPINE:+3.19}\nCOPY --from=b /a /a\n")
    got = stages(text)
    assert [s.base for s in got] == ["node:18-alpine", "node:18-alpine"]
    assert grader.judge_final_base(got).passed
    got = stages(text.replace("ARG SUFFIX", "ARG SUFFIX=3.19"))
    assert got[0].base == "node:18-alpine3.19"


def test_here_documents_are_read_as_part_of_their_instruction():
    # dockerfile-parse knows no here-documents: before, "Line 4: unknown instruction 'SET'".
    text = ("FROM node:18-alpine AS deps\nWORKDIR /app\nRUN <<EOT\nset -e\nnpm ci --omit=dev\nEOT\n"
            "COPY <<EOF /app/app.js\nconst express = require('express');\nEOF\n"
            "FROM node:18-alpine\nRUN <<-\"END\" bash\n\techo hi\n\tEND\n"
            "COPY --from=deps /app /app\nRUN cat <<A <<'B' > /x\na\nA\nb\nB\nEXPOSE 3000\n")
    got = stages(text)
    assert [(i.keyword, i.line) for i in got[0].instructions] == [("WORKDIR", 2), ("RUN", 3),
                                                                 ("COPY", 7)]
    assert [(i.keyword, i.line) for i in got[1].instructions] == [("RUN", 11), ("COPY", 14),
                                                                 ("RUN", 15), ("EXPOSE", 20)]
    assert grader.judge_copy_from(got).passed and grader.judge_expose(got).passed
    # A line that only looks like one (a comment, a shift in an ENV value) hides nothing.
    plain = stages("FROM node:18-alpine\n# RUN <<EOT\nENV A=1<<2\nEXPOSE 3000\n")
    assert [i.keyword for i in plain[0].instructions] == ["ENV", "EXPOSE"]
    # Lines after a here-document are read again: a mistake there is still named.
    with pytest.raises(grader.DockerfileError, match="Line 5: unknown instruction 'FRM'"):
        stages("FROM node:18-alpine\nRUN <<EOT\nnpm ci\nEOT\nFRM x\n")


# -- multi-stage ------------------------------------------------------------------------------------
def test_multi_stage_passes_with_copy_from_in_the_final_stage():
    v = grader.judge_multi_stage(two_stages())
    assert v.passed and "2 stages" in v.message


def test_multi_stage_fails_with_one_stage():
    v = grader.judge_multi_stage(stages("FROM node:18-alpine\nCOPY . .\nCMD node app.js\n"))
    assert not v.passed and "one stage" in v.message


def test_multi_stage_fails_when_the_final_stage_copies_nothing():
    v = grader.judge_multi_stage(stages("FROM node:18 AS build\nRUN npm ci\n"
                                        "FROM node:18-alpine\nCOPY . .\n"))
    assert not v.passed and "copies nothing" in v.message


# -- final-base -------------------------------------------------------------------------------------
@pytest.mark.parametrize("final", [
    "node:18-alpine", "node:18.20-alpine3.19", "node:18-alpine3.19", "node:18.20.4-alpine",
    "docker.io/library/node:18-alpine", "node:hydrogen-alpine",
    "node:18-alpine@sha256:" + "0" * 64,
])
def test_final_base_accepts_node18_alpine_tags(final):
    v = grader.judge_final_base(two_stages(final=final))
    assert v.passed, v.message


@pytest.mark.parametrize("final,needle", [
    ("node:18", "not an alpine variant"),
    ("node:18-slim", "not an alpine variant"),
    ("node", "node:latest, which is not an alpine variant"),
    ("node:20-alpine", "not Node 18"),
    ("node:1-alpine", "not Node 18"),
    ("nginx:alpine", "not the node image"),
])
def test_final_base_refuses_other_images(final, needle):
    v = grader.judge_final_base(two_stages(final=final))
    assert not v.passed and needle in v.message, v.message


def test_final_base_follows_args_and_earlier_stages():
    text = ("ARG TAG=18.20-alpine3.19\nFROM node:${TAG} AS Base\nEXPOSE 3000\n"
            "FROM base AS deps\nRUN npm ci\nFROM BASE\nCOPY --from=deps /a /a\n")
    v = grader.judge_final_base(stages(text))
    assert v.passed and "node:18.20-alpine3.19" in v.message
    assert "line 6: from base" in v.evidence.lower() and "line 2" in v.evidence
    v = grader.judge_final_base(stages(text.replace("18.20-alpine3.19", "18")))
    assert not v.passed and "node:18," in v.message


# -- expose-3000 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", ["EXPOSE 3000", "EXPOSE 3000/tcp", "EXPOSE 9229 3000",
                                   "ARG PORT=3000\nEXPOSE ${PORT}", "ENV PORT=3000\nEXPOSE $PORT",
                                   "EXPOSE 3000-3001"])
def test_expose_accepts_3000_in_the_final_stage(extra):
    v = grader.judge_expose(two_stages(extra=extra))
    assert v.passed, v.message


def test_expose_in_the_build_stage_only_is_named():
    text = "FROM node:18-alpine AS build\nEXPOSE 3000\nFROM node:18-alpine\nCOPY --from=build / /\n"
    v = grader.judge_expose(stages(text))
    assert not v.passed and "stage 'build'" in v.message and "does not carry over" in v.message


def test_expose_inherited_from_the_stage_the_final_one_builds_on():
    text = "FROM node:18-alpine AS base\nEXPOSE 3000\nFROM base AS deps\nFROM base\n"
    assert grader.judge_expose(stages(text)).passed


@pytest.mark.parametrize("extra,needle", [("", "no EXPOSE 3000"),
                                          ("EXPOSE 3000/udp", "other ports"),
                                          ("EXPOSE 8080", "other ports")])
def test_expose_fails_without_3000_tcp(extra, needle):
    v = grader.judge_expose(two_stages(extra=extra))
    assert not v.passed and needle in v.message


# -- copy-from --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ref", ["build", "BUILD", "Build", "0"])
def test_copy_from_accepts_earlier_stages_in_any_case_and_indexes(ref):
    v = grader.judge_copy_from(two_stages(ref=ref))
    assert v.passed, v.message


def test_copy_from_an_image_is_allowed_next_to_a_copy_from_a_stage():
    v = grader.judge_copy_from(two_stages(extra="COPY --from=busybox:1.36 /bin/sh /bin/sh"))
    assert v.passed, v.message


def test_copy_from_fails_without_any_copy_from():
    """A single-stage Dockerfile has nothing to copy from: no points for copy-from."""
    v = grader.judge_copy_from(stages("FROM node:18-alpine\nCOPY . .\nCMD node app.js\n"))
    assert not v.passed and "There is no COPY --from in the Dockerfile" in v.message


def test_copy_from_fails_when_it_only_copies_from_images():
    v = grader.judge_copy_from(two_stages(ref="node:18-alpine"))
    assert not v.passed
    assert "copies from an image (node:18-alpine), not from a stage" in v.message


def test_copy_from_unknown_stage_is_named():
    v = grader.judge_copy_from(two_stages(ref="builder"))
    assert not v.passed
    assert "Line 5: COPY --from=builder names no stage (stages above it: build)" in v.message


def test_copy_from_a_later_stage_is_named():
    text = "FROM node:18-alpine AS a\nCOPY --from=b /x /x\nFROM node:18-alpine AS b\n"
    v = grader.judge_copy_from(stages(text))
    assert not v.passed and "defined later (line 3)" in v.message


def test_copy_from_own_stage_index_is_not_earlier():
    text = "FROM node:18-alpine AS a\nFROM node:18-alpine\nCOPY --from=1 /x /x\n"
    assert not grader.judge_copy_from(stages(text)).passed


# -- app-listens: /proc/net/tcp ---------------------------------------------------------------------
PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: {addr}:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000
   1: 0100007F:2383 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000
   2: 0200A8C0:0BB8 0300A8C0:C350 01 00000000:00000000 00:00000000 00000000  1000
"""
PROC_TCP6 = """  sl  local_address                         remote_address                        st
   0: {addr}:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000
"""


def test_listening_sockets_decode_ipv4_and_ipv6():
    text = PROC_TCP.format(addr="00000000") + PROC_TCP6.format(
        addr="00000000000000000000000001000000")
    assert grader.listening_sockets(text) == [("0.0.0.0", 3000), ("127.0.0.1", 9091),
                                              ("::1", 3000)]


@pytest.mark.parametrize("text", [
    PROC_TCP.format(addr="00000000"),
    PROC_TCP6.format(addr="00000000000000000000000000000000"),
    PROC_TCP.format(addr="020011AC"),  # 172.17.0.2, the container's own address
])
def test_listen_on_every_interface_passes(text):
    v = grader.judge_listen(grader.listening_sockets(text))
    assert v is not None and v.passed


def test_listen_on_every_address_is_said_in_words():
    """QA: "The app listens on :: port 3000." meant little to a beginner."""
    from django.utils.translation import override

    wild = grader.listening_sockets(PROC_TCP6.format(addr="00000000000000000000000000000000"))
    own = grader.listening_sockets(PROC_TCP.format(addr="020011AC"))
    with override("en"):
        assert grader.judge_listen(wild).message == (
            "The app listens on port 3000 on every address of the container (::), so the "
            "published port reaches it.")
        assert "172.17.0.2 port 3000, the container's own address" in grader.judge_listen(own).message
    with override("ko"):
        assert "컨테이너의 모든 주소(::)에서 3000번 포트" in grader.judge_listen(wild).message


@pytest.mark.parametrize("text,addr", [
    (PROC_TCP.format(addr="0100007F"), "127.0.0.1"),
    (PROC_TCP6.format(addr="00000000000000000000000001000000"), "::1"),
    (PROC_TCP6.format(addr="0000000000000000FFFF00000100007F"), "::ffff:127.0.0.1"),
])
def test_listen_on_loopback_says_exactly_that(text, addr):
    v = grader.judge_listen(grader.listening_sockets(text))
    assert v is not None and not v.passed
    assert f"listens on {addr}:3000 only" in v.message and "0.0.0.0" in v.message


def test_nothing_on_3000_is_undecided_then_names_the_ports():
    sockets = grader.listening_sockets(PROC_TCP.format(addr="00000000").replace(":0BB8", ":1F90"))
    assert grader.judge_listen(sockets) is None
    v = grader.judge_not_listening(sockets, 15)
    assert not v.passed and "listens on ports 8080, 9091, not on 3000" in v.message
    assert "nothing listens" in grader.judge_not_listening([], 15).message
    one = grader.judge_not_listening([("0.0.0.0", 8080)], 15).message
    assert "listens on port 8080, not on 3000" in one


# -- http-hello -------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b'{"message":"Hello from Docker!"}',
                                  b'{\n  "message": "Hello from Docker!"\n}\n'])
def test_http_exact_json_passes(body):
    assert grader.judge_http(200, body).passed


@pytest.mark.parametrize("status,body,needle", [
    (200, b"Hello from Docker!", "not JSON"),
    (200, b'{"message":"Hello from docker!"}', "expects exactly"),
    (200, b'{"message":"Hello from Docker!","ok":true}', "expects exactly"),
    (200, b'"Hello from Docker!"', "expects exactly"),
    (404, b"Cannot GET /", "HTTP 404"),
    (None, b"", "No HTTP answer"),
])
def test_http_other_answers_fail(status, body, needle):
    v = grader.judge_http(status, body, "ConnectionRefusedError: refused")
    assert not v.passed and needle in v.message


@pytest.mark.parametrize("error,words", [
    ("ConnectionRefusedError: [Errno 111] Connection refused", "nothing accepted the connection"),
    ("TimeoutError: timed out", "no answer came within"),
    ("RemoteDisconnected: Remote end closed connection without response", "closed the connection"),
    ("OSError: [Errno 113] No route to host", "the request failed (see the evidence)"),
])
def test_no_http_answer_is_explained_in_words(error, words):
    """The message says what the failure means; the exception's own text only in the evidence."""
    with translation.override("en"):
        v = grader.judge_http(None, b"", error)
        msg = str(v.message)
    assert not v.passed and words in msg
    assert "Error" not in msg and "Errno" not in msg, msg
    assert v.evidence == error


# -- image-size and no-dev-deps ---------------------------------------------------------------------
def test_image_size_bound():
    base = 300_000_000
    assert grader.judge_size(base + 3_000_000, base, "node:18-alpine").passed
    assert grader.judge_size(base + 20_000_000, base, "node:18-alpine").passed
    v = grader.judge_size(base + 62_400_000, base, "node:18-alpine")
    assert not v.passed and "adds 62.4 MB to node:18-alpine" in v.message and "20 MB" in v.message


FIND = """/usr/local/lib/node_modules/npm/package.json
/app/node_modules/express/package.json
/app/node_modules/express/lib/package.json
/app/node_modules/@eslint/js/package.json
/app/node_modules/jest/node_modules/ms/package.json
/app/package.json
"""


def test_installed_packages_are_the_top_level_ones():
    assert grader.installed_packages(FIND) == {
        "/usr/local/lib/node_modules": {"npm"},
        "/app/node_modules": {"express", "@eslint/js"},
    }


def test_dev_dependencies_in_the_final_image_are_named():
    pkg = ("package.json", {"dependencies": {"express": "^4"},
                            "devDependencies": {"@eslint/js": "^9", "jest": "^29"}})
    v = grader.judge_dev_deps(pkg, grader.installed_packages(FIND))
    assert not v.passed and "/app/node_modules: @eslint/js." in v.message
    clean = grader.installed_packages(FIND.replace("@eslint/js", "cookie"))
    assert grader.judge_dev_deps(pkg, clean).passed
    assert grader.judge_dev_deps(("package.json", {}), clean).passed
    assert not grader.judge_dev_deps(None, clean).passed


def test_package_json_nearest_the_top():
    files = {"sub/package.json": b'{"name": "b"}', "package.json": b'\xef\xbb\xbf{"name": "a"}',
             "node_modules/x/package.json": b"{}"}
    assert grader.package_json(files) == ("package.json", {"name": "a"})
    assert grader.package_json({"package.json": b"not json"}) is None


# -- build failures explained -----------------------------------------------------------------------
@pytest.mark.parametrize("output,needle", [
    ("npm error request to https://registry.npmjs.org/lodash failed: cache mode is "
     "'only-if-cached' but no cached response is available.", "install lodash: it is not in"),
    ("npm error request to https://registry.npmjs.org/formidable/-/formidable-2.1.5.tgz failed: "
     "cache mode is 'only-if-cached' but no cached", "formidable@2.1.5"),
    ("request to https://registry.npmjs.org/@eslint%2fjs failed: cache mode is 'only-if-cached'",
     "install @eslint/js"),
    ("apk: this node image is bungeo's offline stand-in for node:18-alpine, built from Debian",
     "has no apk"),
    ("npm error `npm ci` can only install packages when your package.json and package-lock.json "
     "or npm-shrinkwrap.json are in sync", "do not match"),
    ("npm error The `npm ci` command can only install with an existing package-lock.json",
     "needs a package-lock.json"),
    ('ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref '
     'x::y: "/server.js": not found', "could not find server.js in the submission."),
    ("ERROR: failed to solve: builder: failed to resolve source metadata for "
     "docker.io/library/builder:latest: pull access denied", "builder:latest is not in the"),
    ("#5 1.2 Err:1 http://deb.debian.org bookworm InRelease\n  Temporary failure resolving",
     "no network"),
])
def test_build_failures_are_explained(output, needle):
    assert needle in grader.explain_build_failure(output, timed_out=False)


def test_npm_ci_without_the_lock_file_in_the_image_names_the_cause():
    out = "npm error The `npm ci` command can only install with an existing package-lock.json"
    files = {"Dockerfile": b"", "package.json": b"{}", "package-lock.json": b"{}",
             ".dockerignore": b"package-lock.json\n"}
    msg = grader.explain_build_failure(out, False, files)
    assert "The submission has one, but it was not there when npm ci ran" in msg
    assert ".dockerignore" in msg
    assert "the submission has none" in grader.explain_build_failure(out, False, {"package.json": b"{}"})


@pytest.mark.parametrize("lang,says", [
    ("en", "COPY could not find package.json in the submission: the Dockerfile came alone"),
    ("ko", "COPY가 제출물에서 package.json을 찾지 못했습니다. Dockerfile만 제출되었습니다"),
])
def test_a_dockerfile_sent_alone_is_told_to_come_with_its_folder(lang, says):
    """QA: the form takes a lone Dockerfile, and A1's COPY then said only that it could not
    find "/package.json"."""
    from django.utils.translation import override

    out = ('ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of '
           'ref x::y: "/package.json": not found')
    with override(lang):
        alone = grader.explain_build_failure(out, False, {"Dockerfile": b"FROM node"})
        folder = grader.explain_build_failure(out, False, {"Dockerfile": b"", "app.js": b""})
    assert says in alone, alone
    assert ".zip" in alone and ".zip" not in folder


def test_build_timeout_and_unknown_failures():
    assert "did not finish within" in grader.explain_build_failure("", timed_out=True)
    msg = grader.explain_build_failure("a\nb\nc\nd\nERROR: something odd\n", timed_out=False)
    assert msg.endswith("b\nc\nd\nERROR: something odd")


def test_package_from_registry_url():
    base = "https://registry.npmjs.org/"
    assert grader.package_from_registry_url(base + "express") == "express"
    assert grader.package_from_registry_url(base + "@types/node/-/node-20.1.0.tgz") == \
        "@types/node@20.1.0"


# -- lint -------------------------------------------------------------------------------------------
def test_crlf_scripts_are_found():
    files = {"start.sh": b"#!/bin/sh\r\nexec node app.js\r\n", "ok.sh": b"#!/bin/sh\nexec x\n",
             "app.js": b"console.log(1)\r\n"}
    assert grader.crlf_scripts(files) == ["start.sh"]


def test_syntax_directive_is_left_out_for_the_offline_build():
    text, dropped = grader.without_syntax_directive("# syntax=docker/dockerfile:1\nFROM x\n")
    assert dropped == "# syntax=docker/dockerfile:1"
    assert text == "# escape=\\\nFROM x\n"  # the line numbers stay
    text, dropped = grader.without_syntax_directive("# syntax=a\n# escape=`\nFROM x\n")
    assert text == "# escape=`\nFROM x\n"
    assert grader.without_syntax_directive("FROM x\n# syntax=y\n") == ("FROM x\n# syntax=y\n", None)
    assert grader.without_syntax_directive("# a comment\n# syntax=y\n")[1] is None


def test_hadolint_case_sensitive_stage_rule_is_left_out():
    findings = grader.lint_findings("FROM node:18-alpine AS Build\nFROM node:18-alpine\n"
                                    "COPY --from=build /a /a\n")
    assert "DL3022" in {f["code"] for f in findings}
    v = grader.judge_lint(findings, [])
    assert "DL3022" not in v.message and "DL3022" not in v.evidence


def test_hadolint_runs_and_its_findings_are_advice():
    findings = grader.lint_findings("FROM node\nRUN apk add curl\nCMD node app.js\n")
    codes = {f["code"] for f in findings}
    assert {"DL3006", "DL3018", "DL3025"} <= codes
    v = grader.judge_lint(findings, [])
    assert not v.passed and "hadolint has" in v.message
    ref = (A1 / "reference" / "Dockerfile").read_text()
    from django.utils.translation import override

    with override("en"):  # QA retest: "only minor notes (1)" for USER node (DL3066)
        assert grader.judge_lint(grader.lint_findings(ref), []).message == "hadolint has no suggestions."
    v = grader.judge_lint([], ["start.sh"])
    assert not v.passed and "start.sh has Windows (CRLF)" in v.message


# -- whole submissions refused before any sandbox -------------------------------------------------
class NoBackend:
    """Fails the test if the grader tries to start a sandbox."""

    def create_fresh(self, **kw):
        raise AssertionError("a refused submission must not reach a sandbox")


def test_no_dockerfile():
    files = variant_files("reference")
    del files["Dockerfile"]
    report = grader.grade(files, NoBackend())
    first = report.checks[0]
    assert first.id == "dockerfile" and not first.passed
    assert "There is no Dockerfile" in first.message
    assert report.score == 0 and all(not c.passed for c in report.checks)
    assert all(c.message.startswith("Skipped") for c in report.checks[1:])


def test_lowercase_dockerfile_is_pointed_out():
    files = variant_files("reference")
    files["dockerfile"] = files.pop("Dockerfile")
    report = grader.grade(files, NoBackend())
    assert "found dockerfile" in report.checks[0].message


def test_broken_syntax_is_refused_before_docker():
    files = variant_files("reference")
    files["Dockerfile"] = b"FROM node:18-alpine\nRUNN npm ci\n"
    report = grader.grade(files, NoBackend())
    assert "Line 2: unknown instruction 'RUNN'" in report.checks[0].message
    assert report.checks[0].evidence == "RUNN npm ci"
    assert report.score == 0 and report.duration_s < 2


def test_not_utf8():
    report = grader.grade({"Dockerfile": b"\xff\xfeFROM"}, NoBackend())
    assert "not UTF-8" in report.checks[0].message


# -- the variants' static verdicts (the dynamic ones are in test_a1_grading) -----------------------
STATIC_FAILS = {
    "reference": set(),
    "broken/listen-localhost": set(),
    "broken/single-stage": {"multi-stage", "copy-from"},
    "broken/expose-in-build-stage": {"expose-3000"},
    "broken/copy-from-missing-stage": {"copy-from"},
    "broken/dev-deps-in-final": set(),
    "broken/crlf-entry-script": set(),
    "broken/final-not-alpine": {"final-base"},
    "broken/apk-add": set(),
    "broken/wrong-message": set(),
    "tricky/pinned-tag-capital-stages": set(),
    "tricky/arg-base-lockfile-user-node": set(),
    "tricky/shared-base-stage": set(),
    "tricky/build-on-debian-install-in-final": set(),
    "tricky/heredoc-arg-default-usr-local-node": set(),
}


def test_every_variant_folder_is_listed():
    found = {str(p.parent.relative_to(A1)) for p in A1.rglob("Dockerfile")}
    assert found == set(STATIC_FAILS)


@pytest.mark.parametrize("variant", sorted(STATIC_FAILS))
def test_variant_static_verdicts(variant):
    st = stages(variant_files(variant)["Dockerfile"].decode())
    verdicts = {"multi-stage": grader.judge_multi_stage(st), "final-base": grader.judge_final_base(st),
                "expose-3000": grader.judge_expose(st), "copy-from": grader.judge_copy_from(st)}
    failing = {cid for cid, v in verdicts.items() if not v.passed}
    assert failing == STATIC_FAILS[variant], {c: verdicts[c].message for c in failing}


def test_reference_lock_matches_its_package_json():
    ref = A1 / "reference"
    pkg = json.loads((ref / "package.json").read_text())
    lock = json.loads((ref / "package-lock.json").read_text())
    root = lock["packages"][""]
    assert root["dependencies"] == pkg["dependencies"]
    assert root["devDependencies"] == pkg["devDependencies"]


def test_every_assignment_lock_file_feeds_the_node_images_offline_cache():
    """The node stand-in caches what these lock files pin (images/standins/node/locks), so that
    `npm ci` keeps working whenever the image is rebuilt from a newer registry."""
    locks_dir = Path(grader.__file__).resolve().parents[3] / "images" / "standins" / "node" / "locks"
    linked = {p.resolve() for p in locks_dir.glob("*.json")}
    for lock in A1.rglob("package-lock.json"):
        twin = next((p for p in linked if p.read_bytes() == lock.read_bytes()), None)
        assert twin is not None, f"{lock} is not linked from {locks_dir}"


# -- the HTTP probe against a real local server -----------------------------------------------------
@pytest.fixture
def local_server():
    """Serve one canned HTTP answer on 127.0.0.1 (a random port) from a thread."""
    import socketserver
    import threading

    servers = []

    def start(payload: bytes):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.recv(4096)
                try:
                    self.request.sendall(payload)
                except OSError:
                    pass  # the grader stopped reading: fine

        srv = socketserver.TCPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv.server_address[1]

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_probe_reads_the_answer(local_server):
    body = b'{"message":"Hello from Docker!"}'
    port = local_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                        + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    status, got, error = grader._probe_http("127.0.0.1", port)
    assert (status, got, error) == (200, body, "")
    assert grader.judge_http(status, got).passed


def test_probe_cuts_a_flood_and_survives_garbage(local_server):
    port = local_server(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y\n" * 1_000_000)
    status, got, _error = grader._probe_http("127.0.0.1", port)
    assert status == 200 and len(got) == grader.HTTP_BODY_MAX
    port = local_server(b"this is not HTTP at all\r\n\r\n")
    status, got, error = grader._probe_http("127.0.0.1", port)
    assert status is None and "BadStatusLine" in error


# -- the node stand-in's recipe ---------------------------------------------------------------------
def test_node_recipe_is_cached_by_its_hook_and_lock_files_too():
    from dataclasses import replace

    from webapp.sandboxes import images

    _sandbox, standins = images.recipes()
    node = next(r for r in standins if r.name == "node")
    assert node.customize == "rootfs-hook.sh" and (node.folder / node.customize).is_file()
    assert {"node:18", "node:18-alpine", "node:18.20-alpine3.19"} <= set(node.tags)
    assert replace(node, customize="other.sh").digest() != node.digest()
    # the assignments' lock files are linked into the recipe folder, so they enter its hash
    assert any(p.is_symlink() and p.resolve().name == "package-lock.json"
               for p in (node.folder / "locks").iterdir())
    # recipes without a hook keep the hash they had before the field existed (same formula)
    import hashlib

    nginx = next(r for r in standins if r.name == "nginx")
    h = hashlib.sha256(json.dumps([nginx.name, nginx.rootfs, nginx.suite,
                                    list(nginx.packages)]).encode())
    for f in sorted(p for p in nginx.folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(nginx.folder)).encode())
        h.update(f.read_bytes())
    assert nginx.customize is None and nginx.digest() == h.hexdigest()[:12]


def test_transient_pull_failure_only_for_images_the_mirror_serves(monkeypatch):
    """A build that could not pull an image the classroom mirror serves is retried; one that
    names an image the classroom does not have is the learner's mistake."""
    from webapp.sandboxes import images

    served = {"docker.io/library/node:18-alpine"}
    monkeypatch.setattr(images, "mirror_serves", lambda ref: ref in served)
    out = ("ERROR: failed to solve: node:18-alpine: failed to resolve source metadata for "
           "docker.io/library/node:18-alpine: dial tcp: lookup registry-1.docker.io: refused")
    assert grader.transient_pull_failure(out) == "docker.io/library/node:18-alpine"
    assert grader.transient_pull_failure(out.replace("node:18-alpine", "node:20-alpine")) is None
    assert grader.transient_pull_failure("npm ERR! code ENOTCACHED") is None


def test_hadolint_counts_its_suggestions_in_plain_english():
    """QA: "hadolint has 2 suggestion(s)"."""
    from django.utils.translation import override

    one = [{"line": 2, "code": "DL3018", "level": "warning", "message": "Pin versions"}]
    with override("en"):
        single = grader.judge_lint(one, []).message
        double = grader.judge_lint(one + [{**one[0], "line": 3}], []).message
    assert single.startswith("hadolint has 1 suggestion, on line 2 (DL3018)"), single
    assert double.startswith("hadolint has 2 suggestions, for example line 2"), double


# Dockerfiles that together break every rule in grader.HADOLINT_MESSAGES (lint only: never built).
LINT_EVERYTHING = [
    "MAINTAINER someone\nFROM node\nFROM node:latest AS b\nFROM node:20-alpine AS build\n"
    "RUN apk add nodejs\nRUN apk add --no-cache curl=1.0\nRUN cd /app && npm install express\n"
    "ADD app.js /app/\nWORKDIR app\nRUN apt-get update && apt-get install curl\n"
    "RUN apt install -y vim\nRUN pip install flask\nRUN sudo ls\nRUN wget -O - x | sh\n"
    "RUN curl x\nCOPY a b c\nEXPOSE 99999\nUSER root\nCMD node app.js\nCMD node app.js\n"
    "ENTRYPOINT a\nENTRYPOINT b\nRUN yarn install\n",
    "FROM node:20-alpine AS a\nCOPY x y\nFROM node:20-alpine AS a\nCOPY --from=a x /y\n"
    "RUN echo $foo\n",
]


def test_hadolint_texts_are_hadolints_own_in_english_and_korean_on_a_korean_page():
    """QA: hadolint's advice was English on the Korean page. The English kept for each rule is
    exactly what the installed hadolint says (so a hadolint upgrade that rewords a rule fails
    here), and a Korean page says it in Korean; a rule not in the table keeps hadolint's text."""
    from django.utils.translation import override

    findings = [f for text in LINT_EVERYTHING for f in grader.lint_findings(text)]
    said = {f["code"]: f["message"] for f in findings}
    assert set(grader.HADOLINT_MESSAGES) <= set(said), set(grader.HADOLINT_MESSAGES) - set(said)
    assert not set(grader.HADOLINT_MESSAGES) & grader.LINT_IGNORED  # never shown: not translated
    with override("en"):
        for code, text in grader.HADOLINT_MESSAGES.items():
            assert str(text) == said[code], code
    apk = [f for f in findings if f["code"] == "DL3018"][:1]
    with override("ko"):
        v = grader.judge_lint(apk, [])
        assert "apk add에서 버전을 고정하세요" in v.message and "Pin versions" not in v.message
        assert "apk add에서 버전을 고정하세요" in v.evidence and "번째 줄 DL3018 (경고)" in v.evidence
        other = {"line": 4, "code": "DL9999", "level": "warning", "message": "Some new rule"}
        assert "Some new rule" in grader.judge_lint([other], []).message
    with override("en"):
        assert "Pin versions in apk add" in grader.judge_lint(apk, []).message
