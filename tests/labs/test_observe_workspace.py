"""The pure parts of reading a learner's workspace: the bash history file and a saved image's
manifest.json (labs.observe). Reading them in a sandbox is tested in test_observe_workspace_real."""
from __future__ import annotations

import base64
import json

from labs import observe
from labs.checks import HistoryEntry


def test_parse_history_with_timestamps_and_a_here_document():
    text = ("#1795970402\ndocker version\n"
            "#1795970403\ncat > x.txt <<'EOF'\na b\nEOF\n"
            "#1795970404\ndocker inspect -f '{{.State.Status}}' web\n")
    assert observe.parse_history(text) == (
        HistoryEntry(1795970402, "docker version"),
        HistoryEntry(1795970403, "cat > x.txt <<'EOF'\na b\nEOF"),
        HistoryEntry(1795970404, "docker inspect -f '{{.State.Status}}' web"),
    )


def test_parse_history_without_timestamps_and_a_cut_first_line():
    assert observe.parse_history("ls -la\ndocker info\n") == (
        HistoryEntry(0, "ls -la"), HistoryEntry(0, "docker info"))
    # Read from the middle of the file: the first line may be the end of a longer one.
    assert observe.parse_history("ker ps\n#12\ndocker top web\n", truncated=True) == (
        HistoryEntry(12, "docker top web"),)


def test_parse_history_keeps_the_newest_entries():
    text = "".join(f"#{n}\ncmd {n}\n" for n in range(observe.MAX_HISTORY + 50))
    entries = observe.parse_history(text)
    assert len(entries) == observe.MAX_HISTORY and entries[-1].text == f"cmd {observe.MAX_HISTORY + 49}"


HISTORY = ("#100\nold\n"
           "#200\ndocker top web\n"
           "#200\ndocker start web\n"
           "#200\ndocker top web\n"
           "#201\ncat > x.txt <<'EOF'\na b\nEOF\n"
           "#202\nexit\n")


def test_parse_history_pairs_each_entry_with_its_noted_exit_status():
    """The bashrc notes a status line per new history entry (time, $?, PIPESTATUS, first line):
    the same command typed twice in one second gets each its own, oldest first; an entry with
    none ('exit', which no prompt follows; one older than the status file) stays unknown."""
    statuses = observe.parse_statuses(
        "200 1 1 docker top web\n"
        "200 0 0 docker start web\n"
        "junk the learner wrote\n"
        "200 0 0,0 docker top web\n"
        "201 0 0 cat > x.txt <<'EOF'\n")
    entries = observe.parse_history(HISTORY, statuses=statuses)
    assert [(e.text, e.status, e.pipe_status) for e in entries] == [
        ("old", None, ()),
        ("docker top web", 1, (1,)),
        ("docker start web", 0, (0,)),
        ("docker top web", 0, (0, 0)),
        ("cat > x.txt <<'EOF'\na b\nEOF", 0, (0,)),
        ("exit", None, ()),
    ]
    # What the learner's bash shows of the history is the history file: it holds no statuses.
    assert [e.text for e in entries] == [e.text for e in observe.parse_history(HISTORY)]
    assert all(e.status is None for e in observe.parse_history(HISTORY))


def test_a_status_pairs_only_with_its_own_time_and_command():
    statuses = observe.parse_statuses("199 1 1 docker top web\n200 1 1 docker top other\n")
    assert all(e.status is None for e in observe.parse_history(HISTORY, statuses=statuses))
    # The cut first line of a tail is dropped.
    assert observe.parse_statuses("0 1 docker top web\n200 2 2 ls\n", truncated=True) == (
        observe.Status(time=200, first_line="ls", status=2, pipe_status=(2,)),)


class _Exec:
    """A sandbox backend whose exec answers with ``output`` (what the workspace script prints)."""

    def __init__(self, output):
        self.output = output

    def exec(self, sandbox_id, cmd, **kw):
        import types
        return types.SimpleNamespace(output=self.output, exit_code=0, timed_out=False)


def test_the_workspace_read_gives_the_history_with_its_statuses():
    enc = lambda t: base64.b64encode(t.encode()).decode()  # noqa: E731
    out = f"@ls\n@history\n{enc(HISTORY)}\n@status\n{enc('200 0 0 docker start web')}\n"
    got = observe._workspace(_Exec(out), "sb", (), history=True)["shell_history"]
    assert [(e.text, e.status) for e in got][1:3] == [("docker top web", None),
                                                    ("docker start web", 0)]
    # No status file (a sandbox from before): every status unknown.
    got = observe._workspace(_Exec(f"@ls\n@history\n{enc(HISTORY)}\n@status\n\n"), "sb", (),
                             history=True)["shell_history"]
    assert len(got) == 6 and all(e.status is None for e in got)


def b64(obj) -> str:
    return base64.b64encode(json.dumps(obj).encode() if not isinstance(obj, bytes) else obj).decode()


def test_repo_tags_from_a_docker_save_manifest():
    manifest = [{"Config": "blobs/sha256/a", "RepoTags": ["busybox:latest"], "Layers": []},
                {"Config": "blobs/sha256/b", "RepoTags": ["alpine:latest", "alpine:3"]},
                {"Config": "blobs/sha256/c", "RepoTags": None}]
    assert observe._repo_tags(b64(manifest)) == ("busybox:latest", "alpine:latest", "alpine:3")


def test_repo_tags_of_a_file_the_learner_made_up():
    assert observe._repo_tags(b64(b"not json")) == ()
    assert observe._repo_tags("%%%") == ()
    assert observe._repo_tags(b64({"RepoTags": ["x"]})) == ()
    assert observe._repo_tags(b64([{"RepoTags": [1, "ok:1"]}, "junk"])) == ("ok:1",)


class _Events:
    """The answer of the engine's /events endpoint: one JSON event per line."""

    def __init__(self, events):
        self.lines = [json.dumps(e).encode() for e in events]

    def raise_for_status(self):
        pass

    def iter_lines(self):
        return iter(self.lines)

    def close(self):
        pass


class _Api:
    def __init__(self, events):
        self.events, self.params = events, None

    def _url(self, path):
        return path

    def get(self, url, params=None, **kw):
        self.params = params
        return _Events(self.events)


def _ev(action, cid, name="life", **attrs):
    return {"Type": "container", "Action": action, "timeNano": 1_000_000_000_000_000_000,
            "Actor": {"ID": cid, "Attributes": {"name": name, "image": "nginx", **attrs}}}


def test_removed_containers_keep_their_create_so_a_life_that_never_ran_shows():
    """A 'docker run' whose start failed (a taken port) leaves only a 'create' before the
    removal; the life of the lab starts, dies and is removed. Oldest removal first."""
    api = _Api([_ev("create", "c1"), _ev("destroy", "c1"),
                _ev("create", "c2"), _ev("start", "c2"), _ev("kill", "c2", signal="9"),
                _ev("die", "c2", exitCode="137"), _ev("destroy", "c2")])
    history, _died, removed, _nets, _vols, gone, signalled, started = observe._recent_events(api)
    assert "create" in json.loads(api.params["filters"])["event"]
    assert removed == ("life", "life")
    assert [(g.id, g.history, g.exit_code) for g in gone] == [
        ("c1", ("create",), None), ("c2", ("create", "start", "die"), 137)]
    # A signal's time is kept apart; its 'kill' event stays out of the history.
    assert signalled == {"c2": 1_000_000_000.0}
    assert started == {"c2": 1_000_000_000.0}  # its latest 'start', for present ones too
