"""The lead writes the experience report of a deployed project from its pre-filled draft and
publishes it; an anonymous visitor then finds the project marked as a success in the directory and
reads the report on its page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from projects.models import DeliverableKind
from tests.deployments.report_helpers import approve_until, evidence
from tests.e2e.conftest import login
from tests.e2e.report_steps import open_report, visitor_reads_the_report, write_and_publish

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("mlflow_backend")]


def test_lead_publishes_the_report_and_a_visitor_sees_the_project_deployed(new_page, project, lead):
    world = evidence(project)
    approve_until(project, lead, DeliverableKind.DEPLOYMENT)

    page = new_page()
    login(page, "lead", next_path=f"/projects/{project.slug}/")
    open_report(page, project)
    # The key numbers beside the editor, each a link to its source.
    numbers = page.get_by_test_id("key-numbers")
    expect(numbers.get_by_role("link", name="0.9456")).to_have_attribute(
        "href", f"/projects/digits/runs/{world['best'].mlflow_run_id}/")
    expect(numbers.get_by_role("link", name="0.9250")).to_have_attribute(
        "href", f"/projects/digits/evaluations/{world['evaluation'].pk}/")
    # The editor starts from the draft: the timeline, the numbers and the six sections.
    draft = write_and_publish(page)
    assert "[0.9456](" in draft

    visitor = visitor_reads_the_report(new_page, project)
    expect(visitor.get_by_test_id("published-report").get_by_role("link", name="0.9456")).to_have_attribute(
        "href", f"/projects/digits/runs/{world['best'].mlflow_run_id}/")
    # The project's Targets table: the sealed result the evaluation's page publishes, linked to it,
    # and the latest run's validation value (the broken run, logged last).
    accuracy = visitor.get_by_test_id("targets-table").locator("tbody tr", has_text="accuracy")
    sealed = accuracy.locator("td[data-column=sealed]")
    expect(sealed.get_by_role("link", name="0.9250")).to_have_attribute(
        "href", f"/projects/digits/evaluations/{world['evaluation'].pk}/")
    expect(sealed.locator(".badge")).to_have_text("Met")
    validation = accuracy.locator("td[data-column=validation]")
    expect(validation.get_by_role("link", name="0.1200")).to_be_visible()
    expect(validation).to_contain_text("mlp broken")
    expect(validation.locator(".badge")).to_have_text("Missed")
