"""Reads of the literature survey, scoped to the requesting user: whoever sees the project reads
its survey (public project: anyone; private: members); anyone else gets a 404."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.http import Http404

from projects.models import LiteratureEntry, Project
from projects.selectors import AnyUser, project_list_visible

# The table's sort keys → the ordering; entries without a year sort last either way.
SORTS = {
    "position": (F("position").asc(), "id"),
    "year": (F("year").asc(nulls_last=True), "position", "id"),
    "-year": (F("year").desc(nulls_last=True), "position", "id"),
    "feasibility": ("feasibility", "position", "id"),
    "-feasibility": ("-feasibility", "position", "id"),
}


def literature_list(*, user: AnyUser, project: Project, sort: str = "position") -> QuerySet[LiteratureEntry]:
    if not project_list_visible(user=user).filter(pk=project.pk).exists():
        raise Http404("No such project")
    ordering = SORTS.get(sort, SORTS["position"])
    return LiteratureEntry.objects.filter(project=project).select_related("created_by").order_by(*ordering)


def literature_get(*, user: AnyUser, project: Project, pk: int) -> LiteratureEntry:
    entry = literature_list(user=user, project=project).filter(pk=pk).first()
    if entry is None:
        raise Http404("No such literature entry")
    return entry
