"""A training job turns a dataset version into an MLflow run that can be traced and repeated."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from datasets import services as dataset_services
from experiments import mlflow_store
from experiments.launch import training_start
from experiments.models import Run
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.experiments.test_inputs import _sklearn_version

# The jobs run here, in this process, and commit as a worker would.
pytestmark = pytest.mark.django_db(transaction=True)

MLP = {"epochs": 3, "seed": 7, "hidden_sizes": [32], "batch_size": 64}


def _run_queued() -> None:
    for job_id in Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True):
        job_execute(job_id)


@pytest.fixture
def digits(project, lead):
    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    return version


def _finished(job: Job) -> tuple[Job, object]:
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (job.message, job.log)
    return job, mlflow_store.client().get_run(job.result["run_id"])


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow_store.client().get_metric_history(run_id, key)]


def test_an_mlp_on_digits_is_an_mlflow_run_with_curves_traceability_and_a_model(digits, engineer):
    job = training_start(version=digits, actor=engineer, trainer="mlp", config=MLP, name="first MLP")
    _run_queued()
    job, run = _finished(job)

    assert run.info.status == "FINISHED" and run.info.run_name == "first MLP"
    tags = run.data.tags
    assert tags[mlflow_store.TAG_DATASET_VERSION] == "digits@v1"
    assert tags[mlflow_store.TAG_LABEL_VERSION] == "digits@v1"
    assert tags[mlflow_store.TAG_SEED] == "7"
    assert "torch==2.13.0" in tags[mlflow_store.TAG_PACKAGES]
    assert tags[mlflow_store.TAG_CODE_VERSION].startswith("0.1.0")
    # The version as it is now: the split's seal job wrote it again (without its test labels)
    # before the training job ran.
    digits.refresh_from_db()
    assert run.inputs.dataset_inputs[0].dataset.digest == digits.dvc_md5[:36]
    # One point per epoch for each curve, train and validation.
    assert [step for step, _ in _history(run.info.run_id, "train_loss")] == [
        step for step, _ in _history(run.info.run_id, "val_loss")
    ]
    assert len(_history(run.info.run_id, "val_loss")) == 3
    assert run.data.metrics["val_accuracy"] > 0.5
    files = {f.path for f in mlflow_store.list_artifacts(run_id=run.info.run_id, path="model")}
    assert files == {"model/model.pt"}
    record = Run.objects.get(mlflow_run_id=run.info.run_id)
    assert record.job_id == job.pk and record.project == digits.dataset.project and record.created_by == engineer


def test_re_running_the_recorded_configuration_gives_the_same_metrics(digits, engineer, tmp_path):
    first = training_start(version=digits, actor=engineer, trainer="mlp", config=MLP)
    _run_queued()
    first, run = _finished(first)
    # The run's own record is what is re-run: its trainer and parameters as the job stored them.
    again = training_start(version=digits, actor=engineer, trainer=first.params["trainer"],
                           config=first.params["config"])
    _run_queued()
    again, rerun = _finished(again)

    assert rerun.info.run_id != run.info.run_id
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert _history(rerun.info.run_id, key) == _history(run.info.run_id, key)
    path = mlflow_store.download_artifact(run_id=run.info.run_id, path="predictions/validation.json",
                                          dst_path=tmp_path)
    predictions = json.loads(open(path).read())
    assert len(predictions["keys"]) == len(predictions["probabilities"]) == len(predictions["labels"])


def test_a_baseline_logs_its_validation_metrics(digits, engineer):
    job = training_start(version=digits, actor=engineer, trainer="logistic_regression", config={"seed": 1})
    _run_queued()
    _, run = _finished(job)
    assert run.data.metrics["val_accuracy"] > 0.8


def test_bad_trainers_and_configurations_are_refused_before_a_job_is_queued(digits, engineer):
    with pytest.raises(ValidationError, match="unknown|Unknown"):
        training_start(version=digits, actor=engineer, trainer="gpt", config={})
    with pytest.raises(ValidationError):
        training_start(version=digits, actor=engineer, trainer="mlp", config={"learning_rate": -1})
    with pytest.raises(ValidationError, match="does not train on image data; .* use one of .*mlp"):
        training_start(version=digits, actor=engineer, trainer="tfidf_logreg", config={})
    assert not Job.objects.filter(kind="experiments_train").exists()
