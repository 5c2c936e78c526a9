"""Real runs for the deployment tests: a digits version split as the platform splits it, a model
trained on it by the platform's training job, and an export made by the export job, each job run
in this process as a worker would run it."""

from __future__ import annotations

from datasets import services as dataset_services
from deployments.export.services import export_start
from deployments.models import ModelExport
from experiments.launch import training_start
from experiments.models import Run
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.experiments.test_inputs import _sklearn_version

# A tiny network: a few epochs are enough for a real model with a real checkpoint.
MLP = {"epochs": 3, "seed": 7, "hidden_sizes": [32], "batch_size": 64}
LOGREG = {"seed": 5, "max_iter": 200}


def run_queued() -> None:
    for job_id in Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True):
        job_execute(job_id)


def digits_version(project, lead):
    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    run_queued()  # the split's own jobs (sealing the test part, profiles)
    version.refresh_from_db()
    return version


def trained_run(version, engineer, *, trainer: str, config: dict) -> Run:
    job = training_start(version=version, actor=engineer, trainer=trainer, config=config)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (job.message, job.log)
    return Run.objects.get(mlflow_run_id=job.result["run_id"])


def exported(run: Run, actor, **options) -> ModelExport:
    export = export_start(run=run, actor=actor, **options)
    job_execute(export.job_id)
    export.refresh_from_db()
    return export
