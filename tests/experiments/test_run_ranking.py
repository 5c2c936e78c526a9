"""The runs table and comparison: runs sorted by any metric across every run of the project
(MLflow sorts), the best finished run marked by the primary target's validation metric, test
metrics never offered as a way to pick a model; the comparison lists the parameters that differ."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from experiments import mlflow_store, ranking
from projects import services as project_services
from tests.experiments.runs_helpers import logged_run

pytestmark = pytest.mark.django_db


def run_with(project, name: str, *, finished: bool = True, **metrics: float):
    run = logged_run(project, name=name, finished=finished)
    client = mlflow_store.client()
    for key, value in metrics.items():
        client.log_metric(run.mlflow_run_id, key, value)
    return run


def row_names(html: str) -> list[str]:
    return re.findall(r'<tr data-run="[0-9a-f]+"[^>]*>.*?<th scope="row"><a [^>]*>([^<]+)</a>', html, re.S)


@pytest.fixture
def runs(project, lead):
    project_services.target_save(project=project, actor=lead, metric="accuracy", comparator=">=", threshold=0.9,
                                 is_primary=True)
    return {
        "low": run_with(project, "low", val_accuracy=0.70, val_loss=0.9),
        "high": run_with(project, "high", val_accuracy=0.95, val_loss=0.3, test_accuracy=0.50),
        # The best validation value, but still running: not the best run yet.
        "running": run_with(project, "running", finished=False, val_accuracy=0.99),
        "none": run_with(project, "no metrics"),
    }


def test_runs_sort_by_a_metric_across_the_project_with_runs_lacking_it_last(client, project, runs, lead):
    client.force_login(lead)
    url = reverse("experiments:runs", args=[project.slug])

    down = client.get(url, {"sort": "val_accuracy", "order": "desc"}).content.decode()
    up = client.get(url, {"sort": "val_accuracy", "order": "asc"}).content.decode()

    assert row_names(down) == ["running", "high", "low", "no metrics"]
    assert row_names(up) == ["low", "high", "running", "no metrics"]
    assert 'aria-sort="descending"' in down and "Runs by val_accuracy, highest first" in down


def test_the_best_finished_run_by_the_primary_target_is_marked(client, project, runs, lead):
    best = ranking.best_run(project=project)

    assert best is not None and best.run_id == runs["high"].mlflow_run_id and best.metric == "val_accuracy"
    client.force_login(lead)
    html = client.get(reverse("experiments:runs", args=[project.slug])).content.decode()
    assert "Best run by the primary target (accuracy ≥ 0.9)" in html and "meets it on validation" in html
    assert f'<tr data-run="{runs["high"].mlflow_run_id}" class="best">' in html


def test_test_metrics_are_never_a_sort_key_nor_pick_the_best(client, project, runs, lead):
    client.force_login(lead)
    url = reverse("experiments:runs", args=[project.slug])

    html = client.get(url, {"sort": "test_accuracy"}).content.decode()

    assert "Runs, newest first" in html  # the request is ignored, not obeyed
    assert "sort=test_accuracy" not in html
    assert not ranking.sortable("test_accuracy") and not ranking.sortable("val`) DESC --")


def test_a_primary_target_no_run_measures_marks_no_best_run(project, lead, runs):
    project_services.target_save(project=project, actor=lead, metric="latency_p95", comparator="<=", threshold=10,
                                 unit="ms", is_primary=True)
    assert ranking.best_run(project=project) is None


def test_a_running_runs_diagnosis_says_it_is_provisional(client, project, runs, lead):
    client.force_login(lead)
    page = {name: client.get(reverse("experiments:run", args=[project.slug, runs[name].mlflow_run_id])).content.decode()
            for name in ("running", "high")}

    assert re.search(r'data-role="provisional">Provisional', page["running"])
    assert re.search(r'data-role="provisional" hidden>', page["high"])


def test_the_comparison_lists_the_parameters_that_differ_and_counts_the_shared_ones(client, project, lead):
    first, second = logged_run(project, name="lr 0.1"), logged_run(project, name="lr 0.01")
    mlflow = mlflow_store.client()
    for run, lr in ((first, "0.1"), (second, "0.01")):
        mlflow.log_param(run.mlflow_run_id, "lr", lr)
        mlflow.log_param(run.mlflow_run_id, "epochs", "20")
    mlflow.log_param(second.mlflow_run_id, "weight_decay", "0.0001")
    client.force_login(lead)

    html = client.get(reverse("experiments:compare", args=[project.slug]),
                      {"run": [first.mlflow_run_id, second.mlflow_run_id]}).content.decode()

    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', html.split("params-heading")[-1], re.S)
    assert [(key, re.findall(r"<td>(.*?)</td>", cells)) for key, cells in rows] == [
        ("lr", ["0.1", "0.01"]), ("weight_decay", ['<span class="muted">not set</span>', "0.0001"])]
    assert "1 other parameter is the same in every run." in html
