"""The project's sealed test evaluations: the list with the budget (engineers and the lead request
from a run's page, the lead approves or rejects here), and one evaluation with its job's progress
and, once done, its aggregates: metrics, per-class scores, the confusion heatmap and the targets.

Seen by whoever sees the project's runs (results are aggregates only); requesting is for leads and
engineers, deciding for the lead.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experiments import selectors as run_selectors
from experiments.evaluation import selectors, services
from experiments.evaluation.figures import confusion_heatmap
from experiments.evaluation.forms import DecisionForm, EvaluationRequestForm
from experiments.views.runs import run_job, runs_project
from prakriya.limits import rate_limited
from projects import policy
from projects.access import error_text, guard

PER_PAGE = 50


def _budget(project) -> dict:
    budget, used = services.budget_of(project=project), selectors.budget_used(project=project)
    return {"budget": budget, "used": used, "left": max(0, budget - used)}


def _list_context(request, project, role, form=None) -> dict:
    evaluations = list(selectors.evaluations_for_project(user=request.user, project=project)[:PER_PAGE])
    return {
        "project": project, "role": role, "evaluations": evaluations, **_budget(project),
        "can_decide": policy.can(user=request.user, project=project, action=policy.DECIDE_EVALUATION), "form": form,
    }


@require_http_methods(["GET", "POST"])
@guard
def evaluation_list(request, slug: str):
    if request.method != "POST":
        project, role = runs_project(request, slug)
        return render(request, "experiments/evaluation_list.html", _list_context(request, project, role))
    project, role = runs_project(request, slug, policy.REQUEST_EVALUATION)
    form = EvaluationRequestForm(request.POST)
    if form.is_valid():
        run = run_selectors.run_get(user=request.user, project=project, mlflow_run_id=form.cleaned_data["run"])
        try:
            evaluation = services.evaluation_request(run=run, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, "Test evaluation requested: the lead decides whether to unseal the test split.")
            return redirect("experiments:evaluation", slug=project.slug, pk=evaluation.pk)
    # The form comes back with the reason as typed and what was wrong.
    return render(request, "experiments/evaluation_list.html", _list_context(request, project, role, form), status=400)


def _detail_context(request, project, role, evaluation, error: str = "") -> dict:
    results = evaluation.results if evaluation.shown_state == "done" else {}
    return {
        "project": project, "role": role, "evaluation": evaluation, "results": results,
        "figure": confusion_heatmap(results) if results else None,
        "job": run_job(request, evaluation), "can_cancel": False,
        "can_decide": policy.can(user=request.user, project=project, action=policy.DECIDE_EVALUATION) and evaluation.state == "requested",
        "form": DecisionForm(request.POST or None) if error else DecisionForm(), "error": error,
        **_budget(project),
    }


@require_GET
@guard
def evaluation_detail(request, slug: str, pk: int):
    project, role = runs_project(request, slug)
    evaluation = selectors.evaluation_get(user=request.user, project=project, pk=pk)
    return render(request, "experiments/evaluation_detail.html", _detail_context(request, project, role, evaluation))


def _decide(request, slug: str, pk: int, decide, done: str):
    project, role = runs_project(request, slug, policy.DECIDE_EVALUATION)
    evaluation = selectors.evaluation_get(user=request.user, project=project, pk=pk)
    form = DecisionForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(" ".join(e for errors in form.errors.values() for e in errors))
        decide(evaluation=evaluation, actor=request.user, comment=form.cleaned_data["comment"])
    except ValidationError as exc:
        evaluation.refresh_from_db()
        context = _detail_context(request, project, role, evaluation, error=error_text(exc))
        return render(request, "experiments/evaluation_detail.html", context, status=400)
    messages.success(request, done)
    return redirect("experiments:evaluation", slug=project.slug, pk=evaluation.pk)


@require_POST
@rate_limited("jobs")
@guard
def evaluation_approve(request, slug: str, pk: int):
    return _decide(request, slug, pk, services.evaluation_approve, "Approved: the evaluation job is queued.")


@require_POST
@guard
def evaluation_reject(request, slug: str, pk: int):
    return _decide(request, slug, pk, services.evaluation_reject, "Rejected.")
