"""The drift chart: PSI over time, one line per feature or statistic and a bold one for the
predicted labels, with the threshold a check counts as drifted past. Drawn from the stored
reports alone (PSI values and times, never an input)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from datasets.charts import _text, style
from deployments.models import DriftReport

PALETTE = ("#0f766e", "#e69f00", "#0072b2", "#d55e00", "#cc79a7", "#009e73", "#56b4e9", "#1f2a44")
# Beyond this many features (a wide table), the ones that drifted most are drawn.
MAX_LINES = 12
_DANGER = "#b91c1c"


def _shown_features(reports: Sequence[DriftReport]) -> list[str]:
    peak: dict[str, float] = {}
    for report in reports:
        for name, feature in report.features.items():
            peak[name] = max(peak.get(name, 0.0), float(feature.get("psi") or 0.0))
    return sorted(peak, key=lambda name: (-peak[name], name))[:MAX_LINES]


def drift_figure(reports: Sequence[DriftReport], *, threshold: float) -> str | None:
    """plotly JSON of PSI over the checks, or None before the first check."""
    if not reports:
        return None
    figure = go.Figure()
    times = [r.created_at.isoformat() for r in reports]
    for index, name in enumerate(_shown_features(reports)):
        values = [(r.features.get(name) or {}).get("psi") for r in reports]
        figure.add_trace(go.Scatter(
            x=times, y=values, mode="lines+markers", name=_text(name),
            line={"color": PALETTE[index % len(PALETTE)], "width": 1.5},
            hovertemplate=f"{_text(name)}: PSI %{{y:.3f}}<extra></extra>",
        ))
    figure.add_trace(go.Scatter(
        x=times, y=[r.prediction_psi for r in reports], mode="lines+markers", name="predicted labels",
        line={"color": "#1f2a44", "width": 3, "dash": "dot"},
        hovertemplate="predicted labels: PSI %{y:.3f}<extra></extra>",
    ))
    # The threshold as a trace rather than a shape: it shows in the legend and its hover.
    figure.add_trace(go.Scatter(
        x=[times[0], times[-1]] if len(times) > 1 else times * 2, y=[threshold, threshold], mode="lines",
        name=f"threshold {threshold:g}", line={"color": _DANGER, "width": 1.5, "dash": "dash"},
        hovertemplate=f"threshold {threshold:g}<extra></extra>",
    ))
    style(figure, title="Population stability index per check", x_title="check", y_title="PSI", legend=True,
          height=420)
    figure.update_yaxes(rangemode="tozero")
    return figure.to_json()
