"""The drift page of a deployment: PSI over time per feature or statistic and for the predicted
labels, the latest check's bins, and (for leads and engineers) a check started by hand.

Read from the prediction log, so for those who may read it (VIEW_PREDICTIONS); a private
project's page is a 404 to anyone outside it.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from deployments.drift import selectors, services
from deployments.drift.figures import drift_figure
from deployments.drift.measure import PREDICTIONS
from deployments.selectors import deployment_get
from prakriya.limits import rate_limited
from projects import policy
from projects.access import guard, project_for, to_job


def _rows(report) -> list[dict]:
    """The latest check's features and statistics, most drifted first."""
    if report is None:
        return []
    rows = [{"name": name, **feature, "drifted": feature["psi"] > report.threshold}
            for name, feature in report.features.items()]
    return sorted(rows, key=lambda row: (-row["psi"], row["name"]))


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def drift_page(request, slug: str, deployment_slug: str):
    if request.method == "POST":
        project, _ = project_for(request, slug, policy.MANAGE_DEPLOYMENTS)
        deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
        job = services.drift_check_start(deployment=deployment, actor=request.user)
        return to_job(request, job, f"Drift check of {deployment.name} started.")
    project, role = project_for(request, slug, policy.VIEW_PREDICTIONS)
    deployment = deployment_get(project=project, user=request.user, slug=deployment_slug)
    reports = selectors.reports_for(user=request.user, deployment=deployment)
    latest = reports[-1] if reports else None
    threshold = latest.threshold if latest else settings.PRAKRIYA_DRIFT_PSI_THRESHOLD
    return render(request, "deployments/drift/drift.html", {
        "project": project, "role": role, "deployment": deployment, "reports": reports, "latest": latest,
        "rows": _rows(latest), "figure": drift_figure(reports, threshold=threshold), "threshold": threshold,
        "predictions_name": PREDICTIONS,
        "can_check": policy.can(user=request.user, project=project, action=policy.MANAGE_DEPLOYMENTS),
    })
