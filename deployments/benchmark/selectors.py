"""Reads of benchmarks, scoped like the exports they measure (policy.VIEW_DEPLOYMENTS)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from deployments.models import Benchmark
from projects import policy
from projects.models import Project
from projects.selectors import AnyUser


def benchmarks_for_project(*, user: AnyUser, project: Project) -> QuerySet[Benchmark]:
    if not policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS):
        return Benchmark.objects.none()
    return Benchmark.objects.filter(project=project).select_related("export", "export__run", "job", "created_by")


def benchmark_get(*, user: AnyUser, project: Project, pk: int) -> Benchmark:
    benchmark = benchmarks_for_project(user=user, project=project).filter(pk=pk).first()
    if benchmark is None:
        raise Http404("No such benchmark")
    return benchmark
