from __future__ import annotations

from django.db.models import Q, QuerySet

from prakriya.jobs import registry
from prakriya.jobs.models import Job


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
