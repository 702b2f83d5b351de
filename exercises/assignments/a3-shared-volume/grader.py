"""Grader of A3: two containers and one named volume (see handout.en.md for the contract).

Runs the submitted compose file in a fresh grading sandbox and watches it for a few seconds:

* compose-valid (10): ``docker compose config`` accepts the file.
* two-services (10): exactly two services, and both containers start.
* named-volume (20): one named volume (declared at top level, not a bind mount or anonymous
  volume) is mounted by both containers.
* writer-appends (30): a file in a volume grows by about one line per second (RATE_MIN to
  RATE_MAX lines a second over WATCH_S seconds). Judged on its own: a writer whose volume is not
  shared still passes here and loses named-volume.
* reader-follows (30): a running container printed at least two of the lines the writer added,
  while they were added. Not judged (fails) when the writer added fewer than two lines.

Failure messages name the likely mistake from what was observed and from the services'
commands: a trailing '&' (writer exits), '>' instead of '>>', no 'sleep 1', 'cat' instead of
'tail -F', a pipe into a program that buffers its output (busybox grep/sed/awk do when not
writing to a terminal), volumes that differ between the services.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import posixpath
import re
import tarfile
import time
from dataclasses import dataclass, field

import docker
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from exercises.compose_policy import (  # noqa: F401
    MAX_YAML_NODES,
    compose_file,
    config_json,
    ignored_compose_note,
    policy_problems,
    yaml_problem,
)
from exercises.grading import (
    SUBMISSION_DIR,
    CheckOutcome,
    GradeReport,
    ProgressFn,
    Stopwatch,
    clip,
    in_submission,
    no_progress,
)

# yaml_problem, MAX_YAML_NODES and config_json live in the shared compose policy; kept importable
# from here.
from webapp.josa import say

log = logging.getLogger(__name__)

ASSIGNMENT = "a3"
ACCEPTED_FILENAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
WORKDIR = SUBMISSION_DIR
PROJECT = "a3"
# Seconds the grader watches the running project; lines per second accepted for the writer.
WATCH_S = 4.0
RATE_MIN, RATE_MAX = 0.6, 2.0
UP_TIMEOUT_S = 90
MAX_FILE_BYTES = 2_000_000
READER_GRACE_S = 4.0  # more seconds for a reader that lags behind a flooding writer
# Lines of each container's output read back: a writer with no sleep makes a reader print thousands
# of lines a second, and the distinct times the grader looks for are spread over all of them.
LOG_TAIL_LINES = 40_000


def tail_lines(text: str, n: int = 4) -> str:
    """The last ``n`` non-empty lines of a command's output (whole lines, never cut mid-word)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def missing_images(config: dict, available: set[str]) -> list[str]:
    """Images the services ask for that the offline classroom does not have
    (``available`` holds ``name:tag`` references such as ``busybox:latest``)."""
    out = []
    for svc in (config.get("services") or {}).values():
        ref = str(svc.get("image") or "")
        if not ref:
            continue
        name, _, tag = ref.partition(":")
        name = name.removeprefix("docker.io/").removeprefix("library/")
        if f"{name}:{tag or 'latest'}" not in available:
            out.append(ref)
    return sorted(set(out))

TITLES = {
    "compose-valid": (gettext_lazy("The compose file is valid"), 10),
    "two-services": (gettext_lazy("Two services, both start"), 10),
    "named-volume": (gettext_lazy("One named volume shared by both"), 20),
    "writer-appends": (gettext_lazy("The writer appends about one line per second"), 30),
    "reader-follows": (gettext_lazy("The reader keeps printing new lines"), 30),
}


def _best_reader(started: list, writer, since: dict[str, list[str]],
                 probe_lines: list[str]) -> tuple[object | None, int]:
    """(container, hits): the running container other than ``writer`` whose output since the
    watch began (``since``: name -> lines) holds the most of ``probe_lines``; (None, 0) when none
    holds any. A reader that exits and is started again by its restart policy does not count."""
    best, best_hits = None, 0
    for c in started:
        if c is writer:  # a writer that also prints its lines (tee) is not the reader
            continue
        blob = "\n".join(since[c.name])
        hits = sum(1 for ln in probe_lines if ln in blob)
        if c.status == "running" and not _restarts(c) and hits > best_hits:
            best, best_hits = c, hits
    return best, best_hits


def _outcome(check_id: str) -> CheckOutcome:
    title, pts = TITLES[check_id]
    return CheckOutcome(id=check_id, title=str(title), max_points=pts)


def _pass(o: CheckOutcome, message: str, evidence: str = "") -> CheckOutcome:
    """Record a passed check; paths in the grading sandbox are shown relative to the
    submission (:func:`exercises.grading.in_submission`), as the learner knows them."""
    o.passed, o.points = True, o.max_points
    o.message, o.evidence = in_submission(message), in_submission(clip(evidence))
    return o


def _fail(o: CheckOutcome, message: str, evidence: str = "") -> CheckOutcome:
    """Record a failed check; paths as in :func:`_pass`."""
    o.passed, o.points = False, 0.0
    o.message, o.evidence = in_submission(message), in_submission(clip(evidence))
    return o


def _read_dir_lines(container, path: str) -> dict[str, list[str]]:
    """Lines of every regular file under ``path`` in ``container`` (via the engine's archive API,
    so the image needs no shell). Files larger than MAX_FILE_BYTES are read up to that size."""
    stream, _stat = container.get_archive(path)
    data = bytearray()
    for chunk in stream:
        data += chunk
        if len(data) > 20 * MAX_FILE_BYTES:
            break
    out: dict[str, list[str]] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tar:
            for m in tar:
                if m.isfile():
                    f = tar.extractfile(m)
                    text = f.read(MAX_FILE_BYTES).decode(errors="replace") if f else ""
                    out[m.name] = text.splitlines()
    except tarfile.TarError:
        pass
    return out


def grade(files: dict[str, bytes], backend, progress: ProgressFn = no_progress,
          *, owner: str = "cli") -> GradeReport:
    """Grade one A3 submission (``{filename: content}``) in a fresh sandbox of ``backend``.

    Messages are in the active language (wrap the call in ``translation.override``). Returns the
    report; raises ``SandboxError`` (infrastructure) if no sandbox can be had. The sandbox is
    removed afterwards, also on failure.
    """
    watch = Stopwatch()
    report = GradeReport(assignment=ASSIGNMENT)
    outcomes = {cid: _outcome(cid) for cid in TITLES}
    report.checks = list(outcomes.values())
    compose_name, ignored = compose_file(files, ACCEPTED_FILENAMES)

    def finish_valid() -> None:
        """Report compose-valid, saying which file was graded when there were several."""
        o = outcomes["compose-valid"]
        if compose_name and ignored:
            o.message = f"{o.message} {ignored_compose_note(compose_name, ignored)}".strip()
        progress("compose-valid", "done", o)

    def skip_rest(after: str, why: str) -> GradeReport:
        ids = list(TITLES)
        for cid in ids[ids.index(after) + 1:]:
            _fail(outcomes[cid], why)
            progress(cid, "done", outcomes[cid])
        report.duration_s = watch()
        return report

    progress("compose-valid", "running", None)
    if compose_name is None:
        _fail(outcomes["compose-valid"],
              say(_("No compose file found. Name it one of: %(names)s."),
                  {"names": ", ".join(ACCEPTED_FILENAMES)}),
              "files: " + ", ".join(sorted(files)))
        finish_valid()
        return skip_rest("compose-valid", _("Skipped: there is no compose file to run."))

    from exercises.grading import files_to_tar

    problem = yaml_problem(files[compose_name])
    if problem:
        _fail(outcomes["compose-valid"], problem)
        finish_valid()
        return skip_rest("compose-valid", _("Skipped: the compose file is not valid."))

    # The images A3 runs (busybox, alpine) are a few MB: a cold sandbox pulls them in about a
    # second, so the pre-pulled grading pool is left to A1 and A2, which pull hundreds of MB.
    sandbox = backend.create_fresh(owner=owner, images=())
    try:
        # Only the compose file, alone in an empty folder, as the handout says: nothing else
        # the submission holds (a script, a Dockerfile) can be relied on.
        backend.put_archive(sandbox.id, WORKDIR, files_to_tar({compose_name: files[compose_name]}))
        cfg = backend.exec(sandbox.id, ["docker", "compose", "-p", PROJECT, "-f", compose_name,
                                        "config", "--format", "json"], workdir=WORKDIR, timeout=30)
        if cfg.exit_code != 0:
            why = (_("it took too long to read") if cfg.timed_out
                   else tail_lines(cfg.output, 3) or f"exit code {cfg.exit_code}")
            _fail(outcomes["compose-valid"],
                  say(_("docker compose cannot read the file: %(why)s"), {"why": why}),
                  cfg.output)
            finish_valid()
            return skip_rest("compose-valid", _("Skipped: the compose file is not valid."))
        config = config_json(cfg.output)
        refusals = policy_problems(config, WORKDIR)
        if refusals:
            _fail(outcomes["compose-valid"],
                  say(_("The classroom refuses this file, so nothing was started: %(why)s"),
                      {"why": " ".join(refusals)}), clip(cfg.output, 2000))
            finish_valid()
            return skip_rest("compose-valid", _("Skipped: the compose file asks for something "
                                                "the classroom refuses."))
        _pass(outcomes["compose-valid"], _("docker compose reads the file."),
              clip(cfg.output, 2000))
        finish_valid()

        # -- two-services ------------------------------------------------------------------
        progress("two-services", "running", None)
        services = sorted((config.get("services") or {}).keys())
        up = backend.exec(sandbox.id, ["docker", "compose", "-p", PROJECT, "-f", compose_name,
                                       "up", "-d", "--quiet-pull"], workdir=WORKDIR,
                          timeout=UP_TIMEOUT_S)
        inner = backend.inner_client(sandbox.id, timeout=30)
        containers = inner.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
        started = [c for c in containers
                   if not c.attrs["State"].get("StartedAt", "").startswith("0001-")]
        evidence = up.output + "\n" + "\n".join(
            f"{c.name}: {c.status} (exit {c.attrs['State'].get('ExitCode')})" for c in containers)
        if len(services) != 2:
            _fail(outcomes["two-services"],
                  say(ngettext("The file defines %(n)s service (%(names)s); A3 needs exactly two: "
                               "a writer and a reader.",
                               "The file defines %(n)s services (%(names)s); A3 needs exactly "
                               "two: a writer and a reader.", len(services)), {"n": len(services),
                                                  "names": ", ".join(services) or "-"}), evidence)
        elif up.exit_code != 0 or len(started) < 2:
            from webapp.sandboxes.images import standin_tags

            missing = missing_images(config, set(standin_tags()))
            if missing:
                why = say(ngettext("the image %(images)s is not in the classroom (no internet "
                                   "here); use busybox or alpine.",
                                   "the images %(images)s are not in the classroom (no internet "
                                   "here); use busybox or alpine.", len(missing)),
                          {"images": ", ".join(missing)})
            else:
                why = tail_lines(up.output) or _("see the evidence.")
            _fail(outcomes["two-services"],
                  say(_("Not both containers started: %(why)s"), {"why": why}), evidence)
        else:
            _pass(outcomes["two-services"],
                  say(_("Both services started: %(names)s."), {"names": ", ".join(services)}),
                  evidence)
        progress("two-services", "done", outcomes["two-services"])
        if len(started) == 0:
            return skip_rest("two-services", _("Skipped: no container started."))

        # -- named-volume ------------------------------------------------------------------
        progress("named-volume", "running", None)
        mounts = {c.name: c.attrs.get("Mounts") or [] for c in containers}
        named = {}
        for cname, ms in mounts.items():
            for m in ms:
                if m.get("Type") == "volume" and m.get("Name"):
                    try:
                        labels = inner.volumes.get(m["Name"]).attrs.get("Labels") or {}
                    except docker.errors.NotFound:
                        labels = {}
                    if labels.get("com.docker.compose.volume"):
                        named.setdefault(m["Name"], set()).add(cname)
        shared_named = [v for v, users in named.items() if len(users) >= 2]
        mount_evidence = json.dumps(mounts, indent=1)
        if shared_named:
            _pass(outcomes["named-volume"],
                  say(_("Both containers mount the named volume %(volume)s."),
                      {"volume": shared_named[0]}), mount_evidence)
        else:
            kinds = {m.get("Type") for ms in mounts.values() for m in ms}
            if "bind" in kinds:
                bind = next(m for ms in mounts.values() for m in ms if m.get("Type") == "bind")
                msg = say(_("The containers share a bind mount: the host folder %(source)s appears at "
                            "%(dest)s. A3 asks for a named volume: write 'NAME:%(dest)s' in both "
                            "services and declare NAME under the top-level 'volumes:' key."), \
                     {"source": bind.get("Source", "?"), "dest": bind.get("Destination", "?")})
            elif len(named) >= 2:
                by_name = {c.name: c for c in containers}
                msg = say(_("Each service mounts a different named volume (%(pairs)s), so the reader "
                            "never sees the writer's file. Mount the same volume in both services."), \
                     {"pairs": ", ".join(
                        f"{_service(by_name[u])}: {v}" for v, users in sorted(named.items())
                        for u in sorted(users))})
            elif named:
                msg = _("A named volume exists, but it is not mounted by both containers.")
            elif "volume" in kinds:
                msg = _("Only anonymous volumes are mounted: a path alone such as '- /shared' "
                        "gives each container its own unnamed volume, so nothing is shared. Write "
                        "'NAME:/shared' in both services and declare NAME under the top-level "
                        "'volumes:' key.")
            else:
                msg = _("No volume is mounted. Mount one named volume in both services.")
            _fail(outcomes["named-volume"], msg, mount_evidence)
        progress("named-volume", "done", outcomes["named-volume"])

        # -- writer-appends and reader-follows: watch for WATCH_S seconds -------------------
        progress("writer-appends", "running", None)
        roles = {c.name: _role(c) for c in containers}
        readable = _mount_readers(mounts, {c.name: c for c in containers})
        t_wall = time.time()
        t0 = time.monotonic()
        before_files = _read_sources(readable)
        time.sleep(WATCH_S)
        after_files = _read_sources(readable)
        elapsed = time.monotonic() - t0
        for c in containers:
            c.reload()
        growth = file_growth(before_files, after_files)
        file_evidence = "\n".join(
            f"{f}: {len(before_files.get(f, []))} -> {len(after_files.get(f, []))} lines"
            for f in sorted(set(before_files) | set(after_files))) or _("no file in any volume")
        writer = _pick(containers, roles, "writer")
        new_lines: list[str] = []
        grown_source = None
        outcome = outcomes["writer-appends"]
        if growth.grown:
            fname, lines = max(growth.grown.items(), key=lambda kv: len(kv[1]))
            grown_source = readable[fname.split("/", 1)[0]][0]
            new_lines = lines
            rate = len(lines) / elapsed
            params = {"file": _display(fname, readable), "n": len(lines),
                      "s": f"{elapsed:.1f}", "rate": f"{rate:.1f}"}
            if RATE_MIN <= rate <= RATE_MAX:
                _pass(outcome, say(_("%(file)s grew by %(n)s lines in %(s)s s (%(rate)s per second)."),
                                   params), file_evidence)
            elif rate > RATE_MAX:
                _fail(outcome, say(_("The writer is too fast: %(file)s grew by %(n)s lines in %(s)s s "
                                     "(%(rate)s per second). A3 asks for one line per second: end "
                                     "each round of the loop with 'sleep 1'."), params), file_evidence)
            else:
                _fail(outcome, say(ngettext(
                    "The writer is too slow: %(file)s grew by only %(n)s line in %(s)s s "
                    "(%(rate)s per second). A3 asks for one line every second: use 'sleep 1' in "
                    "the loop.",
                    "The writer is too slow: %(file)s grew by only %(n)s lines in %(s)s s "
                    "(%(rate)s per second). A3 asks for one line every second: use 'sleep 1' in "
                    "the loop.", params["n"]), params), file_evidence)
        elif writer is not None and writer.status != "running":
            cmd = command_text(writer.attrs)
            params = {"service": _service(writer),
                      "code": writer.attrs["State"].get("ExitCode")}
            if runs_in_background(cmd):
                msg = say(_("The writer service '%(service)s' exited (code %(code)s) right after "
                            "starting: its command ends with '&', so the loop runs in the background, "
                            "the shell ends at once and Docker stops the container (and the loop with "
                            "it). Remove the '&' so the loop is the container's main process."), params)
            else:
                msg = say(_("The writer service '%(service)s' exited (code %(code)s). Its command must "
                            "keep running: append in an endless loop such as 'while true; do ...; "
                            "sleep 1; done'."), params)
            _fail(outcome, msg, file_evidence + "\n" + cmd)
        elif growth.rewritten:
            _fail(outcome, say(_("%(file)s changed but never grew: the writer replaces its content "
                                 "each time ('>' overwrites the file). Use '>>', which appends a line "
                                 "to the end."), {"file": _display(growth.rewritten[0], readable)}),
                  file_evidence)
        elif growth.unchanged:
            _fail(outcome, say(_("The writer is too slow: %(file)s did not grow at all in %(s)s s. A3 "
                                 "asks for one line every second: use 'sleep 1' in the loop."),
                               {"file": _display(growth.unchanged[0], readable), "s": f"{elapsed:.0f}"}),
                  file_evidence)
        elif not readable:
            _fail(outcome, _("No container mounts a volume, so no file can pass from the writer "
                             "to the reader."), mount_evidence)
        else:
            _fail(outcome, say(_("No file in the volumes grew during %(s)s s. Does the writer append "
                                 "(>>) to a file in the volume, in a loop that keeps running?"),
                               {"s": f"{elapsed:.0f}"}), file_evidence)
        progress("writer-appends", "done", outcome)

        progress("reader-follows", "running", None)
        outcome = outcomes["reader-follows"]
        # Judge on distinct lines (a writer that is too fast repeats the same second); the last
        # few are enough and keep the search cheap.
        probe_lines = list(dict.fromkeys(ln for ln in new_lines if ln.strip()))[-50:]
        since = {c.name: _logs_since(c, t_wall) for c in started}
        best, best_hits = _best_reader(started, writer, since, probe_lines)
        # A reader far behind a flooding writer on a busy host prints the new lines late: give
        # it READER_GRACE_S more before judging.
        grace_end = time.monotonic() + READER_GRACE_S
        while len(probe_lines) >= 2 and best_hits < 2 and time.monotonic() < grace_end:
            time.sleep(0.5)
            for c in started:
                with contextlib.suppress(docker.errors.DockerException):
                    c.reload()
            since = {c.name: _logs_since(c, t_wall) for c in started}
            best, best_hits = _best_reader(started, writer, since, probe_lines)
        log_evidence = "\n".join(
            f"--- {_service(c)} ({c.status}, {command_text(c.attrs)[:120]}): "
            f"{len(since[c.name])} lines of output while watched\n" + "\n".join(since[c.name][-8:])
            for c in started)
        reader = next((c for c in started if c is not writer and roles[c.name] == "reader"),
                      None) or next((c for c in started if c is not writer), None)
        if len(probe_lines) < 2:
            _fail(outcome, _("Not judged: the writer added fewer than two new lines while the "
                             "grader watched, so there was nothing for the reader to follow. Fix "
                             "the writer first."), log_evidence)
        elif best is not None and best_hits >= 2:
            _pass(outcome, say(_("%(service)s is running and printed %(hits)s of the %(n)s new lines "
                                 "as they came."), {"service": _service(best), "hits": best_hits,
                                                   "n": len(probe_lines)}), log_evidence)
        elif reader is None:
            _fail(outcome, _("No second container is running to read the file."), log_evidence)
        elif _restarts(reader):
            params = {"service": _service(reader), "n": _restarts(reader)}
            if uses_cat(command_text(reader.attrs)):
                msg = say(ngettext(
                    "The reader service '%(service)s' exited and its restart policy started it "
                    "again %(n)s time: 'cat' prints the file once and exits, and 'restart:' only "
                    "runs it anew. Use 'tail -F FILE', which keeps running and prints every new "
                    "line as it arrives.",
                    "The reader service '%(service)s' exited and its restart policy started it "
                    "again %(n)s times: 'cat' prints the file once and exits, and 'restart:' only "
                    "runs it anew. Use 'tail -F FILE', which keeps running and prints every new "
                    "line as it arrives.", params["n"]), params)
            else:
                msg = say(ngettext(
                    "The reader service '%(service)s' exited and its restart policy started it "
                    "again %(n)s time. The reader must keep running by itself and print each new "
                    "line, like 'tail -F FILE'.",
                    "The reader service '%(service)s' exited and its restart policy started it "
                    "again %(n)s times. The reader must keep running by itself and print each new "
                    "line, like 'tail -F FILE'.", params["n"]), params)
            _fail(outcome, msg, log_evidence)
        elif reader.status != "running":
            cmd = command_text(reader.attrs)
            out = "\n".join(_logs_since(reader, 0))
            params = {"service": _service(reader), "code": reader.attrs["State"].get("ExitCode")}
            if uses_cat(cmd):
                msg = say(_("The reader service '%(service)s' ran 'cat', which prints the file once "
                            "and exits (code %(code)s). Use 'tail -F FILE': it keeps the file open and "
                            "prints every new line as it arrives."), params)
            elif "no such file" in out.lower() or "can't open" in out.lower():
                msg = say(_("The reader service '%(service)s' exited (code %(code)s) because the file "
                            "did not exist yet when it started. 'tail -F' (capital F) waits for the "
                            "file to appear and then follows it."), params)
            else:
                msg = say(_("The reader service '%(service)s' exited (code %(code)s) instead of "
                            "following the file. It must keep running and print each new line, "
                            "like 'tail -F FILE'."), params)
            _fail(outcome, msg, log_evidence)
        elif grown_source and not any(
                (m.get("Name") or m.get("Source")) == grown_source
                for m in mounts.get(reader.name, [])):
            _fail(outcome, say(_("The reader service '%(service)s' does not mount the volume the "
                                 "writer writes to, so it cannot see the new lines. Mount the same "
                                 "named volume in both services."), {"service": _service(reader)}),
                  log_evidence + "\n" + mount_evidence)
        elif (prog := reader_pipe(command_text(reader.attrs))) is not None:
            _fail(outcome, say(_("The reader service '%(service)s' is running but printed none of the "
                                 "%(n)s new lines in %(s)s s: it pipes tail into '%(prog)s', which "
                                 "keeps its output in a buffer when it does not write to a terminal, "
                                 "so the lines never show up. Drop the pipe, or make the program "
                                 "flush each line (in awk: '{print; fflush()}')."),
                               {"service": _service(reader), "n": len(probe_lines), "s": f"{elapsed:.0f}",
                                "prog": prog}), log_evidence)
        else:
            _fail(outcome, say(_("The reader service '%(service)s' is running but printed none of the "
                                 "%(n)s new lines in %(s)s s. Does it follow the file the writer "
                                 "appends to, and print to standard output?"),
                               {"service": _service(reader), "n": len(probe_lines), "s": f"{elapsed:.0f}"}),
                  log_evidence)
        progress("reader-follows", "done", outcome)
        inner.close()
    finally:
        try:
            backend.remove(sandbox.id, keep_workspace=False)
        except Exception as exc:  # noqa: BLE001 - never hide the grading result
            log.error("could not remove grading sandbox %s: %s", sandbox.id, exc)
    report.duration_s = watch()
    return report


@dataclass
class Growth:
    """How the files seen in the volumes changed while the grader watched.

    ``grown``: file -> the lines added at its end; ``rewritten``: files whose line count did not
    grow but whose content changed (overwritten); ``unchanged``: files that stayed the same."""

    grown: dict[str, list[str]] = field(default_factory=dict)
    rewritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def file_growth(before: dict[str, list[str]], after: dict[str, list[str]]) -> Growth:
    """Compare two readings (``{file: lines}``) of the volumes, taken some seconds apart.

    A file counts as grown when it has more lines than before (the new ones are returned, also
    when the start of the file changed); files present only before are ignored."""
    g = Growth()
    for f in sorted(after):
        old, new = before.get(f, []), after[f]
        if len(new) > len(old):
            g.grown[f] = new[len(old):]
        elif new != old:
            g.rewritten.append(f)
        else:
            g.unchanged.append(f)
    return g


def command_text(attrs: dict) -> str:
    """A container's entrypoint and command (from ``docker inspect`` attrs) as one line."""
    cfg = attrs.get("Config") or {}
    parts = list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])
    return " ".join(str(p) for p in parts)


_FD_DUP = re.compile(r"\d*>&\d|\d*>>?\s*/dev/\w+")


def writes_to_file(cmd: str) -> bool:
    """Whether a command line writes into a file (``>``, ``>>`` or ``tee``), ignoring ``2>&1``
    and devices such as ``> /dev/null`` or ``> /dev/stdout``: the writer's mark."""
    return ">" in _FD_DUP.sub("", cmd) or re.search(r"(^|[\s;&|/])tee(\s|$)", cmd) is not None


def runs_in_background(cmd: str) -> bool:
    """Whether a shell command line ends with ``&`` (the loop sent to the background, so the
    container's main process ends at once). ``&&`` and ``... & wait`` do not count."""
    return re.search(r"(?<!&)&[\s\"']*$", cmd.strip()) is not None


def uses_cat(cmd: str) -> bool:
    """Whether a command line prints a file with ``cat`` (once) and does not follow it with
    ``tail``."""
    return re.search(r"(^|[\s;&|(/])cat(\s|$)", cmd) is not None and "tail" not in cmd


def reader_pipe(cmd: str) -> str | None:
    """The program a command line pipes into (``tail -F f | sed ...`` -> ``"sed"``), or None.
    ``||`` is not a pipe."""
    m = re.search(r"(?<!\|)\|(?!\|)\s*([\w./-]+)", cmd)
    return posixpath.basename(m.group(1)) if m else None


def _service(c) -> str:
    return (c.labels or {}).get("com.docker.compose.service") or c.name


def _restarts(c) -> int:
    """How many times the engine restarted a container (its restart policy)."""
    return int(c.attrs.get("RestartCount") or 0)


def _role(c) -> str:
    return "writer" if writes_to_file(command_text(c.attrs)) else "reader"


def _pick(containers, roles: dict[str, str], role: str):
    return next((c for c in containers if roles[c.name] == role), None)


def _mount_readers(mounts: dict[str, list[dict]], by_name: dict) -> dict[str, tuple[str, object, str]]:
    """Where to read each volume or bind mount the containers use: ``{label: (source key,
    container, destination)}``, preferring a running container; labels are ``m0``, ``m1``, ..."""
    chosen: dict[str, tuple[object, str]] = {}
    for cname, ms in mounts.items():
        c = by_name[cname]
        for m in ms:
            key = m.get("Name") or m.get("Source")
            if not key or m.get("Type") not in ("volume", "bind"):
                continue
            if key not in chosen or (chosen[key][0].status != "running" and c.status == "running"):
                chosen[key] = (c, m.get("Destination", ""))
    return {f"m{i}": (key, c, dest) for i, (key, (c, dest)) in enumerate(sorted(
        chosen.items(), key=lambda kv: kv[0]))}


def _read_sources(readable: dict[str, tuple[str, object, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label, (_key, c, dest) in readable.items():
        try:
            files = _read_dir_lines(c, dest)
        except docker.errors.APIError:
            continue
        out.update({f"{label}/{name}": lines for name, lines in files.items()})
    return out


def _display(fname: str, readable: dict[str, tuple[str, object, str]]) -> str:
    """``m0/shared/times.log`` -> ``/shared/times.log`` (the path inside the container)."""
    label, _sep, member = fname.partition("/")
    dest = readable[label][2] if label in readable else "/"
    return posixpath.join(posixpath.dirname(dest.rstrip("/")) or "/", member)


def _logs_since(container, since: float) -> list[str]:
    try:
        raw = container.logs(stdout=True, stderr=True, tail=LOG_TAIL_LINES,
                             **({"since": since} if since else {}))
    except docker.errors.APIError:
        return []
    return raw.decode(errors="replace").splitlines()
