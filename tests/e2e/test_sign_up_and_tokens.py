"""A newcomer signs up, fills in their profile, and uses a personal API token until they revoke it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from projects import services
from projects.models import Role

pytestmark = pytest.mark.e2e


def _api_get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - the test's live server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _slugs(body: dict) -> set[str]:
    items = body["results"] if isinstance(body, dict) and "results" in body else body
    return {item["slug"] for item in items}


def test_sign_up_profile_and_an_api_token_until_revoked(page: Page, live_server, project, private_project, lead):
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", name="Join Prakriya")).to_be_visible()
    page.get_by_label("Username").fill("asha")
    page.get_by_label("Email").fill("asha@example.org")
    page.get_by_label("Display name").fill("Asha Kumar")
    page.get_by_role("button", name="Create account").click()

    # The page says only "check your e-mail"; the link in the e-mail finishes the sign-up.
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.get_by_text("asha@example.org")).to_be_visible()
    [message] = mail.outbox
    [link] = re.findall(r"https?://\S+/accounts/signup/confirm/\S+/", message.body)
    page.goto(link)
    expect(page.get_by_text("You are signing up as @asha")).to_be_visible()
    page.locator("#id_password1").fill("census-digits-2024!")
    page.locator("#id_password2").fill("census-digits-2024!")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url("**/accounts/profile/")
    expect(page.locator("ul.messages .message")).to_contain_text(["Welcome to Prakriya."])
    expect(page.get_by_text("Signed in as @asha")).to_be_visible()
    expect(page.locator(".main-nav").get_by_role("link", name="Asha Kumar")).to_be_visible()

    page.get_by_label("Affiliation").fill("Census office")
    page.get_by_label("Languages").fill("English,  Hindi ,Tamil")
    page.get_by_label("Expertise").fill("Reads doctors' handwriting for a living.")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Profile saved."])
    expect(page.get_by_label("Languages")).to_have_value("English, Hindi, Tamil")
    expect(page.get_by_label("Expertise")).to_have_value("Reads doctors' handwriting for a living.")

    # A token: it needs the password again, and is shown once.
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    page.get_by_label("Your password").fill("not-my-password")
    page.get_by_role("button", name="Create a token").click()
    expect(page.locator("ul.messages .message")).to_have_text(["No token created: That is not your password."])
    page.get_by_label("Your password").fill("census-digits-2024!")
    page.get_by_role("button", name="Create a token").click()
    secret = page.get_by_test_id("new-token").inner_text().strip()
    assert len(secret) > 20
    rows = page.locator("section[aria-labelledby=tokens-heading] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("never")
    page.reload()
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert secret not in page.content()

    # The token works against the API, as asha: made a member of the private project, she sees it.
    services.membership_set(project=private_project, actor=lead, user=_user("asha"), role=Role.VIEWER)
    status, body = _api_get(f"{live_server.url}/api/projects/", secret)
    assert status == 200
    assert _slugs(body) == {project.slug, private_project.slug}

    # Revoked, it no longer does.
    rows.first.get_by_role("button", name="Revoke").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Token revoked."])
    expect(rows).to_have_text(["No tokens."])
    status, _ = _api_get(f"{live_server.url}/api/projects/", secret)
    assert status == 401


def _user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)
