"""plotly figures of a data profile, built in Python and rendered by the bundled plotly.js.

Figures are drawn from the stored profile alone (never from the data), so they show exactly
what the profile holds and nothing about sealed items."""

from __future__ import annotations

import html

import plotly.graph_objects as go

_INK, _ACCENT, _MUTED = "#1f2a44", "#0f766e", "#94a3b8"
MAX_HISTOGRAMS = 12
MAX_BARS = 50


def profile_figures(profile: dict) -> dict[str, str]:
    """Figure name → plotly JSON, in the order a version page shows them. Per-column
    histograms are named "histogram:<column>"."""
    figures: dict[str, go.Figure | None] = {
        "class_balance": _class_balance(profile),
        "label_histogram": _label_histogram(profile),
        "missing_values": _missing_values(profile),
        "text_length": _text_histogram(profile, "chars", "Text length (characters)"),
        "text_words": _text_histogram(profile, "words", "Text length (words)"),
        "image_sizes": _image_sizes(profile),
    }
    numeric = [c for c in profile.get("columns") or [] if c.get("type") == "numeric"]
    for column in numeric[:MAX_HISTOGRAMS]:
        figures[f"histogram:{column['name']}"] = _histogram(
            (column.get("stats") or {}).get("histogram"), f"{column['name']}"
        )
    return {name: fig.to_json() for name, fig in figures.items() if fig is not None}


def _class_balance(profile: dict) -> go.Figure | None:
    balance = profile.get("class_balance") or {}
    if not balance or profile.get("label_kind") == "numeric":
        return None
    ranked = sorted(balance.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked[:MAX_BARS]
    total = int(profile.get("class_count") or len(balance))
    title = (
        "Class balance"
        if total <= len(shown)
        else f"Class balance: the {len(shown)} largest of {total} classes"
    )
    fig = go.Figure(
        go.Bar(
            x=[_text(k) for k, _ in shown],
            y=[v for _, v in shown],
            marker_color=_ACCENT,
            hovertemplate="%{x}: %{y} items<extra></extra>",
        )
    )
    style(fig, title=title, x_title="class", y_title="items")
    fig.update_xaxes(type="category")
    return fig


def _label_histogram(profile: dict) -> go.Figure | None:
    if profile.get("label_kind") != "numeric":
        return None
    return _histogram((profile.get("label_stats") or {}).get("histogram"), "Label values")


def _missing_values(profile: dict) -> go.Figure | None:
    missing = profile.get("missing") or {}
    unparsable = profile.get("unparsable") or {}
    names = list(dict.fromkeys([*missing, *unparsable]))
    if not names:
        return None
    names.sort(key=lambda n: -(missing.get(n, 0) + unparsable.get(n, 0)))
    names = names[:MAX_BARS]
    fig = go.Figure()
    fig.add_bar(
        name="missing",
        x=[_text(n) for n in names],
        y=[missing.get(n, 0) for n in names],
        marker_color=_ACCENT,
        hovertemplate="%{x}: %{y} missing<extra></extra>",
    )
    if unparsable:
        fig.add_bar(
            name="unparsable",
            x=[_text(n) for n in names],
            y=[unparsable.get(n, 0) for n in names],
            marker_color=_MUTED,
            hovertemplate="%{x}: %{y} unparsable<extra></extra>",
        )
    style(
        fig,
        title="Missing and unparsable values",
        x_title="column",
        y_title="values",
        legend=bool(unparsable),
    )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category")
    return fig


def _text_histogram(profile: dict, measure: str, title: str) -> go.Figure | None:
    summary = (profile.get("text") or {}).get(measure) or {}
    return _histogram(summary.get("histogram"), title)


def _histogram(histogram: dict | None, title: str) -> go.Figure | None:
    if not histogram or not histogram.get("counts"):
        return None
    edges, counts = histogram["edges"], histogram["counts"]
    lows, highs = edges[:-1], edges[1:]
    fig = go.Figure(
        go.Bar(
            x=[(a + b) / 2 for a, b in zip(lows, highs, strict=True)],
            y=counts,
            width=[b - a for a, b in zip(lows, highs, strict=True)],
            customdata=list(zip(lows, highs, strict=True)),
            marker={"color": _ACCENT, "line": {"color": "#ffffff", "width": 0.5}},
            hovertemplate="%{customdata[0]:.4g} to %{customdata[1]:.4g}: %{y}<extra></extra>",
        )
    )
    style(fig, title=_text(title), y_title="count")
    fig.update_layout(bargap=0)
    return fig


def _image_sizes(profile: dict) -> go.Figure | None:
    sizes = (profile.get("images") or {}).get("sizes") or []
    if not sizes:
        return None
    biggest = max(s["count"] for s in sizes)
    fig = go.Figure(
        go.Scatter(
            x=[s["width"] for s in sizes],
            y=[s["height"] for s in sizes],
            mode="markers",
            marker={
                "size": [8 + 32 * (s["count"] / biggest) ** 0.5 for s in sizes],
                "color": _ACCENT,
                "opacity": 0.7,
                "line": {"color": _INK, "width": 0.5},
            },
            customdata=[s["count"] for s in sizes],
            hovertemplate="%{x} × %{y}: %{customdata} images<extra></extra>",
        )
    )
    style(fig, title="Image sizes", x_title="width (px)", y_title="height (px)")
    return fig


def style(
    fig: go.Figure,
    *,
    title: str,
    x_title: str | None = None,
    y_title: str | None = None,
    legend: bool = False,
    height: int = 300,
) -> None:
    """The house look of every dataset and labelling chart."""
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 30},
        showlegend=legend,
        legend={"orientation": "h", "y": -0.25},
        font={"color": _INK, "family": "system-ui, sans-serif"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis={"automargin": True, "title": {"text": x_title} if x_title else None, "gridcolor": "#e2e8f0"},
        yaxis={"automargin": True, "title": {"text": y_title} if y_title else None, "gridcolor": "#e2e8f0"},
    )


def _text(value) -> str:
    # plotly.js reads a little HTML in titles and labels; names from the data are shown as text.
    return html.escape(str(value), quote=False)
