"""The experience report's steps in the browser, shared by the tests that end a project with it
(tests/e2e/test_experience_report.py, tests/e2e/test_deployments.py): the lead opens it from the
project page's stepper, writes under each section of the pre-filled draft and publishes it; an
anonymous visitor then finds the project marked as a success and reads the report."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from deployments.panels import SECTIONS

LESSON = "the canary paid off"


def _messages(page: Page):
    return page.locator("ul.messages .message")


def open_report(page: Page, project) -> None:
    page.goto(f"/projects/{project.slug}/")
    page.locator("ol.stepper").get_by_role("link", name="Experience report").click()
    page.wait_for_url(f"**/projects/{project.slug}/deliverables/experience_report/")


def write_and_publish(page: Page) -> str:
    """On the report's page: a line under each of the draft's sections, saved, submitted and
    approved by the lead. Returns the draft the editor started from."""
    editor = page.get_by_label("Text")
    draft = editor.input_value()
    assert "## Key numbers" in draft
    written = draft
    for section in SECTIONS:
        assert f"## {section}\n" in draft
        written = written.replace(f"## {section}\n", f"## {section}\n\nOn {section.lower()}: {LESSON}.\n")
    editor.fill(written)
    page.get_by_role("button", name="Save draft").click()
    expect(_messages(page)).to_have_text(["Saved as draft."])

    page.get_by_role("button", name="Submit for review").click()
    expect(_messages(page)).to_have_text(["Submitted for review."])
    page.get_by_label("Comment (required to request changes)").fill("An honest report.")
    page.get_by_role("button", name="Approve").click()
    expect(_messages(page)).to_have_text(["Approved."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Approved")
    return draft


def visitor_reads_the_report(new_page: Callable[..., Page], project) -> Page:
    """An anonymous visitor finds the project marked deployed in the directory and follows the
    mark to the published report. Returns the visitor's page, on the report."""
    visitor = new_page()
    visitor.goto("/")
    card = visitor.locator(".project-card", has_text=project.title)
    expect(card.locator(".badge.stage")).to_have_text("Complete")
    card.get_by_test_id("success-mark").click()
    visitor.wait_for_url(f"**/projects/{project.slug}/#experience-report")
    expect(visitor.locator(".report-header").get_by_test_id("success-mark")).to_have_text("Deployed — success")
    published = visitor.get_by_test_id("published-report")
    expect(published.get_by_role("heading", name="What we would do differently")).to_be_visible()
    expect(published).to_contain_text(f"On deployment lessons: {LESSON}.")
    return visitor
