"""The project page's Targets table with each target's measured values (projects cannot import
deployments, so its template loads this tag): deployments/target_values.py reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from deployments.target_values import target_values

if TYPE_CHECKING:
    from projects.models import Project

register = template.Library()


@register.simple_tag(takes_context=True)
def targets_table(context: template.Context, project: Project) -> SafeString:
    """Every target with its latest validation, sealed test and benchmark values, or the page's
    invitation to add targets when there are none."""
    request = context["request"]
    html = render_to_string("deployments/_targets_table.html", {
        "project": project, "rows": target_values(user=request.user, project=project),
        "can_edit": context.get("can_edit", False),
    }, request=request)
    return mark_safe(html)  # noqa: S308 - rendered by a template
