"""Charts of a deployment's traffic, from the prediction log's aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from datasets.charts import style


def traffic_figure(rows: Sequence[dict[str, Any]], labels: dict[int, str]) -> str | None:
    """Predictions per minute by the version that answered, and their mean confidence."""
    if not rows:
        return None
    figure = go.Figure()
    for export_id in sorted({row["export_id"] for row in rows}):
        mine = [row for row in rows if row["export_id"] == export_id]
        figure.add_trace(go.Bar(x=[row["minute"] for row in mine], y=[row["count"] for row in mine],
                                name=labels.get(export_id, f"Export {export_id}")))
    figure.add_trace(go.Scatter(x=[row["minute"] for row in rows], y=[row["confidence"] for row in rows],
                                name="mean confidence", mode="markers", yaxis="y2", marker={"color": "#0f172a"}))
    style(figure, title="Predictions per minute by version", x_title="minute", y_title="predictions", legend=True)
    figure.update_layout(barmode="stack", yaxis2={"title": {"text": "mean confidence"}, "overlaying": "y",
                                                  "side": "right", "range": [0, 1]})
    # Minutes, not plotly's automatic sub-second ticks when the log spans a single minute.
    figure.update_xaxes(type="date", tickformat="%H:%M\n%b %d")
    if len({row["minute"] for row in rows}) < 10:
        figure.update_xaxes(dtick=60_000)
    return figure.to_json()
