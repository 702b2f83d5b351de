"""The grading pipeline around the graders: best and latest scores, regrading (one or all, staff
only), hidden checks (never shown or streamed to students), submitting a folder of the learner's
sandbox workspace (read from the host without following links), and the staff views."""
from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from django.utils.translation import override

from exercises import registry, selectors, services, uploads
from exercises.consumers import SubmissionProgressConsumer
from exercises.grading import CheckOutcome, GradeReport, files_to_tar
from exercises.models import CheckResult, Submission
from tests.conftest import inner_sh
from tests.exercises.helpers import wait_finished

A3 = registry.get("a3").folder
COMPOSE = (A3 / "reference" / "compose.yaml").read_bytes()


def _sub(user, *, status="done", score=None, max_score=100, ago_s=0, assignment="a3", **kw):
    sub = Submission.objects.create(user=user, assignment=assignment, sha256="0" * 64,
                                    archive_path="x.tar", filenames=["compose.yaml"],
                                    status=status, score=score,
                                    max_score=max_score if score is not None else None, **kw)
    Submission.objects.filter(pk=sub.pk).update(created_at=timezone.now() - timedelta(seconds=ago_s))
    sub.refresh_from_db()
    return sub


@pytest.fixture
def teacher(django_user_model):
    return django_user_model.objects.create_user("teacher", password="pw-t", is_staff=True)


@pytest.fixture
def fresh_channel_layer():
    """A new channel layer instance for this test's event loop: the process-wide one may hold a
    receive lock bound to the loop of an earlier async test, and would hang the consumer."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def hidden_a3(tmp_path, monkeypatch):
    """A test-only copy of A3 whose grading.yaml hides ``reader-follows``; the registry reads
    assignments from the copy."""
    root = tmp_path / "assignments"
    folder = root / A3.name
    folder.mkdir(parents=True)
    for name in ("grader.py", "handout.en.md", "handout.ko.md"):
        shutil.copy(A3 / name, folder / name)
    (folder / "grading.yaml").write_text("hidden: [reader-follows]\nworkspace_folder: work/a3\n")
    monkeypatch.setattr(registry, "ASSIGNMENTS_DIR", root)
    return folder


# -- best and latest ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_best_counts_only_done_and_latest_is_the_newest(student, other_student):
    _sub(student, score=90, ago_s=600)
    _sub(student, status="error", score=None, ago_s=400)
    # A score left on an errored run (e.g. a regrade that failed) never counts as best.
    Submission.objects.filter(pk=_sub(student, status="error", ago_s=300).pk).update(score=100)
    latest = _sub(student, score=70, ago_s=120)
    _sub(other_student, score=100)
    s = selectors.learner_scores(user=student, assignment_ids=["a3", "a1"])
    assert s["a3"].count == 4 and s["a3"].best.score == 90 and s["a3"].latest == latest
    assert s["a1"].count == 0 and s["a1"].best is None and s["a1"].latest is None


@pytest.mark.django_db
def test_best_and_latest_on_the_list_and_the_assignment_page(client, student):
    client.force_login(student)
    page = client.get("/assignments/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Not submitted yet" in page
    _sub(student, score=90, ago_s=600)
    _sub(student, score=70, ago_s=120)
    for url in ("/assignments/", "/assignments/a3/"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Best 90/100" in page and "Latest 70/100 (2\xa0minutes ago)" in page, url
        assert "2 submissions" in page
    _sub(student, status="queued")
    page = client.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Best 90/100" in page and "Latest: being graded (just now)" in page
    page = client.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "최고 90/100" in page and "최근: 채점 중 (방금)" in page


# -- regrading ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_regrade_resets_a_finished_submission_once(student, django_capture_on_commit_callbacks):
    sub = _sub(student, score=70, duration_s=3.0)
    CheckResult.objects.create(submission=sub, order=0, check_id="x", title="x", passed=True,
                               points=70, max_points=100, message="ok")
    with mock.patch("exercises.tasks.grade_submission.apply_async") as apply_async, \
            django_capture_on_commit_callbacks(execute=True) as queued:
        assert services.submission_regrade(submission_id=sub.pk) is True
        # A double click: the second request finds it queued and changes nothing.
        assert services.submission_regrade(submission_id=sub.pk) is False
    # Behind learners' new submissions (tests/exercises/test_grading_queue.py).
    assert queued and apply_async.call_args_list == [
        mock.call((sub.pk,), priority=services.PRIORITY_REGRADE)]
    sub.refresh_from_db()
    assert sub.status == "queued" and sub.score is None and sub.duration_s is None
    assert sub.attempt == 2 and sub.regraded and not sub.results.exists()
    Submission.objects.filter(pk=sub.pk).update(status="running")
    assert services.submission_regrade(submission_id=sub.pk) is False


@pytest.mark.django_db
def test_grading_skips_a_submission_another_run_holds(student, monkeypatch):
    """The task is idempotent: a finished or freshly running submission is left alone; one left
    running longer than the hard time limit (a dead worker) is graded again."""
    calls = []
    fake = SimpleNamespace(TITLES={"one": ("One", 10)}, ACCEPTED_FILENAMES=("compose.yaml",),
                           grade=lambda files, backend, progress, owner: calls.append(owner)
                           or GradeReport("a3", [CheckOutcome("one", "One", 10, True, 10, "ok")]))
    monkeypatch.setattr(registry.Assignment, "grader", fake)
    monkeypatch.setattr(services, "submission_files", lambda sub: {})
    monkeypatch.setattr(services, "_notify", lambda *a, **k: None)
    done = _sub(student, score=50)
    fresh = _sub(student, status="running", started_at=timezone.now())
    limit = services.settings.BUNGEO_GRADING_TIME_LIMIT
    stale = _sub(student, status="running", started_at=timezone.now() - timedelta(seconds=limit + 5))
    for sub in (done, fresh, stale):
        services.submission_grade(submission_id=sub.pk, backend=object())
    assert calls == [f"s{stale.pk}"]
    assert Submission.objects.get(pk=done.pk).score == 50
    assert Submission.objects.get(pk=fresh.pk).status == "running"
    assert Submission.objects.get(pk=stale.pk).score == 10


@pytest.mark.django_db
def test_one_submission_per_assignment_waits_or_is_graded_at_a_time(student, other_student,
                                                                    settings, tmp_path):
    """Eight clicks in twelve seconds once queued eight gradings of one learner's A3, ahead of
    the rest of the class."""
    settings.MEDIA_ROOT = tmp_path

    def submit(user=student, assignment="a3"):
        name, body = ("compose.yaml", COMPOSE) if assignment == "a3" else ("Dockerfile", b"FROM x\n")
        return services.submission_create(user=user, assignment_id=assignment, filename=name,
                                          data=body, language="en")

    with mock.patch("exercises.services.submission_enqueue"):
        first = submit()
        with pytest.raises(services.SubmissionError) as err, override("en"):
            submit()
        assert str(err.value) == (f"Your submission #{first.pk} of this assignment is still waiting "
                                  "or being graded: wait for its result, then submit again.")
        submit(assignment="a1")  # another assignment
        submit(user=other_student)  # another learner
        Submission.objects.filter(pk=first.pk).update(status="running", started_at=timezone.now())
        with pytest.raises(services.SubmissionError):
            submit()
        Submission.objects.filter(pk=first.pk).update(status="done")
        second = submit()
        # Held no longer: a queued one whose task was lost long ago, a run past the time limit,
        # and a staff regrade.
        Submission.objects.filter(pk=second.pk).update(
            created_at=timezone.now() - timedelta(seconds=services.QUEUED_HOLD_S + 1))
        third = submit()
        limit = settings.BUNGEO_GRADING_TIME_LIMIT
        Submission.objects.filter(pk=third.pk).update(
            status="running", started_at=timezone.now() - timedelta(seconds=limit + 1))
        fourth = submit()
        Submission.objects.filter(pk=fourth.pk).update(status="done")
        assert services.submission_regrade(submission_id=fourth.pk)
        submit()
    assert Submission.objects.filter(user=student, assignment="a3").count() == 5


@pytest.mark.django_db
def test_regrade_all_latest_then_all(student, other_student):
    _sub(student, score=10, ago_s=100)
    new1 = _sub(student, score=20, ago_s=50)
    _sub(other_student, score=30, ago_s=100)
    new2 = _sub(other_student, score=40)
    _sub(student, score=5, assignment="a1")
    with mock.patch("exercises.services.submission_enqueue"):
        assert services.assignment_regrade(assignment_id="a3") == 2
        queued = set(Submission.objects.filter(status="queued").values_list("pk", flat=True))
        assert queued == {new1.pk, new2.pk}
        # "all": the two older ones; the two already queued are left alone.
        assert services.assignment_regrade(assignment_id="a3", scope="all") == 2
        assert Submission.objects.filter(assignment="a3", status="queued").count() == 4
        assert Submission.objects.get(assignment="a1").status == "done"
        with pytest.raises(ValueError):
            services.assignment_regrade(assignment_id="a3", scope="some")


@pytest.mark.django_db
def test_regrade_endpoints_are_staff_only_post_and_csrf(student, teacher):
    sub = _sub(student, score=70)
    one, every = f"/assignments/submissions/{sub.pk}/regrade/", "/assignments/a3/regrade/"
    learner = Client()
    learner.force_login(student)
    with mock.patch("exercises.services.submission_enqueue") as enqueue:
        assert learner.post(one).status_code == 403
        assert learner.post(every, {"scope": "all"}).status_code == 403
        assert Submission.objects.get(pk=sub.pk).status == "done" and not enqueue.called
        staff = Client(enforce_csrf_checks=True)
        staff.force_login(teacher)
        assert staff.get(one).status_code == 405
        assert staff.post(one).status_code == 403  # no CSRF token
        page = staff.get(f"/assignments/submissions/{sub.pk}/")
        token = page.cookies["csrftoken"].value
        resp = staff.post(one, {"csrfmiddlewaretoken": token})
        assert resp.status_code == 302 and resp["Location"].endswith(f"/submissions/{sub.pk}/")
        assert enqueue.call_count == 1
        page = staff.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="en")
        assert "Regraded on" in page.content.decode() and "grading run 2" in page.content.decode()
        assert staff.post("/assignments/submissions/999999/regrade/",
                          {"csrfmiddlewaretoken": token}).status_code == 404
        resp = staff.post(every, {"scope": "latest", "csrfmiddlewaretoken": token})
        assert resp.status_code == 302 and enqueue.call_count == 1  # the only one is queued
    staff_page = staff.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "regraded" in staff_page.split('id="staff-submissions"', 1)[1]


# -- hidden checks -----------------------------------------------------------------------------
def test_grading_yaml_is_read_and_checked(hidden_a3):
    a = registry.get("a3")
    assert a.hidden_checks == {"reader-follows"} and a.config.workspace_folder == "work/a3"
    (hidden_a3 / "grading.yaml").write_text("hidden: [no-such-check]\n")
    with pytest.raises(ValueError, match="no-such-check"):
        _ = registry.get("a3").hidden_checks
    (hidden_a3 / "grading.yaml").write_text("hiden: [reader-follows]\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        _ = registry.get("a3").config
    (hidden_a3 / "grading.yaml").unlink()
    assert registry.get("a3").hidden_checks == frozenset()
    assert registry.get("a3").config.workspace_folder == "a3"


@pytest.mark.django_db
def test_hidden_check_is_stored_hidden_and_never_streamed_to_the_learner(student, hidden_a3,
                                                                        monkeypatch):
    def grade(files, backend, progress, owner):
        out = []
        for cid, pts, ok in (("compose-valid", 10, True), ("reader-follows", 30, False)):
            progress(cid, "running", None)
            o = CheckOutcome(cid, f"title of {cid}", pts, ok, pts if ok else 0,
                             f"message of {cid}", f"evidence of {cid}")
            progress(cid, "done", o)
            out.append(o)
        return GradeReport("a3", out)

    grader = registry.get("a3").grader
    monkeypatch.setattr(grader, "grade", grade)
    monkeypatch.setattr(registry.Assignment, "grader", grader)
    monkeypatch.setattr(services, "submission_files", lambda sub: {})
    sent = []
    monkeypatch.setattr(services, "_notify", lambda sid, html, staff_html=None: sent.append(
        (html, html if staff_html is None else staff_html)))
    sub = _sub(student, status="queued")
    services.submission_grade(submission_id=sub.pk, backend=object())
    results = {r.check_id: r for r in Submission.objects.get(pk=sub.pk).results.all()}
    assert results["reader-follows"].hidden and not results["compose-valid"].hidden
    learner = "".join(h for h, _ in sent if h)
    staff = "".join(s for _, s in sent if s)
    assert "check-compose-valid" in learner and "message of compose-valid" in learner
    for leak in ("reader-follows", "title of reader-follows", "message of reader-follows"):
        assert leak not in learner and leak in staff


@pytest.mark.django_db
def test_hidden_checks_on_the_pages_learner_and_staff(client, student, teacher, hidden_a3):
    sub = _sub(student, score=40, max_score=40)
    for i, (cid, hidden) in enumerate((("compose-valid", False), ("reader-follows", True))):
        CheckResult.objects.create(submission=sub, order=i, check_id=cid, title=f"title {cid}",
                                   passed=not hidden, points=10 if not hidden else 0,
                                   max_points=30 if hidden else 10, hidden=hidden,
                                   message=f"message {cid}", evidence=f"evidence {cid}")
    client.force_login(student)
    page = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The title is the grader's, in the page's language, not the stored one (06d286e).
    assert "The compose file is valid" in page and "title compose-valid" not in page
    assert "evidence compose-valid" in page
    assert "reader-follows" not in page and "message reader-follows" not in page
    assert "1 hidden check is counted in the score." in page
    assert "submitted-files" not in page
    ko = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "숨겨진 검사 1개" in ko
    # While grading, the list of checks to come leaves the hidden one out too.
    Submission.objects.filter(pk=sub.pk).update(status="queued")
    page = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "check-writer-appends" in page and "reader-follows" not in page
    client.force_login(teacher)
    page = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="check-reader-follows"' in page and "hidden</span>" in page
    Submission.objects.filter(pk=sub.pk).update(status="done")
    page = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "message reader-follows" in page and "evidence reader-follows" in page
    assert "hidden check is counted" not in page


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
async def test_staff_and_learner_listen_on_separate_groups(student, teacher, fresh_channel_layer):
    sub = await database_sync_to_async(_sub)(student, status="queued")
    comms = {}
    for who in (student, teacher):
        c = WebsocketCommunicator(SubmissionProgressConsumer.as_asgi(), "/")
        c.scope["user"] = who
        c.scope["url_route"] = {"kwargs": {"submission_id": sub.pk}}
        assert (await c.connect(timeout=20))[0]
        assert 'id="grading-status"' in await c.receive_from(20)  # the status as it is now
        comms[who.username] = c
    await database_sync_to_async(services._notify)(sub.pk, None, "staff only")
    await database_sync_to_async(services._notify)(sub.pk, "for both")
    assert (await comms["teacher"].receive_from(20)) == "staff only"
    assert (await comms["teacher"].receive_from(20)) == "for both"
    assert (await comms["student1"].receive_from(20)) == "for both"
    assert await comms["student1"].receive_nothing(1)
    for c in comms.values():
        await c.disconnect()


# -- staff views -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_staff_see_files_escaped_and_binary_sizes(client, student, teacher, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    files = {"compose.yaml": COMPOSE, "notes.txt": b"<script>alert(1)</script>",
             "blob.bin": b"\x00\x01\x02\xff", "big.txt": b"a" * (selectors.FILE_SHOW_MAX + 10)}
    with mock.patch("exercises.services.submission_enqueue"):
        sub = services._submission_store(user=student, assignment_id="a3", files=files,
                                         language="en")
    Submission.objects.filter(pk=sub.pk).update(status="done", score=100, max_score=100,
                                                duration_s=7.24)
    client.force_login(teacher)
    page = client.get(f"/assignments/submissions/{sub.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    section = page.split('id="submitted-files"', 1)[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script>alert" not in section
    assert "binary, 4 bytes" in section and "(cut: only the beginning is shown)" in section
    assert "writer:" in section and "student1" in page
    listing = client.get("/assignments/a3/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    staff = listing.split('id="staff-submissions"', 1)[1]
    assert "student1" in staff and "7.2 s" in staff and f"/submissions/{sub.pk}/regrade/" in staff
    assert "upload" in staff
    client.force_login(student)
    listing = client.get("/assignments/a3/").content.decode()
    assert "staff-submissions" not in listing and "/regrade/" not in listing


# -- submitting a folder of the workspace: reading it safely -----------------------------------
@override("en")
def test_folder_is_read_without_links_and_within_limits(tmp_path, monkeypatch):
    root = tmp_path / "home"
    (root / "a3" / "app" / "node_modules" / "x").mkdir(parents=True)
    (root / "a3" / ".git").mkdir()
    (root / "a3" / "compose.yaml").write_bytes(COMPOSE)
    (root / "a3" / "app" / "server.js").write_text("ok")
    (root / "a3" / "app" / "node_modules" / "x" / "i.js").write_text("dep")
    (root / "a3" / ".git" / "HEAD").write_text("ref")
    files, skipped = uploads.files_from_folder(root, "a3")
    assert files == {"compose.yaml": COMPOSE, "app/server.js": b"ok"}
    assert sorted(skipped) == [".git", "app/node_modules"]
    assert uploads.files_from_folder(root, "~/a3/")[0] == files
    assert uploads.files_from_folder(root, "/root/a3")[0] == files
    assert uploads.files_from_folder(root, "a3/app")[0] == {"server.js": b"ok"}

    for bad in ("", "  ", "../a3", "a3/../../etc", "/etc", "/", "."):
        with pytest.raises(uploads.UploadError, match="Give a folder"):
            uploads.files_from_folder(root, bad)
    with pytest.raises(uploads.UploadError, match="There is no folder nope"):
        uploads.files_from_folder(root, "nope")
    with pytest.raises(uploads.UploadError, match="There is no folder a3/compose.yaml"):
        uploads.files_from_folder(root, "a3/compose.yaml")
    (root / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(uploads.UploadError, match="has no files"):
        uploads.files_from_folder(root, "empty")

    (root / "etc").symlink_to("/etc")
    with pytest.raises(uploads.UploadError, match="etc is a symbolic link"):
        uploads.files_from_folder(root, "etc")
    with pytest.raises(uploads.UploadError, match="etc is a symbolic link"):
        uploads.files_from_folder(root, "etc/ssl")
    (root / "a3" / "app" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(uploads.UploadError, match="app/passwd is a symbolic link"):
        uploads.files_from_folder(root, "a3")
    (root / "a3" / "app" / "passwd").unlink()
    os.mkfifo(root / "a3" / "pipe")
    with pytest.raises(uploads.UploadError, match="pipe is not a regular file"):
        uploads.files_from_folder(root, "a3")
    (root / "a3" / "pipe").unlink()

    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 2)
    with pytest.raises(uploads.UploadError, match="is larger than 2 bytes"):
        uploads.files_from_folder(root, "a3")
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 10_000)
    monkeypatch.setattr(uploads, "MAX_TOTAL_BYTES", len(COMPOSE))
    with pytest.raises(uploads.UploadError, match="add up to more than"):
        uploads.files_from_folder(root, "a3")
    monkeypatch.setattr(uploads, "MAX_TOTAL_BYTES", 10_000)
    monkeypatch.setattr(uploads, "MAX_FILES", 1)
    with pytest.raises(uploads.UploadError, match="more than 1 files"):
        uploads.files_from_folder(root, "a3")


@pytest.mark.docker
@pytest.mark.django_db
@override("en")
def test_submit_from_a_real_sandbox_workspace(backend, student, settings, tmp_path):
    """Files written inside the learner's sandbox are submitted from the host side; a link to
    /etc (the folder itself or inside it) is refused; what is missing is said plainly."""
    from webapp.sandboxes.backend import learner_owner

    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(services.SubmissionError, match="no workspace yet"):
        services.submission_create_from_workspace(user=student, assignment_id="a3", folder="a3")
    sb = backend.ensure(owner=learner_owner(student))
    backend.put_archive(sb.id, "/root/a3", files_to_tar({"compose.yaml": COMPOSE}))
    res = inner_sh(backend, sb.id, "mkdir -p /root/a3/node_modules/dep /root/notes && "
                   "echo x > /root/a3/node_modules/dep/i.js && "
                   "echo hi > /root/notes/readme.txt && ln -s /etc /root/x && echo ok")
    assert res.exit_code == 0, res.output
    with mock.patch("exercises.services.submission_enqueue") as enqueue:
        sub = services.submission_create_from_workspace(user=student, assignment_id="a3",
                                                         folder="~/a3/", language="en")
        assert enqueue.call_count == 1
    assert services.submission_files(sub) == {"compose.yaml": COMPOSE}
    assert sub.source == "workspace" and sub.source_path == "a3"
    assert sub.skipped == ["node_modules"] and len(sub.sha256) == 64
    stored = Path(settings.MEDIA_ROOT) / sub.archive_path
    assert stored.stat().st_mode & 0o222 == 0  # stored read-only

    with pytest.raises(services.SubmissionError, match="x is a symbolic link"):
        services.submission_create_from_workspace(user=student, assignment_id="a3", folder="x")
    assert inner_sh(backend, sb.id, "ln -s /etc/passwd /root/a3/passwd").exit_code == 0
    with pytest.raises(services.SubmissionError, match="passwd is a symbolic link"):
        services.submission_create_from_workspace(user=student, assignment_id="a3", folder="a3")
    with pytest.raises(services.SubmissionError, match="must contain one of these"):
        services.submission_create_from_workspace(user=student, assignment_id="a3",
                                                  folder="notes")
    with pytest.raises(services.SubmissionError, match="There is no folder a4"):
        services.submission_create_from_workspace(user=student, assignment_id="a3", folder="a4")
    assert Submission.objects.count() == 1


@pytest.mark.docker
@pytest.mark.django_db
def test_workspace_form_shows_the_reason(client, backend, student):
    client.force_login(student)
    resp = client.post("/assignments/a3/workspace/", {"folder": "../etc"},
                       HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 302 and "folder=..%2Fetc" in resp["Location"]
    assert resp["Location"].endswith("#workspace-form")
    page = client.get(resp["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="../etc"' in page
    # QA: the reason showed at the top of the page, 3 400 px above the form the page scrolls
    # to, so the button seemed to do nothing. It is inside the form now, and only there.
    form = _element(page, "workspace-form")
    assert "no workspace yet" in form or "Give a folder" in form, form
    assert 'class="error form-error" role="alert"' in form
    assert page.count('class="error form-error"') == 1
    assert client.get("/assignments/a3/workspace/").status_code == 405


def _element(page: str, element_id: str) -> str:
    """The HTML of the form with id ``element_id`` in ``page``, up to its end tag."""
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</form>", start)]


@pytest.mark.django_db
@pytest.mark.parametrize("lang,says", [("en", "The file is empty"), ("ko", "파일이 비어")])
def test_an_upload_refused_is_explained_inside_the_upload_form(client, student, lang, says):
    """An upload the page refuses comes back scrolled to the upload form, the reason in it
    (QA: at the top of the long handout, far from the form, with no way back to it)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(student)
    resp = client.post("/assignments/a1/", {"file": SimpleUploadedFile("Dockerfile", b"")},
                       HTTP_ACCEPT_LANGUAGE=lang)
    assert resp.status_code == 302 and resp["Location"] == "/assignments/a1/#submit-form"
    page = client.get(resp["Location"], HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert says in _element(page, "submit-form"), _element(page, "submit-form")
    top = page[:page.index("<main")]
    assert says not in top
    assert says not in client.get("/assignments/a1/").content.decode()  # said once


# -- end to end: real Celery, real engine ------------------------------------------------------
def _wait_finished(pk: int, timeout: float = 180) -> Submission:
    return wait_finished(pk, timeout)


async def _collect(comm, timeout: float = 120) -> str:
    fragments = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = await asyncio.wait_for(comm.output_queue.get(), 5)
        except TimeoutError:
            continue
        fragments.append(msg.get("text") or "")
        if 'id="result"' in fragments[-1]:
            break
    return "\n".join(fragments)


@pytest.mark.docker
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
async def test_hidden_check_and_regrade_through_celery(celery_worker_real, student, teacher,
                                                       hidden_a3, fresh_channel_layer):
    """A3 with ``reader-follows`` hidden, graded by the real worker: the learner's stream never
    carries it, the staff stream does; the score counts it. Then a regrade grades it again."""
    sub = await database_sync_to_async(services.submission_create)(
        user=student, assignment_id="a3", filename="compose.yaml", data=COMPOSE, language="en")
    comms = {}
    for who in (student, teacher):
        c = WebsocketCommunicator(SubmissionProgressConsumer.as_asgi(), "/")
        c.scope["user"] = who
        c.scope["url_route"] = {"kwargs": {"submission_id": sub.pk}}
        assert (await c.connect(timeout=20))[0]
        comms[who.username] = c
    learner_html, staff_html = await asyncio.gather(_collect(comms["student1"]),
                                                    _collect(comms["teacher"]))
    for c in comms.values():
        await c.disconnect()
    assert 'id="check-writer-appends"' in learner_html and 'id="result"' in learner_html
    assert "reader-follows" not in learner_html and "keeps printing" not in learner_html
    assert "1 hidden check is counted in the score." in learner_html
    assert 'id="check-reader-follows"' in staff_html and "hidden</span>" in staff_html
    sub = await database_sync_to_async(_wait_finished)(sub.pk)
    assert sub.status == "done" and sub.score == 100, sub.error
    hidden = await database_sync_to_async(
        lambda: set(sub.results.filter(hidden=True).values_list("check_id", flat=True)))()
    assert hidden == {"reader-follows"}

    first_finished = sub.finished_at
    assert await database_sync_to_async(services.submission_regrade)(submission_id=sub.pk)
    sub = await database_sync_to_async(_wait_finished)(sub.pk)
    assert sub.status == "done" and sub.score == 100 and sub.attempt == 2
    assert sub.finished_at > first_finished and sub.regraded_at is not None
    assert await database_sync_to_async(sub.results.count)() == 5
