"""The confusion heatmap of a test evaluation, drawn from the stored aggregates alone."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from datasets.charts import _text, style

_ACCENT = "#0f766e"
MAX_ANNOTATED_CELLS = 20


def confusion_heatmap(results: dict[str, Any]) -> str | None:
    """plotly JSON of the confusion matrix (rows: true class, columns: predicted), or None."""
    names = [_text(name) for name in results.get("class_names") or []]
    matrix = results.get("confusion") or []
    if not names or not matrix:
        return None
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names[: len(matrix[0])],
            y=names,
            colorscale=[[0.0, "#f8fafc"], [1.0, _ACCENT]],
            colorbar={"title": {"text": "items"}},
            texttemplate="%{z}" if len(names) <= MAX_ANNOTATED_CELLS else None,
            hovertemplate="true %{y}, predicted %{x}: %{z} items<extra></extra>",
        )
    )
    style(figure, height=420, title="Confusion on the test split", x_title="predicted class", y_title="true class")
    # Class names are categories even when they look like numbers (digits); the first on top.
    figure.update_xaxes(type="category")
    figure.update_yaxes(type="category", autorange="reversed")
    return figure.to_json()
