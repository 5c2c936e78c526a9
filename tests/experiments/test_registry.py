"""Checkpoints by stage: a finished run's model becomes a version of the project's registered model
in MLflow's registry, with the stage's alias pointing at it; pages and API show and do the same."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from experiments import checkpoints, mlflow_store
from tests.conftest import ROLES
from tests.experiments.runs_helpers import logged_run
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db


def _with_model(project, name: str = "trained", finished: bool = True):
    """A run with a model/model.pt artifact (its bytes are never loaded: the registry only points
    at the run's model folder)."""
    run = logged_run(project, name=name, train=[1.0, 0.5], val=[1.1, 0.7], finished=False)
    mlflow_store.log_artifact(run_id=run.mlflow_run_id, local_path=_model_file(), artifact_path="model")
    if finished:
        mlflow_store.client().set_terminated(run.mlflow_run_id, status="FINISHED")
    return run


def _model_file():
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="model-"))
    (folder / "model.pt").write_bytes(b"weights")
    return folder / "model.pt"


def _register_url(run, api: bool = False) -> str:
    if api:
        return reverse("api:run-register", kwargs={"project_slug": run.project.slug, "run_id": run.mlflow_run_id})
    return reverse("experiments:register", args=[run.project.slug, run.mlflow_run_id])


def test_registering_a_stage_sets_its_alias_to_a_version_that_points_at_the_run(project, engineer):
    first = _with_model(project, "first")
    second = _with_model(project, "second")

    one = checkpoints.checkpoint_register(run=first, actor=engineer, stage="overfit-all")
    two = checkpoints.checkpoint_register(run=second, actor=engineer, stage="overfit-all")
    three = checkpoints.checkpoint_register(run=second, actor=engineer, stage="regularised")

    client = mlflow_store.client()
    name = checkpoints.model_name(project=project)
    assert name == project.slug
    moved = client.get_model_version_by_alias(name, "overfit-all")
    assert str(moved.version) == two.version and moved.run_id == second.mlflow_run_id
    assert moved.source.endswith(f"{second.mlflow_run_id}/artifacts/model")
    assert str(client.get_model_version_by_alias(name, "regularised").version) == three.version
    # The first checkpoint stays in the registry, linked to its run, without the alias.
    kept = client.get_model_version(name, one.version)
    assert kept.run_id == first.mlflow_run_id and kept.tags[mlflow_store.TAG_STAGE] == "overfit-all"
    assert [(v.version, v.aliases) for v in checkpoints.run_versions(run=first)] == [(one.version, [])]
    assert [(v.version, v.aliases) for v in checkpoints.run_versions(run=second)] == [
        (three.version, ["regularised"]), (two.version, ["overfit-all"]),
    ]


def test_the_run_page_shows_versions_and_registers_for_leads(client, project, lead, viewer):
    run = _with_model(project)
    client.force_login(lead)
    page = client.get(reverse("experiments:run", args=[project.slug, run.mlflow_run_id])).content.decode()
    assert "Register as fine-tuned" in page and "not registered" in page

    response = client.post(_register_url(run), {"stage": "fine-tuned"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "@fine-tuned" in page and "Version 1" in page

    client.force_login(viewer)
    page = client.get(reverse("experiments:run", args=[project.slug, run.mlflow_run_id])).content.decode()
    assert "@fine-tuned" in page and "Register as" not in page


def test_the_api_registers_and_lists_a_runs_checkpoints(project, engineer):
    run = _with_model(project)
    api_client = signed_in(engineer, api=True)
    created = api_client.post(_register_url(run, api=True), {"stage": "overfit-one-batch"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json() == {"model": project.slug, "version": "1", "aliases": ["overfit-one-batch"],
                              "stage": "overfit-one-batch"}
    listed = api_client.get(_register_url(run, api=True)).json()
    assert [v["aliases"] for v in listed] == [["overfit-one-batch"]]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("running", "Only a finished run"),
        ("no model", "saved no model/model.pt"),
        ("bad stage", "Choose a stage"),
    ],
)
def test_registering_what_cannot_be_registered_is_refused_with_a_reason(case, message, client, project, lead):
    if case == "running":
        run = _with_model(project, finished=False)
    elif case == "no model":
        run = logged_run(project, name="no model", train=[1.0])
    else:
        run = _with_model(project)
    stage = "production" if case == "bad stage" else "overfit-all"
    with pytest.raises(ValidationError, match=message):
        checkpoints.checkpoint_register(run=run, actor=lead, stage=stage)
    client.force_login(lead)
    response = client.post(_register_url(run), {"stage": stage})
    assert response.status_code == 400 and message in response.content.decode()
    assert checkpoints.run_versions(run=run) == []


def test_the_api_answers_a_bad_stage_with_400(project, lead):
    run = _with_model(project)
    api_client = signed_in(lead, api=True)
    response = api_client.post(_register_url(run, api=True), {"stage": "gold"}, format="json")
    assert response.status_code == 400 and "stage" in response.json()["errors"]


def close_mlflow_connections() -> None:
    """The matrix puts the data folder back as built after each role, MLflow's SQLite file
    included: the next role's request must open it afresh, not write through a stale handle."""
    for store in (mlflow_store.tracking_store(), mlflow_store.registry_store()):
        store.engine.dispose()


def row(*cells) -> dict[str, Any]:
    return dict(zip(ROLES, cells, strict=True))


LOGIN = "login"
# (route, api, expected on the public project, on the private one)
MATRIX = [
    ("register POST", False, row(LOGIN, 403, 403, 403, 302, 302), row(404, 404, 403, 403, 302, 302)),
    ("api register POST", True, row(401, 403, 403, 403, 201, 201), row(401, 404, 403, 403, 201, 201)),
    ("api register GET", True, row(200, 200, 200, 200, 200, 200), row(404, 404, 200, 403, 200, 200)),
]


def status_of(response) -> Any:
    """A response as the matrices write it: "login" for a redirect to the login page."""
    if response.status_code == 302 and reverse("login") in response["Location"]:
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_register_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back (the data folder, MLflow's
    # store included, put back as built), so each route sees it as built.
    target = project if visibility == "public" else private_project
    run = _with_model(target)
    check_routes({
        route: functools.partial(_check_route, route=route, api=api, visibility=visibility, users=users, run=run,
                                 expected=public if visibility == "public" else private)
        for route, api, public, private in MATRIX
    })


def _check_route(*, route, api, visibility, users, run, expected):
    url = _register_url(run, api=api)

    def send(role):
        client = signed_in(users[role], api=api)
        if route.endswith("GET"):
            return client.get(url)
        response = client.post(url, {"stage": "overfit-all"}, **({"format": "json"} if api else {}))
        close_mlflow_connections()
        return response

    check_matrix(route=route, visibility=visibility, expected=expected, send=send, status_of=status_of)
