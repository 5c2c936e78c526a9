"""Reads of deployments, scoped by the access policy: who may see a project's exports and
deployments (VIEW_DEPLOYMENTS), its prediction log (VIEW_PREDICTIONS), and which deployment a
key calls."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404

from deployments.models import Benchmark, Deployment, DeploymentKey, ExportState, ModelExport, Prediction
from projects import policy
from projects.models import Project
from projects.policy import AnyUser


def key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def key_lookup(*, secret: str) -> DeploymentKey | None:
    """The live key with this secret, or None (unknown or revoked: both simply fail)."""
    if not secret or len(secret) > 200:
        return None
    # Unique digest: no ORDER BY (.first() would add the model's ordering, and building it costs
    # more Python time than the query itself on this per-request path).
    found = DeploymentKey.objects.filter(digest=key_digest(secret), revoked_at__isnull=True).order_by()[:1]
    return next(iter(found), None)


def deployments_of(*, project: Project) -> QuerySet[Deployment]:
    return Deployment.objects.filter(project=project).select_related("stable", "canary")


def deployment_get(*, project: Project, user: AnyUser, slug: str) -> Deployment:
    """The project's deployment if the user may see deployments (404 otherwise: a deployment
    they cannot read does not exist for them)."""
    if not policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS):
        raise Http404("No such deployment.")
    found = deployments_of(project=project).filter(slug=slug).first()
    if found is None:
        raise Http404("No such deployment.")
    found.project = project
    return found


def deployment_for_serving(*, project_slug: str, slug: str) -> Deployment | None:
    """The deployment with its two versions, read fresh for every prediction (the rollout's
    state is what this read returns). A version's run is read only when a process first loads
    its model; the pair (project, slug) is unique, so no ORDER BY."""
    found = (
        Deployment.objects.select_related("project", "stable", "canary")
        .filter(project__slug=project_slug, slug=slug)
        .order_by()[:1]
    )
    return next(iter(found), None)


def ready_exports(*, project: Project) -> QuerySet[ModelExport]:
    return ModelExport.objects.filter(project=project, state=ExportState.READY).select_related("run")


def exports_of(*, project: Project) -> QuerySet[ModelExport]:
    return ModelExport.objects.filter(project=project).select_related("run", "job")


def latest_benchmark(*, export: ModelExport) -> Benchmark | None:
    return Benchmark.objects.filter(export=export, finished_at__isnull=False).order_by("-finished_at", "-id").first()


def keys_of(*, deployment: Deployment) -> QuerySet[DeploymentKey]:
    return deployment.keys.select_related("created_by")


def recent_predictions(*, deployment: Deployment, limit: int = 50) -> list[Prediction]:
    return list(deployment.predictions.select_related("export")[:limit])


def traffic_by_minute(*, deployment: Deployment, limit: int = 120) -> list[dict[str, Any]]:
    """The last `limit` minutes with traffic: predictions per minute and version, and their mean
    confidence (the chart on the deployment's page)."""
    from django.db.models import Avg
    from django.db.models.functions import TruncMinute

    rows = (
        Prediction.objects.filter(deployment=deployment)
        .annotate(minute=TruncMinute("created_at"))
        .values("minute", "export_id")
        .annotate(count=Count("id"), confidence=Avg("score"))
        .order_by("-minute")[:limit]
    )
    return sorted(rows, key=lambda row: (row["minute"], row["export_id"]))


def prediction_counts(*, deployment: Deployment) -> list[dict[str, Any]]:
    """Predictions per version that answered them, most first."""
    rows = (
        Prediction.objects.filter(deployment=deployment)
        .values("export_id")
        .annotate(count=Count("id"))
        .order_by("-count")
    )
    return list(rows)
