"""Grader of A3: two containers and one named volume (see handout.en.md for the contract).

Runs the submitted compose file in a fresh grading sandbox and watches it for a few seconds:

* compose-valid (10): ``docker compose config`` accepts the file.
* two-services (10): exactly two services, and both containers start.
* named-volume (20): one named volume (declared at top level, not a bind mount or anonymous
  volume) is mounted by both containers.
* writer-appends (30): a file in the shared mount grows by about one line per second.
* reader-follows (30): a container is still running and its output shows the new lines.
"""
from __future__ import annotations

import io
import json
import logging
import tarfile
import time

import docker
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# yaml_problem and MAX_YAML_NODES live in the shared compose policy; kept importable from here.
from exercises.compose_policy import MAX_YAML_NODES, policy_problems, yaml_problem  # noqa: F401
from exercises.grading import CheckOutcome, GradeReport, ProgressFn, Stopwatch, clip, no_progress

log = logging.getLogger(__name__)

ASSIGNMENT = "a3"
ACCEPTED_FILENAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
WORKDIR = "/srv/submission"
PROJECT = "a3"
# Seconds the grader watches the running project; lines per second accepted for the writer.
WATCH_S = 4.0
RATE_MIN, RATE_MAX = 0.6, 2.0
UP_TIMEOUT_S = 90
MAX_FILE_BYTES = 2_000_000


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


def _outcome(check_id: str) -> CheckOutcome:
    title, pts = TITLES[check_id]
    return CheckOutcome(id=check_id, title=str(title), max_points=pts)


def _pass(o: CheckOutcome, message: str, evidence: str = "") -> CheckOutcome:
    o.passed, o.points, o.message, o.evidence = True, o.max_points, message, clip(evidence)
    return o


def _fail(o: CheckOutcome, message: str, evidence: str = "") -> CheckOutcome:
    o.passed, o.points, o.message, o.evidence = False, 0.0, message, clip(evidence)
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


def _logs(container) -> list[str]:
    try:
        raw = container.logs(stdout=True, stderr=True, tail=2000)
    except docker.errors.APIError:
        return []
    return raw.decode(errors="replace").splitlines()


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
    compose_name = next((n for n in ACCEPTED_FILENAMES if n in files), None)

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
              _("No compose file found. Name it one of: %(names)s.")
              % {"names": ", ".join(ACCEPTED_FILENAMES)},
              "files: " + ", ".join(sorted(files)))
        progress("compose-valid", "done", outcomes["compose-valid"])
        return skip_rest("compose-valid", _("Skipped: there is no compose file to run."))

    from exercises.grading import files_to_tar

    problem = yaml_problem(files[compose_name])
    if problem:
        _fail(outcomes["compose-valid"], problem)
        progress("compose-valid", "done", outcomes["compose-valid"])
        return skip_rest("compose-valid", _("Skipped: the compose file is not valid."))

    sandbox = backend.create_fresh(owner=owner)
    try:
        backend.put_archive(sandbox.id, WORKDIR, files_to_tar(files))
        cfg = backend.exec(sandbox.id, ["docker", "compose", "-p", PROJECT, "-f", compose_name,
                                        "config", "--format", "json"], workdir=WORKDIR, timeout=30)
        if cfg.exit_code != 0:
            why = (_("it took too long to read") if cfg.timed_out
                   else tail_lines(cfg.output, 3) or f"exit code {cfg.exit_code}")
            _fail(outcomes["compose-valid"],
                  _("docker compose cannot read the file: %(why)s") % {"why": why},
                  cfg.output)
            progress("compose-valid", "done", outcomes["compose-valid"])
            return skip_rest("compose-valid", _("Skipped: the compose file is not valid."))
        try:
            config = json.loads(cfg.output)
        except json.JSONDecodeError:
            config = {}
        refusals = policy_problems(config, WORKDIR)
        if refusals:
            _fail(outcomes["compose-valid"],
                  _("The classroom refuses this file, so nothing was started: %(why)s")
                  % {"why": " ".join(refusals)}, clip(cfg.output, 2000))
            progress("compose-valid", "done", outcomes["compose-valid"])
            return skip_rest("compose-valid", _("Skipped: the compose file asks for something "
                                                "the classroom refuses."))
        _pass(outcomes["compose-valid"], _("docker compose reads the file."),
              clip(cfg.output, 2000))
        progress("compose-valid", "done", outcomes["compose-valid"])

        # -- two-services ------------------------------------------------------------------
        progress("two-services", "running", None)
        services = sorted((config.get("services") or {}).keys())
        up = backend.exec(sandbox.id, ["docker", "compose", "-p", PROJECT, "-f", compose_name,
                                       "up", "-d", "--quiet-pull"], workdir=WORKDIR,
                          timeout=UP_TIMEOUT_S)
        inner = docker.DockerClient(base_url=backend.engine_url(sandbox.id), version="1.41",
                                    timeout=30)
        containers = inner.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
        started = [c for c in containers
                   if not c.attrs["State"].get("StartedAt", "").startswith("0001-")]
        evidence = up.output + "\n" + "\n".join(
            f"{c.name}: {c.status} (exit {c.attrs['State'].get('ExitCode')})" for c in containers)
        if len(services) != 2:
            _fail(outcomes["two-services"],
                  _("The file defines %(n)s service(s) (%(names)s); A3 needs exactly two: a "
                    "writer and a reader.") % {"n": len(services),
                                               "names": ", ".join(services) or "-"}, evidence)
        elif up.exit_code != 0 or len(started) < 2:
            from webapp.sandboxes.images import standin_tags

            missing = missing_images(config, set(standin_tags()))
            if missing:
                why = _("the image(s) %(images)s are not in the classroom (no internet here); "
                        "use busybox or alpine.") % {"images": ", ".join(missing)}
            else:
                why = tail_lines(up.output) or _("see the evidence.")
            _fail(outcomes["two-services"],
                  _("Not both containers started: %(why)s") % {"why": why}, evidence)
        else:
            _pass(outcomes["two-services"],
                  _("Both services started: %(names)s.") % {"names": ", ".join(services)},
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
                  _("Both containers mount the named volume %(volume)s.")
                  % {"volume": shared_named[0]}, mount_evidence)
        else:
            kinds = {m.get("Type") for ms in mounts.values() for m in ms}
            if "bind" in kinds:
                msg = _("The containers share a bind mount (a host folder). A3 asks for a named "
                        "volume declared under the top-level 'volumes:' key.")
            elif named:
                msg = _("A named volume exists, but it is not mounted by both containers.")
            elif "volume" in kinds:
                msg = _("Only anonymous volumes are mounted. Give the volume a name and declare "
                        "it under the top-level 'volumes:' key.")
            else:
                msg = _("No volume is mounted. Mount one named volume in both services.")
            _fail(outcomes["named-volume"], msg, mount_evidence)
        progress("named-volume", "done", outcomes["named-volume"])

        # -- writer-appends and reader-follows: watch for WATCH_S seconds -------------------
        progress("writer-appends", "running", None)
        shared_dest = _shared_destination(mounts)
        probe = next((c for c in started if c.name in shared_dest), None)
        before_files: dict[str, list[str]] = {}
        before_logs = {c.name: _logs(c) for c in started}
        t0 = time.monotonic()
        if probe is not None:
            before_files = _read_dir_lines(probe, shared_dest[probe.name])
        time.sleep(WATCH_S)
        after_files: dict[str, list[str]] = {}
        elapsed = time.monotonic() - t0
        if probe is not None:
            try:
                after_files = _read_dir_lines(probe, shared_dest[probe.name])
            except docker.errors.APIError:
                after_files = {}
        grown = {
            f: after_files[f][len(before_files.get(f, [])):]
            for f in after_files if len(after_files[f]) > len(before_files.get(f, []))
        }
        file_evidence = "\n".join(
            f"{f}: {len(before_files.get(f, []))} -> {len(after_files.get(f, []))} lines"
            for f in sorted(set(before_files) | set(after_files))) or "no files in the shared mount"
        new_lines: list[str] = []
        if probe is None:
            _fail(outcomes["writer-appends"],
                  _("The two containers share no mount, so nothing can pass between them."),
                  mount_evidence)
        elif not grown:
            _fail(outcomes["writer-appends"],
                  _("No file in the shared mount grew during %(s)s s. Does the writer append "
                    "(>>) in a loop that keeps running?") % {"s": f"{elapsed:.0f}"}, file_evidence)
        else:
            fname, lines = max(grown.items(), key=lambda kv: len(kv[1]))
            new_lines = lines
            rate = len(lines) / elapsed
            if RATE_MIN <= rate <= RATE_MAX:
                _pass(outcomes["writer-appends"],
                      _("%(file)s grew by %(n)s lines in %(s)s s (%(rate)s per second).")
                      % {"file": fname, "n": len(lines), "s": f"{elapsed:.1f}",
                         "rate": f"{rate:.1f}"}, file_evidence)
            else:
                _fail(outcomes["writer-appends"],
                      _("%(file)s grew by %(n)s lines in %(s)s s (%(rate)s per second); A3 asks "
                        "for about one line per second.")
                      % {"file": fname, "n": len(lines), "s": f"{elapsed:.1f}",
                         "rate": f"{rate:.1f}"}, file_evidence)
        progress("writer-appends", "done", outcomes["writer-appends"])

        progress("reader-follows", "running", None)
        for c in started:
            c.reload()
        after_logs = {c.name: _logs(c) for c in started}
        best, best_hits, log_evidence = None, 0, []
        for c in started:
            fresh = after_logs[c.name][len(before_logs.get(c.name, [])):]
            hits = sum(1 for ln in new_lines if ln and any(ln in out for out in fresh))
            log_evidence.append(f"--- {c.name} ({c.status}): {len(fresh)} new lines of output\n"
                                + "\n".join(fresh[-10:]))
            if c.status == "running" and hits > best_hits:
                best, best_hits = c, hits
        evidence = "\n".join(log_evidence)
        exited = [c for c in started if c.status != "running"]
        if not new_lines:
            _fail(outcomes["reader-follows"],
                  _("No new lines were written, so the reader had nothing to show."), evidence)
        elif best is not None and best_hits >= min(2, len(new_lines)):
            _pass(outcomes["reader-follows"],
                  _("%(name)s is running and printed %(hits)s of the %(n)s new lines as they "
                    "came.") % {"name": best.name, "hits": best_hits, "n": len(new_lines)},
                  evidence)
        elif exited:
            c = exited[0]
            _fail(outcomes["reader-follows"],
                  _("%(name)s exited (code %(code)s) instead of following the file. The reader "
                    "must keep running and print new lines, like 'tail -f'.")
                  % {"name": c.name, "code": c.attrs["State"].get("ExitCode")}, evidence)
        else:
            _fail(outcomes["reader-follows"],
                  _("No container printed the %(n)s new lines during %(s)s s. Is the reader's "
                    "output buffered, or does it read another file?")
                  % {"n": len(new_lines), "s": f"{elapsed:.0f}"}, evidence)
        progress("reader-follows", "done", outcomes["reader-follows"])
        inner.close()
    finally:
        try:
            backend.remove(sandbox.id, keep_workspace=False)
        except Exception as exc:  # noqa: BLE001 - never hide the grading result
            log.error("could not remove grading sandbox %s: %s", sandbox.id, exc)
    report.duration_s = watch()
    return report


def _shared_destination(mounts: dict[str, list[dict]]) -> dict[str, str]:
    """For each container, where it mounts a volume or bind source that another container also
    mounts: ``{container name: destination path}``."""
    by_source: dict[str, dict[str, str]] = {}
    for cname, ms in mounts.items():
        for m in ms:
            key = m.get("Name") or m.get("Source")
            if key:
                by_source.setdefault(key, {})[cname] = m.get("Destination", "")
    for users in by_source.values():
        if len(users) >= 2:
            return users
    return {}
