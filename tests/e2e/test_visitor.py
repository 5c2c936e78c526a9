"""A visitor who is not signed in browses the directory and reads a public project page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_SLUG, DEMO_TITLE

pytestmark = pytest.mark.e2e


def _listed(page: Page):
    return page.locator(".project-card h2")


def test_visitor_browses_searches_and_filters_the_directory(page: Page, demo, project, private_project):
    page.goto("/")
    expect(page.get_by_role("heading", name="AI projects, run in the open")).to_be_visible()
    expect(_listed(page)).to_have_count(2)
    titles = set(_listed(page).all_inner_texts())
    assert titles == {DEMO_TITLE, "Digits"}
    expect(page.get_by_text("Secret forms")).to_have_count(0)

    # Search: the demo's summary mentions clerks, the other project's does not.
    page.get_by_label("Search").fill("clerks")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**q=clerks**")
    expect(_listed(page)).to_have_text([DEMO_TITLE])

    # Clear, then filter by stage: only the demo's charter has been approved.
    page.get_by_role("link", name="Clear").click()
    expect(_listed(page)).to_have_count(2)
    page.get_by_label("Stage", exact=True).select_option(label="Data document")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**stage=data_document**")
    expect(_listed(page)).to_have_text([DEMO_TITLE])
    expect(page.locator(".project-card .badge.stage")).to_have_text(["Data document"])

    page.get_by_label("Stage", exact=True).select_option(label="Project page")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**stage=project_page**")
    expect(_listed(page)).to_have_text(["Digits"])

    # Filter by tag: the private project carries the same tag and must stay hidden.
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Tag", exact=True).select_option("vision")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**tag=vision**")
    expect(_listed(page)).to_have_text([DEMO_TITLE])
    expect(page.get_by_text("Secret forms")).to_have_count(0)

    # A tag on a card is a link to that filter.
    page.goto("/")
    page.locator(".project-card", has_text="Digits").get_by_role("link", name="#audio").click()
    page.wait_for_url("**tag=audio**")
    expect(_listed(page)).to_have_text(["Digits"])

    # A search that matches nothing says so.
    page.goto("/?q=secret")
    expect(page.locator(".empty")).to_contain_text("No projects match.")


def test_visitor_reads_the_public_demo_project(page: Page, demo):
    page.goto("/")
    page.get_by_role("link", name=DEMO_TITLE).click()
    page.wait_for_url(f"**/projects/{DEMO_SLUG}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_TITLE)
    expect(page.locator(".report-header .badge.stage")).to_have_text("Stage: Data document")
    expect(page.locator(".report-header .tag")).to_have_text(["#digits", "#vision"])

    # The charter, rendered from Markdown.
    problem = page.locator("section[aria-labelledby=problem-heading] .prose")
    expect(problem).to_contain_text("Clerks type 12,000 forms a month by hand.")
    expect(problem.locator("strong")).to_have_text("12,000 forms")
    expect(page.locator("section[aria-labelledby=bau-heading] .prose ol li")).to_have_text(
        ["Scan", "Type twice", "Reconcile"])
    expect(page.locator("section[aria-labelledby=ml-heading]")).to_contain_text("a clerk confirms")

    # Targets, the primary metric marked.
    rows = page.locator("table.targets tbody tr")
    expect(rows).to_have_count(2)
    primary = page.locator("table.targets tr.primary")
    expect(primary).to_have_count(1)
    expect(primary.locator("th")).to_contain_text("accuracy")
    expect(primary.locator(".badge.primary")).to_have_text("Primary")
    expect(primary.locator("td.num")).to_have_text("≥ 0.97")
    expect(rows.filter(has_text="latency_p95").locator(".badge.primary")).to_have_count(0)

    # The deliverable stepper: eight stages, the first approved, the second current.
    steps = page.locator("ol.stepper li")
    expect(steps).to_have_count(8)
    expect(steps.locator(".step-name")).to_have_text([
        "Project page", "Data document", "Baselines and end-to-end module", "Literature survey",
        "Model improvement", "Error analysis and test evaluation", "Deployment", "Experience report",
    ])
    expect(steps.nth(0).locator(".step-state")).to_have_text("Approved")
    expect(steps.nth(1)).to_have_class("step tone-muted current")
    expect(page.locator("#process-heading")).to_contain_text("1 of 8 deliverables approved")

    # The timeline, newest first.
    timeline = page.locator("section[aria-labelledby=timeline-heading] .event-text")
    expect(timeline.first).to_have_text("Project stage is now: Data document")
    expect(timeline.filter(has_text="Project page approved")).to_have_count(1)

    # A visitor has nothing to edit.
    expect(page.get_by_role("link", name="Edit project page")).to_have_count(0)
    expect(page.get_by_role("button", name="Export to JSON")).to_have_count(0)
    expect(page.get_by_role("link", name="Targets & value")).to_have_count(0)

    # The full timeline and a deliverable page are public too.
    page.get_by_role("link", name="Full timeline →").click()
    expect(page.get_by_role("heading", name="Timeline", level=1)).to_be_visible()
    expect(page.locator(".event-text").filter(has_text="Project page approved")).to_have_count(1)
    page.goto(f"/projects/{DEMO_SLUG}/")
    page.locator("ol.stepper").get_by_role("link", name="Project page").click()
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Approved")
    expect(page.locator(".report-side .timeline li").first).to_contain_text("Submitted → Approved")
    expect(page.locator(".report-side blockquote.comment").first).to_have_text("Clear and honest.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)


def test_a_private_project_is_a_404_for_a_visitor(page: Page, demo, private_project):
    response = page.goto(f"/projects/{private_project.slug}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_text("Secret forms")).to_have_count(0)
    page.get_by_role("link", name="Back to the projects").click()
    expect(page.locator(".project-card h2")).to_have_count(2)
    # Its other pages too.
    for suffix in ("timeline/", "history/", "deliverables/project_page/"):
        response = page.goto(f"/projects/{private_project.slug}/{suffix}")
        assert response is not None and response.status == 404, suffix
