"""The runs API: listing and reading runs with their traceability, downsampled curves, and
launching training with the same validation as the form."""

from __future__ import annotations

import math

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from experiments import mlflow_store
from prakriya.jobs.models import Job
from tests.experiments.runs_helpers import TRACEABLE_TAGS, logged_run, split_version

pytestmark = pytest.mark.django_db


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


def _list(project) -> str:
    return reverse("api:run-list", kwargs={"project_slug": project.slug})


def _detail(run, name: str = "run-detail") -> str:
    return reverse(f"api:{name}", kwargs={"project_slug": run.project.slug, "run_id": run.mlflow_run_id})


def test_runs_are_listed_newest_first_with_their_traceability(project, viewer):
    untraced = logged_run(project, name="notebook", train=[1.0, 0.5])
    traced = logged_run(project, name="tagged", tags=TRACEABLE_TAGS, train=[1.0, 0.4], val=[1.1, 0.6])

    body = _api(viewer).get(_list(project)).json()

    assert body["count"] == 2
    first, second = body["results"]
    assert first["run_id"] == traced.mlflow_run_id and second["run_id"] == untraced.mlflow_run_id
    assert first["traceable"] is True and first["dataset_version"] == "digits@v1" and first["trainer"] == "mlp"
    assert second["traceable"] is False and second["source"] == "external" and second["status"] == "FINISHED"
    assert first["metrics"] == {"train_loss": 0.4, "val_loss": 0.6}

    detail = _api().get(_detail(traced)).json()  # a public project's runs are public
    assert detail["traceability"]["seed"] == "7" and detail["traceability"]["packages"] == "torch==2.13.0"
    assert detail["tags"][mlflow_store.TAG_DATASET_VERSION] == "digits@v1"
    assert detail["traceable"] is True and "params" in detail


def test_curves_are_downsampled_and_name_non_finite_points(project, viewer):
    long = logged_run(project, name="long", steps=5000)
    broken = logged_run(project, name="broken", train=[1.0, float("nan"), math.inf], val=[1.0, 0.9, 0.8])
    client = _api(viewer)

    body = client.get(_detail(long, "run-curves"), {"key": "train_loss"}).json()
    series = body["series"]["train_loss"]
    assert series["total"] == 5000 and 0 < series["points"] <= 2000 == body["max_points"]
    assert len(series["steps"]) == len(series["values"]) == series["points"]
    assert series["steps"][0] == 0 and series["steps"][-1] == 4999
    small = client.get(_detail(long, "run-curves"), {"key": "train_loss", "max_points": 100}).json()
    assert small["series"]["train_loss"]["points"] <= 100

    both = client.get(_detail(broken, "run-curves")).json()["series"]  # default: train and validation loss
    assert set(both) == {"train_loss", "val_loss"}
    assert both["train_loss"]["values"] == [1.0, None, None]
    assert both["train_loss"]["nonfinite"] == [{"step": 1, "value": "NaN"}, {"step": 2, "value": "+inf"}]
    assert client.get(_detail(broken, "run-curves"), {"key": "never"}).json()["series"] == {}


@pytest.mark.parametrize(
    "query", [{"max_points": "lots"}, {"max_points": 5}, {"max_points": 2001}, {"key": [f"k{i}" for i in range(11)]},
              {"key": "x" * 251}],
)
def test_bad_curve_queries_are_400(project, query):
    run = logged_run(project, name="r", train=[1.0])
    response = _api().get(_detail(run, "run-curves"), query)
    assert response.status_code == 400 and "errors" in response.json()


def test_an_engineer_launches_training_and_gets_the_job(project, engineer):
    split_version(project)

    response = _api(engineer).post(
        _list(project),
        {"dataset": "digits", "version": 1, "trainer": "mlp", "config": {"epochs": 2, "hidden_sizes": [8]},
         "name": "api MLP"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert response["Location"].endswith(reverse("api:job-detail", kwargs={"pk": job.pk}))
    assert job.kind == "experiments_train" and job.params["config"]["hidden_sizes"] == [8]
    assert job.params["name"] == "api MLP"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"trainer": "tfidf_logreg"}, "non_field_errors"),
        ({"trainer": "gpt"}, "non_field_errors"),
        ({"config": {"learning_rate": 1}}, "non_field_errors"),
        ({"config": {"epochs": -1}}, "non_field_errors"),
        ({"config": [1]}, "config"),
        ({"version": 9}, "version"),
        ({"dataset": "nope"}, "version"),
        ({"version": 0}, "version"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_launch_requests_are_400_and_queue_nothing(project, engineer, body, field):
    split_version(project)
    request = {"dataset": "digits", "version": 1, "trainer": "mlp", **body}
    response = _api(engineer).post(_list(project), request, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Job.objects.exists()


def test_who_may_read_and_launch(project, private_project, users):
    split_version(project)
    private_run = logged_run(private_project, name="private", train=[1.0])
    launch = {"dataset": "digits", "version": 1, "trainer": "majority"}

    assert _api().post(_list(project), launch, format="json").status_code == 401
    for role in ("outsider", "viewer", "annotator"):
        assert _api(users[role]).post(_list(project), launch, format="json").status_code == 403, role
    assert _api(users["lead"]).post(_list(project), launch, format="json").status_code == 201

    expected = {"anonymous": 404, "outsider": 404, "annotator": 403, "viewer": 200, "engineer": 200, "lead": 200}
    for role, status in expected.items():
        for url in (_list(private_project), _detail(private_run), _detail(private_run, "run-curves")):
            assert _api(users[role]).get(url).status_code == status, (role, url)
    # A run is found only under its own project.
    assert _api(users["lead"]).get(
        reverse("api:run-detail", kwargs={"project_slug": project.slug, "run_id": private_run.mlflow_run_id})
    ).status_code == 404
