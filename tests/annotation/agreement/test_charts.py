"""plotly figures of an agreement report: they show exactly the numbers of the result."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from datasets.annotation.agreement import (
    CodedAnnotations,
    agreement_over_time,
    code_single,
    compute_agreement,
)
from datasets.annotation.agreement.charts import (
    agreement_figures,
    agreement_over_time_chart,
    label_confusion_heatmap,
    pairwise_kappa_heatmap,
    per_label_alpha_bars,
)

ANNOTATORS = ["asha", "ravi", "मीरा", "علی"]
LABELS = ["PER", "LOC", "ORG"]


@pytest.fixture(scope="module")
def result() -> dict:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, 200)
    codes = np.where(rng.random((200, 4)) < 0.75, truth[:, None], rng.integers(0, 3, (200, 4)))
    codes[rng.random((200, 4)) < 0.2] = -1
    codes[:100, 3] = -1
    codes[100:, 0] = -1  # asha and علی share no unit
    return compute_agreement(CodedAnnotations.from_matrix(codes, LABELS, annotators=ANNOTATORS))


def test_kappa_heatmap_shows_the_pairwise_kappas_between_named_annotators(result):
    figure = pairwise_kappa_heatmap(result)
    heatmap = figure.data[0]
    assert list(heatmap.x) == ANNOTATORS and list(heatmap.y) == ANNOTATORS
    z = [list(row) for row in heatmap.z]
    for pair in result["pairwise_cohen"]:
        assert z[pair["a"]][pair["b"]] == pair["kappa"] == z[pair["b"]][pair["a"]]
    assert z[0][3] is None  # no shared unit: a blank cell, not a zero
    assert all(z[i][i] is None for i in range(len(ANNOTATORS)))
    assert (heatmap.zmin, heatmap.zmax) == (-1, 1)
    assert heatmap.texttemplate == "%{z:.2f}"
    assert figure.layout.yaxis.autorange == "reversed"


def test_confusion_heatmap_shows_the_confusion_matrix_between_labels(result):
    heatmap = label_confusion_heatmap(result).data[0]
    assert [list(row) for row in heatmap.z] == result["confusion"]
    assert list(heatmap.x) == LABELS and list(heatmap.y) == LABELS


def test_per_label_bars_show_alpha_with_its_interval(result):
    bar = per_label_alpha_bars(result).data[0]
    assert list(bar.x) == LABELS
    assert list(bar.y) == [row["krippendorff_alpha"]["value"] for row in result["per_label"]]
    for row, above, below in zip(result["per_label"], bar.error_y.array, bar.error_y.arrayminus, strict=True):
        low, high = row["krippendorff_alpha"]["ci"]
        assert row["krippendorff_alpha"]["value"] + above == pytest.approx(high)
        assert row["krippendorff_alpha"]["value"] - below == pytest.approx(low)


def test_timeline_chart_draws_each_series_with_its_band():
    start = datetime(2025, 5, 5, tzinfo=UTC)
    annotations = [
        (item, who, "a" if (item + who) % 5 else "b", start + timedelta(days=item % 4))
        for item in range(80)
        for who in range(3)
    ]
    timeline = agreement_over_time(code_single(annotations, ["a", "b"]))
    figure = agreement_over_time_chart(timeline)
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert [trace.name for trace in lines] == ["percent agreement", "Krippendorff's alpha"]
    assert list(lines[0].y) == [bucket["percent_agreement"]["value"] for bucket in timeline]
    assert list(lines[1].y) == [bucket["krippendorff_alpha"]["value"] for bucket in timeline]
    assert list(lines[0].x) == [bucket["start"] for bucket in timeline]
    bands = [trace for trace in figure.data if trace.fill == "tonexty"]
    assert len(bands) == 2
    assert list(bands[0].y) == [bucket["percent_agreement"]["ci"][0] for bucket in timeline]


def test_figures_are_left_out_when_there_is_nothing_to_draw():
    lone = compute_agreement(CodedAnnotations.from_matrix(np.array([[0], [1]]), ["a", "b"]))
    assert pairwise_kappa_heatmap(lone) is None
    assert label_confusion_heatmap(lone) is None
    assert agreement_over_time_chart([]) is None
    assert set(agreement_figures(lone)) == {"per_label_alpha"}


def test_agreement_figures_serialise_every_figure(result):
    figures = agreement_figures(result)
    assert list(figures) == ["pairwise_kappa", "label_confusion", "per_label_alpha"]
    for spec in figures.values():
        assert json.loads(spec)["data"]


def test_names_are_shown_as_text_not_markup():
    codes = np.array([[0, 0], [1, 0], [1, 1]])
    result = compute_agreement(
        CodedAnnotations.from_matrix(codes, ["<b>x</b>", "y"], annotators=["<i>a</i>", "b"])
    )
    assert list(pairwise_kappa_heatmap(result).data[0].x) == ["&lt;i&gt;a&lt;/i&gt;", "b"]
    assert list(label_confusion_heatmap(result).data[0].x) == ["&lt;b&gt;x&lt;/b&gt;", "y"]
