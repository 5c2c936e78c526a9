"""The loop back's page route: POST sends a sample of the deployment's production inputs to
labelling (leads and engineers), GET shows the form alone with the deployment's earlier loop backs
(the deployment's page includes the form, deployments/loopback/_form.html)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from deployments.loopback import selectors, services
from deployments.loopback.forms import LoopbackForm
from deployments.selectors import deployment_get
from prakriya.limits import rate_limited
from projects import policy
from projects.access import error_text, guard, project_for, to_job

SHOWN = 20


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def loopback_page(request, slug: str, deployment_slug: str):
    project, role = project_for(request, slug, policy.MANAGE_DEPLOYMENTS)
    deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
    form = LoopbackForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                loopback = services.loopback_campaign_create(
                    deployment=deployment, actor=request.user, strategy=form.cleaned_data["strategy"],
                    size=form.cleaned_data["size"],
                )
            except ValidationError as exc:
                error = error_text(exc)
            else:
                return to_job(request, loopback.job, f"{len(loopback.predictions)} production inputs are being written "
                              "as a new dataset version; their labelling campaign is made as soon as it is written.")
        else:
            error = " ".join(e for errors in form.errors.values() for e in errors)
    loopbacks = list(selectors.loopbacks_for(user=request.user, deployment=deployment)[:SHOWN])
    return render(request, "deployments/loopback/page.html", {
        "project": project, "role": role, "deployment": deployment, "loopback_form": form, "loopback_error": error,
        "loopbacks": loopbacks,
    }, status=400 if error else 200)
