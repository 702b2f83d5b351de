"""Assignment pages: list, handout with the upload form, and a submission's live result."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods

from labs.markdown import render as render_md

from . import registry, services
from .models import Submission


def _lang() -> str:
    return "ko" if (get_language() or "ko").startswith("ko") else "en"


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    items = []
    for aid, a in registry.assignments().items():
        title, _body = a.handout(_lang())
        subs = Submission.objects.filter(user=request.user, assignment=aid)
        best = max((s.score for s in subs if s.score is not None), default=None)
        items.append({"id": aid, "title": title, "count": subs.count(), "best": best,
                      "latest": subs.first()})
    return render(request, "exercises/index.html", {"items": items})


@require_http_methods(["GET", "POST"])
@login_required
def detail(request: HttpRequest, assignment_id: str) -> HttpResponse:
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
            messages.error(request, str(services.MSG_TOO_LARGE % {"limit": limit}))
            return redirect("exercises:detail", assignment_id)
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise services.SubmissionError(services.MSG_NO_FILE)
            if upload.size > limit:
                raise services.SubmissionError(services.MSG_TOO_LARGE % {"limit": limit})
            sub = services.submission_create(user=request.user, assignment_id=assignment_id,
                                             filename=upload.name, data=upload.read(),
                                             language=_lang())
        except services.SubmissionError as exc:
            messages.error(request, str(exc))
            return redirect("exercises:detail", assignment_id)
        return redirect("exercises:submission", sub.pk)
    title, body = a.handout(_lang())
    subs = Submission.objects.filter(user=request.user, assignment=assignment_id)[:20]
    everyone = None
    if request.user.is_staff:  # instructors see every learner's submissions (newest first)
        everyone = Submission.objects.filter(assignment=assignment_id).select_related("user")[:200]
    return render(request, "exercises/detail.html", {
        "assignment": a, "title": title, "handout_html": render_md(body), "submissions": subs,
        "accepted": a.grader.ACCEPTED_FILENAMES, "everyone": everyone,
    })


@require_GET
@login_required
def submission(request: HttpRequest, submission_id: int) -> HttpResponse:
    qs = Submission.objects.all() if request.user.is_staff else request.user.submissions.all()
    sub = get_object_or_404(qs, pk=submission_id)
    a = registry.get(sub.assignment)
    results = sub.results.all()
    if not request.user.is_staff:
        results = results.filter(hidden=False)
    pending = [] if sub.finished else list(a.grader.TITLES.items())
    return render(request, "exercises/submission.html", {
        "submission": sub, "results": results, "pending": pending,
        "title": a.handout(_lang())[0],
    })
