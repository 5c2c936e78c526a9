"""Sealed test evaluation: the gate, the roles, the budget (also under concurrent approvals), and
the evaluation job through a real worker on real data, whose aggregates are scikit-learn's on the
test part and whose outputs never carry a sealed label."""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from datasets import sealed_store, storage
from datasets import services as dataset_services
from datasets.models import Item, SealedLabel, SplitPart
from experiments import mlflow_store
from experiments.evaluation import selectors
from experiments.evaluation.services import evaluation_approve, evaluation_reject, evaluation_request
from experiments.inputs import load_inputs
from experiments.launch import training_start
from experiments.models import EvaluationState, Run, RunSource, TestEvaluation
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import Deliverable, DeliverableKind, DeliverableState, Target
from tests.experiments.runs_helpers import logged_run, split_version
from tests.experiments.test_inputs import _sklearn_version
from tests.fixtures_worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 5
JOB_TIMEOUT = 180


def approve_gate(project) -> None:
    for kind in (DeliverableKind.DATA_DOCUMENT, DeliverableKind.BASELINES):
        Deliverable.objects.update_or_create(project=project, kind=kind, defaults={"state": DeliverableState.APPROVED})


def evaluable_run(project, *, name: str = "mlp run") -> Run:
    """A finished platform run on the project's digits@v1 with a model file: what a request needs
    (the model file is never loaded unless the evaluation runs)."""
    tags = {mlflow_store.TAG_DATASET_VERSION: "digits@v1", mlflow_store.TAG_KIND: "mlp"}
    record = logged_run(project, name=name, tags=tags, train=[1.0], val=[1.0])
    Run.objects.filter(pk=record.pk).update(source=RunSource.PLATFORM)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        path.write_bytes(b"not a real model")
        mlflow_store.log_artifact(run_id=record.mlflow_run_id, local_path=path, artifact_path="model")
    record.refresh_from_db()
    return record


@pytest.fixture
def digits_split(project):
    return split_version(project)


def _requested(project, engineer, count: int) -> list[TestEvaluation]:
    return [
        evaluation_request(run=evaluable_run(project, name=f"run {i}"), actor=engineer, reason=f"candidate {i}")
        for i in range(count)
    ]


# --- Gate and roles ---------------------------------------------------------------------------


def test_a_request_is_refused_until_the_data_document_and_the_baselines_are_approved(project, engineer,
                                                                                     digits_split):
    run = evaluable_run(project)
    with pytest.raises(ValidationError, match="data document .* and the baselines"):
        evaluation_request(run=run, actor=engineer, reason="ready")
    Deliverable.objects.update_or_create(project=project, kind=DeliverableKind.DATA_DOCUMENT,
                                         defaults={"state": DeliverableState.APPROVED})
    with pytest.raises(ValidationError) as refused:
        evaluation_request(run=run, actor=engineer, reason="ready")
    assert "baselines" in str(refused.value) and "data document" not in str(refused.value)
    Deliverable.objects.update_or_create(project=project, kind=DeliverableKind.BASELINES,
                                         defaults={"state": DeliverableState.APPROVED})
    assert evaluation_request(run=run, actor=engineer, reason="ready").state == EvaluationState.REQUESTED


def test_approval_checks_the_gate_again(project, engineer, lead, digits_split):
    approve_gate(project)
    (evaluation,) = _requested(project, engineer, 1)
    Deliverable.objects.filter(project=project, kind=DeliverableKind.BASELINES).update(
        state=DeliverableState.CHANGES_REQUESTED)
    with pytest.raises(ValidationError, match="baselines"):
        evaluation_approve(evaluation=evaluation, actor=lead)
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.REQUESTED and evaluation.job is None


def test_only_engineers_and_the_lead_request_and_only_the_lead_decides(project, lead, engineer, annotator,
                                                                       viewer, outsider, digits_split):
    approve_gate(project)
    run = evaluable_run(project)
    for user in (annotator, viewer, outsider):
        with pytest.raises(PermissionDenied):
            evaluation_request(run=run, actor=user, reason="please")
    evaluation = evaluation_request(run=run, actor=engineer, reason="please")
    for user in (engineer, annotator, viewer, outsider):
        with pytest.raises(PermissionDenied):
            evaluation_approve(evaluation=evaluation, actor=user)
        with pytest.raises(PermissionDenied):
            evaluation_reject(evaluation=evaluation, actor=user)
    rejected = evaluation_reject(evaluation=evaluation, actor=lead, comment="not yet")
    assert rejected.state == EvaluationState.REJECTED and rejected.decided_by == lead
    with pytest.raises(ValidationError, match="already rejected"):
        evaluation_approve(evaluation=rejected, actor=lead)
    assert list(project.timeline.filter(verb__startswith="evaluation_").values_list("verb", flat=True)) == [
        "evaluation_rejected", "evaluation_requested"]


def test_external_runs_and_runs_without_a_model_cannot_be_evaluated(project, engineer, digits_split):
    approve_gate(project)
    external = logged_run(project, tags={mlflow_store.TAG_DATASET_VERSION: "digits@v1"})
    with pytest.raises(ValidationError, match="trained by the platform"):
        evaluation_request(run=external, actor=engineer, reason="x")
    no_model = logged_run(project, tags={mlflow_store.TAG_DATASET_VERSION: "digits@v1",
                                         mlflow_store.TAG_KIND: "mlp"})
    Run.objects.filter(pk=no_model.pk).update(source=RunSource.PLATFORM)
    no_model.refresh_from_db()
    with pytest.raises(ValidationError, match="no model/model.pt"):
        evaluation_request(run=no_model, actor=engineer, reason="x")
    with pytest.raises(ValidationError, match="Say why"):
        evaluation_request(run=evaluable_run(project), actor=engineer, reason="  ")
    assert not TestEvaluation.objects.exists()


# --- Budget -----------------------------------------------------------------------------------


def test_the_fourth_approval_is_refused_with_the_default_budget_of_three(project, engineer, lead, digits_split):
    approve_gate(project)
    evaluations = _requested(project, engineer, 4)
    for evaluation in evaluations[:3]:
        assert evaluation_approve(evaluation=evaluation, actor=lead).state == EvaluationState.APPROVED
    with pytest.raises(ValidationError, match="used all 3"):
        evaluation_approve(evaluation=evaluations[3], actor=lead)
    evaluations[3].refresh_from_db()
    assert evaluations[3].state == EvaluationState.REQUESTED
    assert selectors.budget_used(project=project) == 3
    assert Job.objects.filter(kind="experiments_test_evaluation").count() == 3
    # With the budget spent, new requests are refused up front.
    with pytest.raises(ValidationError, match="used all 3"):
        evaluation_request(run=evaluable_run(project, name="late"), actor=engineer, reason="late")


def test_concurrent_approvals_cannot_spend_more_than_the_budget(project, engineer, lead, digits_split, settings):
    settings.PRAKRIYA_EVALUATION_BUDGET = 1
    approve_gate(project)
    first, second = _requested(project, engineer, 2)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(evaluation):
        try:
            barrier.wait(timeout=30)
            evaluation_approve(evaluation=evaluation, actor=lead)
            outcomes.append("approved")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(e,)) for e in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["approved", "refused"]
    assert TestEvaluation.objects.filter(state=EvaluationState.APPROVED).count() == 1
    assert selectors.budget_used(project=project) == 1


def test_a_failed_evaluation_gives_its_unit_back(project, engineer, lead, digits_split, settings):
    settings.PRAKRIYA_EVALUATION_BUDGET = 1
    approve_gate(project)
    first, second = _requested(project, engineer, 2)
    first = evaluation_approve(evaluation=first, actor=lead)
    # The model file is not a checkpoint: the job fails, with a message of its own.
    job_execute(first.job_id)
    first.refresh_from_db()
    assert first.shown_state == EvaluationState.FAILED and first.failure
    assert selectors.budget_used(project=project) == 0
    assert evaluation_approve(evaluation=second, actor=lead).state == EvaluationState.APPROVED


# --- The job through a real worker ------------------------------------------------------------


@pytest.fixture
def digits(project, lead):
    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    return version


def _finished(job: Job, worker) -> Job:
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=JOB_TIMEOUT, what=f"job {job.pk}",
             workers=[worker])
    job.refresh_from_db()
    return job


def _trained_baseline(version, engineer, worker) -> Run:
    job = training_start(version=version, actor=engineer, trainer="logistic_regression", config={"seed": SEED})
    job = _finished(job, worker)
    assert job.state == JobState.SUCCEEDED, (job.message, job.log)
    return Run.objects.get(mlflow_run_id=job.result["run_id"])


def _evaluated(run, engineer, lead, worker) -> TestEvaluation:
    evaluation = evaluation_request(run=run, actor=engineer, reason="the baseline to beat")
    evaluation = evaluation_approve(evaluation=evaluation, actor=lead, comment="go")
    _finished(evaluation.job, worker)
    evaluation.refresh_from_db()
    return evaluation


def _expected_on_test_part(version) -> tuple[float, float, int]:
    """The baseline fitted here with scikit-learn on the training part, scored on the test part's
    images read straight from the version's files."""
    data = load_inputs(version=version).data
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=SEED))
    model.fit(data.x_train, data.y_train_idx)
    items = list(Item.objects.filter(version=version, assignment__part=SplitPart.TEST).order_by("id"))
    with tempfile.TemporaryDirectory() as folder:
        root = storage.materialize_version(project_slug=version.dataset.project.slug,
                                           dataset_slug=version.dataset.slug, tag=version.git_tag,
                                           dest=Path(folder) / "v")
        x_test = np.stack([np.asarray(Image.open(root / i.file_path).convert("L"), dtype=np.float32).reshape(-1)
                           for i in items])
    predicted = [data.classes[k] for k in model.predict(x_test)]
    # The test labels are in the sealed store, not on the items (they hold none once sealed).
    assert all(i.label is None for i in items)
    sealed = sealed_store.dataset_labels_read(version=version, keys=[i.key for i in items])
    truth = [sealed[i.key] for i in items]
    return accuracy_score(truth, predicted), f1_score(truth, predicted, average="macro"), len(items)


def test_an_approved_evaluation_of_a_baseline_reports_scikit_learns_test_metrics(
        start_worker, project, digits, engineer, lead):
    approve_gate(project)
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.5, is_primary=True)
    Target.objects.create(project=project, metric="macro_f1", comparator=">=", threshold=0.999)
    Target.objects.create(project=project, metric="latency_p95", comparator="<=", threshold=20, unit="ms")
    worker = start_worker()
    run = _trained_baseline(digits, engineer, worker)

    evaluation = _evaluated(run, engineer, lead, worker)

    assert evaluation.state == EvaluationState.DONE, (evaluation.failure, evaluation.job.log)
    accuracy, macro_f1, count = _expected_on_test_part(digits)
    results = evaluation.results
    assert results["items"] == count == digits.split.counts["test"]
    assert results["accuracy"] == pytest.approx(accuracy) and results["macro_f1"] == pytest.approx(macro_f1)
    assert results["class_names"] == [str(d) for d in range(10)]
    assert np.asarray(results["confusion"]).sum() == count
    assert np.trace(np.asarray(results["confusion"])) == round(accuracy * count)
    assert [(t["metric"], t["met"]) for t in results["targets"]] == [
        ("accuracy", accuracy >= 0.5), ("macro_f1", macro_f1 >= 0.999), ("latency_p95", None)]
    metrics = mlflow_store.client().get_run(run.mlflow_run_id).data.metrics
    assert metrics["test_accuracy"] == pytest.approx(accuracy) and metrics["test_items"] == count
    assert project.timeline.filter(verb="evaluation_done").exists()
    assert selectors.budget_used(project=project) == 1


def test_a_baseline_that_no_longer_reproduces_its_run_is_not_evaluated(start_worker, project, digits, engineer,
                                                                      lead, tmp_path):
    approve_gate(project)
    worker = start_worker()
    run = _trained_baseline(digits, engineer, worker)
    recorded = Path(mlflow_store.download_artifact(run_id=run.mlflow_run_id, path="predictions/validation.json",
                                                   dst_path=tmp_path))
    predictions = json.loads(recorded.read_text())
    predictions["probabilities"][0] = list(reversed(predictions["probabilities"][0]))
    tampered = tmp_path / "validation.json"
    tampered.write_text(json.dumps(predictions))
    mlflow_store.log_artifact(run_id=run.mlflow_run_id, local_path=tampered, artifact_path="predictions")

    evaluation = _evaluated(run, engineer, lead, worker)

    assert evaluation.state == EvaluationState.FAILED and evaluation.results == {}
    assert "does not reproduce the run's validation predictions" in evaluation.failure
    assert evaluation.job.state == JobState.FAILED and "does not reproduce" in evaluation.job.message
    assert "test_accuracy" not in mlflow_store.client().get_run(run.mlflow_run_id).data.metrics
    assert selectors.budget_used(project=project) == 0


# --- Canary: sealed labels go nowhere ---------------------------------------------------------


def _artifact_bytes(run_id: str, folder: Path) -> list[tuple[str, bytes]]:
    found, pending = [], [None]
    while pending:
        for entry in mlflow_store.list_artifacts(run_id=run_id, path=pending.pop()):
            if entry.is_dir:
                pending.append(entry.path)
            else:
                path = mlflow_store.download_artifact(run_id=run_id, path=entry.path, dst_path=folder)
                found.append((entry.path, Path(path).read_bytes()))
    return found


def test_no_page_api_response_artifact_run_record_or_job_log_carries_a_sealed_label(
        start_worker, project, digits, engineer, lead, users, tmp_path):
    approve_gate(project)
    worker = start_worker()
    run = _trained_baseline(digits, engineer, worker)
    # Every sealed label becomes a canary, where the sealed labels are kept.
    keys = list(Item.objects.filter(version=digits, assignment__part=SplitPart.TEST).values_list("key", flat=True))
    SealedLabel.objects.filter(version=digits, key__in=keys, source="dataset").delete()
    planted = {key: {"label": f"CANARY{uuid.uuid4().hex}", "spans": None, "original_name": ""} for key in keys}
    sealed_store.records_write(version=digits, records=planted)
    canaries = [record["label"] for record in planted.values()]
    assert canaries

    evaluation = _evaluated(run, engineer, lead, worker)

    assert evaluation.state == EvaluationState.DONE, evaluation.failure
    # Every test label is one the model never saw: counted, never named.
    assert evaluation.results["unseen_items"] == len(canaries) and evaluation.results["accuracy"] == 0.0
    needles = [c.encode() for c in canaries] + [b"CANARY"]

    def clean(blob: bytes | str, where: str) -> None:
        data = blob.encode() if isinstance(blob, str) else blob
        assert not any(needle in data for needle in needles), where

    slug = project.slug
    pages = [
        reverse("experiments:evaluations", args=[slug]),
        reverse("experiments:evaluation", args=[slug, evaluation.pk]),
        reverse("experiments:run", args=[slug, run.mlflow_run_id]),
        reverse("projects:detail", args=[slug]),
        reverse("projects:job", args=[evaluation.job_id]),
        reverse("projects:job_status", args=[evaluation.job_id]),
        reverse("projects:timeline", args=[slug]),
    ]
    api = [f"/api/projects/{slug}/evaluations/", f"/api/projects/{slug}/evaluations/{evaluation.pk}/",
           f"/api/projects/{slug}/runs/{run.mlflow_run_id}/", f"/api/jobs/{evaluation.job_id}/"]
    for role, user in users.items():
        client, api_client = Client(), APIClient()
        if user is not None:
            client.force_login(user)
            api_client.force_authenticate(user)
        for url in pages:
            clean(client.get(url).content, f"{role} {url}")
        for url in api:
            clean(api_client.get(url).content, f"{role} {url}")
    mlflow_run = mlflow_store.client().get_run(run.mlflow_run_id)
    for key, value in [*mlflow_run.data.params.items(), *mlflow_run.data.tags.items()]:
        clean(f"{key}={value}", f"run param/tag {key}")
    for key in mlflow_run.data.metrics:
        clean(key, f"metric {key}")
    for path, data in _artifact_bytes(run.mlflow_run_id, tmp_path):
        clean(data, f"artifact {path}")
    for job in Job.objects.all():
        clean(f"{job.message}\n{job.log}\n{json.dumps(job.result)}\n{json.dumps(job.params)}", f"job {job.pk}")
    clean(json.dumps(evaluation.results), "the evaluation's results")
    for event in project.timeline.all():
        clean(f"{event.text} {json.dumps(event.data)}", "timeline")
