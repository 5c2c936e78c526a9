"""The platform as an MLflow tracking server, with the real MLflow client in a subprocess
against a live server: what a notebook logs appears under its project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from knox.models import AuthToken

from experiments import mlflow_store, selectors
from experiments.models import RunSource

SCRIPT = Path(__file__).with_name("mlflow_client_script.py")
REPO = Path(__file__).resolve().parents[3]


def client_env(live_server, token: str, experiment: str, **extra: str) -> dict[str, str]:
    # A client machine's environment: none of this process's MLflow or Django variables.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MLFLOW_", "_MLFLOW_", "DJANGO_", "PRAKRIYA_", "DATABASE_"))
    }
    env.update(
        MLFLOW_TRACKING_URI=f"{live_server.url}/mlflow",
        MLFLOW_TRACKING_TOKEN=token,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        GIT_PYTHON_REFRESH="quiet",
        PRAKRIYA_TEST_EXPERIMENT=experiment,
    )
    env.update(extra)
    return env


def run_client(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "report.txt")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.django_db(transaction=True)
def test_notebook_run_logged_with_the_mlflow_client_appears_under_its_project(
    live_server, project, engineer, tmp_path
):
    (tmp_path / "report.txt").write_text("confusion matrix goes here\n")
    _, token = AuthToken.objects.create(user=engineer)

    result = run_client(client_env(live_server, token, project.slug), tmp_path)

    assert result.returncode == 0, result.stderr[-5000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    run_id = seen["run_id"]
    # What the client read back through the tracking server.
    assert seen["history"] == [[step, 1.0 / (step + 1)] for step in range(5)]
    assert seen["listed"] == ["report.txt", "reports"]
    assert seen["downloaded"] == "confusion matrix goes here\n"
    assert seen["searched"] == [run_id]
    assert seen["experiments"] == [project.slug]

    # The platform's record of the run.
    runs = list(selectors.runs_for_project(user=engineer, project=project))
    assert [r.mlflow_run_id for r in runs] == [run_id]
    assert runs[0].source == RunSource.EXTERNAL
    assert runs[0].created_by == engineer
    assert runs[0].name == "notebook-run"

    # The run in MLflow's store, read directly as the platform reads it.
    client = mlflow_store.client()
    run = client.get_run(run_id)
    assert run.info.experiment_id == project.mlflow_experiment.experiment_id
    assert run.info.status == "FINISHED"
    assert run.data.params == {"learning_rate": "0.1", "epochs": "5", "model": "mlp"}
    assert run.data.tags["note"] == "logged from a notebook"
    # Stamped by the platform, whatever the client's machine user is.
    assert run.data.tags[mlflow_store.TAG_MLFLOW_USER] == engineer.username
    assert run.data.tags[mlflow_store.TAG_SOURCE] == "external"
    history = client.get_metric_history(run_id, "val_loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
        (step, 1.5 / (step + 1)) for step in range(5)
    ]
    local = mlflow_store.download_artifact(run_id=run_id, path="reports/report.txt", dst_path=tmp_path / "dl")
    assert Path(local).read_text() == "confusion matrix goes here\n"
    # Stored under the artifacts folder of the settings, by experiment and run.
    experiment_id = run.info.experiment_id
    stored = (
        Path(mlflow_store.config().artifacts_destination)
        / experiment_id
        / run_id
        / "artifacts"
        / "report.txt"
    )
    assert stored.read_text() == "confusion matrix goes here\n"


@pytest.mark.django_db(transaction=True)
def test_basic_auth_with_username_and_token_works_and_a_viewer_cannot_log(
    live_server, project, engineer, viewer, tmp_path
):
    (tmp_path / "report.txt").write_text("x")
    _, engineer_token = AuthToken.objects.create(user=engineer)
    _, viewer_token = AuthToken.objects.create(user=viewer)

    basic = client_env(
        live_server,
        "",
        project.slug,
        MLFLOW_TRACKING_USERNAME=engineer.username,
        MLFLOW_TRACKING_PASSWORD=engineer_token,
    )
    del basic["MLFLOW_TRACKING_TOKEN"]
    assert run_client(basic, tmp_path).returncode == 0

    refused = run_client(client_env(live_server, viewer_token, project.slug), tmp_path)
    assert refused.returncode != 0
    assert "PERMISSION_DENIED" in refused.stderr
    assert len(selectors.runs_for_project(user=engineer, project=project)) == 1
