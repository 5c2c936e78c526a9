from __future__ import annotations

from django.db.models import Q, QuerySet

from prakriya.jobs import registry
from prakriya.jobs.models import Job, JobState


def job_list_for_roles(*, projects_by_role: dict[str, QuerySet], default_readers: frozenset[str]) -> QuerySet[Job]:
    """The jobs a person may read: for each role they hold (role → the projects they hold it in,
    as the caller's access policy says; prakriya/ knows nothing of project permissions), the jobs
    of those projects whose kind that role may read (JobKind.readers, else `default_readers`)."""
    readable = Q(pk__in=[])
    kinds = registry.all_kinds()
    for role, projects in projects_by_role.items():
        names = [k.name for k in kinds if role in (k.readers if k.readers is not None else default_readers)]
        if names:
            readable |= Q(project__in=projects, kind__in=names)
    return Job.objects.filter(readable).select_related("project", "created_by")


def job_queued_ahead(job: Job) -> int | None:
    """How many jobs wait on the same queue before `job` (older queued jobs, first come first
    served), or None when `job` is not waiting. A count across projects: it names no job."""
    if job.state != JobState.QUEUED:
        return None
    older = Q(created_at__lt=job.created_at) | Q(created_at=job.created_at, pk__lt=job.pk)
    return Job.objects.filter(older, queue=job.queue, state=JobState.QUEUED).count()
