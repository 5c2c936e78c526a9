"""The runs pages: a project's runs (and the forms that train a model, check that it can overfit
one batch, or start a grid search), one run with its traceability record, live loss curve,
overfit-one-batch verdict and registered checkpoints, a sweep's comparison of its children, and
the overlay of several runs' curves.

Runs of a public project are public; those of a private project are for its lead, engineers and
viewers (policy.VIEW_RUNS): an annotator gets a 403, a non-member a 404 like every private
project route. Training is launched by leads and engineers.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experiments import checkpoints, ranking, runs, selectors, sweeps
from experiments.forms import OverfitForm, SweepForm, TrainForm
from experiments.jobs import TAG_OVERFIT, TAG_OVERFIT_FINAL_LOSS, TAG_OVERFIT_THRESHOLD
from experiments.launch import overfit_start, sweep_start, training_start
from prakriya.jobs.models import Job
from prakriya.limits import rate_limited
from projects import policy
from projects import selectors as project_selectors
from projects.access import error_text, guard, project_for, to_job

RUNS_PER_PAGE = 50
MAX_COMPARED = 10


def runs_project(request, slug: str, action: frozenset | None = None):
    project, role = project_for(request, slug, action)
    if not policy.can(user=request.user, project=project, action=policy.VIEW_RUNS):
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


LAUNCH_FORMS = {"train": TrainForm, "overfit": OverfitForm, "sweep": SweepForm}


def _annotate(infos) -> None:
    """Sets each run's overfit-one-batch verdict (None for other runs) and whether it is a sweep:
    tag names with dots cannot be looked up in templates."""
    for info in infos:
        verdict = info.tags.get(TAG_OVERFIT)
        info.overfit = {
            "status": verdict,
            "final_loss": info.tags.get(TAG_OVERFIT_FINAL_LOSS, ""),
            "threshold": info.tags.get(TAG_OVERFIT_THRESHOLD, ""),
        } if verdict else None
        info.is_sweep = sweeps.is_sweep(info)


def _list_context(request, project, role, form=None, launch: str = "train") -> dict:
    records = selectors.runs_for_project(user=request.user, project=project)
    sort = request.GET.get("sort", "")
    descending = request.GET.get("order", "desc") != "asc"
    if sort and ranking.sortable(sort):
        order = ranking.run_ids_by_metric(project=project, metric=sort, descending=descending)
        records = selectors.runs_in_order(records=records, run_ids=order)
    else:
        sort = ""
    page = Paginator(records, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    infos = runs.run_infos(list(page.object_list))
    _link_versions(project, infos)
    _annotate(infos)
    best = ranking.best_run(project=project)
    columns = _metric_columns(infos, sort)
    for info in infos:
        info.is_best = best is not None and info.run_id == best.run_id
        info.column_values = [info.metrics.get(key) for key in columns]
    seen = sorted({k for info in infos for k in info.metrics if ranking.sortable(k)} - set(columns))
    can_launch = policy.can(user=request.user, project=project, action=policy.LAUNCH_JOBS)
    if launch not in LAUNCH_FORMS:
        launch = "train"
    if can_launch and form is None:
        form = LAUNCH_FORMS[launch](project=project)
    return {
        "project": project,
        "role": role,
        "page": page,
        "infos": infos,
        "can_launch": can_launch,
        "form": form,
        "launch": launch,
        "max_compared": MAX_COMPARED,
        "sort": sort,
        "descending": descending,
        "metric_columns": columns,
        "sort_options": seen,
        "best": best,
        "best_name": next((info.name for info in infos if info.is_best), ""),
        "best_meets": best is not None and best.target.is_met_by(best.value),
    }


def _metric_columns(infos, sort: str) -> list[str]:
    """The key metrics any run on the page has, in their usual order, and the sorted-by one."""
    present = {key for info in infos for key in info.metrics}
    columns = [key for key in runs.KEY_METRICS if key in present]
    if sort and sort not in columns:
        columns.insert(0, sort)
    return columns


def _launch(request, slug: str, launch: str, start):
    """The launch forms' common path: authorise, parse the form, call `start(data, form)` (a
    service call that returns the redirect); a refusal is a form error on the runs page (400)."""
    project, role = runs_project(request, slug, policy.LAUNCH_JOBS)
    form = LAUNCH_FORMS[launch](request.POST, project=project)
    if form.is_valid():
        try:
            return start(project, form.cleaned_data, form)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
    context = _list_context(request, project, role, form=form, launch=launch)
    return render(request, "experiments/run_list.html", context, status=400)


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def run_list(request, slug: str):
    if request.method != "POST":
        project, role = runs_project(request, slug)
        context = _list_context(request, project, role, launch=request.GET.get("launch", "train"))
        return render(request, "experiments/run_list.html", context)

    def start(project, data, form):
        job = training_start(
            version=data["version"], actor=request.user, trainer=data["trainer"],
            config=form.config(), name=data["name"], stage=data["stage"],
        )
        return to_job(
            request, job, f"Training {data['trainer']} on {data['version']}: the run appears under Runs once it starts."
        )

    return _launch(request, slug, "train", start)


@require_POST
@rate_limited("jobs")
@guard
def overfit_launch(request, slug: str):
    def start(project, data, form):
        job = overfit_start(
            version=data["version"], actor=request.user, trainer=data["trainer"], config=data["settings"],
            batch_size=data["batch_size"], loss_threshold=data["loss_threshold"], max_steps=data["max_steps"],
            name=data["name"],
        )
        return to_job(request, job, f"Overfitting one batch with {data['trainer']} on {data['version']}.")

    return _launch(request, slug, "overfit", start)


@require_POST
@rate_limited("jobs")
@guard
def sweep_launch(request, slug: str):
    def start(project, data, form):
        started = sweep_start(
            version=data["version"], actor=request.user, trainer=data["trainer"], grid=data["grid"],
            config=data["settings"], name=data["name"], stage=data["stage"],
        )
        messages.success(request, f"Grid search started: {len(started.jobs)} training jobs queued.")
        return redirect("experiments:sweep", slug=project.slug, run_id=started.parent.mlflow_run_id)

    return _launch(request, slug, "sweep", start)


def run_job(request, record) -> Job | None:
    """The run's training job, for those who may follow jobs (members)."""
    if record.job_id is None:
        return None
    return project_selectors.job_list_visible(user=request.user).filter(pk=record.job_id).first()


def _detail_context(request, project, role, record, *, register_error: str = "") -> dict:
    info = runs.run_info(record)
    _link_versions(project, [info])
    _annotate([info])
    curve = runs.run_curves([info])[0]
    job = run_job(request, record)
    can_launch = policy.can(user=request.user, project=project, action=policy.LAUNCH_JOBS)
    return {
        "project": project,
        "role": role,
        "run": info,
        "figure": runs.loss_figure_json([curve], title=f"Loss · {info.name}"),
        "findings": runs.diagnostics(curve),
        "downsampled": any(s is not None and s.total > len(s) for s in (curve.train, curve.validation)),
        "max_points": runs.MAX_POINTS,
        "job": job,
        "can_cancel": job is not None and not job.is_terminal and can_launch,
        "params": sorted(info.params.items()),
        "metrics": sorted(info.metrics.items()),
        "checkpoints": checkpoints.run_versions(run=record),
        # The register buttons: for leads and engineers, on a finished run that saved a model.
        "can_register": can_launch and info.status == "FINISHED" and checkpoints.has_model_file(run=record),
        "stages": checkpoints.STAGES,
        "register_error": register_error,
    }


@require_GET
@guard
def run_detail(request, slug: str, run_id: str):
    project, role = runs_project(request, slug)
    record = selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    return render(request, "experiments/run_detail.html", _detail_context(request, project, role, record))


@require_POST
@guard
def run_register(request, slug: str, run_id: str):
    """Registers the run's model as a checkpoint of the stage the pressed button names."""
    project, role = runs_project(request, slug, policy.LAUNCH_JOBS)
    record = selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    try:
        version = checkpoints.checkpoint_register(run=record, actor=request.user, stage=request.POST.get("stage", ""))
    except ValidationError as exc:
        context = _detail_context(request, project, role, record, register_error=error_text(exc))
        return render(request, "experiments/run_detail.html", context, status=400)
    messages.success(
        request, f"Registered as version {version.version} of {checkpoints.model_name(project=project)}; "
        f"the alias {version.stage} now points at it."
    )
    return redirect("experiments:run", slug=project.slug, run_id=record.mlflow_run_id)


SORT_DIRECTIONS = {"asc": False, "desc": True}


@require_GET
@guard
def sweep_detail(request, slug: str, run_id: str):
    """A sweep: its children in a table ranked by the sweep's metric (sortable by any column),
    a parallel-coordinates chart, and the progress of its jobs."""
    project, role = runs_project(request, slug)
    record = selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    sweep = sweeps.sweep_read(parent=record)
    if sweep is None:
        raise Http404("This run is not a grid search.")
    column = request.GET.get("sort", "")
    descending = SORT_DIRECTIONS.get(request.GET.get("dir", ""))
    children = sweeps.sort_children(sweep, column=column, descending=descending)
    context = {
        "project": project,
        "role": role,
        "sweep": sweep,
        "run": sweep.parent,
        "children": children,
        "sort": column if column in sweep.grid else sweep.metric,
        "figure": sweeps.parcoords_figure(sweep),
    }
    return render(request, "experiments/sweep_detail.html", context)


@require_GET
@guard
def run_curves(request, slug: str, run_id: str):
    """The run's loss figure, diagnostics and status as JSON, for the page's live refresh."""
    project, _ = runs_project(request, slug)
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
    project, role = runs_project(request, slug)
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
    context["param_diff"], context["params_same"] = runs.param_diff(infos)
    return render(request, "experiments/run_compare.html", context)
