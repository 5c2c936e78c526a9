"""Writes of drift monitoring: starting a check (by hand, or by beat for every deployment that
answered since its last check) and recording what a check found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from deployments import kinds
from deployments.models import Deployment, DriftReport, Prediction
from prakriya.jobs.models import Job
from prakriya.jobs.services import ACTIVE_STATES, job_enqueue
from projects import policy
from projects.services import timeline_record

START = policy.MANAGE_DEPLOYMENTS


@transaction.atomic
def drift_check_start(*, deployment: Deployment, actor: AbstractBaseUser) -> Job:
    """A drift check someone asks for now (held to the caps on active jobs like any launch)."""
    policy.require(user=actor, project=deployment.project, action=START, what="start drift checks")
    return job_enqueue(kind=kinds.DRIFT, project=deployment.project, target=deployment, created_by=actor)


def _checking(deployment_ids: list[int]) -> set[int]:
    content_type = ContentType.objects.get_for_model(Deployment)
    return set(
        Job.objects.filter(kind=kinds.DRIFT, target_type=content_type, target_id__in=deployment_ids,
                           state__in=ACTIVE_STATES).values_list("target_id", flat=True)
    )


@transaction.atomic
def drift_checks_start_due() -> list[Job]:
    """Beat's periodic start: a check of every deployment whose stable export answered since the
    deployment's last check (within the drift window), unless one is queued or running already.
    Started by the platform itself, so never refused by the caps (they still count it)."""
    since = timezone.now() - timedelta(days=settings.PRAKRIYA_DRIFT_WINDOW_DAYS)
    recent = Prediction.objects.filter(deployment=OuterRef("pk"), export_id=OuterRef("stable_id"),
                                       created_at__gte=since)
    due = list(
        Deployment.objects.select_related("project")
        .annotate(answered=Exists(recent), last_check=Max("drift_reports__created_at"))
        .filter(answered=True)
    )
    due = [
        d for d in due
        if d.last_check is None
        or Prediction.objects.filter(deployment=d, export_id=d.stable_id, created_at__gt=d.last_check).exists()
    ]
    busy = _checking([d.pk for d in due])
    return [
        job_enqueue(kind=kinds.DRIFT, project=d.project, target=d, system=True)
        for d in due if d.pk not in busy
    ]


@transaction.atomic
def drift_report_record(*, deployment_id: int, export_id: int, job: Job | None, found: dict[str, Any]) -> DriftReport | None:
    """Stores a check's findings (in the transaction that marks its job succeeded: once). The
    project's timeline says when a deployment starts drifting: the first drifted check after one
    that was not."""
    deployment = Deployment.objects.select_related("project").filter(pk=deployment_id).first()
    if deployment is None:
        return None
    previous = DriftReport.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    window = dict(found["window"])
    window["reference"] = found.get("reference_version", "")
    report = DriftReport.objects.create(
        deployment=deployment, export_id=export_id, job=job, window=window, features=found["features"],
        prediction_psi=found["prediction_psi"], prediction_shares=found["prediction_shares"],
        mean_confidence=found["mean_confidence"], reference_confidence=found["reference_confidence"],
        worst=found["worst"][:200], worst_psi=found["worst_psi"], threshold=found["threshold"],
        drifted=found["drifted"],
    )
    if report.drifted and (previous is None or not previous.drifted):
        timeline_record(
            project=deployment.project, actor=None, verb="drift_detected",
            text=f"Deployment {deployment.name}: drift detected ({report.worst}, PSI {report.worst_psi:.2f} "
            f"past {report.threshold:g})",
            data={"deployment": deployment.slug, "report": report.pk},
        )
    return report
