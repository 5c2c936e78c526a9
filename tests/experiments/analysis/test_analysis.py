"""Error analysis arithmetic: scikit-learn's numbers on the same data, precision at a coverage or a
recall on data small enough to check by hand, target checks, slices, the comparison of two runs, and
reading a run's logged predictions (a real artifact in the MLflow store)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from datasets.models import SealedItem
from experiments.analysis import metrics, reading
from experiments.analysis.metrics import OperatingPoint, PredictionsError, parse_condition, parse_predictions
from projects.models import Target
from tests.experiments.analysis_helpers import (
    CLASSES,
    analysed_run,
    animal_version,
    confident,
    log_predictions,
    payload,
)
from tests.experiments.runs_helpers import logged_run


def _random_predictions(seed: int = 3, n: int = 90) -> metrics.Predictions:
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(3), size=n)
    labels = rng.choice(CLASSES, size=n, p=[0.5, 0.3, 0.2])
    return parse_predictions(payload([(f"k{i}", labels[i], proba[i].tolist()) for i in range(n)]))


def test_metrics_are_scikit_learns_on_the_same_predictions():
    p = _random_predictions()
    truth, predicted = list(p.labels), list(p.predicted)

    result = metrics.analyse(p)

    assert result["metrics"]["count"] == 90
    assert result["metrics"]["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert result["metrics"]["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=CLASSES, zero_division=0)
    rows = {row["label"]: row for row in result["per_class"]}
    for i, label in enumerate(CLASSES):
        assert rows[label]["precision"] == pytest.approx(precision[i])
        assert rows[label]["recall"] == pytest.approx(recall[i])
        assert rows[label]["f1"] == pytest.approx(f1[i])
        assert rows[label]["support"] == support[i]
    assert result["confusion"]["labels"] == CLASSES
    assert result["confusion"]["matrix"] == confusion_matrix(truth, predicted, labels=CLASSES).tolist()


def test_a_class_absent_from_truth_and_predictions_does_not_count_in_macro_f1():
    rows = [("a", "cat", confident("cat")), ("b", "dog", confident("dog")), ("c", "dog", confident("cat"))]
    p = parse_predictions(payload(rows))

    result = metrics.analyse(p)

    assert [row["label"] for row in result["per_class"]] == ["cat", "dog"]
    assert result["metrics"]["macro_f1"] == pytest.approx(f1_score(["cat", "dog", "dog"], ["cat", "dog", "cat"], average="macro"))


# Confidence ranking 0.9 right, 0.8 wrong, 0.7 right, 0.6 right, 0.5 wrong.
RANKED = [("r1", "cat", confident("cat", 0.9)), ("w1", "dog", confident("cat", 0.8)),
          ("r2", "fox", confident("fox", 0.7)), ("r3", "dog", confident("dog", 0.6)),
          ("w2", "cat", confident("fox", 0.5))]


@pytest.mark.parametrize(("coverage", "answered", "precision"), [(0.2, 1, 1.0), (0.4, 2, 0.5), (0.5, 3, 2 / 3),
                                                                  (0.6, 3, 2 / 3), (0.8, 4, 0.75), (1.0, 5, 0.6)])
def test_precision_at_coverage_answers_the_most_confident_items(coverage, answered, precision):
    p = parse_predictions(payload(list(reversed(RANKED))))  # the ranking, not the file's order, decides

    result = metrics.precision_at(p, OperatingPoint("coverage", coverage))

    assert result["answered"] == answered and result["value"] == pytest.approx(precision)


@pytest.mark.parametrize(("recall", "answered", "precision"), [(0.3, 1, 1.0), (2 / 3, 3, 2 / 3), (1.0, 4, 0.75)])
def test_precision_at_recall_of_several_classes_ranks_by_confidence(recall, answered, precision):
    p = parse_predictions(payload(RANKED))

    result = metrics.precision_at(p, OperatingPoint("recall", recall))

    assert result["answered"] == answered and result["value"] == pytest.approx(precision)
    assert "ranked by confidence" in result["note"]


# P(yes) with the truth: four yes, two no.
BINARY = [("a", "yes", 0.9), ("b", "no", 0.8), ("c", "yes", 0.7), ("d", "yes", 0.6), ("e", "no", 0.3), ("f", "yes", 0.1)]


def _binary() -> metrics.Predictions:
    return parse_predictions(payload([(k, t, [1 - s, s]) for k, t, s in BINARY], classes=["no", "yes"]))


@pytest.mark.parametrize(("point", "answered", "precision"), [
    (OperatingPoint("recall", 0.5), 3, 2 / 3),  # two of four yes: threshold 0.7 answers a, b, c
    (OperatingPoint("recall", 0.75), 4, 0.75),
    (OperatingPoint("recall", 0.9), 6, 4 / 6),  # only the lowest threshold finds 90%
    (OperatingPoint("recall", 0.5, positive="no"), 2, 0.5),  # P(no): f .9, b .7 → one of two no
])
def test_precision_at_recall_of_a_binary_task_is_the_positive_class_precision(point, answered, precision):
    result = metrics.precision_at(_binary(), point)

    assert result["answered"] == answered and result["value"] == pytest.approx(precision)


def test_a_recall_of_an_unknown_class_is_not_computed():
    result = metrics.precision_at(_binary(), OperatingPoint("recall", 0.5, positive="maybe"))
    assert result["value"] is None and "no class 'maybe'" in result["note"]


@pytest.mark.parametrize(("text", "expected"), [
    ("at recall 0.9", OperatingPoint("recall", 0.9)),
    ("at 90% recall", OperatingPoint("recall", 0.9)),
    ("At 20 % coverage", OperatingPoint("coverage", 0.2)),
    ("at coverage 0.2", OperatingPoint("coverage", 0.2)),
    ("at coverage of 25%", OperatingPoint("coverage", 0.25)),
    ("at recall .8 for spam", OperatingPoint("recall", 0.8, positive="spam")),
    ("at recall 90", None),
    ("at recall 0", None),
    ("on weekdays", None),
    ("", None),
])
def test_target_conditions_are_read_as_operating_points(text, expected):
    assert parse_condition(text) == expected


def test_targets_the_analysis_computes_are_checked_and_others_left_out(project):
    def target(metric, comparator, threshold, condition="", position=0):
        return Target.objects.create(project=project, metric=metric, comparator=comparator, threshold=threshold,
                                     condition=condition, position=position)

    target("accuracy", ">=", 0.5)  # 0.6
    target("precision", ">=", 0.9, "at 20% coverage")  # 1.0
    target("precision", ">=", 0.8, "at recall 1.0")  # 0.75
    target("Macro-F1", ">", 0.99)
    target("latency_p95", "<=", 100)
    target("accuracy", ">=", 0.5, "at dawn")
    p = parse_predictions(payload(RANKED))

    checks = {(c["metric"], c["condition"]): c for c in metrics.check_targets(p, project.targets.all())}

    assert set(checks) == {("accuracy", ""), ("precision", "at 20% coverage"), ("precision", "at recall 1.0"),
                           ("Macro-F1", ""), ("accuracy", "at dawn")}
    assert checks["accuracy", ""]["value"] == pytest.approx(0.6) and checks["accuracy", ""]["passed"] is True
    assert checks["precision", "at 20% coverage"]["value"] == 1.0 and checks["precision", "at 20% coverage"]["passed"]
    assert checks["precision", "at recall 1.0"]["value"] == pytest.approx(0.75)
    assert checks["precision", "at recall 1.0"]["passed"] is False
    assert checks["Macro-F1", ""]["passed"] is False
    assert checks["accuracy", "at dawn"]["passed"] is None and "no operating point" in checks["accuracy", "at dawn"]["note"]


def test_binary_precision_and_recall_targets_are_about_the_positive_class():
    class Wanted:
        def __init__(self, metric):
            self.metric, self.condition, self.threshold = metric, "", 0.5

        def is_met_by(self, value):
            return value >= self.threshold

    p = _binary()  # predicted yes: a, b, c, d (P(yes) > .5) → precision 3/4, recall 3/4
    values = {c["metric"]: c["value"] for c in metrics.check_targets(p, [Wanted("precision"), Wanted("recall")])}
    assert values == {"precision": pytest.approx(0.75), "recall": pytest.approx(0.75)}


def test_the_most_confident_mistakes_come_first():
    p = parse_predictions(payload(RANKED))

    mistakes = metrics.confident_mistakes(p)

    assert [(m["key"], m["true"], m["predicted"]) for m in mistakes] == [("w1", "dog", "cat"), ("w2", "cat", "fox")]
    assert mistakes[0]["confidence"] == pytest.approx(0.8)


def test_slices_cut_numeric_columns_into_quartiles_and_keep_missing_values_apart():
    rows = [(f"k{i}", "cat", confident("cat" if i % 3 else "dog")) for i in range(12)]
    p = parse_predictions(payload(rows))
    weights = {f"k{i}": str(i + 1) for i in range(11)}  # k11 has no weight

    found = metrics.slices(p, weights)

    assert [s["count"] for s in found] == [3, 3, 2, 3, 1]
    assert found[-1]["value"] == metrics.MISSING
    # Quartiles of the weights 1–11: 1–3, 4–6, 7–8, 9–11. Wrong on k0, k3, k6, k9; k11 is right.
    assert [s["accuracy"] for s in found] == pytest.approx([2 / 3, 2 / 3, 0.5, 2 / 3, 1.0])
    assert [s["value"] for s in found[:2]] == ["1 – 3", "4 – 6"]


def test_slices_of_a_text_column_are_its_values():
    rows = [(f"k{i}", "cat", confident("cat" if i < 4 else "dog")) for i in range(6)]
    p = parse_predictions(payload(rows))

    found = metrics.slices(p, {"k0": "north", "k1": "north", "k2": "north", "k3": "south", "k4": "south", "k5": ""})

    assert [(s["value"], s["count"], s["accuracy"]) for s in found] == [
        ("north", 3, 1.0), ("south", 2, 0.5), (metrics.MISSING, 1, 0.0)
    ]


def test_two_runs_are_compared_on_the_items_both_predicted():
    truth = [("k0", "cat"), ("k1", "dog"), ("k2", "fox"), ("k3", "cat"), ("k4", "dog")]
    a = parse_predictions(payload([(k, t, confident("fox" if k in ("k0", "k1") else t)) for k, t in truth]))
    b_rows = [(k, t, confident("cat" if k in ("k1", "k2") else t, 0.7)) for k, t in truth[1:]]
    b = parse_predictions(payload(b_rows + [("extra", "cat", confident("cat"))]))

    result = metrics.compare(a, b)

    assert (result["common"], result["only_a"], result["only_b"]) == (4, 1, 1)
    # On k1–k4: a wrong on k1; b wrong on k1, k2.
    assert result["a"]["accuracy"] == 0.75 and result["b"]["accuracy"] == 0.5
    assert (result["both_right"], result["both_wrong"]) == (2, 1)
    assert result["a_right_b_wrong"]["count"] == 1 and result["b_right_a_wrong"]["count"] == 0
    example = result["a_right_b_wrong"]["examples"][0]
    assert (example["key"], example["true"], example["a_predicted"], example["b_predicted"]) == ("k2", "fox", "fox", "cat")
    deltas = {row["label"]: row["delta"] for row in result["per_class"]}
    assert deltas["fox"] == pytest.approx(0.0 - f1_score(["dog", "fox", "cat", "dog"], ["fox", "fox", "cat", "dog"],
                                                         labels=["fox"], average=None)[0])


@pytest.mark.parametrize(("bad", "message"), [
    ([], "not a JSON object"),
    ({"classes": ["a"], "keys": [], "labels": []}, "no list 'probabilities'"),
    ({"classes": ["a", "a"], "keys": [], "labels": [], "probabilities": []}, "names one twice"),
    ({"classes": ["a", "b"], "keys": ["x"], "labels": [], "probabilities": []}, "1 keys, 0 labels"),
    ({"classes": ["a", "b"], "keys": ["x"], "labels": ["a"], "probabilities": [[0.5]]}, "must hold 2 numbers"),
    ({"classes": ["a", "b"], "keys": ["x"], "labels": ["a"], "probabilities": [["p", "q"]]}, "must hold 2 numbers"),
    ({"classes": ["a", "b"], "keys": ["x", "x"], "labels": ["a", "b"], "probabilities": [[1, 0], [0, 1]]}, "twice"),
])
def test_a_malformed_predictions_file_is_refused_with_the_reason(bad, message):
    with pytest.raises(PredictionsError, match=message):
        parse_predictions(bad)


@pytest.mark.django_db
def test_a_runs_logged_predictions_are_read_once_and_then_served_from_the_cache(project, settings):
    version = animal_version(project)
    run = analysed_run(project, version, name="cached", wrong={0})
    cache.clear()

    first = reading.predictions_for(run)
    # A finished run's predictions never change: once read, the store is not asked again.
    artifacts = settings.PRAKRIYA_MLFLOW_ARTIFACTS_DIR
    import shutil

    shutil.rmtree(artifacts)
    second = reading.predictions_for(run)

    assert first.keys == second.keys and len(first) == 12
    assert float(np.mean(second.correct)) == pytest.approx(11 / 12)


@pytest.mark.django_db
def test_a_run_without_predictions_says_so(project):
    run = logged_run(project, name="notebook")

    with pytest.raises(reading.NoPredictions, match="logged no validation predictions"):
        reading.predictions_for(run)


@pytest.mark.django_db
def test_a_predictions_file_that_is_not_json_is_refused(project):
    run = logged_run(project, name="broken")
    log_predictions(run, b"\x89PNG not json")

    with pytest.raises(PredictionsError, match="not JSON"):
        reading.predictions_for(run)


@pytest.mark.django_db
def test_sealed_items_are_left_out_of_an_analysis(project):
    version = animal_version(project)
    SealedItem.objects.create(dataset=version.dataset, key="animals-000003")
    run = analysed_run(project, version, name="sealed", wrong=set())

    kept, dropped = reading.without_sealed(reading.predictions_for(run), version)

    assert dropped == 1 and len(kept) == 11 and "animals-000003" not in kept.keys


@pytest.mark.django_db
def test_column_values_read_a_tabular_versions_rows(project):
    version = animal_version(project, count=4)
    keys = [f"animals-{i:06d}" for i in range(4)]

    assert reading.slice_columns(version) == ["weight", "region"]
    assert reading.column_values(version, keys, "region").values == {
        "animals-000000": "north", "animals-000001": "south", "animals-000002": "north", "animals-000003": "south"
    }
