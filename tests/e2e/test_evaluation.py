"""An engineer requests a sealed test evaluation of a baseline from its run page, the lead approves
it on the evaluation's page, and the results appear once the real worker's job is done."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from datasets import services as dataset_services
from experiments.launch import training_start
from experiments.models import Run, TestEvaluation
from prakriya.jobs.models import Job, JobState
from projects.models import Target
from tests.e2e.conftest import login
from tests.experiments.test_evaluation import approve_gate
from tests.experiments.test_inputs import _sklearn_version
from tests.fixtures_worker import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_S = 180


def test_an_engineer_requests_the_lead_approves_and_the_results_appear(
    page: Page, new_page, project, lead, engineer, mlflow_backend, start_worker
):
    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    approve_gate(project)
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.5, is_primary=True)
    worker = start_worker()
    job = training_start(version=version, actor=engineer, trainer="logistic_regression", config={"seed": 2},
                         name="logistic baseline")
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=JOB_TIMEOUT_S, what="training",
             workers=[worker])
    assert Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED
    run = Run.objects.get(job=job)

    login(page, "engineer", next_path=f"/projects/{project.slug}/runs/{run.mlflow_run_id}/")
    page.get_by_label("Why this run, now").fill("Our best baseline: the number to beat.")
    page.get_by_role("button", name="Request a test evaluation").click()
    expect(page.get_by_test_id("evaluation-state")).to_have_text("Requested")
    evaluation = TestEvaluation.objects.get()

    lead_page = new_page()
    login(lead_page, "lead", next_path=f"/projects/{project.slug}/evaluations/")
    expect(lead_page.get_by_test_id("budget")).to_contain_text("0 of 3 used")
    lead_page.get_by_role("link", name=f"#{evaluation.pk}").click()
    lead_page.get_by_label("Comment").fill("Go ahead.")
    lead_page.get_by_role("button", name="Approve and run").click()

    # The progress bar follows the job; the page reloads with the results when it ends.
    expect(lead_page.locator("#job")).to_be_visible()
    expect(lead_page.get_by_test_id("results")).to_be_visible(timeout=JOB_TIMEOUT_S * 1000)
    evaluation.refresh_from_db()
    accuracy = evaluation.results["accuracy"]
    expect(lead_page.locator('[data-metric="accuracy"]')).to_have_text(f"{accuracy:.4f}")
    expect(lead_page.get_by_test_id("target-results")).to_contain_text("Met" if accuracy >= 0.5 else "Missed")
    expect(lead_page.locator("#confusion-chart .main-svg").first).to_be_visible()
    expect(lead_page.get_by_test_id("evaluation-state")).to_have_text("Done")

    page.goto(f"/projects/{project.slug}/")
    expect(page.get_by_test_id("latest-test-evaluation")).to_contain_text("accuracy ≥ 0.5")
