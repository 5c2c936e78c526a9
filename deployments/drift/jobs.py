"""The drift-check job: measure the deployment's recent traffic against its training reference;
the report is written once, in the transaction that marks the job succeeded."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from deployments import kinds
from deployments.drift import services
from deployments.drift.measure import measure
from deployments.drift.reference import DriftError
from deployments.models import Deployment
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job
from projects import policy


def _run(ctx: JobContext) -> dict[str, Any]:
    deployment = Deployment.objects.select_related("project", "stable__run").filter(pk=ctx.job.target_id).first()
    if deployment is None:
        return {"skipped": "the deployment was deleted"}
    try:
        found = measure(deployment=deployment, progress=ctx.progress)
    except DriftError as exc:
        raise DriftError(f"{exc} No drift check was made.") from None
    if "skipped" in found:
        ctx.log(found["skipped"])
        return found
    ctx.log(f"Worst: {found['worst']} (PSI {found['worst_psi']:.3f}); "
            f"{'drifted' if found['drifted'] else 'within'} the threshold {found['threshold']:g}")
    return {"deployment": deployment.pk, "export": deployment.stable_id, "found": found}


def _done(job: Job, result: dict[str, Any]) -> None:
    found = result.pop("found", None)
    if found is None:
        return
    report = services.drift_report_record(deployment_id=result["deployment"], export_id=result["export"], job=job,
                                          found=found)
    # The job keeps a pointer and the verdict; the bins live on the report.
    if report is not None:
        result.update(report=report.pk, drifted=report.drifted, worst=report.worst)


def _link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    deployment = Deployment.objects.select_related("project").filter(pk=job.target_id).first()
    if deployment is None or not policy.can(user=user, project=deployment.project, action=policy.VIEW_PREDICTIONS):
        return None
    return registry.JobLink(
        url=reverse("deployments:drift", args=[deployment.project.slug, deployment.slug]),
        text=f"Open the drift of {deployment.name}",
    )


registry.register(registry.JobKind(
    name=kinds.DRIFT, label="Drift check", queue="default", run=_run, on_success=_done,
    readers=policy.VIEW_PREDICTIONS, time_limit=1800, result_link=_link,
))
