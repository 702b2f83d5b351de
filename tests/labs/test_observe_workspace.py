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
