"""A lead edits the project page and reviews deliverables; an engineer writes and submits them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from projects import services
from projects.models import DeliverableState
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

# A deliverable reviewed as free text plus its structured part: the survey needs an entry to be submitted.
SURVEY = "/projects/digits/deliverables/literature_survey/"


def _messages(page: Page):
    return page.locator("ul.messages .message")


def _timeline(page: Page):
    return page.locator("section[aria-labelledby=timeline-heading] .event-text")


def test_lead_edits_the_project_page_and_sees_the_change_in_history(page: Page, project, lead):
    login(page, "lead", next_path=f"/projects/{project.slug}/")
    page.get_by_role("link", name="Edit project page").click()
    expect(page.get_by_role("heading", name="Edit the project page")).to_be_visible()

    problem = page.get_by_label("Problem statement")
    expect(problem).to_have_value("Recognise handwritten digits on forms.")
    problem.fill("Recognise handwritten digits on census forms.\n\nAbout *12,000* forms a month.")
    page.get_by_label("Feasibility: data").select_option(label="High")
    page.get_by_label("Summary of this change").fill("Say which forms and how many")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url(f"**/projects/{project.slug}/")
    expect(_messages(page)).to_have_text(["Saved as revision 2."])
    prose = page.locator("section[aria-labelledby=problem-heading] .prose")
    expect(prose).to_contain_text("Recognise handwritten digits on census forms.")
    expect(prose.locator("em")).to_have_text("12,000")
    expect(page.locator("meter[aria-label='Data feasibility']")).to_have_attribute("value", "3")
    expect(_timeline(page).first).to_have_text("Project page edited (revision 2)")
    # Editing the page starts its deliverable.
    expect(page.locator("ol.stepper li").first.locator(".step-state")).to_have_text("Draft")

    page.locator("nav.project-nav").get_by_role("link", name="History").click()
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("r2")
    expect(rows.first).to_contain_text("Say which forms and how many")
    expect(rows.first).to_contain_text("Lead")
    rows.first.get_by_role("link", name="r2").click()

    expect(page.get_by_role("heading", name="Revision 2")).to_be_visible()
    expect(page.get_by_text("Compared with revision 1.")).to_be_visible()
    problem_diff = page.locator("section.diff", has=page.get_by_role("heading", name="Problem statement"))
    expect(problem_diff.locator(".diff-del")).to_have_text(["- Recognise handwritten digits on forms."])
    expect(problem_diff.locator(".diff-add")).to_contain_text(
        ["+ Recognise handwritten digits on census forms.", "+ About *12,000* forms a month."])
    feasibility_diff = page.locator("section.diff", has=page.get_by_role("heading", name="Feasibility data",
                                                                         exact=True))
    expect(feasibility_diff.locator(".diff-add")).to_have_text(["+ 3"])
    # Fields that did not change are not listed.
    expect(page.get_by_role("heading", name="Title")).to_have_count(0)


def _write_and_submit_as_engineer(new_page, project) -> Page:
    page = new_page()
    login(page, "engineer", next_path=f"/projects/{project.slug}/")
    page.locator("ol.stepper").get_by_role("link", name="Literature survey").click()
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Not started")
    expect(page.get_by_text("Nothing written yet.")).to_be_visible()
    page.get_by_label("Text").fill("## Prior work\n\nForms scanned at 300 dpi since 2022.")
    page.get_by_role("button", name="Save draft").click()
    expect(_messages(page)).to_have_text(["Saved as draft."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Draft")
    expect(page.locator(".prose h2")).to_have_text("Prior work")
    # The survey's entries are what it is submitted with: the engineer adds one from its panel.
    page.get_by_test_id("literature-panel").get_by_role("link", name="Add an entry").click()
    page.get_by_label("Title").fill("Gradient-based learning applied to document recognition")
    page.get_by_label("Reported result").fill("0.95% test error")
    page.get_by_role("button", name="Add entry").click()
    expect(_messages(page)).to_have_text(["Entry added to the literature survey."])
    page.get_by_role("link", name="literature survey deliverable").click()
    page.wait_for_url(f"**{SURVEY}")
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Draft")
    page.get_by_label("Note for the reviewer (optional)").fill("Ready for a look.")
    page.get_by_role("button", name="Submit for review").click()
    expect(_messages(page)).to_have_text(["Submitted for review."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Submitted")
    # Submitted work is frozen until the lead reviews it, and the engineer cannot review it.
    expect(page.get_by_role("button", name="Save draft")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    return page


def test_engineer_submits_and_lead_approves_a_deliverable(new_page, project):
    engineer_page = _write_and_submit_as_engineer(new_page, project)

    page = new_page()
    login(page, "lead", next_path=SURVEY)
    page.wait_for_url(f"**{SURVEY}")
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Submitted")
    expect(page.locator(".prose")).to_contain_text("Forms scanned at 300 dpi since 2022.")
    expect(page.get_by_test_id("literature-panel")).to_contain_text("Gradient-based learning")
    history = page.locator("section[aria-labelledby=review-history] li")
    expect(history.first).to_contain_text("Draft → Submitted")
    expect(history.first.locator("blockquote")).to_have_text("Ready for a look.")

    page.get_by_label("Comment (required to request changes)").fill("Good enough to build on.")
    page.get_by_role("button", name="Approve").click()
    expect(_messages(page)).to_have_text(["Approved."])
    badge = page.get_by_test_id("deliverable-state")
    expect(badge).to_have_text("Approved")
    expect(badge).to_have_class("badge tone-ok")
    expect(history.first).to_contain_text("Submitted → Approved")
    expect(history.first).to_contain_text("by Lead")
    expect(history.first.locator("blockquote")).to_have_text("Good enough to build on.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    # What was approved is frozen on the page, with its hash, and downloads as one HTML file.
    expect(page.get_by_test_id("approval-frozen")).to_contain_text("Approval 1")
    expect(page.get_by_test_id("frozen-evidence")).to_contain_text("Gradient-based learning")
    expect(page.get_by_test_id("unchanged-since-approval")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as HTML").click()
    exported = open(download.value.path(), encoding="utf-8").read()
    assert "Gradient-based learning" in exported and "Forms scanned at 300 dpi since 2022." in exported
    assert download.value.suggested_filename == "digits-literature-survey-approval-1.html"
    page.get_by_test_id("approvals").get_by_role("link", name="Approval 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Literature survey: approval 1")
    expect(page.get_by_test_id("frozen-evidence")).to_contain_text("Gradient-based learning")
    page.get_by_role("link", name="← Literature survey").click()

    page.get_by_role("link", name=f"← {project.title}").click()
    expect(_timeline(page).first).to_have_text("Literature survey approved")
    expect(page.locator("section[aria-labelledby=timeline-heading] li").first).to_contain_text("by Lead")
    expect(page.locator("ol.stepper li").nth(3).locator(".step-state")).to_have_text("Approved")
    # The project page itself is not approved yet, so the stage stays at the project page.
    expect(page.locator(".report-header .badge.stage")).to_have_text("Stage: Project page")

    # The engineer sees the outcome too.
    engineer_page.reload()
    expect(engineer_page.get_by_test_id("deliverable-state")).to_have_text("Approved")


def test_lead_requests_changes_and_a_comment_is_required(new_page, project):
    _write_and_submit_as_engineer(new_page, project)

    page = new_page()
    login(page, "lead", next_path=SURVEY)
    page.wait_for_url(f"**{SURVEY}")
    page.get_by_role("button", name="Request changes").click()
    expect(page.locator("ul.messages .message.error")).to_have_text(
        ["Say what needs to change: a comment is required."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Submitted")

    page.get_by_label("Comment (required to request changes)").fill("Say how representative the forms are.")
    page.get_by_role("button", name="Request changes").click()
    expect(_messages(page)).to_have_text(["Changes requested."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Changes requested")
    expect(page.get_by_test_id("deliverable-state")).to_have_class("badge tone-danger")
    history = page.locator("section[aria-labelledby=review-history] li")
    expect(history.first).to_contain_text("Submitted → Changes requested")
    expect(history.first.locator("blockquote")).to_have_text("Say how representative the forms are.")

    page.get_by_role("link", name=f"← {project.title}").click()
    latest = page.locator("section[aria-labelledby=timeline-heading] li").first
    expect(latest.locator(".event-text")).to_have_text("Changes requested on the literature survey")
    expect(latest.locator("blockquote")).to_have_text("Say how representative the forms are.")
    assert project.deliverables.get(kind="literature_survey").state == DeliverableState.CHANGES_REQUESTED


def test_approving_the_project_page_advances_the_stage(new_page, project, engineer):
    services.target_save(project=project, actor=engineer, metric="accuracy", comparator=">=", threshold=0.97)
    services.project_update_charter(project=project, actor=engineer, value_notes="Clerk time.")

    engineer_page = new_page()
    login(engineer_page, "engineer", next_path=f"/projects/{project.slug}/deliverables/project_page/")
    expect(engineer_page.get_by_test_id("deliverable-state")).to_have_text("Draft")
    expect(engineer_page.get_by_text("This deliverable is the")).to_be_visible()
    engineer_page.get_by_role("button", name="Submit for review").click()
    expect(engineer_page.get_by_test_id("deliverable-state")).to_have_text("Submitted")

    page = new_page()
    login(page, "lead", next_path=f"/projects/{project.slug}/")
    expect(page.locator(".report-header .badge.stage")).to_have_text("Stage: Project page")
    page.locator("ol.stepper").get_by_role("link", name="Project page").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Approved")

    page.get_by_role("link", name=f"← {project.title}").click()
    expect(page.locator(".report-header .badge.stage")).to_have_text("Stage: Data document")
    expect(_timeline(page).nth(0)).to_have_text("Project stage is now: Data document")
    expect(_timeline(page).nth(1)).to_have_text("Project page approved")
    expect(page.locator("ol.stepper li.current .step-name")).to_have_text("Data document")
    expect(page.locator("#process-heading")).to_contain_text("1 of 8 deliverables approved")
