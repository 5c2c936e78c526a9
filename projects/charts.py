"""plotly figures for project pages, built in Python and rendered by the bundled plotly.js."""

from __future__ import annotations

import plotly.graph_objects as go

from projects.models import ValueEstimate

_INK, _ACCENT, _MUTED = "#1f2a44", "#0f766e", "#94a3b8"


def value_estimates_figure(estimates: list[ValueEstimate]) -> str | None:
    """Today against the expected outcome, one pair of bars per quantity. Quantities have
    different units, so each pair gets its own row with its own scale."""
    if not estimates:
        return None
    labels = [f"{e.quantity} ({e.unit})" if e.unit else e.quantity for e in estimates]
    fig = go.Figure()
    fig.add_bar(
        name="Today",
        y=labels,
        x=[e.current for e in estimates],
        orientation="h",
        marker_color=_MUTED,
        text=[f"{e.current:g}" for e in estimates],
        textposition="auto",
    )
    fig.add_bar(
        name="Expected with ML",
        y=labels,
        x=[e.expected for e in estimates],
        orientation="h",
        marker_color=_ACCENT,
        text=[f"{e.expected:g}" for e in estimates],
        textposition="auto",
    )
    fig.update_layout(
        barmode="group",
        height=90 + 70 * len(estimates),
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.15},
        font={"color": _INK, "family": "system-ui, sans-serif"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        yaxis={"automargin": True, "autorange": "reversed"},
        xaxis={"type": "log"} if _spans_orders(estimates) else {},
    )
    return fig.to_json()


def _spans_orders(estimates: list[ValueEstimate]) -> bool:
    values = [abs(v) for e in estimates for v in (e.current, e.expected) if v]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 1000
