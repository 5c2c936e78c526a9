"""An engineer sets the project's targets and value estimates on "Targets & value"."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from projects import services
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def _add_target(page: Page, *, metric: str, comparator: str, threshold: str, unit: str = "",
                condition: str = "", primary: bool = False) -> None:
    page.locator("#id_target-metric").fill(metric)
    page.locator("#id_target-comparator").select_option(comparator)
    page.locator("#id_target-threshold").fill(threshold)
    page.locator("#id_target-unit").fill(unit)
    page.locator("#id_target-condition").fill(condition)
    page.locator("#id_target-is_primary").set_checked(primary)
    page.get_by_role("button", name="Add target").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Target saved."])


def test_engineer_adds_a_primary_target_and_a_value_estimate(page: Page, project, engineer):
    services.target_save(project=project, actor=engineer, metric="accuracy", comparator=">=", threshold=0.97)
    login(page, "engineer", next_path=f"/projects/{project.slug}/")
    expect(page.locator("section[aria-labelledby=value-heading]")).to_contain_text("No value estimates yet.")
    expect(page.locator(".chart")).to_have_count(0)
    page.locator("nav.project-nav").get_by_role("link", name="Targets & value").click()
    expect(page.get_by_role("heading", name="Targets and value", level=1)).to_be_visible()

    rows = page.locator("table.targets tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.filter(has_text="accuracy").locator(".badge.primary")).to_have_text("Primary")

    # A second, non-primary target leaves the primary where it is.
    _add_target(page, metric="latency_p95", comparator="<=", threshold="50", unit="ms")
    expect(rows).to_have_count(2)
    expect(page.locator("table.targets .badge.primary")).to_have_count(1)
    expect(rows.filter(has_text="accuracy").locator(".badge.primary")).to_have_count(1)

    # A new primary metric takes the badge from the old one.
    _add_target(page, metric="precision", comparator=">=", threshold="0.99", condition="at 20% coverage",
                primary=True)
    expect(rows).to_have_count(3)
    expect(page.locator("table.targets .badge.primary")).to_have_count(1)
    expect(rows.filter(has_text="precision ≥ 0.99 at 20% coverage").locator(".badge.primary")).to_have_text(
        "Primary")
    expect(rows.filter(has_text="accuracy").locator(".badge.primary")).to_have_count(0)

    # Editing a target: make latency the primary metric through its edit form.
    rows.filter(has_text="latency_p95").get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit target “latency_p95 ≤ 50 ms”")).to_be_visible()
    expect(page.locator("#id_target-threshold")).to_have_value("50.0")
    page.locator("#id_target-is_primary").check()
    page.get_by_role("button", name="Save target").click()
    expect(page.locator("table.targets .badge.primary")).to_have_count(1)
    expect(rows.filter(has_text="latency_p95").locator(".badge.primary")).to_have_text("Primary")

    # A value estimate.
    page.locator("#id_value-quantity").fill("Clerk minutes per form")
    page.locator("#id_value-current").fill("6")
    page.locator("#id_value-expected").fill("2.5")
    page.locator("#id_value-unit").fill("min")
    page.get_by_role("button", name="Add estimate").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Value estimate saved."])
    expect(page.locator("section[aria-labelledby=value-heading] tbody tr")).to_contain_text(
        ["Clerk minutes per form"])

    # The project page shows the targets and draws the value chart with the bundled plotly.js.
    page.get_by_role("link", name=f"← {project.title}").click()
    primary = page.locator("table.targets tr.primary")
    expect(primary).to_have_count(1)
    expect(primary.locator("th")).to_contain_text("latency_p95")
    expect(page.locator("table.targets tbody tr")).to_have_count(3)
    expect(page.locator("#value-chart.js-plotly-plot")).to_be_visible()
    expect(page.locator("#value-chart .main-svg").first).to_be_visible()
    expect(page.locator("#value-chart .legendtext")).to_have_text(["Today", "Expected with ML"])
    value_row = page.locator("section[aria-labelledby=value-heading] tbody tr")
    expect(value_row.locator("td")).to_have_text(["6 min", "2.5 min", "-58%"])


def test_a_bad_threshold_shows_an_error_and_keeps_the_form(page: Page, project):
    login(page, "engineer", next_path=f"/projects/{project.slug}/expectations/")
    page.locator("#id_target-metric").fill("accuracy")
    page.locator("#id_target-comparator").select_option(">=")
    page.locator("#id_target-threshold").evaluate("el => { el.type = 'text'; }")  # let the browser send it
    page.locator("#id_target-threshold").fill("NaN")
    page.get_by_role("button", name="Add target").click()
    expect(page.locator(".field.has-error .error")).to_have_text(["Enter a number."])
    expect(page.locator("#id_target-metric")).to_have_value("accuracy")
    expect(page.locator("table.targets tbody tr")).to_have_text(["No targets yet."])
