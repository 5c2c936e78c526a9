"""Jobs as pages: starting a project export, a job's live progress and log, cancelling it and
downloading what it produced."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from prakriya.jobs import registry
from prakriya.jobs.display import waiting_text, without_server_paths
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.selectors import job_queued_ahead
from prakriya.jobs.services import job_cancel
from prakriya.limits import rate_limited
from projects import policy, selectors, services
from projects.access import guard, project_for
from projects.export import export_path
from projects.forms import (
    ExportForm,
)
from projects.kinds import PROJECT_EXPORT


@require_POST
@rate_limited("jobs")
@guard
def export_start(request, slug: str):
    project, _ = project_for(request, slug, policy.LAUNCH_JOBS)
    form = ExportForm(request.POST)
    pause = (form.cleaned_data.get("pause_seconds") or 0.0) if form.is_valid() else 0.0
    job = services.project_export_start(project=project, actor=request.user, pause_seconds=pause)
    messages.success(request, "Export started.")
    return redirect("projects:job", job_id=job.pk)


def _job_payload(job: Job, user: policy.AnyUser) -> dict:
    # Where a page waiting on the job goes once it has succeeded: what it produced, if this person
    # may see it (the kind decides, with the project's access policy).
    link = registry.result_link(job, user) if job.state == JobState.SUCCEEDED else None
    ahead = job_queued_ahead(job)
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "state_label": job.get_state_display(),
        "progress": round(job.progress, 1),
        "message": waiting_text(job.queue, ahead) or without_server_paths(job.message),
        "queue": job.queue,
        "queued_ahead": ahead,
        "attempts": job.attempts,
        "log": without_server_paths(job.log[-20000:]),
        "terminal": job.is_terminal,
        "download": reverse("projects:job_download", args=[job.pk])
        if job.state == "succeeded" and job.kind == PROJECT_EXPORT
        else None,
        "result_url": link.url if link else None,
        "result_text": link.text if link else None,
    }


@login_required
@require_GET
def job_detail(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    role = policy.role_of(user=request.user, project=job.project)
    return render(
        request,
        "projects/job.html",
        {
            "job": job,
            "project": job.project,
            "role": role,
            "next_link": registry.result_link(job, request.user),
            "can_cancel": policy.can(user=request.user, project=job.project, action=policy.LAUNCH_JOBS)
            and not job.is_terminal,
        },
    )


@login_required
@require_GET
def job_status(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    return JsonResponse(_job_payload(job, request.user))


@login_required
@require_POST
def job_cancel_view(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    if not policy.can(user=request.user, project=job.project, action=policy.LAUNCH_JOBS):
        raise PermissionDenied("Your role in this project does not allow this.")
    job_cancel(job=job)
    messages.success(request, "Cancellation requested.")
    return redirect("projects:job", job_id=job.pk)


@login_required
@require_GET
def job_download(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    # The file is where the export job writes it for this job id; nothing stored on the job names
    # a path to serve.
    path = export_path(job.project.slug, job.pk) if job.state == "succeeded" and job.kind == PROJECT_EXPORT else None
    if path is None or not path.is_file():
        raise Http404("No file for this job")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{job.project.slug}-export-{job.pk}.json",
        content_type="application/json",
    )
