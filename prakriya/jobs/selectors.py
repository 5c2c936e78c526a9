from __future__ import annotations

from django.db.models import QuerySet

from prakriya.jobs.models import Job


def job_list_for_projects(*, projects: QuerySet) -> QuerySet[Job]:
    """Jobs are visible to whoever can see their project; the caller passes the projects the
    requesting user may see (prakriya/ knows nothing of project permissions)."""
    return Job.objects.filter(project__in=projects).select_related("project", "created_by")
