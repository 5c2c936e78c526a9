"""The runs pages: a project's runs (and the form that trains a model), one run with its
traceability record and live loss curve, and the overlay of several runs' curves.

Runs of a public project are public; those of a private project are for its lead, engineers and
viewers (experiments.permissions): an annotator gets a 403, a non-member a 404 like every private
project route. Training is launched by leads and engineers.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from experiments import runs, selectors
from experiments.forms import TrainForm
from experiments.launch import training_start
from prakriya.jobs.models import Job
from projects import permissions
from projects import selectors as project_selectors
from projects.access import can, error_text, guard, project_for

RUNS_PER_PAGE = 50
MAX_COMPARED = 10


def _project(request, slug: str, action: frozenset | None = None):
    project, role = project_for(request, slug, action)
    if not selectors.can_view_runs(user=request.user, project=project):
        raise PermissionDenied("Your role in this project does not include its experiments.")
    return project, role


def _link_versions(project, infos) -> None:
    """Sets each run's version_url: the page of the dataset version it names, when the project has it."""
    from datasets.models import DatasetVersion

    wanted = {info.dataset_version: runs.version_ref_parts(info.dataset_version) for info in infos}
    wanted = {ref: parts for ref, parts in wanted.items() if parts}
    if not wanted:
        return
    existing = set(
        DatasetVersion.objects.filter(
            dataset__project=project, dataset__slug__in={p[0] for p in wanted.values()}
        ).values_list("dataset__slug", "number")
    )
    for info in infos:
        parts = wanted.get(info.dataset_version)
        if parts in existing:
            info.version_url = reverse("datasets:version", args=[project.slug, *parts])


def _list_context(request, project, role, form=None) -> dict:
    records = selectors.runs_for_project(user=request.user, project=project)
    page = Paginator(records, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    infos = runs.run_infos(list(page.object_list))
    _link_versions(project, infos)
    can_launch = can(role, request.user, permissions.LAUNCH_JOBS)
    if can_launch and form is None:
        form = TrainForm(project=project)
    return {
        "project": project,
        "role": role,
        "page": page,
        "infos": infos,
        "can_launch": can_launch,
        "form": form,
        "max_compared": MAX_COMPARED,
    }


@require_http_methods(["GET", "POST"])
@guard
def run_list(request, slug: str):
    if request.method != "POST":
        project, role = _project(request, slug)
        return render(request, "experiments/run_list.html", _list_context(request, project, role))
    project, role = _project(request, slug, permissions.LAUNCH_JOBS)
    form = TrainForm(request.POST, project=project)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = training_start(
                version=data["version"], actor=request.user, trainer=data["trainer"],
                config=form.config(), name=data["name"],
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(
                request, f"Training {data['trainer']} on {data['version']}: the run appears under Runs once it starts."
            )
            return redirect("projects:job", job_id=job.pk)
    context = _list_context(request, project, role, form=form)
    return render(request, "experiments/run_list.html", context, status=400)


def _job_for(request, record) -> Job | None:
    """The run's training job, for those who may follow jobs (members)."""
    if record.job_id is None:
        return None
    return project_selectors.job_list_visible(user=request.user).filter(pk=record.job_id).first()


@require_GET
@guard
def run_detail(request, slug: str, run_id: str):
    project, role = _project(request, slug)
    record = selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    info = runs.run_info(record)
    _link_versions(project, [info])
    curve = runs.run_curves([info])[0]
    job = _job_for(request, record)
    context = {
        "project": project,
        "role": role,
        "run": info,
        "figure": runs.loss_figure_json([curve], title=f"Loss · {info.name}"),
        "findings": runs.diagnostics(curve),
        "downsampled": any(s is not None and s.total > len(s) for s in (curve.train, curve.validation)),
        "max_points": runs.MAX_POINTS,
        "job": job,
        "can_cancel": job is not None and not job.is_terminal and can(role, request.user, permissions.LAUNCH_JOBS),
        "params": sorted(info.params.items()),
        "metrics": sorted(info.metrics.items()),
    }
    return render(request, "experiments/run_detail.html", context)


@require_GET
@guard
def run_curves(request, slug: str, run_id: str):
    """The run's loss figure, diagnostics and status as JSON, for the page's live refresh."""
    project, _ = _project(request, slug)
    record = selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    info = runs.run_info(record)
    curve = runs.run_curves([info])[0]
    payload = {
        "status": info.status,
        "running": info.running,
        "diagnostics": runs.diagnostics(curve),
        "points": {
            split: (len(series) if series is not None else 0)
            for split, series in (("train", curve.train), ("validation", curve.validation))
        },
        "max_points": runs.MAX_POINTS,
    }
    # The figure is plotly's own JSON (its encoder writes NaN as null), spliced in as it is.
    body = json.dumps(payload)[:-1] + ', "figure": ' + runs.loss_figure_json([curve], title=f"Loss · {info.name}") + "}"
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@guard
def run_compare(request, slug: str):
    project, role = _project(request, slug)
    wanted = list(dict.fromkeys(request.GET.getlist("run")))
    context = {"project": project, "role": role, "infos": [], "figure": None, "error": ""}
    if len(wanted) > MAX_COMPARED:
        context["error"] = f"Compare at most {MAX_COMPARED} runs at a time (you chose {len(wanted)})."
        return render(request, "experiments/run_compare.html", context, status=400)
    records = {
        r.mlflow_run_id: r
        for r in selectors.runs_for_project(user=request.user, project=project).filter(mlflow_run_id__in=wanted)
    }
    missing = [run_id for run_id in wanted if run_id not in records]
    if missing:
        context["error"] = f"This project has no run {missing[0][:64]!r}."
        return render(request, "experiments/run_compare.html", context, status=404)
    infos = runs.run_infos([records[run_id] for run_id in wanted])
    _link_versions(project, infos)
    curves = runs.run_curves(infos)
    context.update(
        infos=infos,
        figure=runs.loss_figure_json(curves, title="Loss") if infos else None,
    )
    keys = [key for key in runs.KEY_METRICS if any(key in i.metrics for i in infos)]
    context["metric_keys"] = keys
    context["rows"] = [(info, [info.metrics.get(key) for key in keys]) for info in infos]
    return render(request, "experiments/run_compare.html", context)
