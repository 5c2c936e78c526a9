from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.utils.safestring import SafeString, mark_safe

from experiments.evaluation.panel import latest_results_panel

if TYPE_CHECKING:
    from projects.models import Project

register = template.Library()


@register.simple_tag(takes_context=True)
def latest_test_evaluation(context: template.Context, project: Project) -> SafeString:
    """The project's latest test evaluation against its targets (empty when there is none)."""
    return mark_safe(latest_results_panel(context["request"], project))  # noqa: S308 - rendered by a template
