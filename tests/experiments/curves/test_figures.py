"""The loss-curve overlay figure: one trace per run and split, the point cap, names, styles."""

from __future__ import annotations

import json

import numpy as np

from experiments.curves.downsample import downsample
from experiments.curves.figures import GL_FROM, PALETTE, RunCurves, loss_figure


def _curve(n, floor=0.3, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=np.int64)
    return steps, floor + 2 * np.exp(-steps / (n / 5)) + rng.normal(0, 0.05, n)


def _lines(fig):
    return [t for t in fig.data if t.mode == "lines"]


def test_one_trace_per_run_and_split_with_names_colours_and_dashes():
    runs = [
        RunCurves("baseline", train=_curve(5000), validation=_curve(50, floor=0.4)),
        RunCurves("mlp-lr0.01", train=_curve(3000, seed=1), validation=_curve(30, seed=2)),
        RunCurves("train-only", train=_curve(100, seed=3)),
        RunCurves("nothing-logged"),
    ]
    fig = loss_figure(runs)
    lines = _lines(fig)
    assert [t.name for t in lines] == [
        "baseline · train",
        "baseline · validation",
        "mlp-lr0.01 · train",
        "mlp-lr0.01 · validation",
        "train-only · train",
    ]
    assert [t.line.dash for t in lines] == ["solid", "dash", "solid", "dash", "solid"]
    assert [t.line.color for t in lines] == [PALETTE[0], PALETTE[0], PALETTE[1], PALETTE[1], PALETTE[2]]
    assert lines[0].legendgroup == lines[1].legendgroup != lines[2].legendgroup
    assert all("%{meta}" in t.hovertemplate and "%{y" in t.hovertemplate for t in lines)
    assert lines[0].meta == "baseline"
    assert fig.layout.xaxis.title.text == "step" and fig.layout.showlegend


def test_every_series_is_capped_whether_given_full_or_downsampled():
    big = _curve(1_000_000)
    fig = loss_figure(
        [RunCurves("full", train=big), RunCurves("cached", train=downsample(*big, max_points=500))],
        max_points=1500,
    )
    full, cached = _lines(fig)
    assert len(full.x) <= 1500 and len(cached.x) <= 500
    assert full.type == "scattergl"  # big series are drawn with WebGL
    assert np.max(full.y) == np.max(big[1])  # the highest spike is still drawn


def test_small_series_stay_svg_and_whole():
    steps, values = _curve(GL_FROM)
    (line,) = _lines(loss_figure([RunCurves("small", train=(steps, values))]))
    assert line.type == "scatter" and len(line.x) == GL_FROM
    assert np.array_equal(line.y, values)


def test_a_single_point_curve_is_drawn_as_a_dot_not_left_invisible():
    fig = loss_figure([RunCurves("one epoch", train=(np.array([0]), np.array([0.7])),
                                 validation=(np.array([0, 1]), np.array([0.9, 0.8])))])
    train, validation = fig.data
    assert (train.mode, list(train.y)) == ("markers", [0.7])
    assert validation.mode == "lines"


def test_nan_and_inf_break_the_line_and_show_as_markers():
    steps, values = _curve(3000)
    values[1200] = np.nan
    values[2000:] = np.inf
    fig = loss_figure([RunCurves("broken", train=(steps, values))])
    (line,) = _lines(fig)
    assert np.isnan(line.y).sum() >= 2 and np.isfinite(np.nan_to_num(line.y, nan=0)).all()
    (markers,) = [t for t in fig.data if t.mode == "markers"]
    assert markers.x[0] == 1200 and 2000 in markers.x
    assert list(markers.customdata[:2]) == ["NaN", "+inf"]
    assert not markers.showlegend and markers.legendgroup == line.legendgroup
    json.loads(fig.to_json())  # strict JSON: no bare NaN or Infinity tokens


def test_log_toggle_and_zoom():
    fig = loss_figure([RunCurves("a", train=_curve(100))])
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["linear", "log"]
    assert menu.buttons[1].args == ({"yaxis.type": "log"},)
    assert fig.layout.dragmode == "zoom" and fig.layout.uirevision


def test_names_are_shown_as_text():
    fig = loss_figure([RunCurves('<a href="javascript:alert(1)">x</a>', train=_curve(20))], title="<b>t</b>")
    (line,) = _lines(fig)
    assert "<a" not in line.name and "&lt;a href" in line.name and "<a" not in line.meta
    assert fig.layout.title.text == "&lt;b&gt;t&lt;/b&gt;"


def test_no_runs_gives_an_empty_figure_that_says_so():
    fig = loss_figure([RunCurves("empty", train=([], []))])
    assert not fig.data
    assert fig.layout.annotations[0].text == "No loss logged yet."
