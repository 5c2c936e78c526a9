"""Run in a subprocess by tests/experiments/tracking/test_server.py: what a notebook does with the ordinary MLflow
client against the platform's tracking URI (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN and the
experiment name come from the environment). Prints the run id on its last line."""

import json
import os
import sys
from pathlib import Path

import mlflow

experiment = os.environ["PRAKRIYA_TEST_EXPERIMENT"]
artifact = Path(sys.argv[1])

mlflow.set_experiment(experiment)
with mlflow.start_run(run_name="notebook-run") as run:
    mlflow.log_param("learning_rate", 0.1)
    mlflow.log_params({"epochs": 5, "model": "mlp"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("val_loss", 1.5 / (step + 1), step=step)
    mlflow.set_tag("note", "logged from a notebook")
    mlflow.log_artifact(str(artifact))
    mlflow.log_artifact(str(artifact), artifact_path="reports")

client = mlflow.MlflowClient()
history = client.get_metric_history(run.info.run_id, "loss")
listed = sorted(item.path for item in client.list_artifacts(run.info.run_id))
downloaded = Path(client.download_artifacts(run.info.run_id, artifact.name)).read_bytes()
print(
    json.dumps(
        {
            "run_id": run.info.run_id,
            "history": [[m.step, m.value] for m in history],
            "listed": listed,
            "downloaded": downloaded.decode(),
            "searched": [r.info.run_id for r in client.search_runs([run.info.experiment_id])],
            "experiments": [e.name for e in client.search_experiments()],
        }
    )
)
