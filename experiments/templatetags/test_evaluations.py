from django import template
from django.utils.safestring import mark_safe

from experiments.evaluation.panel import latest_results_panel

register = template.Library()


@register.simple_tag(takes_context=True)
def latest_test_evaluation(context, project):
    """The project's latest test evaluation against its targets (empty when there is none)."""
    return mark_safe(latest_results_panel(context["request"], project))  # noqa: S308 - rendered by a template
