"""The lead writes the experience report of a deployed project from its pre-filled draft and
publishes it; an anonymous visitor then finds the project marked as a success in the directory and
reads the report on its page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from deployments.panels import SECTIONS
from projects.models import DeliverableKind
from tests.deployments.report_helpers import approve_until, evidence
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

REPORT = "/projects/digits/deliverables/experience_report/"


def _messages(page: Page):
    return page.locator("ul.messages .message")


def test_lead_publishes_the_report_and_a_visitor_sees_the_project_deployed(new_page, project, lead):
    world = evidence(project)
    approve_until(project, lead, DeliverableKind.DEPLOYMENT)

    page = new_page()
    login(page, "lead", next_path=f"/projects/{project.slug}/")
    page.locator("ol.stepper").get_by_role("link", name="Experience report").click()
    page.wait_for_url(f"**{REPORT}")
    # The key numbers beside the editor, each a link to its source.
    numbers = page.get_by_test_id("key-numbers")
    expect(numbers.get_by_role("link", name="0.9456")).to_have_attribute(
        "href", f"/projects/digits/runs/{world['best'].mlflow_run_id}/")
    expect(numbers.get_by_role("link", name="0.9250")).to_have_attribute(
        "href", f"/projects/digits/evaluations/{world['evaluation'].pk}/")
    # The editor starts from the draft: the timeline, the numbers and the six sections.
    editor = page.get_by_label("Text")
    draft = editor.input_value()
    assert "## Key numbers" in draft and "[0.9456](" in draft
    for section in SECTIONS:
        assert f"## {section}\n" in draft
    written = draft
    for section in SECTIONS:
        written = written.replace(f"## {section}\n", f"## {section}\n\nOn {section.lower()}: the canary paid off.\n")
    editor.fill(written)
    page.get_by_role("button", name="Save draft").click()
    expect(_messages(page)).to_have_text(["Saved as draft."])

    page.get_by_role("button", name="Submit for review").click()
    expect(_messages(page)).to_have_text(["Submitted for review."])
    page.get_by_label("Comment (required to request changes)").fill("An honest report.")
    page.get_by_role("button", name="Approve").click()
    expect(_messages(page)).to_have_text(["Approved."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Approved")

    visitor = new_page()
    visitor.goto("/")
    card = visitor.locator(".project-card", has_text="Digits")
    expect(card.locator(".badge.stage")).to_have_text("Complete")
    card.get_by_test_id("success-mark").click()
    visitor.wait_for_url(f"**/projects/{project.slug}/#experience-report")
    expect(visitor.locator(".report-header").get_by_test_id("success-mark")).to_have_text("Deployed — success")
    published = visitor.get_by_test_id("published-report")
    expect(published.get_by_role("heading", name="What we would do differently")).to_be_visible()
    expect(published).to_contain_text("On deployment lessons: the canary paid off.")
    expect(published.get_by_role("link", name="0.9456")).to_have_attribute(
        "href", f"/projects/digits/runs/{world['best'].mlflow_run_id}/")
