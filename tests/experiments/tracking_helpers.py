"""Shared by the tracking-server tests: calls to /mlflow/ with a token, and projects with an
experiment and a run made straight on the store."""

from __future__ import annotations

import json

from knox.models import AuthToken

from experiments import mlflow_store, services
from experiments.models import RunSource
from tests.matrix import recorded

API = "/mlflow/api/2.0/mlflow"
ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"


def token_for(user) -> str | None:
    return AuthToken.objects.create(user=user)[1] if user is not None else None


def mlflow_call(
    client,
    method: str,
    path: str,
    token: str | None = None,
    *,
    query=None,
    body=None,
    raw=None,
    content_type: str = "application/json",
    **headers,
):
    """A call to the tracking server as a client makes it; the tracking permission tests, the
    server's matrix, are made of these, so the policy actions a call checks count as reached."""
    if token:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    with recorded():
        if method == "GET":
            return client.get(path, query or {}, **headers)
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return client.generic(method, path, data, content_type=content_type, **headers)


def answer(response) -> dict:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return json.loads(content) if content else {}


def tracked_run(project, user, *, source=RunSource.EXTERNAL, name="baseline") -> str:
    """The project's experiment with one run in it (made on the store, recorded); its run id."""
    experiment = services.experiment_ensure(project=project)
    run = mlflow_store.client().create_run(experiment.experiment_id, run_name=name)
    services.run_record(
        project=project, mlflow_run_id=run.info.run_id, source=source, name=name, created_by=user
    )
    return run.info.run_id
