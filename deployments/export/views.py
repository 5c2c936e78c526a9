"""The export pages: one export with its job's progress, parity, variants and model card (read
like the project's runs), the download of its `.onnx` file, and starting an export from a run
(engineers and the lead). The run page includes `deployments/export/_export_form.html`, which
posts to `run_export` here."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from deployments import onnx_files
from deployments.access import deployments_project
from deployments.export import selectors, services
from deployments.export.forms import ExportForm
from deployments.models import Benchmark
from experiments import selectors as run_selectors
from prakriya.limits import rate_limited
from projects import policy
from projects import selectors as project_selectors
from projects.access import add_errors, guard


def visible_job(request, record):
    """The record's job, for those who may follow it."""
    if record.job_id is None:
        return None
    return project_selectors.job_list_visible(user=request.user).filter(pk=record.job_id).first()


@require_GET
@guard
def export_detail(request, slug: str, pk: int):
    project, role = deployments_project(request, slug)
    export = selectors.export_get(user=request.user, project=project, pk=pk)
    fp32 = export.base or export
    can_manage = policy.can(user=request.user, project=project, action=policy.MANAGE_DEPLOYMENTS)
    job = visible_job(request, fp32)
    context = {
        "project": project, "role": role, "export": export, "fp32": fp32,
        "variants": selectors.export_variants(export=fp32),
        "card": fp32.card or {},
        "job": job, "can_cancel": False,
        "can_manage": can_manage,
        # The Benchmark button posts the default options; its page offers the others.
        "can_benchmark": can_manage and export.is_ready,
        "benchmarks": list(Benchmark.objects.filter(export__in=[fp32, *fp32.variants.all()])
                           .select_related("job", "export")[:20]),
        "final": fp32.state != "pending",
    }
    return render(request, "deployments/export/export_detail.html", context)


@require_GET
@guard
def export_download(request, slug: str, pk: int):
    project, _ = deployments_project(request, slug)
    export = selectors.export_get(user=request.user, project=project, pk=pk)
    try:
        data = selectors.export_bytes(export=export)
    except onnx_files.OnnxFileError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{selectors.download_name(export)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def run_export(request, slug: str, run_id: str):
    """GET: the export form on a page of its own; POST: start the export, then its page."""
    project, role = deployments_project(request, slug, policy.MANAGE_DEPLOYMENTS)
    run = run_selectors.run_get(user=request.user, project=project, mlflow_run_id=run_id)
    form = ExportForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                export = services.export_start(run=run, actor=request.user, quantise=form.cleaned_data["quantise"],
                                               prune_sparsity=form.cleaned_data["prune_sparsity"])
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, "Export queued: the page follows its job.")
                return redirect("deployments:export", slug=project.slug, pk=export.pk)
        status = 400
    return render(request, "deployments/export/run_export.html",
                  {"project": project, "role": role, "run": run, "form": form}, status=status)
