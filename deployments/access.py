"""Who may read a project's deployments, as pages and the API say it: the project through the
visibility selector (404), then VIEW_DEPLOYMENTS (403). One adapter for every deployments page and
API view; the rule itself is the policy's."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from rest_framework import exceptions

from projects import policy
from projects.access import project_for
from projects.api import ProjectScopedMixin

REFUSAL = "Your role in this project does not include its deployments."


def deployments_project(request, slug: str, action: policy.Action | None = None):
    """The project (404 when invisible) for a user who may read its deployments (403 otherwise),
    and their role; with an action, also requires it (projects.access.project_for)."""
    project, role = project_for(request, slug, action)
    if not policy.can(user=request.user, project=project, action=policy.VIEW_DEPLOYMENTS):
        raise PermissionDenied(REFUSAL)
    return project, role


class DeploymentsReadMixin(ProjectScopedMixin):
    """API routes under a project's deployments, exports and benchmarks."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not policy.can(user=request.user, project=self.project, action=policy.VIEW_DEPLOYMENTS):
            raise exceptions.PermissionDenied(REFUSAL)
