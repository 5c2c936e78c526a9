"""plotly figures of the datasets pages that are not part of the profile: class balance of one
version, and before/after of two. Built from class counts that hold no sealed label."""

from __future__ import annotations

import math

import plotly.graph_objects as go

_INK, _ACCENT, _MUTED = "#1f2a44", "#0f766e", "#94a3b8"
_MAX_CLASSES = 60  # more bars than this are unreadable; the rest are summed into one


def _ordered(labels: set[str]) -> list[str]:
    # Numeric class names (digits) sort as numbers, the rest as text.
    return sorted(labels, key=lambda label: (0, float(label), "") if _is_number(label) else (1, 0.0, label))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _capped(labels: list[str], *counts: dict[str, int]) -> tuple[list[str], list[list[int]]]:
    if len(labels) <= _MAX_CLASSES:
        return labels, [[c.get(label, 0) for label in labels] for c in counts]
    biggest = sorted(labels, key=lambda label: -max(c.get(label, 0) for c in counts))[: _MAX_CLASSES - 1]
    kept = [label for label in labels if label in set(biggest)]
    rest = [label for label in labels if label not in set(biggest)]
    values = [[c.get(label, 0) for label in kept] + [sum(c.get(label, 0) for label in rest)] for c in counts]
    return [*kept, f"{len(rest)} other classes"], values


def _layout(fig: go.Figure, *, legend: bool) -> None:
    fig.update_layout(
        barmode="group",
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        showlegend=legend,
        legend={"orientation": "h", "y": -0.2},
        font={"color": _INK, "family": "system-ui, sans-serif"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis={"type": "category", "automargin": True, "title": {"text": "class"}},
        yaxis={"automargin": True, "title": {"text": "items"}},
    )


def class_balance_figure(balance: dict[str, int]) -> str | None:
    """Items per class of one version (visible labels only)."""
    if not balance:
        return None
    labels, (values,) = _capped(_ordered(set(balance)), balance)
    fig = go.Figure()
    fig.add_bar(x=labels, y=values, marker_color=_ACCENT, name="items", text=values, textposition="auto")
    _layout(fig, legend=False)
    return fig.to_json()


def balance_diff_figure(
    before: dict[str, int], after: dict[str, int], *, old_name: str, new_name: str
) -> str | None:
    """Items per class before and after, side by side."""
    if not before and not after:
        return None
    labels, (old_values, new_values) = _capped(_ordered(set(before) | set(after)), before, after)
    fig = go.Figure()
    fig.add_bar(x=labels, y=old_values, name=old_name, marker_color=_MUTED)
    fig.add_bar(x=labels, y=new_values, name=new_name, marker_color=_ACCENT)
    _layout(fig, legend=True)
    return fig.to_json()
