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


def trained_run(version, engineer, *, trainer: str, config: dict, name: str = "") -> Run:
    job = training_start(version=version, actor=engineer, trainer=trainer, config=config, name=name)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (job.message, job.log)
    return Run.objects.get(mlflow_run_id=job.result["run_id"])


def exported(run: Run, actor, **options) -> ModelExport:
    export = export_start(run=run, actor=actor, **options)
    job_execute(export.job_id)
    export.refresh_from_db()
    return export


def iris_version(project, *, slug: str = "iris"):
    """scikit-learn's iris (150 rows, 4 numeric columns) as a ready, split tabular version written
    straight to the database: tabular training reads the rows from the items, so a run, its export
    and its benchmark need no DVC files; every fifth row is validation, the next sealed test."""
    from sklearn.datasets import load_iris

    from datasets.models import (
        Dataset,
        DatasetVersion,
        Item,
        SealedItem,
        Split,
        SplitAssignment,
        SplitPart,
        VersionState,
    )

    iris = load_iris()
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    dataset = Dataset.objects.create(project=project, slug=slug, name=slug.title(), kind="tabular")
    parts = [SplitPart.VALIDATION, SplitPart.TEST, SplitPart.TRAIN, SplitPart.TRAIN, SplitPart.TRAIN]
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, state=VersionState.READY, git_tag=f"{slug}-v1", git_commit="0" * 40,
        columns=columns, item_count=len(iris.target),
        labelled_count=sum(1 for i in range(len(iris.target)) if parts[i % 5] != SplitPart.TEST),
    )
    items = Item.objects.bulk_create(
        Item(version=version, key=f"{slug}-{i:06d}", content_hash=f"{i:064d}",
             label=None if parts[i % 5] == SplitPart.TEST else str(iris.target_names[target]),
             row={c: str(v) for c, v in zip(columns, features, strict=True)})
        for i, (features, target) in enumerate(zip(iris.data, iris.target, strict=True))
    )
    counts = {part: sum(1 for i in range(len(items)) if parts[i % 5] == part) for part in set(parts)}
    split = Split.objects.create(version=version, seed=0, train_fraction=0.6, validation_fraction=0.2,
                                 test_fraction=0.2, counts=counts)
    SplitAssignment.objects.bulk_create(
        SplitAssignment(split=split, item=item, part=parts[i % 5]) for i, item in enumerate(items))
    SealedItem.objects.bulk_create(
        SealedItem(dataset=dataset, key=item.key, split=split) for i, item in enumerate(items)
        if parts[i % 5] == SplitPart.TEST)
    return version
