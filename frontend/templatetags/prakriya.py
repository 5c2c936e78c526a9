from django import template
from django.utils.html import format_html

from prakriya.jobs.display import without_server_paths
from prakriya.lib.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    return render_markdown(text)


@register.filter(name="no_server_paths")
def no_server_paths_filter(text):
    """An error or log line with the server's folders named by role (prakriya.jobs.display)."""
    return without_server_paths(text)


@register.simple_tag
def plotly_figure(figure_json: str | None, element_id: str, label: str = "Chart"):
    """A container the charts script fills from the figure JSON embedded beside it."""
    if not figure_json:
        return ""
    return format_html(
        '<div class="chart" id="{}" role="img" aria-label="{}"></div>'
        '<script type="application/json" data-plotly-for="{}">{}</script>',
        element_id,
        label,
        element_id,
        _escape_json(figure_json),
    )


def _escape_json(text: str):
    from django.utils.safestring import mark_safe

    # JSON inside <script>: neutralise "</script>" and HTML-significant characters.
    return mark_safe(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S308


STATE_TONES = {
    "not_started": "muted",
    "draft": "info",
    "submitted": "warn",
    "changes_requested": "danger",
    "approved": "ok",
    "queued": "muted",
    "running": "info",
    "interrupted": "warn",
    "succeeded": "ok",
    "failed": "danger",
    "cancelled": "muted",
    "dead": "danger",
}


@register.filter
def tone(state: str) -> str:
    return STATE_TONES.get(state, "muted")


@register.filter
def user_label(user) -> str:
    if user is None:
        return "someone"
    profile = getattr(user, "profile", None)
    return profile.display_name if profile and profile.display_name else user.get_username()


@register.filter
def num(value) -> str:
    """A number as people write it: 2.5, 0.97, 20 — no padded decimals."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return ""


@register.filter
def job_label(kind: str) -> str:
    from prakriya.jobs import registry

    try:
        return registry.get(kind).label
    except LookupError:
        return kind.replace("_", " ").capitalize()


@register.filter
def can_create_projects(user) -> bool:
    """{% if user|can_create_projects %}: the "New project" links follow PRAKRIYA_PROJECT_CREATORS."""
    from projects.permissions import can_create_projects as allowed

    return allowed(user)
