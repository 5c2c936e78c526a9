"""The project page's drift warning (projects cannot import deployments, so its template loads
this tag): which deployment's latest check drifted, and its worst statistic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from deployments.drift.selectors import drift_warnings
from projects import policy

if TYPE_CHECKING:
    from projects.models import Project

register = template.Library()


@register.simple_tag(takes_context=True)
def drift_warning(context: template.Context, project: Project) -> SafeString:
    """Empty unless the latest drift check of one of the project's deployments drifted."""
    request = context["request"]
    warnings = drift_warnings(user=request.user, project=project)
    if not warnings:
        return mark_safe("")  # noqa: S308 - empty
    html = render_to_string("deployments/drift/_warning.html", {
        "project": project, "warnings": warnings,
        "can_read_drift": policy.can(user=request.user, project=project, action=policy.VIEW_PREDICTIONS),
    },
                            request=request)
    return mark_safe(html)  # noqa: S308 - rendered by a template
