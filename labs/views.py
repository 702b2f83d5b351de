"""Lab pages: the course index, a lab with its terminal, and the "Check" button."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_POST

from . import content, selectors, services

DEFAULT_COURSE = "week1"


def _lang() -> str:
    lang = (get_language() or "ko")[:2]
    return lang if lang in content.LANGS else "en"


def _lab_or_404(course_id: str, lab_id: str) -> content.Lab:
    lab = content.get_lab(course_id, lab_id)
    if lab is None:
        raise Http404("no such lab")
    return lab


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    course = content.courses()[DEFAULT_COURSE]
    needs = any(s.needs for lab in course.labs for s in lab.steps)
    unavailable = services.unavailable_features() if needs else frozenset()
    progress = selectors.course_progress(user=request.user, course=course, unavailable=unavailable)
    lang = _lang()
    labs = [
        {"lab": lab, "text": lab.t(lang), "done": progress[lab.id][0], "total": progress[lab.id][1]}
        for lab in course.labs
    ]
    return render(request, "labs/index.html",
                  {"course": course, "course_title": course.title.get(lang), "labs": labs})


@require_GET
@login_required
def lab_detail(request: HttpRequest, course_id: str, lab_id: str) -> HttpResponse:
    lab = _lab_or_404(course_id, lab_id)
    lang = _lang()
    observed_ms = services.now_ms()  # the stored completions are read after this moment
    done = selectors.completed_steps(user=request.user, lab=lab)
    unavailable = services.unavailable_features() if any(s.needs for s in lab.steps) else frozenset()
    steps = [{"step": s, "text": s.t(lang), "completed": s.id in done, "result": None,
              "unavailable": sorted(set(s.needs) & unavailable)}
             for s in lab.steps]
    # "N / M steps done" counts neither number's skipped steps (lab-status.js does the same).
    done_count, total = selectors.lab_progress(done=done, lab=lab, unavailable=unavailable)
    return render(request, "labs/lab.html", {
        "lab": lab, "text": lab.t(lang), "steps": steps, "done": done_count, "total": total,
        "lang": lang, "questions": _questions(request.user, lab),
        "observed_ms": observed_ms,
        "ws_path": f"/ws/labs/{lab.course_id}/{lab.id}/terminal/",
    })


def _questions(user, lab: content.Lab) -> list[dict]:
    """Each quiz question of ``lab`` with the learner's latest answer, graded again (so that its
    explanation is in the page's language), or with no answer: the template context of
    labs/_quiz_question.html (``q``, ``answer``, ``verdict``, ``items``)."""
    from . import quiz

    answers = selectors.quiz_answers(user=user, lab=lab) if lab.questions else {}
    out = []
    for q in lab.questions:
        answer = answers.get(q.id)
        out.append({"q": q, "answer": answer, "verdict": quiz.grade(q, answer) if answer else None,
                    "items": q.arranged(answer)})
    return out


@require_POST
@login_required
def step_check(request: HttpRequest, course_id: str, lab_id: str, step_id: str) -> HttpResponse:
    lab = _lab_or_404(course_id, lab_id)
    step = lab.step(step_id)
    if step is None:
        raise Http404("no such step")
    statuses = services.steps_evaluate(user=request.user, lab=lab, source="button")
    st = next(s for s in statuses if s.step_id == step_id)
    return render(request, "labs/_step_status.html",
                  {"lab": lab, "step": step, "completed": st.completed, "result": st.result,
                   "observed_ms": st.observed_ms})


@require_POST
@login_required
def quiz_answer(request: HttpRequest, course_id: str, lab_id: str,
                question_id: str) -> HttpResponse:
    lab = _lab_or_404(course_id, lab_id)
    if lab.question(question_id) is None:
        raise Http404("no such question")
    answer = [a for a in request.POST.getlist("answer") if a][:20]
    question, verdict = services.quiz_answer(user=request.user, lab=lab,
                                             question_id=question_id, answer=answer)
    return render(request, "labs/_quiz_question.html", {
        "lab": lab, "q": question, "lang": _lang(), "verdict": verdict, "answer": answer,
        "items": question.arranged(answer),
    })
