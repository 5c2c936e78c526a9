"""The benchmark's chart: latency percentiles of the ONNX model under ONNX Runtime beside the
original model, per batch size, drawn from the stored results alone."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from datasets.charts import style

_COLOURS = {"onnx": "#0f766e", "original": "#94a3b8"}
STATS = ("p50", "p95", "p99")


def latency_figure(results: dict[str, Any]) -> str | None:
    """plotly JSON: grouped bars, one group per (batch size, percentile), ONNX vs original; None
    before there are results."""
    engines = [(key, results.get(key)) for key in ("onnx", "original") if results.get(key)]
    if not engines:
        return None
    sizes = sorted({int(s) for _, engine in engines for s in (engine.get("batches") or {})})
    if not sizes:
        return None
    figure = go.Figure()
    for key, engine in engines:
        xs, ys = [], []
        for size in sizes:
            row = (engine.get("batches") or {}).get(str(size))
            for stat in STATS:
                xs.append([f"batch {size}", stat])
                ys.append(row["latency_ms"][stat] if row else None)
        figure.add_trace(go.Bar(
            name=str(engine.get("engine") or key), x=[[x[0] for x in xs], [x[1] for x in xs]], y=ys,
            marker={"color": _COLOURS[key]},
            hovertemplate="%{x}: %{y:.3f} ms<extra>" + str(engine.get("engine") or key) + "</extra>",
        ))
    style(figure, title="Latency per call (lower is better, log scale)", y_title="milliseconds", legend=True,
          height=360)
    # Log scale: ONNX Runtime is often ten times faster than eager torch, and on a linear axis its
    # bars vanish beside the original's.
    figure.update_layout(barmode="group")
    figure.update_yaxes(type="log")
    return figure.to_json()
