"""The literature survey's table, shared by its own page and the deliverable's page (panel)."""

from __future__ import annotations

from django.template.loader import render_to_string

from projects import policy
from projects import selectors as project_selectors
from projects.literature import selectors
from projects.models import DeliverableKind, Feasibility


def survey_context(request, project, *, sort: str = "position") -> dict:
    sort = sort if sort in selectors.SORTS else "position"
    state = project_selectors.deliverable_state(project=project, kind=DeliverableKind.LITERATURE_SURVEY)
    frozen = policy.deliverable_frozen(state)
    return {
        "entries": list(selectors.literature_list(user=request.user, project=project, sort=sort)),
        "sort": sort,
        "feasibility_max": max(Feasibility.values),
        "frozen": frozen,
        "can_edit": policy.can_edit_deliverable(user=request.user, project=project, state=state),
    }


def literature_panel(request, project) -> str:
    context = survey_context(request, project)
    return render_to_string(
        "projects/literature/_panel.html", {"project": project, "in_panel": True, **context}, request=request
    )
