"""The Content-Security-Policy in a real browser: the main pages work under it and report no
violation (every e2e test fails on a violation: tests/e2e/conftest.py), charts are drawn by
plotly.js with its style rules admitted, the API's docs render, and an image that Markdown points
at another host is never fetched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from projects import services
from tests.e2e.conftest import DEMO_SLUG, login

pytestmark = pytest.mark.e2e

PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def tracker() -> Iterator[tuple[str, list[str]]]:
    """Another host serving an image and noting every request it gets (a project owner's logger
    of visitors' addresses)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PIXEL)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _plotly_drew(page: Page) -> None:
    chart = page.locator(".js-plotly-plot .main-svg").first
    expect(chart).to_be_visible()
    # plotly.js's rules went into the page's nonced sheet (base.html), not a sheet of its own, and
    # no style element was refused (a refused one has no sheet).
    rules = page.evaluate("document.getElementById('plotly.js-style-global').sheet.cssRules.length")
    assert rules > 10
    assert page.evaluate("Array.from(document.querySelectorAll('style')).every((s) => s.sheet !== null)")


def test_main_pages_work_under_the_policy_for_a_lead(page: Page, demo, lead, csp_violations):
    login(page, "lead", next_path=f"/projects/{DEMO_SLUG}/")
    _plotly_drew(page)  # the value estimates chart
    # Reading and editing pages of the project, the directory with its filter, the profile.
    for path, heading in [
        ("/", None),
        (f"/projects/{DEMO_SLUG}/deliverables/project_page/", None),
        (f"/projects/{DEMO_SLUG}/edit/", "Edit the project page"),
        (f"/projects/{DEMO_SLUG}/expectations/", None),
        (f"/projects/{DEMO_SLUG}/settings/", "Settings and members"),
        (f"/projects/{DEMO_SLUG}/timeline/", None),
        (f"/projects/{DEMO_SLUG}/history/", None),
        ("/projects/new/", "Start a project"),
        ("/accounts/profile/", "Your profile"),
        ("/?tag=vision", None),
    ]:
        page.goto(path)
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.locator("footer.site-footer")).to_be_visible()
    page.goto(f"/projects/{DEMO_SLUG}/")
    _plotly_drew(page)
    # Hovering a chart runs plotly.js's interactive code (its hover styles live in the sheet).
    page.locator(".js-plotly-plot .main-svg").first.hover()
    assert csp_violations == []


def test_pages_for_visitors_work_under_the_policy(page: Page, demo, csp_violations):
    for path in ["/", f"/projects/{DEMO_SLUG}/", "/accounts/login/", "/accounts/signup/", "/projects/nope/"]:
        page.goto(path)
        expect(page.locator("footer.site-footer")).to_be_visible()
    page.goto(f"/projects/{DEMO_SLUG}/")
    _plotly_drew(page)
    assert csp_violations == []


def test_the_api_docs_render_under_the_policy(page: Page, demo, lead, csp_violations):
    login(page, "lead")
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Prakriya API")
    page.locator(".opblock-tag", has_text="projects").first.click()
    expect(page.locator(".opblock-summary-path", has_text="/api/projects/").first).to_be_visible()
    page.goto("/api/redoc/")
    expect(page.get_by_role("heading", name="Prakriya API", exact=False).first).to_be_visible()
    # ReDoc's "API docs by Redocly" logo lives on a CDN: refused, as the platform loads nothing
    # from other hosts; the docs are whole without it.
    page.wait_for_timeout(500)
    logo = [v for v in csp_violations if v["blocked"].startswith("https://cdn.redoc.ly/")]
    assert {v["directive"] for v in logo} <= {"img-src"}
    for violation in logo:
        csp_violations.remove(violation)
    page.goto("/api/projects/")  # the browsable API
    expect(page.locator(".response-info")).to_contain_text(DEMO_SLUG)
    page.goto("/api/auth/login/")
    expect(page.locator("#id_username")).to_be_visible()
    assert csp_violations == []


def test_a_markdown_image_from_another_host_is_never_fetched(page: Page, demo, lead, tracker, csp_violations):
    base, hits = tracker
    image = f"{base}/visitor.png"
    services.project_update_charter(
        project=demo, actor=lead, problem_statement=f"Our scans:\n\n![a scan]({image})\n\nMore text."
    )
    page.goto(f"/projects/{DEMO_SLUG}/")
    expect(page.get_by_text("More text.")).to_be_visible()
    expect(page.locator(f"img[src='{image}']")).to_have_count(1)  # in the page, but not loaded
    page.wait_for_timeout(500)  # let pending reports arrive
    assert hits == []
    assert page.evaluate(f"document.querySelector(\"img[src='{image}']\").naturalWidth") == 0
    blocked = [v for v in csp_violations if v["blocked"].startswith(base)]
    assert blocked and {v["directive"] for v in blocked} == {"img-src"}
    csp_violations.clear()  # expected: the violation is the policy doing its work
