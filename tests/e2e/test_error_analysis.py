"""A viewer opens a run's error analysis from the run page: the confusion heatmap renders, the
metrics are sliced by another column, and the run is compared with a second one."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from projects.models import Target
from tests.e2e.conftest import login
from tests.experiments.analysis_helpers import analysed_run, animal_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RENDERED = "id => { const el = document.getElementById(id); return !!(el && el.data && el.querySelector('.main-svg')); }"


def test_a_viewer_reads_a_runs_errors_slices_them_and_compares_two_runs(page: Page, project, viewer, mlflow_backend):
    version = animal_version(project)
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.9)
    forest = analysed_run(project, version, name="forest", wrong={1, 3}, confidences={3: 0.9})
    analysed_run(project, version, name="tree", wrong={0, 1, 5})

    login(page, "viewer", next_path=f"/projects/{project.slug}/runs/{forest.mlflow_run_id}/")
    page.get_by_role("link", name="Error analysis").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Error analysis")
    page.wait_for_function(RENDERED, arg="confusion-chart")
    assert page.evaluate("() => document.getElementById('confusion-chart').data[0].type") == "heatmap"
    expect(page.get_by_test_id("target-checks")).to_contain_text("Missed")  # 10 of 12 right
    expect(page.get_by_test_id("mistakes").locator("tbody tr").first).to_contain_text("animals-000003")

    page.get_by_label("Slice by").select_option("region")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("slices")).to_contain_text("south")
    page.wait_for_function(RENDERED, arg="slice-chart")
    assert page.evaluate("() => document.getElementById('slice-chart').data[0].x") == ["north", "south"]

    page.get_by_label("Run", exact=True).select_option(label="tree")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare two runs' errors")
    # forest is wrong on 1, 3; tree on 0, 1, 5.
    expect(page.get_by_test_id("agreement-counts")).to_have_text(
        "Both right: 8 · both wrong: 1 · A right, B wrong: 2 · B right, A wrong: 1"
    )
    page.wait_for_function(RENDERED, arg="compare-f1-chart")
