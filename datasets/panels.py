"""The data document deliverable's panel: the datasheets of the project's datasets."""

from __future__ import annotations

from django.template.loader import render_to_string

from datasets.datasheet import sheets
from projects import policy
from projects import selectors as project_selectors
from projects.models import DeliverableKind


def data_document_panel(request, project) -> str:
    datasets = list(project.datasets.select_related("document", "document__version").order_by("name"))
    user = request.user
    state = project_selectors.deliverable_state(project=project, kind=DeliverableKind.DATA_DOCUMENT)
    can_edit = policy.can_edit_deliverable(user=user, project=project, state=state)
    return render_to_string(
        "datasets/_data_document_panel.html",
        {"project": project, "datasets": datasets, "sheets": sheets(datasets), "can_edit": can_edit},
        request=request,
    )


def dataset_versions(project, deliverable) -> dict[str, str]:
    """The versions the data document's datasheets describe (projects.hooks version source)."""
    if deliverable.kind != DeliverableKind.DATA_DOCUMENT:
        return {}
    found = {}
    for dataset in project.datasets.select_related("document__version").order_by("name"):
        document = getattr(dataset, "document", None)
        version = document.version if document is not None else None
        if version is not None:
            found[f"dataset {dataset.name}"] = f"v{version.number} · commit {version.git_commit[:12] or 'none'}"
    return found
