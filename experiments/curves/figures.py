"""The loss-curve figure: several runs overlaid, train solid and validation dashed, one colour per
run, built in Python and rendered by the bundled plotly.js (the view turns it into JSON)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from datasets.charts import style
from experiments.curves.downsample import DEFAULT_MAX_POINTS, Series, downsample

# Okabe–Ito, led by the house teal: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0f766e", "#e69f00", "#0072b2", "#d55e00", "#cc79a7", "#009e73", "#56b4e9", "#1f2a44")
SPLITS = (("train", "solid"), ("validation", "dash"))
# Above this many points a trace is drawn with WebGL: SVG slows down past a few thousand points
# per page, and ten runs × two splits × 2,000 points is far past that.
GL_FROM = 1000


@dataclass(frozen=True)
class RunCurves:
    """One run's curves: each a Series or a (steps, values) pair, full or already downsampled."""

    name: str
    train: Series | tuple | None = None
    validation: Series | tuple | None = None


def loss_figure(
    runs: Sequence[RunCurves],
    *,
    title: str = "Loss",
    y_title: str = "loss",
    max_points: int = DEFAULT_MAX_POINTS,
    height: int = 420,
) -> go.Figure:
    """The overlay of `runs`, at most `max_points` drawn points per series (longer series are
    downsampled here). NaN and infinite values show as ✕ markers along the top of their curve,
    at their steps; the line breaks there."""
    fig = go.Figure()
    for index, run in enumerate(runs):
        colour = PALETTE[index % len(PALETTE)]
        name = _text(run.name)
        for split, dash in SPLITS:
            curve = getattr(run, split)
            if curve is None:
                continue
            series = _series(curve, max_points)
            if not len(series):
                continue
            _add_series(fig, series, name=name, split=split, dash=dash, colour=colour, group=str(index))
    style(fig, title=_text(title), x_title="step", y_title=_text(y_title), legend=True, height=height)
    fig.update_layout(
        hovermode="closest",
        dragmode="zoom",  # drag to zoom a region, double-click to zoom back out
        # Keeps the reader's zoom and axis type when the page refreshes the figure of a live run.
        uirevision="loss-curves",
        updatemenus=[_log_toggle()],
    )
    if not fig.data:
        fig.add_annotation(
            text="No loss logged yet.", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
        )
    return fig


def _series(curve, max_points: int) -> Series:
    steps, values = (curve.steps, curve.values) if hasattr(curve, "steps") else curve
    return downsample(steps, values, max_points=max_points)


def _add_series(fig: go.Figure, series: Series, *, name: str, split: str, dash: str, colour: str, group: str):
    bad = series.nonfinite
    # plotly.js breaks a line at NaN; infinities would wreck the autorange, so they go too.
    y = np.where(bad, np.nan, series.values)
    scatter = go.Scattergl if len(series) > GL_FROM else go.Scatter
    fig.add_trace(
        scatter(
            x=series.steps,
            y=y,
            # A line needs two points: a run that logged one (an epoch so far) shows it as a dot.
            mode="lines" if len(series) > 1 else "markers",
            name=f"{name} · {split}",
            legendgroup=group,
            line={"color": colour, "dash": dash, "width": 1.5},
            marker={"color": colour, "size": 8},
            # The run's name goes in through `meta`, never into the template text itself, so a
            # name containing "%{…}" is shown, not evaluated.
            meta=name,
            hovertemplate=f"%{{meta}}<br>{split}: %{{y:.4g}}<br>step %{{x}}<extra></extra>",
        )
    )
    if bad.any():
        finite = series.values[~bad]
        top = float(finite.max()) if finite.size else 1.0
        labels = np.where(
            np.isnan(series.values[bad]), "NaN", np.where(series.values[bad] > 0, "+inf", "-inf")
        )
        fig.add_trace(
            go.Scatter(
                x=series.steps[bad],
                y=np.full(int(bad.sum()), top),
                mode="markers",
                name=f"{name} · {split} NaN/inf",
                legendgroup=group,
                showlegend=False,
                marker={"color": colour, "symbol": "x", "size": 9},
                meta=name,
                customdata=labels,
                hovertemplate=f"%{{meta}}<br>{split}: %{{customdata}}<br>step %{{x}}<extra></extra>",
            )
        )


def _log_toggle() -> dict:
    return {
        "type": "buttons",
        "direction": "right",
        "x": 1,
        "xanchor": "right",
        "y": 1.02,
        "yanchor": "bottom",
        "showactive": True,
        "buttons": [
            {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
            {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
        ],
    }


def _text(value) -> str:
    # plotly.js reads a little HTML in names and titles; a run's name is shown as text.
    return html.escape(str(value), quote=False)
