"""Drift monitoring: a deployment's recent traffic against the training part of its run's dataset
version, by population stability index; the project page's warning, the drift page and its
chart, beat's periodic checks, and who gets what from every drift route."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

import experiments.inputs
from datasets.models import SplitPart
from deployments.drift import stats
from deployments.drift.services import drift_check_start, drift_checks_start_due
from deployments.drift.tasks import CHECKS_START
from deployments.models import DriftReport
from experiments.inputs import load_inputs
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import Project
from tests.deployments.drift_helpers import (
    deployment,
    digits_version,
    drift_report,
    log_predictions,
    ready_export,
)
from tests.experiments.test_pages_permissions import LOGIN, R, _outcome, row
from tests.matrix import check_matrix, check_routes, signed_in

# --- The statistics and the index --------------------------------------------------------------


def test_input_stats_are_a_few_numbers_per_kind_that_cannot_rebuild_the_input():
    image = stats.input_stats(schema={"kind": "image"}, row=[0.0] * 32 + [255.0] * 32)
    assert image == {"mean": 127.5, "std": 127.5}
    assert stats.input_stats(schema={"kind": "text"}, row="Hello, wide world!") == {"length": 18.0, "tokens": 3.0}
    assert stats.input_stats(schema={"kind": "tabular"}, row=[1.0, 2.0]) == {}


def test_psi_is_zero_for_the_same_population_and_large_for_a_moved_one():
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, 5000)
    edges = stats.quantile_edges(train)
    expected = stats.bin_shares(train, edges)
    assert len(edges) == 9 and np.allclose(expected, 0.1, atol=0.01)
    same = stats.psi(expected, stats.bin_shares(rng.normal(0, 1, 5000), edges))
    moved = stats.psi(expected, stats.bin_shares(rng.normal(1.5, 1, 5000), edges))
    assert same < 0.02 < settings.PRAKRIYA_DRIFT_PSI_THRESHOLD < moved
    # Every value past the top edge: the empty bins count through epsilon, finitely.
    beyond = stats.psi(expected, stats.bin_shares([99.0] * 10, edges))
    assert np.isfinite(beyond) and beyond > 5


# --- A real check on real digits ---------------------------------------------------------------


def _model(data):
    """A small model fitted on the training part: stands in for the deployed export, whose
    answers the prediction log records."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300).fit(np.asarray(data.x_train) / 255.0, data.y_train)


def _answers(model, rows):
    proba = model.predict_proba(np.asarray(rows) / 255.0)
    return [model.classes_[i] for i in proba.argmax(axis=1)], proba.max(axis=1)


def _checked(deployment, actor) -> DriftReport:
    job = drift_check_start(deployment=deployment, actor=actor)
    assert job_execute(job.pk) == JobState.SUCCEEDED, Job.objects.get(pk=job.pk).message
    return DriftReport.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()


def _warning(page: str) -> str:
    found = re.search(r'<section[^>]*data-testid="drift-warning".*?</section>', page, re.S)
    return found.group(0) if found else ""


@pytest.mark.django_db(transaction=True)
def test_drift_warns_on_a_shifted_input_set_and_not_on_an_unshifted_one(project, lead, monkeypatch):
    version = digits_version(project, lead)
    data = load_inputs(version=version).data
    export = ready_export(project, metrics={"val_mean_confidence": 0.93})
    steady = deployment(project, slug="steady", name="Digits steady", export=export)
    shifted = deployment(project, slug="shifted", name="Digits shifted", export=export)
    # Unshifted: the validation part's images as production inputs, stored. Shifted: the same
    # images inverted (ink dark on a bright ground), under the "hash" setting: no input kept, so
    # only the statistics every prediction keeps can tell.
    model = _model(data)
    labels, scores = _answers(model, data.x_val)
    log_predictions(steady, data.x_val, labels, scores, kept="store")
    inverted = 255.0 - np.asarray(data.x_val)
    labels, scores = _answers(model, inverted)
    log_predictions(shifted, inverted, labels, scores, kept="hash")
    # Everything drift reads of the dataset goes through load_inputs' train and validation parts.
    read_keys: set[str] = set()
    real_parts = experiments.inputs.labelled_parts

    def spied_parts(v):
        parts = real_parts(v)
        read_keys.update(item.key for items in parts.values() for item in items)
        return parts

    monkeypatch.setattr(experiments.inputs, "labelled_parts", spied_parts)
    anonymous = Client()
    page = reverse("projects:detail", args=[project.slug])

    calm = _checked(steady, lead)

    assert not calm.drifted, calm.features
    assert set(calm.features) == {"mean", "std"} and all(f["psi"] < 0.1 for f in calm.features.values())
    assert calm.prediction_psi < 0.1
    assert calm.window["predictions"] == len(data.x_val) and calm.window["reference"] == "digits@v1"
    assert calm.reference_confidence == 0.93 and 0.5 < calm.mean_confidence <= 1
    assert not _warning(anonymous.get(page).content.decode())

    moved = _checked(shifted, lead)

    assert moved.drifted and moved.worst_psi > settings.PRAKRIYA_DRIFT_PSI_THRESHOLD
    assert moved.features["mean"]["psi"] > 1 and moved.features["mean"]["source"] == "stats"
    assert moved.prediction_psi > calm.prediction_psi
    test_keys = set(version.items.filter(assignment__part=SplitPart.TEST).values_list("key", flat=True))
    assert read_keys and test_keys and not read_keys & test_keys
    # The project page is public: it names the drifted deployment and its worst statistic only.
    warning = _warning(anonymous.get(page).content.decode())
    assert "Digits shifted" in warning and "Digits steady" not in warning
    assert f"{moved.worst}," in warning or "predicted labels" in warning
    assert reverse("deployments:drift", args=[project.slug, "shifted"]) not in warning  # anonymous: no link
    # The drift page draws PSI over time with the threshold.
    response = signed_in(lead).get(reverse("deployments:drift", args=[project.slug, "shifted"]))
    assert response.status_code == 200
    figure = json.loads(re.search(rb'data-plotly-for="drift-chart">(.*?)</script>', response.content, re.S).group(1))
    names = [trace["name"] for trace in figure["data"]]
    assert {"mean", "std", "predicted labels", "threshold 0.2"} <= set(names)
    assert figure["data"][names.index("mean")]["y"] == [moved.features["mean"]["psi"]]


@pytest.mark.django_db(transaction=True)
def test_tabular_features_are_measured_only_where_inputs_are_stored(project, lead):
    from datasets import services as dataset_services
    from tests.experiments.test_inputs import _sklearn_version as sklearn_version

    version = sklearn_version(project, lead, "iris", "tabular")
    dataset_services.split_create(version=version, actor=lead, seed=1)
    data = load_inputs(version=version).data
    schema = {
        "format": 1, "kind": "tabular", "classes": list(data.classes), "feature_names": list(version.columns),
        "n_features": len(version.columns), "image": None, "text": None,
        "onnx_inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 4]}], "onnx_output": "probabilities",
        "opset": 17, "trainer": "logistic_regression",
    }
    export = ready_export(project, version_ref="iris@v1", schema=schema)
    stored = deployment(project, slug="stored", name="Stored", export=export)
    hashed = deployment(project, slug="hashed", name="Hashed", export=export)
    # The training rows again, one feature moved far past its training range.
    rows = np.array(data.x_train, dtype=np.float64)
    rows[:, 2] += 10
    labels = list(data.y_train)
    log_predictions(stored, rows, labels, [0.9] * len(rows), kept="store")
    log_predictions(hashed, rows, labels, [0.9] * len(rows), kept="hash")

    seen = _checked(stored, lead)
    blind = _checked(hashed, lead)

    assert set(seen.features) == set(version.columns) and seen.worst == version.columns[2] and seen.drifted
    assert seen.features[version.columns[0]]["psi"] < 0.05
    assert blind.features == {} and blind.worst == "predictions" and not blind.drifted


@pytest.mark.django_db(transaction=True)
def test_too_few_predictions_make_no_report(project, lead, settings):
    settings.PRAKRIYA_DRIFT_MIN_PREDICTIONS = 20
    live = deployment(project)
    log_predictions(live, [[0.0] * 64] * 5, ["1"] * 5, [0.5] * 5, kept="drop")
    job = drift_check_start(deployment=live, actor=lead)

    assert job_execute(job.pk) == JobState.SUCCEEDED
    assert not DriftReport.objects.exists()
    assert "a drift check needs at least 20" in Job.objects.get(pk=job.pk).result["skipped"]


# --- Beat's periodic checks --------------------------------------------------------------------


@pytest.mark.django_db
def test_beat_checks_each_deployment_that_answered_since_its_last_check_once():
    assert settings.CELERY_BEAT_SCHEDULE["drift-checks"]["task"] == CHECKS_START
    from tests.factories import UserFactory, make_project

    project = make_project(lead=UserFactory(username="beat-lead"), slug="beat")
    answered = deployment(project, slug="answered")
    checked = deployment(project, slug="checked", export=answered.stable)
    silent = deployment(project, slug="silent", export=answered.stable)
    log_predictions(answered, [[1.0] * 64], ["1"], [0.9], kept="drop")
    log_predictions(checked, [[1.0] * 64], ["1"], [0.9], kept="drop", minutes_ago=120)
    drift_report(checked, drifted=False, psi=0.01)  # checked after its last prediction

    first = drift_checks_start_due()
    again = drift_checks_start_due()

    assert [(job.kind, job.target_id, job.created_by) for job in first] == [("deployments_drift", answered.pk, None)]
    assert again == []  # its check is still queued
    assert silent.pk not in {job.target_id for job in first}


# --- Who gets what -----------------------------------------------------------------------------

PAGE_PUBLIC_READ = row(LOGIN, 403, 403, 403, 200, 200)
PAGE_PRIVATE_READ = row(404, 404, 403, 403, 200, 200)
PAGE_PUBLIC_START = row(LOGIN, 403, 403, 403, R, R)
PAGE_PRIVATE_START = row(404, 404, 403, 403, R, R)
API_PUBLIC_READ = row(403, 403, 403, 403, 200, 200)
API_PRIVATE_READ = row(404, 404, 403, 403, 200, 200)
# Writes authenticate first (anonymous: 401, as every API write), then resolve the project.
API_PUBLIC_START = row(401, 403, 403, 403, 202, 202)
API_PRIVATE_START = row(401, 404, 403, 403, 202, 202)
ROUTES = [
    ("page", "GET", PAGE_PUBLIC_READ, PAGE_PRIVATE_READ),
    ("page", "POST", PAGE_PUBLIC_START, PAGE_PRIVATE_START),
    ("api", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api", "POST", API_PUBLIC_START, API_PRIVATE_START),
]


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_drift_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    live = deployment(target)
    drift_report(live, drifted=True, psi=0.7, hours_ago=1)
    drift_report(live, drifted=False, psi=0.05)
    check_routes({
        f"{method} {route}": functools.partial(
            _check_route, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, target=target, live=live,
        )
        for route, method, public, private in ROUTES
    })


def _check_route(*, route, method, expected, visibility, users, target, live):
    url = (reverse("deployments:drift", args=[target.slug, live.slug]) if route == "page"
           else f"/api/projects/{target.slug}/deployments/{live.slug}/drift/")

    def send(role):
        client = signed_in(users[role], api=route == "api")
        return client.get(url) if method == "GET" else client.post(url)

    def also(role, response, expected):
        if method == "GET" and expected == 200:
            if route == "page" and b'data-plotly-for="drift-chart"' not in response.content:
                return "no drift chart"
            if route == "api" and [r["drifted"] for r in response.json()] != [False, True]:
                return "the reports are not listed newest first"
        started = Job.objects.filter(kind="deployments_drift").count()
        if method == "POST" and started != (1 if expected in (R, 202) else 0):
            return f"{started} drift checks started"
        return None

    check_matrix(route=f"{method} drift {route}", visibility=visibility, send=send, status_of=_outcome, also=also,
                 expected=expected)


@pytest.mark.django_db
def test_the_project_page_shows_only_the_latest_check_and_links_drift_to_those_who_read_it(project, lead, viewer):
    live = deployment(project, name="Digits live")
    drift_report(live, drifted=True, psi=0.9, hours_ago=2)
    page = reverse("projects:detail", args=[project.slug])
    drift_url = reverse("deployments:drift", args=[project.slug, live.slug])

    assert "Digits live" in _warning(signed_in(viewer).get(page).content.decode())
    assert drift_url in _warning(signed_in(lead).get(page).content.decode())
    assert drift_url not in _warning(signed_in(viewer).get(page).content.decode())

    drift_report(live, drifted=False, psi=0.05)  # the latest check is calm again

    assert not _warning(signed_in(lead).get(page).content.decode())
    Project.objects.filter(pk=project.pk).update(visibility="private")
    assert Client().get(page).status_code == 404
