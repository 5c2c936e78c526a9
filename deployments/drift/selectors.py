"""Reads of drift monitoring: a deployment's drift reports, and the warnings the project page
shows (a deployment by its address: deployments.selectors.deployment_get).

The drift page and its reports are read from the prediction log (VIEW_PREDICTIONS). The project
page's warning is public where the project is: it names the deployment, the worst statistic and
its PSI, never an input value.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery

from deployments.models import Deployment, DriftReport
from projects import policy
from projects.models import Project
from projects.policy import AnyUser

CHART_REPORTS = 200  # the latest checks a drift chart draws


def reports_for(*, user: AnyUser, deployment: Deployment, limit: int = CHART_REPORTS) -> list[DriftReport]:
    """The deployment's latest drift reports, oldest first (as a chart reads them); none for
    those who may not read its prediction log."""
    if not policy.can(user=user, project=deployment.project, action=policy.VIEW_PREDICTIONS):
        return []
    latest = DriftReport.objects.filter(deployment=deployment).order_by("-created_at", "-id")[:limit]
    return list(reversed(latest))


@dataclass(frozen=True)
class DriftWarning:
    deployment: Deployment
    report: DriftReport


def _latest_reports(project: Project) -> QuerySet[Deployment]:
    latest = DriftReport.objects.filter(deployment=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
    return Deployment.objects.filter(project=project).annotate(latest_report=Subquery(latest))


def drift_warnings(*, user: AnyUser, project: Project) -> list[DriftWarning]:
    """The project's deployments whose latest drift check found drift, for whoever may see its
    deployments (the public, for a public project)."""
    if not policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS):
        return []
    deployments = {d.latest_report: d for d in _latest_reports(project) if d.latest_report is not None}
    reports = DriftReport.objects.filter(pk__in=deployments, drifted=True).only(
        "id", "deployment_id", "worst", "worst_psi", "threshold", "created_at", "drifted")
    return sorted((DriftWarning(deployment=deployments[r.pk], report=r) for r in reports),
                  key=lambda w: w.deployment.name)
