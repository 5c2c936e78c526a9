"""The project page's Targets table (deployments/target_values.py): each target with its latest
validation value (a run's logged metric, or its error analysis at an operating point), its latest
sealed test value and its latest benchmark value, met / missed / not measured, each linked to its
source; the same read on /api/projects/{slug}/target-values/. A sealed value appears only once the
evaluation is done, for whoever may open the evaluation's own page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deployments.models import Benchmark, ExportState, ModelExport
from deployments.target_values import MET, MISSED, NOT_MEASURED, target_values
from experiments.evaluation import scoring
from experiments.evaluation.services import (
    evaluation_approve,
    evaluation_complete,
    evaluation_mark_running,
    evaluation_request,
    evaluation_results_save,
)
from experiments.models import EvaluationState, TestEvaluation
from projects.models import Target
from tests.api import client_for
from tests.deployments.report_helpers import run_with_metrics
from tests.experiments.analysis_helpers import analysed_run, animal_version
from tests.experiments.evaluation.test_evaluation import approve_gate, evaluable_run
from tests.experiments.runs_helpers import split_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mlflow_backend")]

# What the benchmark job stores (deployments/targets.py reads it): batch 1's latency and
# throughput, the peak memory and the file's size under ONNX Runtime.
BENCHMARK_RESULTS = {"onnx": {
    "batches": {"1": {"latency_ms": {"p50": 1.1, "p95": 2.5, "p99": 3.0, "mean": 1.3}, "throughput": 400.0}},
    "peak_rss_delta_mb": 12.0, "model_size_mb": 0.5,
}}
# The aggregates a sealed evaluation publishes: 7 of 8 test items right.
SEALED_RESULTS = scoring.aggregates(classes=["cat", "dog", "fox"], truth=["cat"] * 4 + ["dog"] * 4,
                                    predicted=["cat"] * 4 + ["dog"] * 3 + ["fox"])


def _targets(project) -> dict[str, Target]:
    specs = [
        ("accuracy", ">=", 0.9, "", "", True),
        ("precision", ">=", 0.5, "", "at 25% coverage", False),
        ("latency_p95", "<=", 10, "ms", "", False),
        ("model_size", "<=", 0.25, "MB", "", False),
        ("nps", ">=", 50, "", "", False),
    ]
    return {
        metric: Target.objects.create(project=project, metric=metric, comparator=comparator, threshold=threshold,
                                      unit=unit, condition=condition, is_primary=primary, position=position)
        for position, (metric, comparator, threshold, unit, condition, primary) in enumerate(specs)
    }


@pytest.fixture
def measured(project):
    """Five targets; a run logging val_accuracy, then a newer run whose validation predictions the
    error analysis reads (the most confident 3 of 12 hold 2 mistakes), a finished sealed
    evaluation, and a finished benchmark (a newer one still running)."""
    targets = _targets(project)
    logged = run_with_metrics(project, "mlp seed 7", metrics={"val_accuracy": 0.95})
    version = animal_version(project)
    analysed = analysed_run(project, version, name="animals run", wrong={0, 1}, confidences={0: 0.9, 1: 0.9})
    evaluation = TestEvaluation.objects.create(
        project=project, run=logged, reason="final", state=EvaluationState.DONE, finished_at=timezone.now(),
        results={**SEALED_RESULTS, "targets": scoring.targets_check(targets=targets.values(), metrics=SEALED_RESULTS)},
    )
    export = ModelExport.objects.create(project=project, run=logged, state=ExportState.READY, opset=17, trainer="mlp")
    benchmark = Benchmark.objects.create(project=project, export=export, finished_at=timezone.now(),
                                         results=BENCHMARK_RESULTS)
    Benchmark.objects.create(project=project, export=export)  # running: no results yet
    return {"targets": targets, "logged": logged, "analysed": analysed, "evaluation": evaluation,
            "benchmark": benchmark}


def test_each_target_has_its_latest_values_statuses_and_sources(project, measured, outsider):
    slug = project.slug
    rows = {row.target.metric: row for row in target_values(user=outsider, project=project)}
    assert list(rows) == ["accuracy", "precision", "latency_p95", "model_size", "nps"]

    accuracy = rows["accuracy"]
    # Validation: the latest run that logs val_accuracy (the newer run logs none).
    assert (accuracy.validation.value, accuracy.validation.status) == (pytest.approx(0.95), MET)
    assert accuracy.validation.url == reverse("experiments:run", args=[slug, measured["logged"].mlflow_run_id])
    assert "mlp seed 7" in accuracy.validation.source
    # Sealed: the evaluation's published accuracy, 7 of 8.
    assert (accuracy.sealed.value, accuracy.sealed.status) == (pytest.approx(0.875), MISSED)
    assert accuracy.sealed.url == reverse("experiments:evaluation", args=[slug, measured["evaluation"].pk])
    assert accuracy.benchmark.status == NOT_MEASURED

    # Precision at a coverage: the error analysis of the run with predictions computes it.
    precision = rows["precision"]
    assert (precision.validation.value, precision.validation.status) == (pytest.approx(1 / 3), MISSED)
    assert precision.validation.url == reverse("experiments:run_analysis",
                                               args=[slug, measured["analysed"].mlflow_run_id])
    assert "3 most confident of 12" in precision.validation.note
    assert precision.sealed.status == NOT_MEASURED and "operating point" in precision.sealed.note

    # Engineering targets: from the finished benchmark, in the target's unit.
    benchmark_url = reverse("deployments:benchmark", args=[slug, measured["benchmark"].pk])
    latency, size = rows["latency_p95"], rows["model_size"]
    assert (latency.benchmark.value, latency.benchmark.status, latency.benchmark.url) == (2.5, MET, benchmark_url)
    assert (size.benchmark.value, size.benchmark.status) == (0.5, MISSED)
    assert latency.validation.status == latency.sealed.status == NOT_MEASURED

    # Nothing measures a business metric.
    nps = rows["nps"]
    assert [v.status for v in (nps.validation, nps.sealed, nps.benchmark)] == [NOT_MEASURED] * 3
    assert nps.validation.value is nps.sealed.value is nps.benchmark.value is None


def test_a_project_without_runs_evaluations_or_benchmarks_shows_every_target_not_measured(project, outsider):
    _targets(project)
    rows = target_values(user=outsider, project=project)
    assert {v.status for row in rows for v in (row.validation, row.sealed, row.benchmark)} == {NOT_MEASURED}
    page = Client().get(reverse("projects:detail", args=[project.slug])).content.decode()
    table = page[page.index('data-testid="targets-table"'):page.index("</table>")]
    assert table.count("Not measured") >= 5 and ">Met<" not in table and ">Missed<" not in table


def test_the_project_page_and_the_api_show_the_values_linked_to_their_sources(project, measured):
    slug = project.slug
    page = Client().get(reverse("projects:detail", args=[slug])).content.decode()
    table = page[page.index('data-testid="targets-table"'):page.index("</table>")]
    run_url = reverse("experiments:run", args=[slug, measured["logged"].mlflow_run_id])
    evaluation_url = reverse("experiments:evaluation", args=[slug, measured["evaluation"].pk])
    benchmark_url = reverse("deployments:benchmark", args=[slug, measured["benchmark"].pk])
    assert re.search(rf'<a href="{re.escape(run_url)}"[^>]*>0\.9500</a>', table)
    assert re.search(rf'<a href="{re.escape(evaluation_url)}"[^>]*>0\.8750</a>', table)
    assert re.search(rf'<a href="{re.escape(benchmark_url)}"[^>]*>2\.5000</a>', table)
    assert "0.3333" in table and "at 25% coverage" in table

    body = client_for(None).get(f"/api/projects/{slug}/target-values/").json()
    assert [row["metric"] for row in body] == ["accuracy", "precision", "latency_p95", "model_size", "nps"]
    accuracy = body[0]
    assert accuracy["validation"] == {"value": 0.95, "status": "met", "source": accuracy["validation"]["source"],
                                      "url": run_url, "note": accuracy["validation"]["note"]}
    assert (accuracy["sealed"]["value"], accuracy["sealed"]["status"], accuracy["sealed"]["url"]) == (
        0.875, "missed", evaluation_url)
    assert body[4]["benchmark"]["status"] == "not_measured"


def _sealed_shown(slug: str, evaluation_pk: int, user=None) -> tuple[bool, bool, object]:
    """(the evaluation's page shows its accuracy, the project page shows a sealed link, the API's
    sealed value of the accuracy target) for `user` (anonymous when None)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    evaluation_page = client.get(reverse("experiments:evaluation", args=[slug, evaluation_pk])).content.decode()
    project_page = client.get(reverse("projects:detail", args=[slug])).content.decode()
    evaluation_url = reverse("experiments:evaluation", args=[slug, evaluation_pk])
    table = project_page[project_page.index('data-testid="targets-table"'):project_page.index("</table>")]
    api = client_for(user).get(f"/api/projects/{slug}/target-values/").json()
    return 'data-metric="accuracy"' in evaluation_page, evaluation_url in table, api[0]["sealed"]["value"]


def test_no_sealed_value_is_shown_before_the_evaluation_its_own_page_shows_is_done(project, lead, engineer, outsider):
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.9, is_primary=True)
    split_version(project)
    approve_gate(project)
    evaluation = evaluation_request(run=evaluable_run(project), actor=engineer, reason="final candidate")
    slug = project.slug
    for user in (None, outsider):
        assert _sealed_shown(slug, evaluation.pk, user) == (False, False, None)

    # The lead unseals it; the job reads the sealed labels and saves the aggregates before it is
    # marked done: neither the evaluation's page nor the targets show them yet.
    evaluation_approve(evaluation=evaluation, actor=lead, comment="go")
    evaluation_mark_running(evaluation=evaluation)
    evaluation_results_save(evaluation=evaluation, results={
        **SEALED_RESULTS, "targets": scoring.targets_check(targets=project.targets.all(), metrics=SEALED_RESULTS),
    })
    for user in (None, outsider, engineer):
        assert _sealed_shown(slug, evaluation.pk, user) == (False, False, None)

    # Done: the evaluation's page publishes the aggregates to its readers, and the targets with it.
    evaluation_complete(evaluation_id=evaluation.pk, actor=lead)
    for user in (None, outsider):
        assert _sealed_shown(slug, evaluation.pk, user) == (True, True, pytest.approx(0.875))


def test_a_private_projects_annotator_sees_the_targets_but_no_run_or_sealed_value(private_project, annotator,
                                                                                   outsider):
    Target.objects.create(project=private_project, metric="accuracy", comparator=">=", threshold=0.9, position=0)
    Target.objects.create(project=private_project, metric="latency_p95", comparator="<=", threshold=10, unit="ms",
                          position=1)
    run = run_with_metrics(private_project, "mlp", metrics={"val_accuracy": 0.95})
    TestEvaluation.objects.create(project=private_project, run=run, reason="r", state=EvaluationState.DONE,
                                  finished_at=timezone.now(), results=SEALED_RESULTS)
    url = f"/api/projects/{private_project.slug}/target-values/"
    assert client_for(outsider).get(url).status_code == 404
    row, latency = client_for(annotator).get(url).json()
    assert row["validation"]["value"] is None and row["sealed"]["value"] is None
    assert "role" in row["sealed"]["note"] and "role" in latency["benchmark"]["note"]
