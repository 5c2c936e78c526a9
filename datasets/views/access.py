"""A dataset version as the datasets pages reach it, through the project's access policy."""

from __future__ import annotations

from datasets import selectors
from projects import policy
from projects.access import project_for


def version_for(
    request, slug: str, ds: str, number: int, action: policy.Action | None = None, *, ready: bool = False
):
    """The project (visible, and the action allowed), the user's role, the dataset and the version."""
    project, role = project_for(request, slug, action)
    dataset = selectors.dataset_get(project=project, slug=ds)
    getter = selectors.ready_version_get if ready else selectors.version_get
    return project, role, dataset, getter(dataset=dataset, number=number)
