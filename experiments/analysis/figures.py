"""The error-analysis charts, built in Python in the house style (datasets.charts.style) and
rendered by the bundled plotly.js. Each function returns the figure's JSON, or None with nothing
to draw."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from datasets.charts import _text, style
from experiments.curves.figures import PALETTE

# A heatmap past this many classes is unreadable: it shows the classes with the most items.
MAX_HEATMAP_CLASSES = 40
MAX_BAR_CLASSES = 50
_MEASURES = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"))


def confusion_figure(confusion: dict[str, Any]) -> str | None:
    labels, matrix = confusion["labels"], confusion["matrix"]
    if not labels:
        return None
    keep = list(range(len(labels)))
    title = "Confusion (rows: true class, columns: predicted)"
    if len(labels) > MAX_HEATMAP_CLASSES:
        keep = sorted(sorted(keep, key=lambda i: -sum(matrix[i]))[:MAX_HEATMAP_CLASSES])
        title = f"Confusion of the {MAX_HEATMAP_CLASSES} largest of {len(labels)} classes"
    names = [_text(labels[i]) for i in keep]
    counts = [[matrix[i][j] for j in keep] for i in keep]
    # Colour is the share of the true class's items (a row), so small classes' errors show too.
    shares = [[c / (sum(matrix[i]) or 1) for c in row] for i, row in zip(keep, counts, strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=shares, x=names, y=names, text=counts, texttemplate="%{text}" if len(keep) <= 15 else None,
            colorscale=[[0, "#f8fafc"], [1, PALETTE[0]]], zmin=0, zmax=1,
            colorbar={"title": {"text": "share of row"}, "tickformat": ".0%"},
            hovertemplate="true %{y}, predicted %{x}: %{text} items (%{z:.0%} of the row)<extra></extra>",
        )
    )
    size = max(320, min(720, 120 + 26 * len(keep)))
    style(fig, title=title, x_title="predicted", y_title="true", height=size)
    fig.update_xaxes(type="category", side="bottom")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig.to_json()


def per_class_figure(rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    shown = sorted(rows, key=lambda r: -r["support"])[:MAX_BAR_CLASSES]
    fig = go.Figure()
    for (field, name), colour in zip(_MEASURES, PALETTE, strict=False):
        fig.add_bar(
            x=[_text(r["label"]) for r in shown], y=[r[field] for r in shown], name=name, marker_color=colour,
            hovertemplate=f"%{{x}}: {name.lower()} %{{y:.3f}}<extra></extra>",
        )
    title = "Per-class precision, recall and F1"
    if len(rows) > len(shown):
        title += f" (the {len(shown)} largest of {len(rows)} classes)"
    style(fig, title=title, x_title="class", legend=True, height=340)
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.05])
    return fig.to_json()


def slice_figure(column: str, rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    fig = go.Figure()
    x = [_text(r["value"]) for r in rows]
    counts = [r["count"] for r in rows]
    for (field, name), colour in zip((("accuracy", "Accuracy"), ("macro_f1", "Macro-F1")), PALETTE, strict=False):
        fig.add_bar(
            x=x, y=[r[field] for r in rows], name=name, marker_color=colour, customdata=counts,
            hovertemplate=f"%{{x}}: {name.lower()} %{{y:.3f}} over %{{customdata}} items<extra></extra>",
        )
    style(fig, title=f"By {_text(column)}", x_title=_text(column), legend=True, height=320)
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.05])
    return fig.to_json()


def compare_figure(rows: list[dict[str, Any]], a_name: str, b_name: str) -> str | None:
    if not rows:
        return None
    shown = rows[:MAX_BAR_CLASSES]
    fig = go.Figure()
    for field, name, colour in (("a_f1", a_name, PALETTE[0]), ("b_f1", b_name, PALETTE[1])):
        fig.add_bar(
            x=[_text(r["label"]) for r in shown], y=[r[field] for r in shown], name=_text(name), marker_color=colour,
            hovertemplate="%{x}: F1 %{y:.3f}<extra>%{fullData.name}</extra>",
        )
    style(fig, title="Per-class F1 of the two runs", x_title="class", y_title="F1", legend=True, height=340)
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.05])
    return fig.to_json()
