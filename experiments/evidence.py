"""The runs a deliverable rests on: the model improvement deliverable's chosen runs (their loss
curves, metrics, stages and registered checkpoints) and the error analysis deliverable's analysed
run (its headline numbers, per-class table and confusion matrix), shown on the deliverable's page
(projects.hooks panels) and frozen with its approval (projects.evidence), with the dataset, label,
seed and code version of every run among the versions behind the numbers.

The author chooses the runs (experiments.services.deliverable_runs_choose); submitting asks for what the stage names:
model improvement at least one finished run with a loss curve, error analysis an analysable run.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from experiments import checkpoints, panels, runs, selectors
from experiments.analysis import figures as analysis_figures
from experiments.analysis import report
from experiments.models import Run
from experiments.services import CHOSEN_RUNS
from projects import policy
from projects import selectors as project_selectors
from projects.models import Deliverable, DeliverableKind, Project

CHOICES_SHOWN = 50


def chosen_records(*, user, project: Project, kind: str) -> list[Run]:
    """The deliverable's chosen runs the user may see, in the author's order (runs since deleted
    are left out)."""
    deliverable = project.deliverables.filter(kind=kind).first()
    run_ids = list(deliverable.evidence_runs) if deliverable else []
    if not run_ids:
        return []
    records = selectors.runs_for_project(user=user, project=project).filter(mlflow_run_id__in=run_ids)
    return selectors.runs_in_order(records=records, run_ids=run_ids)


def _chooser(request, project: Project, kind: str, chosen: list[Run]) -> dict:
    """The run picker, for whoever may edit the deliverable now."""
    state = project_selectors.deliverable_state(project=project, kind=kind)
    if not policy.can_edit_deliverable(user=request.user, project=project, state=state):
        return {}
    chosen_ids = {record.mlflow_run_id for record in chosen}
    choices = runs.run_infos(list(selectors.runs_for_project(user=request.user, project=project)[:CHOICES_SHOWN]))
    return {"choices": [(info, info.run_id in chosen_ids) for info in choices], "limit": CHOSEN_RUNS[kind]}


def model_improvement_panel(request, project: Project) -> str:
    kind = DeliverableKind.MODEL_IMPROVEMENT
    chosen = chosen_records(user=request.user, project=project, kind=kind)
    infos = runs.run_infos(chosen)
    rows = []
    for info in infos:
        registered = checkpoints.run_versions(run=info.record) if info.found else []
        rows.append({
            "info": info,
            "stage": info.tags.get("prakriya.stage", ""),
            "checkpoints": ", ".join(f"{v.stage or 'version'} v{v.version}" for v in registered),
            "trained_on": _trained_on(info),
        })
    curves = runs.run_curves(infos) if infos else []
    figure = runs.loss_figure_json(curves, title="Loss of the chosen runs") if any(
        c.train is not None or c.validation is not None for c in curves) else None
    return render_to_string(
        "experiments/_model_improvement_panel.html",
        {"project": project, "kind": kind, "rows": rows, "figure": figure,
         **_chooser(request, project, kind, chosen)},
        request=request,
    )


def error_analysis_panel(request, project: Project) -> str:
    kind = DeliverableKind.ERROR_ANALYSIS
    chosen = chosen_records(user=request.user, project=project, kind=kind)
    context = {"project": project, "kind": kind, **_chooser(request, project, kind, chosen)}
    if chosen:
        analysis = report.run_analysis(project=project, record=chosen[0])
        context["analysis"] = analysis
        context["trained_on"] = _trained_on(analysis.info)
        if analysis.predictions is not None:
            context["confusion_figure"] = analysis_figures.confusion_figure(analysis.result["confusion"])
    return render_to_string("experiments/_error_analysis_panel.html", context, request=request)


def _reasoning_written(deliverable: Deliverable) -> None:
    if not deliverable.body.strip():
        raise ValidationError("Write the reasoning behind the evidence before submitting it.")


def model_improvement_ready_check(deliverable: Deliverable) -> None:
    _reasoning_written(deliverable)
    records = chosen_records(user=policy.ProjectReader(), project=deliverable.project, kind=deliverable.kind)
    infos = [info for info in runs.run_infos(records) if info.status == "FINISHED"]
    if not infos:
        raise ValidationError(
            "Choose at least one finished run as evidence before submitting the model improvement."
        )
    if not any(info.train_key or info.val_key for info in infos):
        raise ValidationError(
            "None of the chosen runs logged a loss curve (train_loss or val_loss): choose a run whose "
            "curves argue for the choices made."
        )


def error_analysis_ready_check(deliverable: Deliverable) -> None:
    _reasoning_written(deliverable)
    records = chosen_records(user=policy.ProjectReader(), project=deliverable.project, kind=deliverable.kind)
    if not records:
        raise ValidationError("Choose the analysed run as evidence before submitting the error analysis.")
    analysis = report.run_analysis(project=deliverable.project, record=records[0])
    if analysis.predictions is None:
        raise ValidationError(f"The chosen run has no analysis: {analysis.problem}")


def _trained_on(info: runs.RunInfo) -> str:
    """The versions behind a run's numbers, in one line (its packages are on the run's page)."""
    return " · ".join(f"{label} {value}" for label, value in info.traceability if label != "Packages")


def _run_version(info: runs.RunInfo) -> str:
    return _trained_on(info).lower() or "not traceable"


def run_versions(project: Project, deliverable: Deliverable) -> dict[str, str]:
    """The dataset, label, seed and code version of each run the deliverable's evidence shows."""
    reader = policy.ProjectReader()
    if deliverable.kind in CHOSEN_RUNS:
        records = chosen_records(user=reader, project=project, kind=deliverable.kind)
        infos = runs.run_infos(records)
    elif deliverable.kind == DeliverableKind.BASELINES:
        infos = panels.baseline_run_infos(user=reader, project=project)
    else:
        return {}
    return {f"run {info.name} ({info.run_id[:8]})": _run_version(info) for info in infos}
