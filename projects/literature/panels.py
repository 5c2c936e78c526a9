"""The literature survey's table, shared by its own page and the deliverable's page (panel)."""

from __future__ import annotations

from django.template.loader import render_to_string

from projects import permissions
from projects.access import can
from projects.literature import selectors
from projects.models import DeliverableKind, DeliverableState, Feasibility
from projects.selectors import role_of


def survey_context(request, project, role, *, sort: str = "position") -> dict:
    sort = sort if sort in selectors.SORTS else "position"
    frozen = project.deliverables.filter(
        kind=DeliverableKind.LITERATURE_SURVEY, state__in=(DeliverableState.SUBMITTED, DeliverableState.APPROVED)
    ).exists()
    return {
        "entries": list(selectors.literature_list(user=request.user, project=project, sort=sort)),
        "sort": sort,
        "feasibility_max": max(Feasibility.values),
        "frozen": frozen,
        "can_edit": can(role, request.user, permissions.EDIT_DELIVERABLE) and not frozen,
    }


def literature_panel(request, project) -> str:
    role = role_of(user=request.user, project=project)
    context = survey_context(request, project, role)
    return render_to_string(
        "projects/literature/_panel.html", {"project": project, "in_panel": True, **context}, request=request
    )
