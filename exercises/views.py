"""Assignment pages: list, handout with the upload and workspace forms, a submission's live result,
and staff actions (regrade one or all)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labs.markdown import render as render_md

from . import registry, selectors, services
from .models import Submission
from .uploads import size_text


def _lang() -> str:
    return "ko" if (get_language() or "ko").startswith("ko") else "en"


def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("staff only")


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Every assignment with the learner's best and latest score; for staff also how many
    submissions and learners each has."""
    found = registry.assignments()
    scores = selectors.learner_scores(user=request.user, assignment_ids=list(found))
    counts = {}
    if request.user.is_staff:
        counts = {row["assignment"]: row for row in Submission.objects.filter(
            assignment__in=list(found)).values("assignment").annotate(
            submissions=Count("id"), learners=Count("user", distinct=True))}
    items = []
    for aid, a in found.items():
        title, _body = a.handout(_lang())
        items.append({"id": aid, "title": title, "scores": scores[aid],
                      "class": counts.get(aid, {"submissions": 0, "learners": 0})
                      if request.user.is_staff else None})
    return render(request, "exercises/index.html", {"items": items})


# The newest submissions the staff table of an assignment lists (it says so when there are more).
STAFF_ROWS = 200

# The forms of the assignment page whose errors are shown inside them (the message's extra tag,
# and the element id the page scrolls to): at the foot of a long handout, an error at the top of
# the page went unseen and the button seemed to do nothing.
UPLOAD_FORM = "submit-form"
WORKSPACE_FORM = "workspace-form"


def _form_error(request: HttpRequest, assignment_id: str, form: str, error,
                query: dict[str, str] | None = None) -> HttpResponse:
    """Back to the assignment page, scrolled to ``form`` (UPLOAD_FORM or WORKSPACE_FORM), which shows
    ``error`` (a message or exception: its text) inside it; ``query`` keeps what was typed."""
    messages.error(request, str(error), extra_tags=f"inline {form}")
    url = reverse("exercises:detail", args=[assignment_id])
    return redirect(f"{url}{'?' + urlencode(query) if query else ''}#{form}")


def _form_errors(request: HttpRequest) -> dict[str, list[str]]:
    """The pending messages meant for a form of the assignment page: ``{"upload": [text],
    "workspace": [text]}``; base.html leaves messages tagged ``inline`` out of the page's top."""
    pending = list(messages.get_messages(request))
    return {key: [str(m.message) for m in pending if form in m.extra_tags.split()]
            for key, form in (("upload", UPLOAD_FORM), ("workspace", WORKSPACE_FORM))}


@require_http_methods(["GET", "POST"])
@login_required
def detail(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """The handout, the learner's scores and submissions, the upload (POST) and workspace forms;
    for staff also every learner's submissions with regrade buttons."""
    a = registry.get(assignment_id)
    if a is None:
        raise Http404("no such assignment")
    if request.method == "POST":
        limit = services.settings.BUNGEO_SUBMISSION_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + 64 * 1024:
            # Refuse a huge upload before Django reads (and spools to disk) its body.
            return _form_error(request, assignment_id, UPLOAD_FORM,
                               services.MSG_TOO_LARGE % {"limit": size_text(limit)})
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise services.SubmissionError(services.MSG_NO_FILE)
            if upload.size > limit:
                raise services.SubmissionError(services.MSG_TOO_LARGE % {"limit": size_text(limit)})
            sub = services.submission_create(user=request.user, assignment_id=assignment_id,
                                             filename=upload.name, data=upload.read(),
                                             language=_lang())
        except services.SubmissionError as exc:
            return _form_error(request, assignment_id, UPLOAD_FORM, exc)
        return redirect("exercises:submission", sub.pk)
    title, body = a.handout(_lang())
    subs = Submission.objects.filter(user=request.user, assignment=assignment_id)[:20]
    everyone = None
    if request.user.is_staff:  # instructors see every learner's submissions (newest first)
        everyone = Submission.objects.filter(assignment=assignment_id).select_related("user")[
            :STAFF_ROWS]
    return render(request, "exercises/detail.html", {
        "everyone_total": Submission.objects.filter(assignment=assignment_id).count()
        if everyone is not None else 0, "staff_rows": STAFF_ROWS,
        "assignment": a, "title": title, "handout_html": render_md(body), "submissions": subs,
        "accepted": a.grader.ACCEPTED_FILENAMES, "everyone": everyone,
        "form_errors": _form_errors(request),
        "scores": selectors.learner_scores(user=request.user,
                                           assignment_ids=[assignment_id])[assignment_id],
        "workspace_folder": request.GET.get("folder") or a.config.workspace_folder,
        # The page refuses a file over the limit before sending it (static/js/upload.js).
        "max_bytes": services.settings.BUNGEO_SUBMISSION_MAX_BYTES,
        "too_large": services.MSG_TOO_LARGE % {
            "limit": size_text(services.settings.BUNGEO_SUBMISSION_MAX_BYTES)},
    })


@require_POST
@login_required
def submit_workspace(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """Submit a folder of the learner's own sandbox workspace (form field ``folder``)."""
    if registry.get(assignment_id) is None:
        raise Http404("no such assignment")
    folder = request.POST.get("folder", "")
    try:
        sub = services.submission_create_from_workspace(
            user=request.user, assignment_id=assignment_id, folder=folder, language=_lang())
    except services.SubmissionError as exc:
        return _form_error(request, assignment_id, WORKSPACE_FORM, exc,
                           query={"folder": folder[:200]})
    return redirect("exercises:submission", sub.pk)


@require_GET
@login_required
def submission(request: HttpRequest, submission_id: int) -> HttpResponse:
    """One submission's live or final result: its owner sees the checks that are not hidden;
    staff see every check (hidden ones marked), the evidence and the submitted files."""
    staff = request.user.is_staff
    qs = Submission.objects.all() if staff else request.user.submissions.all()
    sub = get_object_or_404(qs.select_related("user"), pk=submission_id)
    a = registry.get(sub.assignment)
    results = list(sub.results.all())
    hidden_count = sum(r.hidden for r in results)
    if not staff:
        results = [r for r in results if not r.hidden]
    # Check titles are the grader's, so they follow the page's language; the messages were
    # written when grading, in the submission's language (the note in the page says so).
    for r in results:
        if r.check_id in a.grader.TITLES:
            r.title = str(a.grader.TITLES[r.check_id][0])
    hidden_ids = a.hidden_checks
    pending = [] if sub.finished else [
        (cid, info[0], cid in hidden_ids) for cid, info in a.grader.TITLES.items()
        if staff or cid not in hidden_ids]
    files = None
    if staff:
        try:
            files = selectors.submission_file_views(sub)
        except OSError:
            files = []
    return render(request, "exercises/submission.html", {
        "submission": sub, "results": results, "pending": pending, "staff": staff,
        "hidden_count": hidden_count, "files": files, "ahead": selectors.queue_ahead(sub),
        "title": a.handout(_lang())[0],
        "other_language": {"ko": "한국어", "en": "English"}.get(sub.language)
        if sub.finished and results and sub.language != _lang() else None,
    })


@require_POST
@login_required
def regrade(request: HttpRequest, submission_id: int) -> HttpResponse:
    """Staff: grade one submission again (403 for anyone else)."""
    _staff_only(request)
    get_object_or_404(Submission, pk=submission_id)
    services.submission_regrade(submission_id=submission_id)
    return redirect("exercises:submission", submission_id)


@require_POST
@login_required
def regrade_all(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """Staff: regrade the newest submission of each learner (``scope=latest``, the default) or
    every submission (``scope=all``) of one assignment (403 for anyone else)."""
    _staff_only(request)
    if registry.get(assignment_id) is None:
        raise Http404("no such assignment")
    scope = request.POST.get("scope", services.REGRADE_LATEST)
    if scope not in (services.REGRADE_LATEST, services.REGRADE_ALL):
        scope = services.REGRADE_LATEST
    queued = services.assignment_regrade(assignment_id=assignment_id, scope=scope)
    if queued:
        messages.success(request, ngettext(
            "%(n)s submission was queued for regrading.",
            "%(n)s submissions were queued for regrading.", queued) % {"n": queued})
    else:
        messages.info(request, _("No submission was queued for regrading: the ones chosen are "
                                 "still waiting or being graded."))
    return redirect("exercises:detail", assignment_id)
