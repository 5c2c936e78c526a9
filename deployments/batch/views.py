"""The batch-prediction pages of a deployment: its batch predictions with the form that starts one
(GET; POST starts it, engineers and the lead), one batch prediction with its job's progress and
what was left out, and the download of its CSV.

Batch predictions are predictions: read by those who read the prediction log (VIEW_PREDICTIONS),
never by the public, even of a public project; a private project's pages are a 404 to anyone
outside it. The deployment's own page shows the latest few and the same form.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from deployments.access import deployments_project
from deployments.batch import selectors, services
from deployments.batch.download import csv_response
from deployments.batch.forms import start_form
from deployments.selectors import deployment_get
from prakriya.limits import rate_limited
from projects import policy
from projects import selectors as project_selectors
from projects.access import add_errors, guard

SHOWN = 50


def _list_page(request, project, role, deployment, form, status: int = 200):
    can_start = policy.can(user=request.user, project=project, action=policy.MANAGE_DEPLOYMENTS)
    return render(request, "deployments/batch/batch_list.html", {
        "project": project, "role": role, "deployment": deployment,
        "batches": list(selectors.batch_predictions_for(user=request.user, deployment=deployment)[:SHOWN]),
        "batch_form": form if can_start else None,
    }, status=status)


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def batch_predictions(request, slug: str, deployment_slug: str):
    if request.method != "POST":
        project, role = deployments_project(request, slug, policy.VIEW_PREDICTIONS)
        deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
        return _list_page(request, project, role, deployment, start_form(project=project, deployment=deployment))
    project, role = deployments_project(request, slug, policy.MANAGE_DEPLOYMENTS)
    deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
    form = start_form(project=project, deployment=deployment, data=request.POST)
    if form.is_valid():
        version = selectors.scorable_versions(project=project).get(pk=form.cleaned_data["version"])
        export = deployment.canary if form.cleaned_data["export"] == deployment.canary_id else deployment.stable
        try:
            batch = services.batch_predict_start(deployment=deployment, actor=request.user, version=version,
                                                 export=export)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Scoring {version.dataset.name} {version.label} with {export}: this page "
                             "follows its job.")
            return redirect("deployments:batch_prediction", slug=project.slug, deployment_slug=deployment.slug,
                            batch_id=batch.pk)
    return _list_page(request, project, role, deployment, form, status=400)


@require_GET
@guard
def batch_prediction(request, slug: str, deployment_slug: str, batch_id: int):
    project, role = deployments_project(request, slug, policy.VIEW_PREDICTIONS)
    deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
    batch = selectors.batch_prediction_get(user=request.user, deployment=deployment, pk=batch_id)
    job = None
    if batch.job_id is not None:
        job = project_selectors.job_list_visible(user=request.user).filter(pk=batch.job_id).first()
    return render(request, "deployments/batch/batch_detail.html", {
        "project": project, "role": role, "deployment": deployment, "batch": batch, "job": job,
        "can_cancel": False, "final": batch.state != "pending",
        "downloadable": selectors.output_file(batch=batch) is not None,
    })


@require_GET
@guard
def batch_prediction_download(request, slug: str, deployment_slug: str, batch_id: int):
    project, _ = deployments_project(request, slug, policy.VIEW_PREDICTIONS)
    deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
    batch = selectors.batch_prediction_get(user=request.user, deployment=deployment, pk=batch_id)
    batch.project = project
    return csv_response(batch)
