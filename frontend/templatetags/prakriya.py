import functools
import json
import re

from django import template
from django.contrib.staticfiles import finders
from django.utils.html import format_html, format_html_join

from prakriya.accounts import selectors as account_selectors
from prakriya.jobs.display import job_waiting, without_server_paths
from prakriya.lib.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text):
    return render_markdown(text)


@register.filter(name="no_server_paths")
def no_server_paths_filter(text):
    """An error or log line with the server's folders named by role (prakriya.jobs.display)."""
    return without_server_paths(text)


# Trace types plotly.js draws with WebGL through code it compiles at run time (regl, stack.gl).
_EVAL_TRACES = frozenset({
    "scattergl", "scatterpolargl", "splom", "parcoords", "scatter3d", "surface", "mesh3d", "cone",
    "streamtube", "volume", "isosurface",
})


@register.simple_tag(takes_context=True)
def plotly_figure(context, figure_json: str | None, element_id: str, label: str = "Chart"):
    """A container the charts script fills from the figure JSON embedded beside it. A WebGL chart
    widens its page's Content-Security-Policy to allow eval (prakriya/csp.py)."""
    if not figure_json:
        return ""
    request = context.get("request")
    if request is not None and _EVAL_TRACES & _trace_types(figure_json):
        request.csp_allows_eval = True
    return format_html(
        '<div class="chart" id="{}" role="img" aria-label="{}"></div>'
        '<script type="application/json" data-plotly-for="{}">{}</script>',
        element_id,
        label,
        element_id,
        _escape_json(figure_json),
    )


@functools.cache
def _plotly_style_ids() -> tuple[str, ...]:
    """The ids of the style elements plotly.js makes for itself unless the page has them already:
    its global sheet (which it then fills with CSSOM rules) and the map library's CSS (left out:
    the platform draws no maps). Read from the bundled file, so a new plotly.js brings its own."""
    ids = ["plotly.js-style-global"]
    path = finders.find("plotly/plotly.min.js")
    if path:
        with open(path, encoding="utf-8") as bundle:
            ids += re.findall(r'getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document\.createElement\("style"\)',
                              bundle.read())
    return tuple(dict.fromkeys(ids))


@register.simple_tag(takes_context=True)
def plotly_style_sheets(context) -> str:
    """Empty style elements carrying the page's Content-Security-Policy nonce, under the ids plotly.js
    looks for: it uses them instead of making style elements the policy would refuse."""
    request = context.get("request")
    nonce = getattr(request, "csp_nonce", "") if request is not None else ""
    return format_html_join("", '<style id="{}" nonce="{}"></style>', ((i, nonce) for i in _plotly_style_ids()))


@register.simple_tag(takes_context=True)
def webgl_charts(context) -> str:
    """Marks a page whose live charts may turn to WebGL after it loaded (runs.js redraws them as
    data arrives: a long curve becomes scattergl, a grid search's first result a parcoords):
    its Content-Security-Policy allows eval from the start (prakriya/csp.py)."""
    request = context.get("request")
    if request is not None:
        request.csp_allows_eval = True
    return ""


def _trace_types(figure_json: str) -> set[str]:
    try:
        data = json.loads(figure_json).get("data") or []
    except (ValueError, AttributeError):
        return set()
    return {trace.get("type", "scatter") for trace in data if isinstance(trace, dict)}


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


register.filter("user_label", account_selectors.user_label)


@register.filter
def num(value) -> str:
    """A number as people write it: 2.5, 0.97, 20 — no padded decimals."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return ""


@register.filter
def job_message(job) -> str:
    """What a job says now: why it waits while queued (its queue, the jobs ahead), else its message."""
    return job_waiting(job) or without_server_paths(job.message)


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
    from projects.policy import can_create_projects as allowed

    return allowed(user)
