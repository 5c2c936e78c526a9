"""The data document deliverable's panel: the datasheets of the project's datasets."""

from __future__ import annotations

from django.template.loader import render_to_string

from datasets.datasheet import sheets
from projects import permissions
from projects.models import DeliverableKind, DeliverableState
from projects.selectors import role_of


def data_document_panel(request, project) -> str:
    datasets = list(project.datasets.select_related("document", "document__version").order_by("name"))
    user = request.user
    frozen = project.deliverables.filter(
        kind=DeliverableKind.DATA_DOCUMENT, state__in=(DeliverableState.SUBMITTED, DeliverableState.APPROVED)
    ).exists()
    can_edit = (
        user.is_authenticated
        and not frozen
        and (
            user.is_superuser
            or permissions.allows(role_of(user=user, project=project), permissions.EDIT_DELIVERABLE)
        )
    )
    return render_to_string(
        "datasets/_data_document_panel.html",
        {"project": project, "datasets": datasets, "sheets": sheets(datasets), "can_edit": can_edit},
        request=request,
    )
