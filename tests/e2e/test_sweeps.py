"""An engineer starts a small grid search from the runs page, with a real Celery worker, and
watches the sweep's table fill in until the best run is marked and the parallel-coordinates chart
is drawn; then registers the best run as a checkpoint."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from datasets import services as dataset_services
from tests.e2e.conftest import login
from tests.experiments.test_inputs import _sklearn_version

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SWEEP_TIMEOUT_S = 180


def test_an_engineer_launches_a_grid_search_and_sees_its_table_fill_in(
    page: Page, project, lead, mlflow_backend, start_worker
):
    version = _sklearn_version(project, lead, "iris", "tabular")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    start_worker()
    login(page, "engineer", next_path=f"/projects/{project.slug}/runs/")
    page.get_by_role("navigation", name="Launch").get_by_role("link", name="Grid search").click()
    expect(page.get_by_role("heading", name="Grid search", level=2)).to_be_visible()

    page.get_by_label("Dataset version").select_option(label="iris v1 (tabular)")
    page.get_by_label("Trainer").select_option("mlp")
    page.get_by_label("Name").fill("browser sweep")
    page.get_by_label("Grid (JSON)").fill('{"lr": [0.01, 0.05]}')
    page.get_by_label("Fixed settings (JSON)").fill('{"epochs": 2, "hidden_sizes": [8], "seed": 1}')
    page.get_by_role("button", name="Start the grid search").click()

    page.wait_for_url("**/sweep/")
    expect(page.get_by_role("heading", level=1)).to_have_text("browser sweep")
    table = page.get_by_test_id("sweep-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    # The page re-reads itself while the sweep runs; the rows turn finished one by one.
    expect(table.locator('tbody tr[data-state="finished"]')).to_have_count(2, timeout=SWEEP_TIMEOUT_S * 1000)
    expect(page.locator("#sweep")).to_have_attribute("data-running", "false", timeout=30_000)
    expect(page.locator("[data-role=done]")).to_have_text("2 of 2 jobs ended")
    expect(table.locator('tbody tr[data-best="true"]')).to_have_count(1)
    expect(table.locator("tbody tr").first).to_have_attribute("data-best", "true")
    page.wait_for_function("() => document.getElementById('sweep-chart') && document.getElementById('sweep-chart').data")
    kind = page.evaluate("() => document.getElementById('sweep-chart').data[0].type")
    assert kind == "parcoords"
    labels = page.evaluate("() => document.getElementById('sweep-chart').data[0].dimensions.map(d => d.label)")
    assert labels == ["lr", "val_accuracy"]

    # The best run is a checkpoint worth keeping.
    table.locator('tbody tr[data-best="true"] a').click()
    page.get_by_role("button", name="Register as overfit-all").click()
    expect(page.get_by_test_id("checkpoints").locator("[data-role=alias]")).to_have_text("@overfit-all")
