"""Who may do what through the tracking server at /mlflow/, and how bad requests are answered:
always MLflow's JSON error shape, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from experiments import mlflow_store, selectors
from experiments.models import RunSource
from tests.experiments.tracking_helpers import API, ARTIFACTS, answer, mlflow_call, token_for, tracked_run
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens(users):
    return {role: token_for(user) for role, user in users.items()}


@pytest.fixture
def private_run(private_project, lead):
    return tracked_run(private_project, lead)


@pytest.fixture
def public_run(project, lead):
    return tracked_run(project, lead)


def _metric(run_id: str) -> dict:
    return {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 3}


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    data = answer(response)
    assert data["error_code"] == code
    assert data["message"]


# --- Authentication ------------------------------------------------------------------------------


def test_anonymous_gets_401_in_mlflow_error_shape(client, public_run):
    response = mlflow_call(client, "GET", f"{API}/runs/get", query={"run_id": public_run})
    assert_error(response, 401, "UNAUTHENTICATED")
    assert "Bearer" in response["WWW-Authenticate"]
    assert_error(
        mlflow_call(client, "POST", f"{API}/runs/log-metric", body=_metric(public_run)),
        401,
        "UNAUTHENTICATED",
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token",
        "Bearer ",
        "Token \x00\x01",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Digest username=x",
        "Bearer " + "é" * 10,
    ],
)
def test_bad_credentials_get_401(client, public_run, header):
    response = mlflow_call(
        client, "GET", f"{API}/runs/get", query={"run_id": public_run}, HTTP_AUTHORIZATION=header
    )
    assert_error(response, 401, "UNAUTHENTICATED")


def test_basic_auth_takes_username_and_token(client, public_run, engineer, lead):
    token = token_for(engineer)
    good = base64.b64encode(f"{engineer.username}:{token}".encode()).decode()
    wrong_user = base64.b64encode(f"{lead.username}:{token}".encode()).decode()
    ok = mlflow_call(
        client, "GET", f"{API}/runs/get", query={"run_id": public_run}, HTTP_AUTHORIZATION=f"Basic {good}"
    )
    assert ok.status_code == 200
    refused = mlflow_call(
        client,
        "GET",
        f"{API}/runs/get",
        query={"run_id": public_run},
        HTTP_AUTHORIZATION=f"Basic {wrong_user}",
    )
    assert_error(refused, 401, "UNAUTHENTICATED")


def test_a_signed_in_session_is_not_accepted_without_a_token(client, engineer, public_run):
    client.force_login(engineer)
    response = mlflow_call(client, "POST", f"{API}/runs/log-metric", body=_metric(public_run))
    assert_error(response, 401, "UNAUTHENTICATED")


# --- Reads and writes by role --------------------------------------------------------------------

PRIVATE_READ = {
    "outsider": (404, "RESOURCE_DOES_NOT_EXIST"),
    "annotator": (403, "PERMISSION_DENIED"),
    "viewer": 200,
    "engineer": 200,
    "lead": 200,
}
PUBLIC_READ = {"outsider": 200, "annotator": 200, "viewer": 200, "engineer": 200, "lead": 200}
PRIVATE_WRITE = {
    "outsider": (404, "RESOURCE_DOES_NOT_EXIST"),
    "annotator": (403, "PERMISSION_DENIED"),
    "viewer": (403, "PERMISSION_DENIED"),
    "engineer": 200,
    "lead": 200,
}
PUBLIC_WRITE = {
    "outsider": (403, "PERMISSION_DENIED"),
    "annotator": (403, "PERMISSION_DENIED"),
    "viewer": (403, "PERMISSION_DENIED"),
    "engineer": 200,
    "lead": 200,
}


def _check(response, expected):
    if expected == 200:
        assert response.status_code == 200, response.content
    else:
        assert_error(response, *expected)


@pytest.mark.parametrize("role", list(PRIVATE_READ))
def test_reading_a_private_projects_runs_by_role(client, tokens, private_project, private_run, role):
    experiment_id = private_project.mlflow_experiment.experiment_id
    token = tokens[role]
    _check(
        mlflow_call(client, "GET", f"{API}/runs/get", token, query={"run_id": private_run}),
        PRIVATE_READ[role],
    )
    _check(
        mlflow_call(client, "GET", f"{API}/experiments/get", token, query={"experiment_id": experiment_id}),
        PRIVATE_READ[role],
    )
    _check(
        mlflow_call(
            client,
            "GET",
            f"{API}/experiments/get-by-name",
            token,
            query={"experiment_name": private_project.slug},
        ),
        PRIVATE_READ[role],
    )
    _check(
        mlflow_call(
            client,
            "GET",
            f"{API}/metrics/get-history",
            token,
            query={"run_id": private_run, "metric_key": "loss"},
        ),
        PRIVATE_READ[role],
    )
    _check(
        mlflow_call(client, "POST", f"{API}/runs/search", token, body={"experiment_ids": [experiment_id]}),
        PRIVATE_READ[role],
    )
    _check(
        mlflow_call(
            client, "GET", ARTIFACTS, token, query={"path": f"{experiment_id}/{private_run}/artifacts"}
        ),
        PRIVATE_READ[role],
    )


@pytest.mark.parametrize("role", list(PUBLIC_READ))
def test_any_token_reads_a_public_projects_runs(client, tokens, public_run, role):
    _check(
        mlflow_call(client, "GET", f"{API}/runs/get", tokens[role], query={"run_id": public_run}),
        PUBLIC_READ[role],
    )


@pytest.mark.parametrize("role", list(PRIVATE_WRITE))
def test_logging_to_a_private_projects_run_by_role(client, tokens, private_project, private_run, role):
    token = tokens[role]
    _check(
        mlflow_call(client, "POST", f"{API}/runs/log-metric", token, body=_metric(private_run)),
        PRIVATE_WRITE[role],
    )
    _check(
        mlflow_call(
            client,
            "POST",
            f"{API}/runs/create",
            token,
            body={"experiment_id": private_project.mlflow_experiment.experiment_id},
        ),
        PRIVATE_WRITE[role],
    )
    experiment_id = private_project.mlflow_experiment.experiment_id
    upload = mlflow_call(
        client,
        "PUT",
        f"{ARTIFACTS}/{experiment_id}/{private_run}/artifacts/notes.txt",
        token,
        raw=b"hello",
        content_type="application/octet-stream",
    )
    _check(upload, PRIVATE_WRITE[role])


@pytest.mark.parametrize("role", list(PUBLIC_WRITE))
def test_logging_to_a_public_projects_run_by_role(client, tokens, public_run, role):
    _check(
        mlflow_call(client, "POST", f"{API}/runs/log-metric", tokens[role], body=_metric(public_run)),
        PUBLIC_WRITE[role],
    )


def test_written_metric_and_artifact_land_in_the_store(client, engineer, project, public_run, tmp_path):
    token = token_for(engineer)
    assert (
        mlflow_call(client, "POST", f"{API}/runs/log-metric", token, body=_metric(public_run)).status_code
        == 200
    )
    experiment_id = project.mlflow_experiment.experiment_id
    path = f"{ARTIFACTS}/{experiment_id}/{public_run}/artifacts/dir/notes.txt"
    put = mlflow_call(client, "PUT", path, token, raw=b"hello", content_type="application/octet-stream")
    assert put.status_code == 200, put.content
    history = mlflow_store.client().get_metric_history(public_run, "loss")
    assert [(m.step, m.value) for m in history] == [(3, 0.5)]
    local = mlflow_store.download_artifact(run_id=public_run, path="dir/notes.txt", dst_path=tmp_path)
    assert open(local, "rb").read() == b"hello"
    got = mlflow_call(client, "GET", path, token)
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == b"hello"


# --- Across projects -----------------------------------------------------------------------------


@pytest.fixture
def other_lead(db):
    return UserFactory(username="other-lead")


@pytest.mark.parametrize("visibility", ["private", "public"])
def test_a_token_for_one_project_cannot_write_to_another_projects_run(
    client, engineer, project, other_lead, visibility
):
    other = make_project(lead=other_lead, slug=f"other-{visibility}", visibility=visibility)
    other_run = tracked_run(other, other_lead)
    own_run = tracked_run(project, engineer)
    token = token_for(engineer)
    expected = (404, "RESOURCE_DOES_NOT_EXIST") if visibility == "private" else (403, "PERMISSION_DENIED")

    assert_error(
        mlflow_call(client, "POST", f"{API}/runs/log-metric", token, body=_metric(other_run)), *expected
    )
    assert_error(
        mlflow_call(
            client,
            "POST",
            f"{API}/runs/create",
            token,
            body={"experiment_id": other.mlflow_experiment.experiment_id},
        ),
        *expected,
    )
    # Nor through an artifact path: the other project's experiment, or its run under our experiment.
    own_experiment = project.mlflow_experiment.experiment_id
    other_experiment = other.mlflow_experiment.experiment_id
    upload = {"raw": b"x", "content_type": "application/octet-stream"}
    assert_error(
        mlflow_call(
            client, "PUT", f"{ARTIFACTS}/{other_experiment}/{other_run}/artifacts/x.txt", token, **upload
        ),
        *expected,
    )
    smuggled = mlflow_call(
        client, "PUT", f"{ARTIFACTS}/{own_experiment}/{other_run}/artifacts/x.txt", token, **upload
    )
    assert smuggled.status_code in (403, 404)
    # Nor make our run a child of theirs.
    child = mlflow_call(
        client,
        "POST",
        f"{API}/runs/set-tag",
        token,
        body={"run_id": own_run, "key": "mlflow.parentRunId", "value": other_run},
    )
    assert child.status_code in (403, 404)
    assert mlflow_store.client().get_metric_history(other_run, "loss") == []


def test_search_experiments_lists_only_what_the_caller_may_see(client, users, project, private_project, lead):
    tracked_run(project, lead)
    tracked_run(private_project, lead)
    outsider = answer(
        mlflow_call(
            client,
            "GET",
            f"{API}/experiments/search",
            token_for(users["outsider"]),
            query={"max_results": 100},
        )
    )
    viewer = answer(
        mlflow_call(
            client, "POST", f"{API}/experiments/search", token_for(users["viewer"]), body={"max_results": 100}
        )
    )
    # MLflow's "Default" experiment belongs to no project and is never listed.
    assert [e["name"] for e in outsider["experiments"]] == [project.slug]
    assert sorted(e["name"] for e in viewer["experiments"]) == sorted([project.slug, private_project.slug])


def test_runs_made_by_platform_jobs_are_read_only_here(client, engineer, project, lead):
    run_id = tracked_run(project, lead, source=RunSource.PLATFORM)
    token = token_for(engineer)
    assert mlflow_call(client, "GET", f"{API}/runs/get", token, query={"run_id": run_id}).status_code == 200
    assert_error(
        mlflow_call(client, "POST", f"{API}/runs/log-metric", token, body=_metric(run_id)),
        403,
        "PERMISSION_DENIED",
    )


# --- Creating experiments ------------------------------------------------------------------------


def test_only_a_projects_own_experiment_may_be_created(client, users, project, private_project):
    engineer, viewer, outsider = (token_for(users[r]) for r in ("engineer", "viewer", "outsider"))
    create = f"{API}/experiments/create"
    assert_error(
        mlflow_call(client, "POST", create, engineer, body={"name": "my-scratch"}), 403, "PERMISSION_DENIED"
    )
    assert_error(
        mlflow_call(client, "POST", create, viewer, body={"name": project.slug}), 403, "PERMISSION_DENIED"
    )
    # The same refusal for a private project the caller cannot see: nothing is revealed.
    assert_error(
        mlflow_call(client, "POST", create, outsider, body={"name": private_project.slug}),
        403,
        "PERMISSION_DENIED",
    )

    made = mlflow_call(client, "POST", create, engineer, body={"name": project.slug})
    assert made.status_code == 200
    experiment_id = answer(made)["experiment_id"]
    assert project.mlflow_experiment.experiment_id == experiment_id
    experiment = mlflow_store.client().get_experiment(experiment_id)
    assert experiment.name == project.slug
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert experiment.tags[mlflow_store.TAG_PROJECT] == project.slug
    assert_error(
        mlflow_call(client, "POST", create, engineer, body={"name": project.slug}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )


def test_platform_experiment_tags_cannot_be_changed_by_clients(client, engineer, project, public_run):
    token = token_for(engineer)
    experiment_id = project.mlflow_experiment.experiment_id
    tag = f"{API}/experiments/set-experiment-tag"
    assert_error(
        mlflow_call(
            client,
            "POST",
            tag,
            token,
            body={"experiment_id": experiment_id, "key": "prakriya.project", "value": "x"},
        ),
        403,
        "PERMISSION_DENIED",
    )
    ok = mlflow_call(
        client, "POST", tag, token, body={"experiment_id": experiment_id, "key": "team", "value": "cv"}
    )
    assert ok.status_code == 200


# --- Endpoints not served ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{API}/experiments/delete"),
        ("POST", f"{API}/experiments/update"),
        ("POST", f"{API}/runs/delete"),
        ("POST", f"{API}/registered-models/create"),
        ("GET", f"{API}/registered-models/search"),
        ("POST", "/mlflow/graphql"),
        ("GET", "/mlflow/api/3.0/mlflow/gateway/endpoints/list"),
        ("POST", "/mlflow/api/3.0/mlflow/traces"),
        ("POST", "/mlflow/api/3.0/mlflow/prompt-optimization/jobs"),
        ("GET", f"{API}/webhooks"),
        ("GET", "/mlflow/ajax-api/2.0/mlflow/experiments/search"),
        ("GET", "/mlflow/"),
        ("DELETE", f"{ARTIFACTS}/1/abc/artifacts/x.txt"),
    ],
)
def test_endpoints_tracking_clients_do_not_need_are_refused(client, engineer, method, path):
    response = mlflow_call(client, method, path, token_for(engineer))
    assert_error(response, 403, "PERMISSION_DENIED")


def test_unknown_endpoint_is_a_404_in_mlflow_shape(client, engineer):
    assert_error(
        mlflow_call(client, "GET", f"{API}/no-such-thing", token_for(engineer)), 404, "ENDPOINT_NOT_FOUND"
    )
    assert_error(
        mlflow_call(client, "DELETE", f"{API}/runs/get", token_for(engineer)), 405, "ENDPOINT_NOT_FOUND"
    )


def test_head_and_options_are_not_served(client, engineer, public_run):
    token = token_for(engineer)
    for method in ("HEAD", "OPTIONS"):
        response = client.generic(
            method, f"{API}/runs/get?run_id={public_run}", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert response.status_code == 405


# --- Malformed requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "MALFORMED_REQUEST"),
        (b"[1, 2]", "MALFORMED_REQUEST"),
        (b"\xff\xfe\x00garbage", "MALFORMED_REQUEST"),
        (b"[" * 100_000, "MALFORMED_REQUEST"),
        (json.dumps({"experiment_id": 7}).encode(), "INVALID_PARAMETER_VALUE"),
        (json.dumps({"experiment_id": ["1"]}).encode(), "INVALID_PARAMETER_VALUE"),
        (json.dumps({"experiment_id": "1", "experimentId": "2"}).encode(), "INVALID_PARAMETER_VALUE"),
        (json.dumps({}).encode(), "INVALID_PARAMETER_VALUE"),
    ],
)
def test_malformed_bodies_get_400_in_mlflow_shape(client, engineer, project, public_run, raw, code):
    response = mlflow_call(client, "POST", f"{API}/runs/create", token_for(engineer), raw=raw)
    assert_error(response, 400, code)


@pytest.mark.parametrize(
    "query",
    [
        {"run_id": "x\x00y"},
        {"run_id": "../../etc"},
        {"run_id": "a" * 500},
        {"run_id": "0123456789abcdef0123456789abcdef"},
    ],
)
def test_unknown_or_odd_run_ids_are_404_not_500(client, engineer, public_run, query):
    response = mlflow_call(client, "GET", f"{API}/runs/get", token_for(engineer), query=query)
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_ambiguous_parameters_are_refused(client, engineer, public_run, lead, private_project):
    token = token_for(engineer)
    other = tracked_run(private_project, lead)
    twice = client.get(
        f"{API}/runs/get?run_id={public_run}&run_id={other}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert_error(twice, 400, "INVALID_PARAMETER_VALUE")
    both = mlflow_call(
        client, "POST", f"{API}/runs/log-metric", token, body={**_metric(public_run), "run_uuid": other}
    )
    assert_error(both, 400, "INVALID_PARAMETER_VALUE")
    spelled_twice = mlflow_call(
        client, "POST", f"{API}/runs/log-metric", token, body={**_metric(public_run), "runId": other}
    )
    assert_error(spelled_twice, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "1/../../secret.txt",
        "1/%2e%2e/%2e%2e/secret.txt",
        "/etc/passwd",
        "abc/x.txt",
        "",
        "1/x.txt",
    ],
)
def test_artifact_paths_outside_a_run_folder_are_refused(client, engineer, project, public_run, path):
    response = mlflow_call(
        client,
        "PUT",
        f"{ARTIFACTS}/{path}",
        token_for(engineer),
        raw=b"x",
        content_type="application/octet-stream",
    )
    assert response.status_code in (400, 403, 404), response.content
    assert answer(response)["error_code"] in {
        "INVALID_PARAMETER_VALUE",
        "PERMISSION_DENIED",
        "RESOURCE_DOES_NOT_EXIST",
        "ENDPOINT_NOT_FOUND",
    }


def test_listing_the_artifact_root_is_refused(client, engineer, public_run):
    assert_error(mlflow_call(client, "GET", ARTIFACTS, token_for(engineer)), 403, "PERMISSION_DENIED")


def test_oversized_bodies_get_413(client, engineer, project, public_run, settings):
    token = token_for(engineer)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = mlflow_call(
        client,
        "POST",
        f"{API}/runs/log-batch",
        token,
        body={"run_id": public_run, "params": [{"key": "k", "value": "v" * 2000}]},
    )
    assert_error(big, 413, "REQUEST_LIMIT_EXCEEDED")
    settings.PRAKRIYA_MLFLOW_ARTIFACT_MAX_BYTES = 1024
    experiment_id = project.mlflow_experiment.experiment_id
    upload = mlflow_call(
        client,
        "PUT",
        f"{ARTIFACTS}/{experiment_id}/{public_run}/artifacts/big.bin",
        token,
        raw=b"x" * 5000,
        content_type="application/octet-stream",
    )
    assert_error(upload, 413, "REQUEST_LIMIT_EXCEEDED")
    assert mlflow_store.list_artifacts(run_id=public_run) == []


def test_a_run_created_through_the_server_is_recorded_with_its_parent(client, engineer, project):
    token = token_for(engineer)
    parent_id = tracked_run(project, engineer, name="sweep")
    experiment_id = project.mlflow_experiment.experiment_id
    made = mlflow_call(
        client,
        "POST",
        f"{API}/runs/create",
        token,
        body={
            "experiment_id": experiment_id,
            "run_name": "trial-1",
            "user_id": "root",
            "tags": [
                {"key": "mlflow.parentRunId", "value": parent_id},
                {"key": "mlflow.user", "value": "root"},
            ],
        },
    )
    assert made.status_code == 200, made.content
    run_id = answer(made)["run"]["info"]["run_id"]
    record = selectors.run_for_mlflow_id(mlflow_run_id=run_id)
    assert record.parent.mlflow_run_id == parent_id
    assert record.source == RunSource.EXTERNAL and record.created_by == engineer
    run = mlflow_store.client().get_run(run_id)
    assert run.info.user_id == engineer.username
    assert run.data.tags["mlflow.user"] == engineer.username


def test_hostile_payloads_never_get_a_500(client, engineer, project, public_run):
    token = token_for(engineer)
    experiment_id = project.mlflow_experiment.experiment_id
    cases = [
        ("POST", f"{API}/runs/log-batch", {"run_id": public_run, "metrics": "lots"}),
        ("POST", f"{API}/runs/log-batch", {"run_id": public_run, "metrics": [{"key": "k", "value": "NaNx"}]}),
        ("POST", f"{API}/runs/log-batch", {"run_id": public_run, "params": [{"key": "", "value": "v"}]}),
        ("POST", f"{API}/runs/log-metric", {"run_id": public_run, "key": "../x", "value": 1, "timestamp": 1}),
        ("POST", f"{API}/runs/log-parameter", {"run_id": public_run, "key": "k" * 10_000, "value": "v"}),
        ("POST", f"{API}/runs/set-tag", {"run_id": public_run, "key": None, "value": 5}),
        ("POST", f"{API}/runs/update", {"run_id": public_run, "status": "EXPLODED"}),
        ("POST", f"{API}/runs/create", {"experiment_id": experiment_id, "start_time": "yesterday"}),
        ("POST", f"{API}/runs/create", {"experiment_id": experiment_id, "tags": "x"}),
        (
            "POST",
            f"{API}/runs/create",
            {"experiment_id": experiment_id, "tags": [{"key": "mlflow.parentRunId"}]},
        ),
        ("POST", f"{API}/runs/search", {"experiment_ids": [experiment_id], "filter": "metrics.loss >>> 1"}),
        ("POST", f"{API}/runs/search", {"experiment_ids": [experiment_id], "max_results": -5}),
        ("POST", f"{API}/runs/search", {"experiment_ids": "1"}),
        ("POST", f"{API}/experiments/search", {"max_results": "many", "filter": "name ==="}),
        ("POST", f"{API}/logged-models", {"experiment_id": experiment_id, "source_run_id": 12}),
        (
            "POST",
            f"{API}/runs/outputs",
            {"run_id": public_run, "models": [{"model_id": "m-nope", "step": 0}]},
        ),
        ("POST", f"{API}/runs/log-inputs", {"run_id": public_run, "datasets": [{"dataset": {}}]}),
        (
            "GET",
            f"{API}/metrics/get-history",
            {"run_id": public_run, "metric_key": "loss", "max_results": "-1"},
        ),
        (
            "GET",
            f"{API}/metrics/get-history-bulk-interval",
            {"run_ids": public_run, "metric_key": "loss", "max_results": "zero"},
        ),
        ("GET", f"{API}/artifacts/list", {"run_id": public_run, "path": "../../.."}),
        ("GET", ARTIFACTS, {"path": f"{experiment_id}/%00"}),
        ("GET", f"{ARTIFACTS}/{experiment_id}/{public_run}/artifacts/missing.txt", None),
        ("GET", f"{API}/logged-models/m-{'0' * 32}", None),
        ("GET", f"{API}/experiments/get", {"experiment_id": "99999999999999999999999"}),
        ("GET", f"{API}/experiments/get-by-name", {"experiment_name": "x" * 5000}),
    ]
    for method, path, payload in cases:
        if method == "GET":
            response = mlflow_call(client, method, path, token, query=payload)
        else:
            response = mlflow_call(client, method, path, token, body=payload)
        # Refused with MLflow's error shape, or (a few) accepted as MLflow accepts them: never a 500.
        assert response.status_code < 500, (path, payload, response.status_code, answer(response))
        if response.status_code >= 400:
            assert answer(response)["error_code"], (path, payload)


def test_searches_with_no_experiment_ids_find_nothing_of_other_projects(client, users, private_project, lead):
    run_id = tracked_run(private_project, lead)
    outsider = token_for(users["outsider"])
    runs = answer(mlflow_call(client, "POST", f"{API}/runs/search", outsider, body={"experiment_ids": []}))
    assert run_id not in json.dumps(runs)
    models = mlflow_call(client, "POST", f"{API}/logged-models/search", outsider, body={"experiment_ids": []})
    assert private_project.slug not in json.dumps(answer(models))
