"""plotly figures of an agreement report, built from the result dict alone (see
`datasets.annotation.agreement`), never from the annotations, and rendered by the bundled plotly.js."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

from datasets.charts import style

_INK, _ACCENT, _SECOND = "#1f2a44", "#0f766e", "#b45309"
# Beyond this many rows, numbers written in the cells would overlap; hover still shows them.
MAX_ANNOTATED_CELLS = 20


def agreement_figures(result: dict[str, Any], timeline: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Figure name → plotly JSON, in the order a campaign's agreement page shows them."""
    figures = {
        "pairwise_kappa": pairwise_kappa_heatmap(result),
        "label_confusion": label_confusion_heatmap(result),
        "per_label_alpha": per_label_alpha_bars(result),
        "agreement_over_time": agreement_over_time_chart(timeline or []),
    }
    return {name: figure.to_json() for name, figure in figures.items() if figure is not None}


def pairwise_kappa_heatmap(result: dict[str, Any]) -> go.Figure | None:
    """Cohen's kappa of every annotator pair, symmetric, on a fixed −1..1 scale so colours mean
    the same in every campaign; blank where a pair shares no unit or kappa is undefined."""
    names = [_text(name) for name in result["annotators"]]
    if len(names) < 2:
        return None
    kappa: list[list[float | None]] = [[None] * len(names) for _ in names]
    units: list[list[int]] = [[0] * len(names) for _ in names]
    for pair in result["pairwise_cohen"]:
        a, b = pair["a"], pair["b"]
        kappa[a][b] = kappa[b][a] = pair["kappa"]
        units[a][b] = units[b][a] = pair["units"]
    figure = go.Figure(
        go.Heatmap(
            z=kappa,
            x=names,
            y=names,
            customdata=units,
            zmin=-1,
            zmax=1,
            zmid=0,
            colorscale="RdBu",
            colorbar={"title": {"text": "kappa"}},
            texttemplate="%{z:.2f}" if len(names) <= MAX_ANNOTATED_CELLS else None,
            hovertemplate="%{y} and %{x}: kappa %{z:.3f} on %{customdata} shared units<extra></extra>",
            hoverongaps=False,
        )
    )
    style(figure, height=360, title="Cohen's kappa between annotators", x_title="annotator", y_title="annotator")
    _categories(figure)
    return figure


def label_confusion_heatmap(result: dict[str, Any]) -> go.Figure | None:
    """How often label x by one annotator met label y by another on the same unit (symmetric:
    every pair of annotators is counted both ways)."""
    labels = [_text(label) for label in result["labels"]]
    confusion = result.get("confusion") or []
    if not labels or not any(any(row) for row in confusion):
        return None
    figure = go.Figure(
        go.Heatmap(
            z=confusion,
            x=labels,
            y=labels,
            colorscale=[[0.0, "#f8fafc"], [1.0, _ACCENT]],
            colorbar={"title": {"text": "pairs"}},
            texttemplate="%{z}" if len(labels) <= MAX_ANNOTATED_CELLS else None,
            hovertemplate="%{y} met %{x}: %{z} times<extra></extra>",
        )
    )
    style(
        figure,
        height=360,
        title="Labels given to the same unit",
        x_title="label by another annotator",
        y_title="label by one annotator",
    )
    _categories(figure)
    return figure


def per_label_alpha_bars(result: dict[str, Any]) -> go.Figure | None:
    """Nominal alpha of every label as a yes/no question, with its bootstrap interval."""
    rows = result.get("per_label") or []
    if not rows:
        return None
    values = [row["krippendorff_alpha"]["value"] for row in rows]
    intervals = [row["krippendorff_alpha"]["ci"] for row in rows]
    figure = go.Figure(
        go.Bar(
            x=[_text(row["label"]) for row in rows],
            y=values,
            marker_color=_ACCENT,
            customdata=[row["units"] for row in rows],
            hovertemplate="%{x}: alpha %{y:.3f} (%{customdata} units with the label)<extra></extra>",
        )
    )
    if any(interval for interval in intervals):
        figure.update_traces(
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [_gap(ci, value, 1) for ci, value in zip(intervals, values, strict=True)],
                "arrayminus": [_gap(ci, value, 0) for ci, value in zip(intervals, values, strict=True)],
                "color": _INK,
            }
        )
    basis = (
        "each label's units" if result.get("per_label_basis") == "label units" else "one label vs the rest"
    )
    style(figure, height=360, title=f"Krippendorff's alpha per label ({basis})", x_title="label", y_title="alpha")
    figure.update_xaxes(type="category")
    return figure


def agreement_over_time_chart(timeline: list[dict[str, Any]]) -> go.Figure | None:
    """Percent agreement and nominal alpha per time bucket, with bands for their intervals."""
    if not timeline:
        return None
    starts = [bucket["start"] for bucket in timeline]
    figure = go.Figure()
    for key, name, colour in (
        ("percent_agreement", "percent agreement", _ACCENT),
        ("krippendorff_alpha", "Krippendorff's alpha", _SECOND),
    ):
        estimates = [bucket[key] for bucket in timeline]
        if any(estimate["ci"] for estimate in estimates):
            # Upper bound, then lower bound filled up to it: the band of the interval.
            figure.add_scatter(
                x=starts,
                y=[(e["ci"] or [None, None])[1] for e in estimates],
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                legendgroup=key,
            )
            figure.add_scatter(
                x=starts,
                y=[(e["ci"] or [None, None])[0] for e in estimates],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_translucent(colour),
                showlegend=False,
                hoverinfo="skip",
                legendgroup=key,
            )
        figure.add_scatter(
            x=starts,
            y=[e["value"] for e in estimates],
            mode="lines+markers",
            name=name,
            line={"color": colour},
            legendgroup=key,
            customdata=[bucket["units"] for bucket in timeline],
            hovertemplate=f"%{{x}}: {name} %{{y:.3f}} over %{{customdata}} units<extra></extra>",
        )
    style(
        figure,
        height=360,
        title="Agreement over time (units by their last label)",
        x_title="time",
        y_title="agreement",
        legend=True,
    )
    return figure


def _gap(interval: list[float] | None, value: float | None, side: int) -> float | None:
    if not interval or value is None:
        return None
    return abs(interval[side] - value)


def _translucent(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.18)"


def _categories(figure: go.Figure) -> None:
    # Names are categories even when they look like numbers (annotator ids); the first one on top.
    figure.update_xaxes(type="category")
    figure.update_yaxes(type="category", autorange="reversed")


def _text(value: Any) -> str:
    # plotly.js reads a little HTML in labels; names from the data are shown as text.
    return html.escape(str(value), quote=False)
