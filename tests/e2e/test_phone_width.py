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
