"""An engineer writes the literature survey and submits it; the lead approves it; the baselines
deliverable shows the project's baseline runs next to its targets."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from experiments import mlflow_store
from projects import services
from tests.e2e.conftest import login
from tests.experiments.runs_helpers import logged_run

pytestmark = pytest.mark.e2e


def _messages(page: Page):
    return page.locator("ul.messages .message")


def _baseline_run(project, name: str, trainer: str, accuracy: float) -> None:
    record = logged_run(project, name=name, tags={mlflow_store.TAG_KIND: trainer}, train=[1.0, 0.4], val=[1.1, 0.5],
                        finished=False)
    client = mlflow_store.client()
    client.log_metric(record.mlflow_run_id, "val_accuracy", accuracy)
    client.set_terminated(record.mlflow_run_id, status="FINISHED")


def test_engineer_surveys_the_literature_and_the_lead_approves_it(new_page, project, lead, mlflow_backend):
    survey = f"/projects/{project.slug}/deliverables/literature_survey/"
    page = new_page()
    login(page, "engineer", next_path=f"/projects/{project.slug}/")
    page.locator("nav.project-nav").get_by_role("link", name="Literature").click()
    expect(page.get_by_role("heading", name="Literature survey")).to_be_visible()
    expect(page.get_by_test_id("literature-table")).to_contain_text("No entries yet.")
    page.get_by_role("link", name="Add an entry").click()

    page.get_by_label("Title").fill("Gradient-based learning applied to document recognition")
    page.get_by_label("Authors").fill("LeCun, Bottou, Bengio, Haffner")
    page.get_by_label("Year").fill("1698")
    page.get_by_label("Link").fill("https://arxiv.org/abs/lenet")
    page.get_by_label("Approach").fill("LeNet-5 convolutional network")
    page.get_by_label("Reported result").fill("0.95% test error")
    page.get_by_label("Benchmark").fill("MNIST")
    page.get_by_label("Compute needed").fill("Hours on a CPU")
    page.get_by_label("Feasibility for this team").select_option(label="High")
    page.get_by_label("Notes").fill("Digits like ours, **scanned** at 300 dpi.")
    page.get_by_role("button", name="Add entry").click()
    # A typo in the year is a form error; what was typed stays in the form.
    expect(page.locator(".field.has-error .error")).to_contain_text(["The year must be between 1900"])
    expect(page.get_by_label("Approach")).to_have_value("LeNet-5 convolutional network")
    page.get_by_label("Year").fill("1998")
    page.get_by_role("button", name="Add entry").click()

    expect(_messages(page)).to_have_text(["Entry added to the literature survey."])
    entry = page.get_by_test_id("literature-entry")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("LeNet-5 convolutional network")
    expect(entry.get_by_test_id("feasibility")).to_have_text("High")
    expect(entry.get_by_role("link", name="Gradient-based learning applied to document recognition")).to_have_attribute(
        "href", "https://arxiv.org/abs/lenet")

    page.get_by_role("link", name="literature survey deliverable").click()
    page.wait_for_url(f"**{survey}")
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Draft")
    panel = page.get_by_test_id("literature-panel")
    expect(panel.get_by_test_id("literature-entry")).to_contain_text("MNIST")
    panel.get_by_text("Notes").click()
    expect(panel.locator(".prose strong")).to_have_text("scanned")
    page.get_by_role("button", name="Submit for review").click()
    expect(_messages(page)).to_have_text(["Submitted for review."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Submitted")
    # Under review, the survey is frozen for its authors too.
    expect(panel.get_by_role("link", name="Edit")).to_have_count(0)

    lead_page = new_page()
    login(lead_page, "lead", next_path=survey)
    lead_page.wait_for_url(f"**{survey}")
    expect(lead_page.get_by_test_id("literature-panel")).to_contain_text("Gradient-based learning")
    lead_page.get_by_role("button", name="Approve").click()
    expect(_messages(lead_page)).to_have_text(["Approved."])
    expect(lead_page.get_by_test_id("deliverable-state")).to_have_text("Approved")


def test_the_baselines_page_shows_the_baseline_runs_against_the_target(page: Page, project, lead, mlflow_backend):
    services.target_save(project=project, actor=lead, metric="accuracy", comparator=">=", threshold=0.9,
                         is_primary=True)
    _baseline_run(project, "logreg seed 7", "logistic_regression", 0.93)
    _baseline_run(project, "majority class", "majority", 0.31)

    login(page, "lead", next_path=f"/projects/{project.slug}/")
    page.locator("ol.stepper").get_by_role("link", name="Baselines and end-to-end module").click()
    panel = page.get_by_test_id("baseline-runs")
    rows = panel.get_by_test_id("baseline-row")
    expect(rows).to_have_count(2)
    logreg = rows.filter(has_text="logreg seed 7")
    expect(logreg.get_by_test_id("meets")).to_have_text("0.9300 meets")
    expect(rows.filter(has_text="majority class").get_by_test_id("misses")).to_have_text("0.3100 misses")
    # plotly.js drew the chart: the bars and the target line.
    expect(panel.locator("#baselines-chart .main-svg").first).to_be_visible()
    expect(panel.locator("#baselines-chart .bars .point")).to_have_count(2)
    logreg.get_by_role("link", name="logreg seed 7").click()
    expect(page.get_by_role("heading", name="logreg seed 7")).to_be_visible()
