"""The benchmark pages: the results of one benchmark (read like the project's runs), and starting
one on an export (engineers and the lead): GET shows the options, POST starts it. The export page's
Benchmark button posts the defaults."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from deployments.access import deployments_project
from deployments.benchmark import figures, selectors, services
from deployments.benchmark.forms import BenchmarkForm
from deployments.export import selectors as export_selectors
from prakriya.limits import rate_limited
from projects import policy
from projects import selectors as project_selectors
from projects.access import add_errors, guard


@require_GET
@guard
def benchmark_detail(request, slug: str, pk: int):
    project, role = deployments_project(request, slug)
    benchmark = selectors.benchmark_get(user=request.user, project=project, pk=pk)
    job = None
    if benchmark.job_id is not None:
        job = project_selectors.job_list_visible(user=request.user).filter(pk=benchmark.job_id).first()
    results = benchmark.results or {}
    sizes = sorted(int(s) for s in ((results.get("onnx") or {}).get("batches") or {}))
    rows = [
        {"size": size, "onnx": results["onnx"]["batches"][str(size)],
         "original": ((results.get("original") or {}).get("batches") or {}).get(str(size)),
         "speedup": (results.get("speedup") or {}).get(str(size))}
        for size in sizes
    ]
    context = {
        "project": project, "role": role, "benchmark": benchmark, "export": benchmark.export, "results": results,
        "rows": rows, "figure": figures.latency_figure(results) if results else None, "job": job,
        "can_cancel": False, "final": benchmark.finished_at is not None or (job is not None and job.is_terminal),
    }
    return render(request, "deployments/benchmark/benchmark_detail.html", context)


def _start_page(request, project, role, export, form, status: int = 200):
    return render(request, "deployments/benchmark/benchmark_start.html",
                  {"project": project, "role": role, "export": export, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def benchmark_start(request, slug: str, pk: int):
    """Options of a benchmark of export `pk` (GET), or start it (POST; fields left out take their
    defaults, so the export page's button posts none)."""
    project, role = deployments_project(request, slug, policy.MANAGE_DEPLOYMENTS)
    export = export_selectors.export_get(user=request.user, project=project, pk=pk)
    if request.method != "POST":
        return _start_page(request, project, role, export, BenchmarkForm())
    data = {name: str(field.initial) for name, field in BenchmarkForm.base_fields.items()}
    data.update({k: v for k, v in request.POST.items() if k in BenchmarkForm.base_fields})
    form = BenchmarkForm(data)
    if not form.is_valid():
        return _start_page(request, project, role, export, form, status=400)
    try:
        benchmark = services.benchmark_start(export=export, actor=request.user, options=form.cleaned_data)
    except ValidationError as exc:
        add_errors(form, exc)
        return _start_page(request, project, role, export, form, status=400)
    messages.success(request, "Benchmark queued: this page follows its job.")
    return redirect("deployments:benchmark", slug=project.slug, pk=benchmark.pk)
