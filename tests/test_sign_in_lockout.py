"""Sign-in throttling (django-axes): every place that checks a password counts failures per
account and per address, refuses even the right password while locked, says so clearly, and lets
staff (any lock) and a lead (their members' accounts) lift it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from prakriya.accounts.models import LockoutLift
from prakriya.client_ip import client_ip
from projects import services as project_services
from projects.models import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
LIMIT = 4
HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"
THIRD = "10.0.0.3"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def _login(username: str, password: str, *, address: str = HOME, path: str = "/accounts/login/", client=None):
    client = client or Client()
    response = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)
    return client, response


def _signed_in(client: Client) -> bool:
    return client.get(reverse("profile")).status_code == 200


def _api_token(username: str, password: str, *, address: str = HOME, **extra):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password, **extra}, format="json", REMOTE_ADDR=address
    )


def _fail(username: str, times: int, *, address: str = HOME) -> None:
    for _ in range(times):
        _login(username, "not-the-password", address=address)


# --- The login pages --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/auth/login/"])
def test_after_the_limit_even_the_right_password_is_refused_with_a_clear_message(engineer, path):
    for attempt in range(1, LIMIT):
        _, response = _login("engineer", "not-the-password", path=path)
        assert response.status_code == 200, attempt
        assert "correct username and password" in response.content.decode()
    _, response = _login("engineer", "not-the-password", path=path)
    assert response.status_code == 429
    client, response = _login("engineer", PASSWORD, path=path)
    assert response.status_code == 429
    page = response.content.decode()
    assert "locked for 15 more minutes" in page
    assert "ask a lead of one of your projects or a site administrator" in page
    assert 14 * 60 <= int(response["Retry-After"]) <= 15 * 60
    assert not _signed_in(client)


def test_a_correct_sign_in_before_the_limit_works_and_other_accounts_and_addresses_are_unaffected(engineer, lead):
    _fail("engineer", LIMIT - 1)
    client, response = _login("engineer", PASSWORD)
    assert response.status_code == 302 and _signed_in(client)
    _fail("engineer", 1)  # the limit reached: the account is locked, and so is the address
    for username, address, locked in [
        ("engineer", HOME, True),
        ("engineer", ELSEWHERE, True),  # the account, from anywhere
        ("lead", HOME, True),  # the address, for any account
        ("lead", ELSEWHERE, False),
    ]:
        client, response = _login(username, PASSWORD, address=address)
        assert (response.status_code == 429) is locked, (username, address)
        assert _signed_in(client) is not locked, (username, address)


def test_failures_spread_over_addresses_lock_the_account(engineer):
    for i in range(LIMIT):
        _login("engineer", "not-the-password", address=f"10.1.0.{i}")
    _, response = _login("engineer", PASSWORD, address=THIRD)
    assert response.status_code == 429


def test_failures_spread_over_accounts_lock_the_address(engineer, lead, viewer):
    for name in ("nobody-1", "nobody-2", "lead", "viewer")[:LIMIT]:
        _login(name, "not-the-password")
    _, response = _login("engineer", PASSWORD)
    assert response.status_code == 429
    _, response = _login("engineer", PASSWORD, address=ELSEWHERE)
    assert response.status_code == 302


def test_a_username_that_does_not_exist_locks_out_the_same_way(engineer):
    """The lock-out is no oracle: an unknown username is counted and answered like a real one."""
    answers = []
    for name, address in (("engineer", HOME), ("nobody-at-all", ELSEWHERE)):
        _fail(name, LIMIT, address=address)
        _, response = _login(name, PASSWORD, address=address)
        body = re.sub(r'value="[^"]*"|nonce="[^"]*"', "", response.content.decode())
        answers.append((response.status_code, body))
    assert answers[0][0] == 429
    assert answers[0] == answers[1]


def test_the_lock_ends_after_the_cool_off(engineer):
    _fail("engineer", LIMIT)
    assert _login("engineer", PASSWORD)[1].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    client, response = _login("engineer", PASSWORD)
    assert response.status_code == 302 and _signed_in(client)


def test_attempts_while_locked_do_not_prolong_the_lock(engineer):
    _fail("engineer", LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    _fail("engineer", 3)  # refused unchecked: not counted, the lock still ends 5 minutes from now
    assert AccessAttempt.objects.get().failures_since_start == LIMIT
    _, response = _login("engineer", PASSWORD)
    assert "locked for 5 more minutes" in response.content.decode()


def test_the_admin_login_is_throttled_too(engineer):
    engineer.is_staff = True
    engineer.save()
    for _ in range(LIMIT):
        _login("engineer", "not-the-password", path="/admin/login/")
    client, response = _login("engineer", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert "locked for" in response.content.decode()
    assert client.get("/admin/").status_code == 302


# --- Token creation ---------------------------------------------------------------------------


def test_token_creation_on_the_profile_checks_the_password_and_is_throttled(client, engineer):
    client.force_login(engineer)
    response = client.post(reverse("token_create"), {"expiry_days": ""}, follow=True)
    assert "Enter your password to create a token." in response.content.decode()
    for _ in range(LIMIT - 1):
        response = client.post(reverse("token_create"), {"password": "nope", "expiry_days": ""}, follow=True,
                               REMOTE_ADDR=HOME)
        assert "That is not your password." in response.content.decode()
    client.post(reverse("token_create"), {"password": "nope", "expiry_days": ""}, REMOTE_ADDR=HOME)
    response = client.post(reverse("token_create"), {"password": PASSWORD, "expiry_days": ""}, follow=True,
                           REMOTE_ADDR=ELSEWHERE)
    assert response.status_code == 200
    assert "locked for 15 more minutes" in response.content.decode()
    assert not AuthToken.objects.exists()
    # The account is locked for signing in too.
    assert _login("engineer", PASSWORD, address=THIRD)[1].status_code == 429


def test_api_token_creation_with_username_and_password(engineer):
    response = _api_token("engineer", PASSWORD, expiry_days=7)
    assert response.status_code == 201
    body = response.json()
    token = AuthToken.objects.get(user=engineer)
    assert body["token"].startswith(token.token_key) and body["token_key"] == token.token_key
    assert body["expiry"] is not None
    listing = APIClient().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert listing.status_code == 200


def test_api_token_creation_is_throttled_and_answers_429_with_json(engineer):
    for _ in range(LIMIT - 1):
        response = _api_token("engineer", "not-the-password")
        assert response.status_code == 400
        assert response.json() == {"detail": "Invalid username or password."}
    assert _api_token("engineer", "not-the-password").status_code == 429
    response = _api_token("engineer", PASSWORD, address=ELSEWHERE)
    assert response.status_code == 429
    body = response.json()
    assert "locked for 15 more minutes" in body["detail"]
    assert body["locked_until"]
    assert int(response["Retry-After"]) > 0
    assert not AuthToken.objects.exists()
    # Failures through the API lock the login page too: one count per account.
    assert _login("engineer", PASSWORD, address=THIRD)[1].status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "engineer"},
        {"username": ["engineer"], "password": PASSWORD},
        {"username": "x" * 10_000, "password": PASSWORD},
        {"username": "engineer\x00", "password": PASSWORD},
        {"username": "engineer", "password": PASSWORD, "expiry_days": "forever"},
        {"username": "engineer", "password": PASSWORD, "expiry_days": 0},
    ],
)
def test_api_token_creation_with_malformed_input_is_a_400(engineer, body):
    response = APIClient().post("/api/auth/token/", body, format="json")
    assert response.status_code == 400
    assert not AuthToken.objects.exists()


def test_api_token_creation_refuses_get_and_inactive_users(engineer):
    assert APIClient().get("/api/auth/token/").status_code == 405
    engineer.is_active = False
    engineer.save()
    assert _api_token("engineer", PASSWORD).status_code == 400


# --- Who lifts a lock-out -----------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


def test_staff_see_and_lift_account_and_address_lock_outs(client, staff, engineer, lead):
    _fail("engineer", LIMIT, address=HOME)
    client.force_login(staff)
    page = client.get(reverse("lockouts")).content.decode()
    assert "account <code>engineer</code>" in page and f"address <code>{HOME}</code>" in page
    response = client.post(reverse("lockouts"), {"kind": "account", "value": "engineer"}, follow=True)
    assert "Lock-out of account engineer lifted." in response.content.decode()
    # The failures are forgotten, the address's count with them.
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 302
    assert _login("lead", PASSWORD, address=HOME)[1].status_code == 302
    _fail("nobody-1", LIMIT, address=THIRD)
    assert _login("lead", PASSWORD, address=THIRD)[1].status_code == 429
    client.post(reverse("lockouts"), {"kind": "address", "value": THIRD})
    assert _login("lead", PASSWORD, address=THIRD)[1].status_code == 302
    lifts = LockoutLift.objects.order_by("id")
    assert [(lift.username, lift.ip_address, lift.via) for lift in lifts] == [
        ("engineer", None, "staff"), ("", THIRD, "staff"),
    ]


@pytest.mark.parametrize("value", ["", "not an address", "999.1.1.1"])
def test_staff_lift_of_a_malformed_address_is_a_form_error(client, staff, value):
    client.force_login(staff)
    response = client.post(reverse("lockouts"), {"kind": "address", "value": value}, follow=True)
    assert response.status_code == 200
    assert "Name an account or an IP address." in response.content.decode()


def test_the_lockout_page_is_staff_only(client, engineer):
    assert client.get(reverse("lockouts")).url.startswith(reverse("login"))
    client.force_login(engineer)
    assert client.get(reverse("lockouts")).status_code == 403
    _fail("lead", LIMIT)
    assert client.post(reverse("lockouts"), {"kind": "account", "value": "lead"}).status_code == 403
    assert AccessAttempt.objects.exists()


def test_the_axes_commands_lift_lock_outs_too(engineer):
    _fail("engineer", LIMIT)
    call_command("axes_reset_username", "engineer")
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 302


def _settings_page(client, project):
    return client.get(reverse("projects:settings", args=[project.slug])).content.decode()


def _unlock(client, project, user):
    membership = project.memberships.get(user=user)
    return client.post(reverse("projects:member_unlock", args=[project.slug, membership.pk]), follow=True)


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_a_lead_sees_and_lifts_a_members_lock_out_once_a_day(
    client, project, private_project, lead, engineer, visibility
):
    chosen = project if visibility == "public" else private_project
    _fail("engineer", LIMIT)
    client.force_login(lead)
    assert "sign-in locked until" in _settings_page(client, chosen)
    response = _unlock(client, chosen, engineer)
    assert "engineer can sign in again." in response.content.decode()
    assert "sign-in locked until" not in _settings_page(client, chosen)
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 302
    lift = LockoutLift.objects.get()
    assert (lift.username, lift.via, lift.project_slug, lift.lifted_by) == ("engineer", "lead", chosen.slug, lead)
    # Locked again the same day: another lead lift is refused (whoever asks), staff's is not.
    _fail("engineer", LIMIT, address=THIRD)
    response = _unlock(client, chosen, engineer)
    assert "in the last 24 hours; ask a site administrator" in response.content.decode()
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 429
    LockoutLift.objects.update(created_at=timezone.now() - timedelta(hours=25))
    _unlock(client, chosen, engineer)
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 302


def test_a_lead_cannot_lift_what_is_not_locked(client, project, lead, engineer):
    client.force_login(lead)
    response = _unlock(client, project, engineer)
    assert "This account is not locked out." in response.content.decode()
    assert not LockoutLift.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("engineer", 403), ("viewer", 403), ("annotator", 403)])
def test_other_members_may_not_lift_a_lock_out(client, users, private_project, lead, role, status):
    _fail("lead", LIMIT)
    client.force_login(users[role])
    assert _unlock(client, private_project, users["lead"]).status_code == status
    assert _login("lead", PASSWORD, address=ELSEWHERE)[1].status_code == 429


def test_outsiders_and_anonymous_may_not_lift_a_lock_out(client, project, private_project, outsider, engineer):
    _fail("engineer", LIMIT)
    public = project.memberships.get(user=engineer)
    assert client.post(reverse("projects:member_unlock", args=[project.slug, public.pk])).url.startswith(
        reverse("login")
    )
    membership = private_project.memberships.get(user=engineer)
    url = reverse("projects:member_unlock", args=[private_project.slug, membership.pk])
    assert client.post(url).status_code == 404  # a private project does not exist for them
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    assert client.post(reverse("projects:member_unlock", args=[project.slug, public.pk])).status_code == 403
    assert client.get(url).status_code == 405
    assert AccessAttempt.objects.exists()


def test_a_lead_may_not_lift_the_lock_out_of_someone_outside_the_project(client, project, lead, outsider):
    other = project_services.project_create(creator=outsider, slug="elsewhere", title="Elsewhere")
    _fail("outsider", LIMIT)
    client.force_login(lead)
    membership = other.memberships.get(user=outsider)
    response = client.post(reverse("projects:member_unlock", args=[project.slug, membership.pk]))
    assert response.status_code == 404
    assert _login("outsider", PASSWORD, address=ELSEWHERE)[1].status_code == 429


def test_a_lead_may_not_lift_a_staff_accounts_lock_out(client, project, lead, staff):
    project_services.membership_set(project=project, actor=lead, user=staff, role=Role.VIEWER)
    _fail("staff", LIMIT)
    client.force_login(lead)
    response = _unlock(client, project, staff)
    assert "lifted by staff only" in response.content.decode()
    assert _login("staff", PASSWORD, address=ELSEWHERE)[1].status_code == 429


def test_the_api_lets_a_lead_lift_a_members_lock_out(project, lead, engineer):
    membership = project.memberships.get(user=engineer)
    url = f"/api/projects/{project.slug}/members/{membership.pk}/unlock/"
    lead_api, engineer_api = APIClient(), APIClient()
    lead_api.force_authenticate(lead)
    engineer_api.force_authenticate(engineer)
    assert lead_api.post(url).status_code == 400  # not locked
    _fail("engineer", LIMIT)
    assert engineer_api.post(url).status_code == 403
    assert APIClient().post(url).status_code == 401
    assert lead_api.post(url).status_code == 204
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 302


# --- The client's address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.9", "1.2.3.4", "10.0.0.9"),  # no proxy: the header is the client's to forge
        (1, "10.0.0.9", "1.2.3.4", "1.2.3.4"),
        (1, "10.0.0.9", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the forged entry comes first
        (2, "10.0.0.9", "6.6.6.6, 1.2.3.4, 172.16.0.2", "1.2.3.4"),
        (1, "10.0.0.9", "", "10.0.0.9"),
        (1, "10.0.0.9", "not-an-address", None),
        (0, "", "", None),
        (1, "10.0.0.9", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address_behind_proxies(settings, proxies, remote, forwarded, expected):
    settings.PRAKRIYA_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_a_forged_forwarded_address_does_not_escape_the_address_lock(settings, engineer, lead):
    settings.PRAKRIYA_PROXY_COUNT = 1
    for i in range(LIMIT):
        Client().post("/accounts/login/", {"username": f"nobody-{i}", "password": "x"},
                      REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 1.2.3.4")
    response = Client().post("/accounts/login/", {"username": "lead", "password": PASSWORD},
                             REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="9.9.9.9, 1.2.3.4")
    assert response.status_code == 429


def test_a_password_check_without_a_request_is_not_throttled_and_never_crashes(engineer):
    from django.contrib.auth import authenticate

    _fail("engineer", LIMIT)
    # A management command or a shell has no client to count; the lock guards requests.
    assert authenticate(username="engineer", password=PASSWORD) == engineer
    assert authenticate(username="engineer", password="wrong") is None
    assert _login("engineer", PASSWORD, address=ELSEWHERE)[1].status_code == 429
