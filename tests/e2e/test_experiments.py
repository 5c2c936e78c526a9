"""The modelling stage in the browser, with a real Celery worker: an engineer launches a baseline
and an MLP on digits from the runs page, watches the MLP's loss curve fill in until it finishes,
overlays it with a second run, opens its confusion matrix and requests a test evaluation; the lead
approves it and the aggregate results appear, checked against the project's target."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from datasets import services as dataset_services
from experiments.models import Run, TestEvaluation
from prakriya.jobs.models import Job, JobState
from projects.models import Target
from tests.e2e.conftest import login
from tests.experiments.evaluation.test_evaluation import approve_gate
from tests.experiments.runs_helpers import logged_run
from tests.experiments.test_inputs import _sklearn_version
from tests.fixtures_worker import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT_S = 120
EPOCHS = 25


# Points drawn in the loss chart's line traces. plotly keeps the figure on the element; its x
# arrays may still be the base64 typed arrays plotly.py writes ({dtype, bdata}).
COUNT_POINTS = """() => {
  const chart = document.getElementById('loss-chart');
  if (!chart || !chart.data) { return 0; }
  const size = x => (typeof x.length === 'number') ? x.length
    : atob(x.bdata).length / parseInt(x.dtype.slice(1), 10);
  return chart.data.filter(t => t.mode === 'lines').reduce((n, t) => n + size(t.x), 0);
}"""


def _points(page: Page) -> int:
    return page.evaluate(COUNT_POINTS)


def test_an_engineer_trains_a_baseline_and_an_mlp_reads_the_curve_and_errors_and_the_lead_approves_a_test_evaluation(
    page: Page, new_page, project, lead, mlflow_backend, start_worker
):
    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    # The gate of the test evaluation (approved data document and baselines) is not this test's subject.
    approve_gate(project)
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.5, is_primary=True)
    worker = start_worker()
    login(page, "engineer", next_path=f"/projects/{project.slug}/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Runs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")

    # First the baseline, as the process asks.
    page.get_by_label("Dataset version").select_option(label="digits v1 (image classification)")
    page.get_by_label("Trainer").select_option("logistic_regression")
    page.get_by_label("Name").fill("browser baseline")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/jobs/*/")
    baseline_job = Job.objects.get(kind="experiments_train")
    page.goto(f"/projects/{project.slug}/runs/")

    page.get_by_label("Dataset version").select_option(label="digits v1 (image classification)")
    page.get_by_label("Trainer").select_option("mlp")
    page.get_by_label("Name").fill("browser MLP")
    page.get_by_label("Epochs").fill(str(EPOCHS))
    page.get_by_label("Hidden layer sizes").fill("32")
    page.get_by_label("Seed").fill("4")
    page.get_by_role("button", name="Start training").click()

    page.wait_for_url("**/jobs/*/")
    job = Job.objects.exclude(pk=baseline_job.pk).get(kind="experiments_train")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not Run.objects.filter(job=job).exists():
        assert time.monotonic() < deadline, worker.describe()
        time.sleep(0.2)
    run = Run.objects.get(job=job)

    page.goto(f"/projects/{project.slug}/runs/{run.mlflow_run_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("browser MLP")
    page.wait_for_function("() => document.getElementById('loss-chart') && document.getElementById('loss-chart').data")
    first = _points(page)
    # The page polls while the run is running, redrawing the curve, and reloads once it has ended
    # (an expect, unlike a wait_for_function, survives the reload).
    expect(page.locator("#run")).to_have_attribute("data-running", "false", timeout=RUN_TIMEOUT_S * 1000)
    expect(page.locator("[data-role=run-status]")).to_have_text("Finished")
    page.wait_for_function("() => document.getElementById('loss-chart').data")
    # One point per epoch per curve, train and validation.
    assert first <= _points(page) == 2 * EPOCHS
    expect(page.locator("#job [data-role=state]")).to_have_text("Succeeded", timeout=RUN_TIMEOUT_S * 1000)
    # Once ended, the page shows the final metrics and the seed the run recorded.
    expect(page.locator("section[aria-labelledby=metrics-heading]")).to_contain_text("val_accuracy")
    trace = page.get_by_test_id("traceability")
    expect(trace.get_by_role("link", name="digits@v1")).to_be_visible()
    expect(trace).to_contain_text("torch==2.13.0")
    expect(page.locator("[data-role=findings] li").first).to_be_visible()

    # Overlay it with a run logged from a notebook: tick both in the list and compare.
    logged_run(project, name="notebook run", train=[2.0, 1.0, 0.5], val=[2.1, 1.2, 0.8])
    page.goto(f"/projects/{project.slug}/runs/")
    page.get_by_label("Compare browser MLP").check()
    page.get_by_label("Compare notebook run").check()
    page.get_by_role("button", name="Compare the selected runs' curves").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare runs")
    page.wait_for_function("() => document.getElementById('compare-chart').data")
    names = page.evaluate("() => document.getElementById('compare-chart').data.map(t => t.name)")
    assert set(names) == {
        "browser MLP · train", "browser MLP · validation", "notebook run · train", "notebook run · validation",
    }
    wait_for(lambda: Job.objects.get(pk=baseline_job.pk).is_terminal, timeout=RUN_TIMEOUT_S, what="the baseline",
             workers=[worker])
    assert Job.objects.get(pk=baseline_job.pk).state == JobState.SUCCEEDED
    page.goto(f"/projects/{project.slug}/runs/")
    expect(page.get_by_role("link", name="browser baseline")).to_be_visible()

    # The MLP's errors on validation: the confusion matrix is drawn.
    page.goto(f"/projects/{project.slug}/runs/{run.mlflow_run_id}/")
    page.get_by_role("link", name="Error analysis").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Error analysis")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .main-svg')")
    heatmaps = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(d => (d.data || []).map(t => t.type))"
    )
    assert "heatmap" in heatmaps

    # One honest look at the sealed test set: requested by the engineer, approved by the lead.
    page.goto(f"/projects/{project.slug}/runs/{run.mlflow_run_id}/")
    page.get_by_label("Why this run, now").fill("The MLP beats the baseline on validation.")
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
    expect(lead_page.get_by_test_id("results")).to_be_visible(timeout=RUN_TIMEOUT_S * 1000)
    evaluation.refresh_from_db()
    accuracy = evaluation.results["accuracy"]
    expect(lead_page.locator('[data-metric="accuracy"]')).to_have_text(f"{accuracy:.4f}")
    expect(lead_page.get_by_test_id("target-results")).to_contain_text("Met" if accuracy >= 0.5 else "Missed")
    expect(lead_page.locator("#confusion-chart .main-svg").first).to_be_visible()
    expect(lead_page.get_by_test_id("evaluation-state")).to_have_text("Done")
    page.goto(f"/projects/{project.slug}/")
    expect(page.get_by_test_id("latest-test-evaluation")).to_contain_text("accuracy ≥ 0.5")
