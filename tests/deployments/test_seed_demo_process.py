"""The demo as `make run` seeds it, command by command: the digits dataset written by its job, the
labelling campaign, then the digits project carried through all eight stages by the platform's own
services and jobs, the second project left at its start; running any of them again changes nothing.
One test for the whole chain: each step needs the DVC-written version of the one before."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from datasets.annotation.models import Annotation, Campaign
from datasets.annotation.selectors import GOLD_SAMPLE, human_baseline
from datasets.models import VersionState
from deployments.management.commands.seed_demo_process import GOLD_SAMPLE as GOLD_SAMPLE_SIZE
from deployments.management.commands.seed_demo_process import PREDICTIONS
from deployments.models import Deployment, Prediction, Variant
from experiments.inputs import load_inputs
from experiments.kinds import OVERFIT, TRAIN
from experiments.models import EvaluationState, TestEvaluation
from prakriya.jobs.models import Job, JobState
from projects.models import DeliverableState, Project


def _quiet(name: str) -> str:
    out = io.StringIO()
    call_command(name, stdout=out)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_demo_walks_the_digits_project_through_every_stage_once():
    _quiet("seed_demo")
    _quiet("seed_demo_datasets")
    _quiet("seed_demo_datasets")
    assert Job.objects.filter(kind="dataset_version_write").count() == 1

    # The campaign writes the version first (no worker runs yet when `make run` seeds).
    assert "Created campaign digit-labels: 1797 items" in _quiet("seed_demo_campaign")
    assert "left as it is" in _quiet("seed_demo_campaign")
    campaign = Campaign.objects.get(project__slug="handwritten-digits", slug="digit-labels")
    version = campaign.version
    assert version.state == VersionState.READY and version.git_tag == "digits-v1"
    assert version.item_count == version.labelled_count == 1797
    assert set(version.items.values_list("label", flat=True)) == {str(d) for d in range(10)}
    assert sorted(campaign.annotators.values_list("username", flat=True)) == ["annotator1", "annotator2", "engineer"]
    assert [(label.name, label.shortcut) for label in campaign.labels.all()] == [(str(d), str(d)) for d in range(10)]

    said = _quiet("seed_demo_process")
    assert "went through all eight stages" in said

    digits = Project.objects.get(slug="handwritten-digits")
    assert {d.kind: d.state for d in digits.deliverables.all()} == {
        d.kind: DeliverableState.APPROVED for d in digits.deliverables.all()
    } and digits.deliverables.count() == 8
    # Every job the seeding queued ran to success, as a worker would have run it.
    assert not Job.objects.filter(project=digits).exclude(state=JobState.SUCCEEDED).exists()
    assert Annotation.objects.filter(campaign=campaign).values("annotator").distinct().count() == 2
    # The human baseline rests on a gold sample drawn at random and adjudicated, not on the
    # disagreements: the first annotator never slipped, the second did on confusable digits.
    baseline = human_baseline(campaign=campaign)
    assert baseline.method == GOLD_SAMPLE and baseline.items == GOLD_SAMPLE_SIZE and baseline.comparable
    assert {a.annotator: a.accuracy for a in baseline.annotators}["annotator1"] == 1.0
    # The split sealed the test part: its items left the campaign.
    assert campaign.items.count() == 1797 - version.split.counts["test"]

    trained = {job.params["trainer"] for job in Job.objects.filter(project=digits, kind__in=[TRAIN, OVERFIT])}
    assert trained == {"majority", "logistic_regression", "mlp"}
    assert Job.objects.filter(project=digits, kind=OVERFIT).count() == 1
    evaluation = TestEvaluation.objects.get(project=digits)
    assert evaluation.state == EvaluationState.DONE and 0.5 < evaluation.results["accuracy"] <= 1.0

    deployment = Deployment.objects.get(project=digits)
    assert deployment.stable.variant == Variant.FP32 and deployment.canary.variant == Variant.INT8_DYNAMIC
    assert deployment.canary_percent == 10 and deployment.canary.base_id == deployment.stable_id
    logged = list(Prediction.objects.filter(deployment=deployment).order_by("id"))
    assert len(logged) == PREDICTIONS
    # Production traffic stood in as validation images, never the sealed test part; the demo's
    # privacy setting stores them, so the loop back to labelling has inputs to send.
    x_val = load_inputs(version=version).data.x_val
    assert np.allclose(np.asarray(logged[0].input, dtype=np.float32), x_val[0], atol=0.06)
    assert digits.prediction_inputs == "store"

    # The other end of the process: the second project has only its page started.
    invoices = Project.objects.get(slug="private-invoices")
    assert not invoices.deliverables.filter(state=DeliverableState.APPROVED).exists()

    assert "left as it is" in _quiet("seed_demo_process")
    assert Deployment.objects.filter(project=digits).count() == 1
    assert Prediction.objects.filter(deployment=deployment).count() == PREDICTIONS
