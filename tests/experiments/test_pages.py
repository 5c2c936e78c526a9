"""The runs pages: launching training from the runs list, one run's traceability block and live
loss curve, the untraceable badge, the overlay of runs and the cap on points sent to the page."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from django.urls import reverse

from datasets import services as dataset_services
from experiments import mlflow_store
from experiments.models import Run
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.experiments.runs_helpers import TRACEABLE_TAGS, logged_run, split_version
from tests.experiments.test_inputs import _sklearn_version

TRAIN = "experiments_train"


def _runs_url(project) -> str:
    return reverse("experiments:runs", args=[project.slug])


def _run_url(run: Run, name: str = "run") -> str:
    return reverse(f"experiments:{name}", args=[run.project.slug, run.mlflow_run_id])


def _xs(trace: dict) -> list:
    """A trace's x values: plotly writes numpy arrays as base64 typed arrays ({dtype, bdata})."""
    x = trace["x"]
    if isinstance(x, dict):
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"])).tolist()
    return list(x)


def _figure_points(figure: dict) -> dict[str, int]:
    return {trace["name"]: len(_xs(trace)) for trace in figure["data"] if trace.get("mode") == "lines"}


def _embedded_figure(html: str, element_id: str) -> dict:
    marker = f'data-plotly-for="{element_id}">'
    start = html.index(marker) + len(marker)
    text = html[start : html.index("</script>", start)]
    return json.loads(text)


@pytest.mark.django_db(transaction=True)
def test_an_engineer_trains_an_mlp_from_the_runs_page_and_reads_its_traceable_curve(client, project, lead, engineer):
    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    client.force_login(engineer)

    page = client.get(_runs_url(project))
    assert page.status_code == 200 and b"Train a model" in page.content
    response = client.post(_runs_url(project), {
        "version": version.pk, "trainer": "mlp", "name": "tiny MLP", "epochs": 2, "seed": 5,
        "hidden_sizes": "16", "batch_size": 64, "settings": '{"weight_decay": 0.0001}',
    })
    job = Job.objects.get(kind=TRAIN)
    assert response.status_code == 302 and response["Location"] == reverse("projects:job", args=[job.pk])
    assert job.params["config"]["epochs"] == 2 and job.params["config"]["hidden_sizes"] == [16]
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.log
    run = Run.objects.get(job=job)

    listing = client.get(_runs_url(project)).content.decode()
    assert "tiny MLP" in listing and _run_url(run) in listing
    assert reverse("datasets:version", args=[project.slug, "digits", 1]) in listing
    assert "val_accuracy" in listing and 'data-testid="untraceable"' not in listing

    html = client.get(_run_url(run)).content.decode()
    assert 'data-testid="traceability"' in html
    block = html[html.index('data-testid="traceability"') :]
    assert reverse("datasets:version", args=[project.slug, "digits", 1]) in block
    assert ">5</code>" in block and "torch==2.13.0" in block  # the seed and the packages
    figure = _embedded_figure(html, "loss-chart")
    assert _figure_points(figure) == {"tiny MLP · train": 2, "tiny MLP · validation": 2}
    assert 'data-role="findings"' in html and "Untraceable" not in html
    # The job page points at the run it made.
    assert _run_url(run) in client.get(reverse("projects:job", args=[job.pk])).content.decode()

    live = client.get(_run_url(run, "run_curves")).json()
    assert live["status"] == "FINISHED" and live["running"] is False
    assert live["points"] == {"train": 2, "validation": 2} and live["diagnostics"]


@pytest.mark.django_db
def test_bad_launch_input_is_a_form_error_and_queues_nothing(client, project, engineer, private_project, lead):
    version = split_version(project)
    elsewhere = split_version(private_project, slug="other")
    client.force_login(engineer)
    base = {"version": version.pk, "trainer": "mlp", "epochs": 1}
    cases = [
        ({"trainer": "tfidf_logreg", "epochs": ""}, "does not train on image data"),
        ({"trainer": "logistic_regression"}, "unknown setting"),
        ({"trainer": "gpt"}, "Select a valid choice"),
        ({"version": elsewhere.pk}, "Select a valid choice"),
        ({"epochs": 0}, "greater than or equal to 1"),
        ({"hidden_sizes": "a lot"}, "whole numbers"),
        ({"settings": "{not json"}, "not valid JSON"),
        ({"settings": "[1, 2]"}, "JSON object"),
        ({"settings": '{"epochs": 3}'}, "not both"),
        ({"settings": '{"dropout": 7}'}, "dropout"),
        ({"version": "", "trainer": ""}, "This field is required"),
    ]
    for changes, message in cases:
        response = client.post(_runs_url(project), {**base, **changes})
        assert response.status_code == 400, (changes, response.status_code)
        assert message in response.content.decode(), (changes, message)
    assert not Job.objects.filter(kind=TRAIN).exists()


@pytest.mark.django_db
def test_a_run_logged_without_a_dataset_version_is_marked_untraceable(client, project, viewer):
    run = logged_run(project, name="from a notebook", train=[1.0, 0.8, 0.7], val=[1.1, 0.9, 0.85])
    client.force_login(viewer)

    listing = client.get(_runs_url(project)).content.decode()
    assert 'data-testid="untraceable"' in listing and "External" in listing
    html = client.get(_run_url(run)).content.decode()
    assert "Untraceable" in html and "records no dataset version" in html
    assert _figure_points(_embedded_figure(html, "loss-chart")) == {
        "from a notebook · train": 3, "from a notebook · validation": 3,
    }


@pytest.mark.django_db
def test_a_traceable_external_run_shows_its_record_and_links_nothing_the_project_lacks(client, project):
    run = logged_run(project, name="tagged", tags=TRACEABLE_TAGS, train=[1.0, 0.5])
    html = client.get(_run_url(run)).content.decode()
    assert "Untraceable" not in html and "digits@v1" in html and "0.1.0+gabc" in html
    # The project has no dataset "digits": the tag is shown, not linked.
    assert "/data/digits/" not in html


@pytest.mark.django_db
def test_the_compare_page_overlays_the_chosen_runs(client, project, engineer):
    first = logged_run(project, name="first", train=[1.0, 0.6, 0.4], val=[1.0, 0.7, 0.6])
    second = logged_run(project, name="second", tags=TRACEABLE_TAGS, train=[0.9, 0.5], val=[0.95, 0.55])
    logged_run(project, name="third", train=[2.0])
    url = reverse("experiments:compare", args=[project.slug])

    response = client.get(url, {"run": [first.mlflow_run_id, second.mlflow_run_id]})

    assert response.status_code == 200
    html = response.content.decode()
    assert _figure_points(_embedded_figure(html, "compare-chart")) == {
        "first · train": 3, "first · validation": 3, "second · train": 2, "second · validation": 2,
    }
    assert "third" not in html
    assert client.get(url).status_code == 200  # nothing chosen: the page says how to choose
    assert client.get(url, {"run": "0" * 32}).status_code == 404
    assert client.get(url, {"run": [f"{i:032x}" for i in range(11)]}).status_code == 400


@pytest.mark.django_db
def test_a_long_curve_is_downsampled_to_at_most_2000_points_and_cached(client, project, django_assert_max_num_queries):
    run = logged_run(project, name="long", steps=5000, finished=False)

    payload = client.get(_run_url(run, "run_curves")).json()

    assert payload["running"] is True and payload["status"] == "RUNNING"
    assert 0 < payload["points"]["train"] <= 2000
    assert all(n <= 2000 for n in _figure_points(payload["figure"]).values())
    html = client.get(_run_url(run)).content.decode()
    assert "downsampled to at most 2000 points" in html and "js/runs.js" in html
    # A second read of the unchanged series comes from the cache: same points.
    again = client.get(_run_url(run, "run_curves")).json()
    assert _xs(again["figure"]["data"][0]) == _xs(payload["figure"]["data"][0])
    # A new point changes the series' version: the next read includes it.
    from mlflow.entities import Metric

    mlflow_store.client().log_batch(run.mlflow_run_id, metrics=[Metric("train_loss", 0.001, 0, 6000)])
    latest = client.get(_run_url(run, "run_curves")).json()
    assert _xs(latest["figure"]["data"][0])[-1] == 6000


@pytest.mark.django_db
def test_an_unknown_run_is_a_404(client, project, private_project, engineer):
    other = logged_run(private_project, name="private run")
    client.force_login(engineer)
    assert client.get(reverse("experiments:run", args=[project.slug, "f" * 32])).status_code == 404
    # A run of another project is not found under this one.
    assert client.get(reverse("experiments:run", args=[project.slug, other.mlflow_run_id])).status_code == 404
