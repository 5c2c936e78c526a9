"""Job kinds owned by the projects app."""

from __future__ import annotations

from typing import Any

from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job
from projects.export import build_project_export
from projects.kinds import MAX_PAUSE_SECONDS, PROJECT_EXPORT
from projects.models import Project
from projects.services import timeline_record


def _run_export(ctx: JobContext) -> dict[str, Any]:
    project = Project.objects.get(pk=ctx.job.project_id)
    # A pause between sections lets a demo (and the crash test) watch the job mid-way.
    pause = min(float(ctx.params.get("pause_seconds", 0) or 0), MAX_PAUSE_SECONDS)
    ctx.log(f"exporting {project.slug}")
    result = build_project_export(project, job_id=ctx.job.pk, report=ctx.progress, pause_seconds=pause)
    ctx.log(f"wrote {result['bytes']} bytes")
    return result


def _record_export(job: Job, result: dict[str, Any]) -> None:
    timeline_record(
        project=job.project,
        actor=job.created_by,
        verb="exported",
        text="Project exported to JSON",
        data={"job": job.pk, "bytes": result.get("bytes")},
    )


registry.register(
    registry.JobKind(
        name=PROJECT_EXPORT,
        label="Project export to JSON",
        queue="export",
        run=_run_export,
        on_success=_record_export,
        # One project's JSON: minutes at the very most.
        time_limit=600,
    )
)
