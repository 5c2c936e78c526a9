"""The error-analysis pages: one run's confusion, per-class metrics, target checks, most confident
mistakes with their items and slices; and two runs compared on the same validation items.

Whoever may view a project's runs may view their analysis (experiments.views.runs.runs_project and
selectors.run_get: 404 for a run the project lacks or a project the user cannot see).
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from datasets.models import DatasetKind
from datasets.views.items import text_pieces
from experiments import selectors
from experiments.analysis import figures, reading, report
from experiments.views.runs import runs_project
from projects.access import guard

MAX_RUN_CHOICES = 200


def _with_items(analysis: report.RunAnalysis, project, rows: list[dict], key: str = "key") -> list[dict]:
    """Each row with the item it names as people may see it: a thumbnail's URL, the text, or the
    tabular row's cells."""
    version = analysis.version
    items = reading.visible_items(version, [row[key] for row in rows])
    shown = []
    for row in rows:
        item = items.get(row[key])
        entry = {"row": row, "item": item}
        if item is not None:
            kind = version.dataset.kind
            if kind == DatasetKind.IMAGE:
                entry["image_url"] = reverse(
                    "datasets:item_content", args=[project.slug, version.dataset.slug, version.number, item.key]
                )
            elif kind == DatasetKind.TEXT:
                entry["pieces"] = text_pieces(item.text, item.spans)
            else:
                cells = item.row if isinstance(item.row, dict) else {}
                entry["cells"] = [(c, cells.get(c, "")) for c in version.columns or []]
        shown.append(entry)
    return shown


@require_GET
@guard
def run_analysis(request, slug: str, run_id: str):
    project, role = runs_project(request, slug)
    record = selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    analysis = report.run_analysis(project=project, record=record)
    context = {"project": project, "role": role, "run": analysis.info, "analysis": analysis}
    if analysis.predictions is None:
        return render(request, "experiments/analysis.html", context)
    result = analysis.result
    columns = reading.slice_columns(analysis.version)
    column = request.GET.get("slice", columns[0] if columns else "")
    status = 200
    slices = report.slice_rows(analysis, column) if column else None
    slice_error = ""
    if column and slices is None:
        slice_error = f"This run's dataset version has no column {column[:100]!r} to slice by."
        status = 400
    context.update(
        result=result,
        confusion_figure=figures.confusion_figure(result["confusion"]),
        per_class_figure=figures.per_class_figure(result["per_class"]),
        mistakes=_with_items(analysis, project, result["mistakes"]),
        kind=analysis.version.dataset.kind if analysis.version else "",
        columns=columns,
        column=column if slices is not None else "",
        slices=slices or [],
        slice_figure=figures.slice_figure(column, slices) if slices else None,
        slice_error=slice_error,
        other_runs=_other_runs(request, project, record.mlflow_run_id),
    )
    return render(request, "experiments/analysis.html", context, status=status)


def _other_runs(request, project, exclude: str = "") -> list:
    records = selectors.runs_for_project(user=request.user, project=project).exclude(mlflow_run_id=exclude)
    return list(records[:MAX_RUN_CHOICES])


@require_GET
@guard
def analysis_compare(request, slug: str):
    project, role = runs_project(request, slug)
    a_id, b_id = request.GET.get("a", ""), request.GET.get("b", "")
    context = {"project": project, "role": role, "runs": _other_runs(request, project), "a_id": a_id, "b_id": b_id,
               "comparison": None, "error": ""}
    if not a_id and not b_id:
        return render(request, "experiments/analysis_compare.html", context)
    if not a_id or not b_id or a_id == b_id:
        context["error"] = "Choose two different runs to compare."
        return render(request, "experiments/analysis_compare.html", context, status=400)
    a = selectors.run_get(user=request.user, project=project, mlflow_run_id=a_id)
    b = selectors.run_get(user=request.user, project=project, mlflow_run_id=b_id)
    comparison = report.compare_runs(project=project, a=a, b=b)
    context["comparison"] = comparison
    if not comparison.problem:
        result = comparison.result
        context.update(
            figure=figures.compare_figure(result["per_class"], comparison.a.info.name, comparison.b.info.name),
            a_wins=_with_items(comparison.a, project, result["a_right_b_wrong"]["examples"]),
            b_wins=_with_items(comparison.a, project, result["b_right_a_wrong"]["examples"]),
            kind=comparison.a.version.dataset.kind if comparison.a.version else "",
        )
    return render(request, "experiments/analysis_compare.html", context)
