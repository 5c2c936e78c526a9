"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

No browser is ever downloaded: Chromium is the system one at /usr/bin/chromium.
"""

from __future__ import annotations

import os

# Playwright's sync API keeps an asyncio loop running in the main thread; Django refuses database
# access from a thread with a running loop unless told this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import re  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

from projects import services  # noqa: E402
from projects.models import Project  # noqa: E402
from tests.factories import PASSWORD  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SHOTS = Path("/tmp/e2e-shots")
TIMEOUT_MS = 15_000

DEMO_SLUG = "handwritten-digits"
DEMO_TITLE = "Handwritten digit recognition"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Lets the page fixture know at teardown whether the test failed (for the screenshot).
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Logins still go through the real form and check the password; only the hash is cheaper.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()


# Reports every Content-Security-Policy violation a page of the platform sees to the test.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__prakriyaCspViolation({
    page: document.location.href, directive: event.effectiveDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
  });
});
"""


@pytest.fixture
def csp_violations() -> list[dict]:
    """Content-Security-Policy violations reported by the platform's pages during the test. Any
    left at the end fails the test: a test that provokes one on purpose takes it out of the list."""
    return []


@pytest.fixture
def new_page(browser, request, live_server, csp_violations) -> Iterator[Callable[..., Page]]:
    """Factory: a page in a fresh browser context (its own cookies, so its own person). Every page
    is screenshotted into /tmp/e2e-shots/ if the test fails, then closed. Content-Security-Policy
    violations on the platform's pages are collected in csp_violations and fail the test."""
    contexts = []

    def report(violation: dict) -> None:
        if violation["page"].startswith(live_server.url):
            csp_violations.append(violation)

    def make(**context_options) -> Page:
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        context.expose_function("__prakriyaCspViolation", report)
        context.add_init_script(_CSP_LISTENER)
        contexts.append(context)
        return context.new_page()

    yield make

    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
    if failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                try:
                    page.screenshot(path=str(SHOTS / f"{name}-{i}-{j}.png"), full_page=True)
                    (SHOTS / f"{name}-{i}-{j}.html").write_text(page.content())
                except Exception:  # noqa: BLE001 - a screenshot must never hide the real failure
                    pass
    for context in contexts:
        context.close()
    if not failed:
        assert csp_violations == [], "Content-Security-Policy violations on the platform's pages"


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


# A dataset version's page: where a job that wrote or profiled a version leads.
VERSION_PAGE = re.compile(r"/data/[^/]+/v\d+/(#[\w-]*)?$")


def follow_job(page: Page, lands_on: str | re.Pattern, *, timeout: float) -> str:
    """Waits on a job's page until the job has succeeded and the page has gone by itself to what
    the job made (`lands_on`); returns the job page's address, to read the finished job there."""
    page.wait_for_url("**/jobs/*/")
    job_page = page.url
    # A job that finished before its page first loaded leaves the page where it is (the person
    # was not waiting) with the link to what it made: follow that link, as a person would.
    deadline = time.monotonic() + timeout / 1000
    while page.url == job_page and time.monotonic() < deadline:
        try:
            job = page.locator("#job")
            if job.get_attribute("data-state", timeout=1000) == "succeeded":
                link = job.get_attribute("data-result-url", timeout=1000)
                if link and page.url == job_page:
                    page.goto(link)
                    break
        except PlaywrightError:  # the page is leaving by itself
            pass
        page.wait_for_timeout(250)
    page.wait_for_url(lands_on, timeout=timeout)
    return job_page


def back_to(page: Page, url: str) -> None:
    """Goes (back) to `url`, as a person clicking a link would. The page being left may navigate
    by itself at that moment (a version page reloads when the profile job it waits on finishes):
    the browser then aborts one of the two navigations, and going again is what a person does."""
    for attempt in range(3):
        try:
            page.goto(url)
            return
        except PlaywrightError as exc:
            if "ERR_ABORTED" not in str(exc) or attempt == 2:
                raise


def login(page: Page, username: str, password: str = PASSWORD, next_path: str = "/") -> None:
    """Logs in through the real login form, as a person would."""
    page.goto(f"/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@pytest.fixture
def demo(project, private_project, lead, engineer) -> Project:
    """The public demo project: a charter the lead approved (so it is at the data document stage),
    targets with one primary metric, value estimates, tags and a timeline. Next to it: the
    fixtures' public "digits" project and private "secret-forms" project (tagged like the demo, so
    a tag filter that leaked private projects would show it)."""
    demo = services.project_create(
        creator=lead, slug=DEMO_SLUG, title=DEMO_TITLE,
        summary="Read handwritten digits on survey forms so clerks confirm instead of type.",
        tags=["vision", "digits"],
        problem_statement="Clerks type **12,000 forms** a month by hand.",
        current_process="1. Scan\n2. Type twice\n3. Reconcile",
        ml_role="Suggest each digit; a clerk confirms.",
    )
    services.membership_set(project=demo, actor=lead, user=engineer, role="engineer")
    services.project_update_charter(project=demo, actor=engineer, summary_of_change="Charter drafted",
                                    value_notes="Clerk time, not head-count.")
    services.target_save(project=demo, actor=engineer, metric="accuracy", comparator=">=", threshold=0.97,
                         is_primary=True, notes="Per digit")
    services.target_save(project=demo, actor=engineer, metric="latency_p95", comparator="<=", threshold=50,
                         unit="ms")
    services.value_estimate_save(project=demo, actor=engineer, quantity="Clerk minutes per form", current=6,
                                 expected=2.5, unit="min")
    page = demo.deliverables.get(kind="project_page")
    services.deliverable_transition(deliverable=page, actor=engineer, action="submit")
    services.deliverable_transition(deliverable=page, actor=lead, action="approve", comment="Clear and honest.")
    services.project_update_settings(project=private_project, actor=lead, tags=["vision"])
    services.project_update_settings(project=project, actor=lead, tags=["audio"])
    demo.refresh_from_db()
    return demo


@pytest.fixture(autouse=True, scope="session")
def _clean_shots():
    shutil.rmtree(SHOTS, ignore_errors=True)
