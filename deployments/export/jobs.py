"""The ONNX export job (kind deployments_export, on the `export` queue): thin, the work is
deployments/export/work.py.

Any error from below that is not our own ExportFailed is replaced by a message of ours naming its
type: a library's message may quote the data it choked on, and the export's failure is shown to
everyone who reads the project's deployments.
"""

from __future__ import annotations

import logging
from typing import Any

from deployments import kinds
from deployments.export import services
from deployments.models import ModelExport
from prakriya.jobs import registry
from prakriya.jobs.context import JobCancelled, JobContext, JobOutOfTime, LostClaim
from prakriya.jobs.models import Job
from projects import policy

TIME_LIMIT_SECONDS = 30 * 60
logger = logging.getLogger(__name__)


def _run(ctx: JobContext) -> dict[str, Any]:
    from deployments.export.work import ExportFailed, export_model

    export = ModelExport.objects.select_related("project", "run", "run__job").filter(pk=ctx.job.target_id).first()
    if export is None:
        return {"skipped": "the export was deleted"}
    try:
        result = export_model(export=export, progress=ctx.progress)
    except ExportFailed as exc:
        services.export_fail(export=export, failure=str(exc))
        raise
    except LostClaim:
        raise  # another worker has the job now: its row is theirs to write
    except (JobCancelled, JobOutOfTime) as exc:
        services.export_fail(export=export, failure="Cancelled." if isinstance(exc, JobCancelled) else str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - replaced by our own words, see the module's docstring
        logger.exception("export %s failed", export.pk)  # the whole story, for the operator only
        message = f"The export failed inside the job ({type(exc).__name__})."
        services.export_fail(export=export, failure=message)
        raise ExportFailed(message) from None
    ctx.log(f"Export {export.pk}: parity within tolerance; {len(result['variants'])} variant(s) made")
    return result


def _done(job: Job, result: dict[str, Any]) -> None:
    services.export_complete(export_id=result.get("export"), actor=job.created_by)


def _ended_unrun(job: Job) -> None:
    export = ModelExport.objects.filter(pk=job.target_id).first()
    if export is not None and export.state == "pending":
        services.export_fail(export=export, failure="The export job ended before it ran.")


def _link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    from django.urls import reverse

    if job.target_id is None or job.project is None:
        return None
    if not policy.can(user=user, project=job.project, action=policy.VIEW_DEPLOYMENTS):
        return None
    return registry.JobLink(reverse("deployments:export", args=[job.project.slug, job.target_id]),
                            "Open the export: parity, variants and model card")


registry.register(registry.JobKind(
    name=kinds.MODEL_EXPORT, label="ONNX export", queue="export", run=_run, on_success=_done,
    on_ended_unrun=_ended_unrun, readers=policy.VIEW_DEPLOYMENTS, time_limit=TIME_LIMIT_SECONDS, result_link=_link,
))
