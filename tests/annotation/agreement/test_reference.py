"""Agreement statistics against the reference implementations (scikit-learn, statsmodels, the
`krippendorff` package) and against hand-computed textbook examples, to 1e-9."""

from __future__ import annotations

import json
import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from datasets.annotation.agreement import (
    CodedAnnotations,
    cohen_kappa,
    compute_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)

TOLERANCE = 1e-9


def simulate(
    seed: int, units: int, annotators: int, labels: int, accuracy: float = 0.7, missing: float = 0.0
) -> np.ndarray:
    """(units, annotators) codes: each annotator gives the hidden truth with probability
    `accuracy`, else a random label; a `missing` share of cells is -1."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, units)
    codes = np.where(
        rng.random((units, annotators)) < accuracy,
        truth[:, None],
        rng.integers(0, labels, (units, annotators)),
    )
    codes[rng.random((units, annotators)) < missing] = -1
    return codes


def reliability(codes: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """The krippendorff package's input: annotators × units, NaN for missing."""
    numbers = codes.astype(float) if values is None else np.asarray(values, dtype=float)[np.maximum(codes, 0)]
    return np.where(codes >= 0, numbers, np.nan).T


def counts_table(codes: np.ndarray, labels: int) -> np.ndarray:
    return np.stack([(codes == k).sum(axis=1) for k in range(labels)], axis=1)


def sklearn_kappa(first: np.ndarray, second: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning when kappa is undefined
        return float(cohen_kappa_score(first, second))


def names(count: int) -> list[str]:
    return [f"L{k}" for k in range(count)]


# seed, units, annotators, labels, accuracy, missing — each row exercises a different path:
# dense rows reduced to their distinct patterns, dense rows too varied for that (many labels),
# label-count keys found by counting, by sorting, and by sorting count rows (40 labels).
DATASETS = [
    pytest.param(1, 300, 3, 4, 0.7, 0.0, id="complete-3x4"),
    pytest.param(2, 400, 4, 5, 0.6, 0.25, id="missing-4x5"),
    pytest.param(3, 250, 2, 2, 0.8, 0.1, id="two-labels-two-annotators"),
    pytest.param(4, 500, 5, 12, 0.5, 0.3, id="many-labels"),
    pytest.param(5, 300, 3, 40, 0.6, 0.1, id="forty-labels"),
    pytest.param(6, 600, 4, 60, 0.6, 0.2, id="sixty-labels-unpatterned"),
    pytest.param(7, 200, 6, 3, 0.9, 0.5, id="sparse-six"),
    pytest.param(8, 200, 3, 5, 1.0, 0.0, id="all-agree"),
    pytest.param(9, 300, 12, 4, 0.7, 0.7, id="twelve-annotators-repacked"),
]


@pytest.mark.parametrize(("seed", "units", "annotators", "labels", "accuracy", "missing"), DATASETS)
def test_alpha_equals_the_krippendorff_package_at_every_level(
    seed, units, annotators, labels, accuracy, missing
):
    codes = simulate(seed, units, annotators, labels, accuracy, missing)
    codes[0] = -1
    codes[1, 1:] = -1  # a unit with a single label: unpairable
    result = compute_agreement(CodedAnnotations.from_matrix(codes, names(labels)), ordered=True, resamples=0)
    for level in ("nominal", "ordinal", "interval"):
        ours = result["krippendorff_alpha"][level]["value"]
        if accuracy == 1.0:
            # Everyone agrees: alpha is 1 whatever the level.
            assert ours == pytest.approx(1.0, abs=TOLERANCE)
            continue
        expected = krippendorff.alpha(reliability_data=reliability(codes), level_of_measurement=level)
        assert ours == pytest.approx(expected, abs=TOLERANCE), level


@pytest.mark.parametrize(("seed", "units", "annotators", "labels", "accuracy", "missing"), DATASETS)
def test_cohen_kappa_of_every_pair_equals_scikit_learn(seed, units, annotators, labels, accuracy, missing):
    codes = simulate(seed, units, annotators, labels, accuracy, missing)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, names(labels)), resamples=0)
    assert len(result["pairwise_cohen"]) == annotators * (annotators - 1) // 2
    for pair in result["pairwise_cohen"]:
        a, b = pair["a"], pair["b"]
        shared = (codes[:, a] >= 0) & (codes[:, b] >= 0)
        assert pair["units"] == int(shared.sum())
        if not shared.any():
            assert pair["kappa"] is None
            continue
        expected = sklearn_kappa(codes[shared, a], codes[shared, b])
        if np.isnan(expected):
            assert pair["kappa"] is None
        else:
            assert pair["kappa"] == pytest.approx(expected, abs=TOLERANCE)
        assert pair["agreement"] == pytest.approx(
            np.mean(codes[shared, a] == codes[shared, b]), abs=TOLERANCE
        )


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize(("annotators", "labels"), [(3, 3), (5, 2), (10, 7)])
def test_fleiss_kappa_equals_statsmodels_on_complete_data(seed, annotators, labels):
    codes = simulate(seed, 400, annotators, labels, accuracy=0.6)
    ours = fleiss_kappa(CodedAnnotations.from_matrix(codes, names(labels)))
    assert ours == pytest.approx(statsmodels_fleiss(counts_table(codes, labels)), abs=TOLERANCE)


def gwet_generalised_fleiss(codes: np.ndarray, labels: int) -> float:
    """Gwet's generalisation (irrCAC fleiss.kappa.raw), written out unit by unit."""
    agreement, proportions, pairable, rated = 0.0, np.zeros(labels), 0, 0
    for row in codes:
        given = row[row >= 0]
        if len(given) == 0:
            continue
        counts = np.bincount(given, minlength=labels)
        rated += 1
        proportions += counts / len(given)
        if len(given) >= 2:
            pairable += 1
            agreement += (counts * (counts - 1)).sum() / (len(given) * (len(given) - 1))
    observed, expected = agreement / pairable, ((proportions / rated) ** 2).sum()
    return (observed - expected) / (1 - expected)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_fleiss_kappa_with_varying_ratings_is_gwets_generalisation(seed):
    codes = simulate(seed, 300, 5, 4, accuracy=0.6, missing=0.4)
    ours = compute_agreement(CodedAnnotations.from_matrix(codes, names(4)), resamples=0)["fleiss_kappa"][
        "value"
    ]
    assert ours == pytest.approx(gwet_generalised_fleiss(codes, 4), abs=TOLERANCE)


def test_fleiss_kappa_on_units_with_different_rating_counts_by_hand():
    # u0: a a b (1 agreeing pair of 3), u1: a a (1 of 1), u2: b (unpairable, but counts in π).
    codes = np.array([[0, 0, 1], [0, 0, -1], [1, -1, -1]])
    # P_a = (1/3 + 1) / 2 = 2/3; π = ((2/3 + 1 + 0) / 3, (1/3 + 0 + 1) / 3) = (5/9, 4/9);
    # P_e = 41/81; kappa = (2/3 − 41/81) / (1 − 41/81) = 13/40.
    data = CodedAnnotations.from_matrix(codes, ["a", "b"])
    assert fleiss_kappa(data) == pytest.approx(13 / 40, abs=TOLERANCE)
    # Pairs: 3 on u0 (1 agreeing), 1 on u1 (agreeing): 2 of 4.
    assert percent_agreement(data) == pytest.approx(0.5, abs=TOLERANCE)
    # Coincidences o = [[3, 1], [1, 0]], n = 5: D_o = 2, D_e = (25 − 17) / 4 = 2, alpha = 0.
    assert krippendorff_alpha(data) == pytest.approx(0.0, abs=TOLERANCE)
    assert krippendorff.alpha(
        reliability_data=reliability(codes), level_of_measurement="nominal"
    ) == pytest.approx(0.0, abs=TOLERANCE)


def test_fleiss_kappa_textbook_example():
    # Fleiss (1971) as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    codes = np.array([np.repeat(np.arange(5), row) for row in table])
    result = compute_agreement(CodedAnnotations.from_matrix(codes, list("12345")), resamples=0)
    assert result["fleiss_kappa"]["value"] == pytest.approx(0.20993070442195522, abs=TOLERANCE)
    assert round(result["fleiss_kappa"]["value"], 3) == 0.210
    assert result["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss(table), abs=TOLERANCE)


def test_krippendorff_textbook_example():
    # Krippendorff, "Computing Krippendorff's alpha-reliability" (2011): 4 observers, 12 units,
    # values 1..5, missing data; alpha nominal 0.743, ordinal 0.815, interval 0.849.
    nan = np.nan
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    codes = np.where(np.isnan(data), -1, data - 1).T.astype(int)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, list("12345")), ordered=True, resamples=0)
    alpha = result["krippendorff_alpha"]
    assert round(alpha["nominal"]["value"], 3) == 0.743
    assert round(alpha["ordinal"]["value"], 3) == 0.815
    assert round(alpha["interval"]["value"], 3) == 0.849
    for level in ("nominal", "ordinal", "interval"):
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert alpha[level]["value"] == pytest.approx(expected, abs=TOLERANCE)
    # Unit 12 has a single value: unpairable, so it is labelled but not among the pairable units.
    assert result["units_labelled"] == 12
    assert result["units_with_pairs"] == 11


def test_cohen_kappa_textbook_example():
    # Wikipedia: 50 grant proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15: kappa 0.4.
    assert cohen_kappa(np.array([[20, 5], [10, 15]])) == pytest.approx(0.4, abs=TOLERANCE)
    first = np.repeat([0, 0, 1, 1], [20, 5, 10, 15])
    second = np.repeat([0, 1, 0, 1], [20, 5, 10, 15])
    result = compute_agreement(CodedAnnotations.from_matrix(np.column_stack([first, second]), ["yes", "no"]))
    assert result["pairwise_cohen"][0]["kappa"] == pytest.approx(0.4, abs=TOLERANCE)


@pytest.mark.parametrize("seed", [31, 32])
def test_interval_alpha_uses_the_label_values(seed):
    codes = simulate(seed, 300, 4, 4, accuracy=0.6, missing=0.2)
    values = [1.0, 2.0, 4.0, 8.0]
    result = compute_agreement(
        CodedAnnotations.from_matrix(codes, ["low", "mid", "high", "top"]),
        ordered=True,
        label_values=values,
        resamples=0,
    )
    expected = krippendorff.alpha(
        reliability_data=reliability(codes, values), level_of_measurement="interval"
    )
    assert result["krippendorff_alpha"]["interval"]["value"] == pytest.approx(expected, abs=TOLERANCE)
    ordinal = krippendorff.alpha(reliability_data=reliability(codes, values), level_of_measurement="ordinal")
    assert result["krippendorff_alpha"]["ordinal"]["value"] == pytest.approx(ordinal, abs=TOLERANCE)


@pytest.mark.parametrize(("seed", "missing"), [(41, 0.0), (42, 0.3)])
def test_per_label_statistics_are_those_of_the_one_vs_rest_data(seed, missing):
    labels = 4
    codes = simulate(seed, 400, 3, labels, accuracy=0.6, missing=missing)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, names(labels)), resamples=0)
    for label, row in enumerate(result["per_label"]):
        binary = np.where(codes >= 0, (codes == label).astype(int), -1)
        expected_alpha = krippendorff.alpha(
            reliability_data=reliability(binary), level_of_measurement="nominal"
        )
        assert row["krippendorff_alpha"]["value"] == pytest.approx(expected_alpha, abs=TOLERANCE)
        assert row["percent_agreement"]["value"] == pytest.approx(
            percent_agreement(CodedAnnotations.from_matrix(binary, ["other", "this"])), abs=TOLERANCE
        )
        if missing == 0.0:
            expected_fleiss = statsmodels_fleiss(counts_table(binary, 2))
        else:
            expected_fleiss = gwet_generalised_fleiss(binary, 2)
        assert row["fleiss_kappa"]["value"] == pytest.approx(expected_fleiss, abs=TOLERANCE)
        kappas = []
        for a in range(3):
            for b in range(a + 1, 3):
                shared = (binary[:, a] >= 0) & (binary[:, b] >= 0)
                kappas.append(sklearn_kappa(binary[shared, a], binary[shared, b]))
        assert row["cohen_kappa_mean"] == pytest.approx(np.nanmean(kappas), abs=TOLERANCE)
        assert row["annotations"] == int((codes == label).sum())
        assert row["units"] == int((codes == label).any(axis=1).sum())


def brute_force(codes: np.ndarray) -> dict:
    """Percent agreement, unanimity and per-annotator agreement by looping over units and pairs."""
    agreeing = pairs = unanimous = pairable = 0
    annotators = codes.shape[1]
    paired, agreed = np.zeros(annotators), np.zeros(annotators)
    for row in codes:
        given = [(a, c) for a, c in enumerate(row) if c >= 0]
        if len(given) < 2:
            continue
        pairable += 1
        unanimous += len({c for _, c in given}) == 1
        for i, (a, x) in enumerate(given):
            for b, y in given[i + 1 :]:
                pairs += 1
                agreeing += x == y
                paired[[a, b]] += 1
                agreed[[a, b]] += x == y
    return {
        "percent": agreeing / pairs,
        "unanimous": unanimous / pairable,
        "per_annotator": [agreed[a] / paired[a] if paired[a] else None for a in range(annotators)],
        "pairs": pairs,
    }


@pytest.mark.parametrize(("seed", "annotators", "missing"), [(51, 3, 0.0), (52, 5, 0.35), (53, 11, 0.6)])
def test_percent_unanimous_and_per_annotator_agreement_match_a_brute_force_count(seed, annotators, missing):
    codes = simulate(seed, 250, annotators, 3, accuracy=0.6, missing=missing)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, names(3)), resamples=0)
    expected = brute_force(codes)
    assert result["percent_agreement"]["value"] == pytest.approx(expected["percent"], abs=TOLERANCE)
    assert result["unanimous_units"]["value"] == pytest.approx(expected["unanimous"], abs=TOLERANCE)
    assert result["pairs"] == expected["pairs"]
    for row, share in zip(result["per_annotator"], expected["per_annotator"], strict=True):
        assert row["agreement"] == pytest.approx(share, abs=TOLERANCE)
        assert row["annotations"] == int((codes[:, row["annotator"]] >= 0).sum())
    # The confusion matrix counts each pair both ways: symmetric, total twice the pairs.
    confusion = np.array(result["confusion"])
    assert (confusion == confusion.T).all()
    assert confusion.sum() == 2 * expected["pairs"]
    assert np.trace(confusion) == pytest.approx(2 * expected["percent"] * expected["pairs"])


@pytest.mark.parametrize(("annotators", "labels", "seed"), [(20, 5, 61), (40, 60, 62)])
def test_sparse_input_gives_the_same_result_as_the_dense_matrix(annotators, labels, seed):
    # Many annotators labelling a few units each (overlap 3), given in shuffled order.
    rng = np.random.default_rng(seed)
    units = 500
    truth = rng.integers(0, labels, units)
    chosen = np.argsort(rng.random((units, annotators)), axis=1)[:, :3]
    unit = np.repeat(np.arange(units), 3)
    annotator = chosen.ravel()
    code = np.where(rng.random(3 * units) < 0.7, np.repeat(truth, 3), rng.integers(0, labels, 3 * units))
    order = rng.permutation(len(unit))
    sparse = CodedAnnotations.from_sparse(
        unit[order],
        annotator[order],
        code[order],
        names(labels),
        n_units=units,
        annotators=[f"annotator {a}" for a in range(annotators)],
    )
    assert sparse.codes.shape == (units, 3)  # packed: never units × annotators
    dense = np.full((units, annotators), -1)
    dense[unit, annotator] = code
    from_dense = CodedAnnotations.from_matrix(
        dense, names(labels), annotators=[f"annotator {a}" for a in range(annotators)]
    )
    first = compute_agreement(sparse, ordered=True, seed=3, resamples=300)
    second = compute_agreement(from_dense, ordered=True, seed=3, resamples=300)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert (sparse.to_matrix() == dense).all()
    expected = krippendorff.alpha(reliability_data=reliability(dense), level_of_measurement="nominal")
    assert first["krippendorff_alpha"]["nominal"]["value"] == pytest.approx(expected, abs=TOLERANCE)
    for pair in first["pairwise_cohen"]:
        shared = (dense[:, pair["a"]] >= 0) & (dense[:, pair["b"]] >= 0)
        assert pair["units"] == int(shared.sum())
        if pair["kappa"] is not None:
            assert pair["kappa"] == pytest.approx(
                sklearn_kappa(dense[shared, pair["a"]], dense[shared, pair["b"]]), abs=TOLERANCE
            )


def test_a_large_campaign_matches_the_package():
    codes = simulate(71, 200_000, 3, 5, accuracy=0.87, missing=0.02)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, names(5)), ordered=True, resamples=200)
    for level in ("nominal", "ordinal", "interval"):
        expected = krippendorff.alpha(reliability_data=reliability(codes), level_of_measurement=level)
        assert result["krippendorff_alpha"][level]["value"] == pytest.approx(expected, abs=TOLERANCE)
