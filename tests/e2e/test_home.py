"""Each role's home page lists the work waiting for them, and each entry leads to where it is done."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from projects.models import Deliverable, DeliverableKind, DeliverableState
from tests.factories import PASSWORD
from tests.fixtures_annotation import make_version

pytestmark = pytest.mark.e2e


def log_in_from_the_login_page(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_lead_and_the_annotator_land_on_their_waiting_work(new_page, project, lead, annotator):
    from datasets.annotation import services as annotation_services

    Deliverable.objects.update_or_create(project=project, kind=DeliverableKind.DATA_DOCUMENT,
                                         defaults={"state": DeliverableState.SUBMITTED})
    annotation_services.campaign_create(
        version=make_version(project, count=4), actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive", "shortcut": "p"}, {"name": "negative", "shortcut": "n"}],
        overlap=1, seed=7, annotators=[annotator],
    )

    page = new_page()
    log_in_from_the_login_page(page, "lead")
    page.wait_for_url("**/home/")
    expect(page.get_by_role("link", name="Home: 1 waiting on you")).to_be_visible()
    reviews = page.locator("#home-reviews")
    expect(reviews.get_by_role("heading")).to_contain_text("Waiting for your review")
    reviews.get_by_role("link", name=f"Data document — {project.title}").click()
    page.wait_for_url(f"**/projects/{project.slug}/deliverables/data_document/")

    page = new_page()
    log_in_from_the_login_page(page, "annotator")
    page.wait_for_url("**/home/")
    queue = page.locator("#home-labelling")
    expect(queue).to_contain_text("4 items left for you")
    queue.get_by_role("link", name=re.compile("Sentiment")).click()
    page.wait_for_url(re.compile(r".*/campaigns/[-\w]+/label/$"))
