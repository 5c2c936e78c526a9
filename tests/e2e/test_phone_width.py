"""On a phone (390 CSS pixels wide) the pages fit the screen: no sideways scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_SLUG, DEMO_TITLE, login

pytestmark = pytest.mark.e2e


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


def _assert_no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > 390 + 1:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(el => el.getBoundingClientRect().right > 391)
                 .slice(0, 5).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""
        )
        pytest.fail(f"{page.url}: scrollWidth {width} > 391; widest elements: {wide}")


def test_project_page_fits_a_phone(new_page, demo):
    page = new_page(**PHONE)
    page.goto(f"/projects/{DEMO_SLUG}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_TITLE)
    # Wait for the chart: plotly sizes it after load, which is when it could overflow.
    expect(page.locator("#value-chart .main-svg").first).to_be_visible()
    expect(page.locator("ol.stepper li")).to_have_count(8)
    _assert_no_horizontal_scroll(page)


@pytest.mark.parametrize("path", [
    "/", f"/projects/{DEMO_SLUG}/", f"/projects/{DEMO_SLUG}/timeline/", f"/projects/{DEMO_SLUG}/history/",
    f"/projects/{DEMO_SLUG}/history/2/", f"/projects/{DEMO_SLUG}/deliverables/project_page/",
    f"/projects/{DEMO_SLUG}/edit/", f"/projects/{DEMO_SLUG}/expectations/", f"/projects/{DEMO_SLUG}/settings/",
    "/accounts/profile/",
])
def test_the_lead_s_pages_fit_a_phone(new_page, demo, path):
    page = new_page(**PHONE)
    login(page, "lead", next_path=path)
    page.wait_for_load_state("load")
    if path == f"/projects/{DEMO_SLUG}/":
        expect(page.locator("#value-chart .main-svg").first).to_be_visible()
    _assert_no_horizontal_scroll(page)


def _on_screen(page: Page, locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844, box


@pytest.mark.django_db(transaction=True)
def test_labelling_on_a_phone_needs_no_scrolling_between_items(new_page, project, lead, annotator):
    """Ten digit labels: the item, every label and Submit share one screen, and each next item
    starts on screen after a tap on Submit, even when the annotator had scrolled down."""
    from datasets.annotation import services as annotation_services
    from tests.fixtures_annotation import make_version

    version = make_version(project, kind="image", slug="digits", count=4)
    campaign = annotation_services.campaign_create(
        version=version, actor=lead, name="Digits", task_type="single", labels=[{"name": str(d)} for d in range(10)],
        overlap=1, seed=7, annotators=[annotator],
    )
    path = f"/projects/{project.slug}/campaigns/{campaign.slug}/label/"
    page = new_page(**PHONE)
    login(page, "annotator", next_path=path)
    page.goto(path)
    item = page.locator('#labelling [data-role="item"]')
    key = page.locator('#labelling [data-role="key"]')
    submit = page.get_by_role("button", name="Submit")
    expect(item).to_be_visible()
    _assert_no_horizontal_scroll(page)
    seen = []
    for digit in ("3", "7", "1"):
        for part in (item, submit, *page.locator(".label-button").all()):
            _on_screen(page, part)
        seen.append(key.inner_text())
        page.mouse.wheel(0, 300)  # the annotator scrolls a little before tapping
        page.locator(f'.label-button[data-label="{digit}"]').tap()
        submit.tap()
        expect(key).not_to_have_text(seen[-1])
        expect(page.locator('#labelling [data-role="status"]')).to_have_text("Saved.")
        assert page.evaluate("() => document.getElementById('workspace').getBoundingClientRect().top") >= -1
    assert len(set(seen)) == 3
