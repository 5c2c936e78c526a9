"""Accounts through the HTML pages: signing up, the profile, and personal API tokens."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from knox.models import AuthToken

from prakriya.accounts import services
from prakriya.accounts.models import Profile
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_TOKEN = re.compile(r'data-testid="new-token">([^<]+)<')
CONFIRM_LINK = re.compile(r"(https?://\S+/accounts/signup/confirm/\S+/)")


class RefusingMailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


class _SignerHoursAgo(signing.TimestampSigner):
    """Django's signer, dating its signature `hours` back: a link as it was mailed back then."""

    def __init__(self, *, hours: int, **kwargs):
        super().__init__(**kwargs)
        self.hours = hours

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.hours * 3600)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _sign_up(client, **overrides):
    data = {"username": "asha", "email": "asha@example.org", "display_name": "Asha Kumar"}
    data.update(overrides)
    return client.post(reverse("sign_up"), data)


def _link(message) -> str:
    [url] = CONFIRM_LINK.findall(message.body)
    return urlsplit(url).path


def _finish(client, path: str, password: str = "a-long-enough-passphrase", password2: str | None = None):
    return client.post(path, {"password1": password, "password2": password if password2 is None else password2})


# --- Signing up ------------------------------------------------------------------------------


def test_sign_up_mails_a_link_that_creates_the_user_and_signs_them_in(client):
    response = _sign_up(client)
    assert response.status_code == 302
    assert response.url == reverse("sign_up_sent")
    assert not User.objects.filter(username="asha").exists()  # nothing until the link is followed
    [message] = mail.outbox
    assert message.to == ["asha@example.org"]
    assert b"asha@example.org" in client.get(reverse("sign_up_sent")).content

    link = _link(message)
    page = client.get(link)
    assert page.status_code == 200
    assert b"@asha" in page.content
    response = _finish(client, link)
    assert response.status_code == 302
    assert response.url == reverse("profile")
    user = User.objects.get(username="asha")
    assert user.email == "asha@example.org"
    assert user.check_password("a-long-enough-passphrase")
    assert Profile.objects.get(user=user).display_name == "Asha Kumar"
    page = client.get(reverse("profile"))
    assert page.status_code == 200
    assert page.context["user"] == user
    assert b"Welcome to Prakriya" in page.content


def test_sign_up_with_a_taken_username_answers_exactly_as_with_a_free_one(client, engineer):
    """The page never says whether a username exists: the same redirect, the same page, one
    e-mail either way; only the mailbox learns that the name is in use."""
    taken = _sign_up(client, username="Engineer", email="someone@example.org")  # case does not matter
    taken_page = client.get(reverse("sign_up_sent")).content.replace(b"someone@example.org", b"ADDRESS")
    free = client.__class__()
    fresh = _sign_up(free, username="nobody-yet", email="other@example.org")
    free_page = free.get(reverse("sign_up_sent")).content.replace(b"other@example.org", b"ADDRESS")
    assert (taken.status_code, taken.url) == (fresh.status_code, fresh.url)

    def without_tokens(content: bytes) -> bytes:
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"|nonce="[^"]+"', b"", content)

    assert without_tokens(taken_page) == without_tokens(free_page)
    taken_mail, free_mail = mail.outbox
    assert "already in use" in taken_mail.body and not CONFIRM_LINK.findall(taken_mail.body)
    assert CONFIRM_LINK.findall(free_mail.body)
    assert User.objects.filter(username__iexact="engineer").count() == 1


def test_a_username_taken_after_the_link_was_sent_is_a_form_error(client):
    _sign_up(client)
    link = _link(mail.outbox[0])
    User.objects.create_user(username="ASHA", password="irrelevant-passphrase")
    response = _finish(client, link)
    assert response.status_code == 200
    assert "taken before you finished" in response.content.decode()
    assert not User.objects.filter(username="asha").exists()


def test_a_sign_up_link_works_once(client):
    _sign_up(client)
    link = _link(mail.outbox[0])
    assert _finish(client, link).status_code == 302
    other = client.__class__()
    response = _finish(other, link)
    assert response.status_code == 200
    assert User.objects.filter(username="asha").count() == 1


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "garbage", lambda t: t.replace(":", ".")])
def test_a_tampered_sign_up_link_is_a_400(client, mangle):
    _sign_up(client)
    token = _link(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    response = client.get(reverse("sign_up_confirm", args=[mangle(token)]))
    assert response.status_code == 400
    assert b"does not work" in response.content


def test_an_expired_sign_up_link_is_a_400(client, settings):
    settings.PRAKRIYA_SIGNUP_LINK_HOURS = 2
    payload = {"u": "asha", "e": "asha@example.org", "d": ""}
    fresh = _SignerHoursAgo(hours=1, salt=services._SIGN_UP_SALT).sign_object(payload, compress=True)
    stale = _SignerHoursAgo(hours=3, salt=services._SIGN_UP_SALT).sign_object(payload, compress=True)
    assert client.get(reverse("sign_up_confirm", args=[fresh])).status_code == 200
    assert client.get(reverse("sign_up_confirm", args=[stale])).status_code == 400
    assert _finish(client, reverse("sign_up_confirm", args=[stale])).status_code == 400
    assert not User.objects.filter(username="asha").exists()


def test_sign_up_when_mail_cannot_be_sent_is_a_form_error_either_way(client, engineer, settings):
    settings.EMAIL_BACKEND = "tests.test_accounts.RefusingMailBackend"
    for username in ("engineer", "nobody-yet"):
        response = _sign_up(client, username=username)
        assert response.status_code == 200
        assert "could not send e-mail" in response.content.decode()


def test_finishing_with_mismatched_passwords_creates_nobody(client):
    _sign_up(client)
    response = _finish(client, _link(mail.outbox[0]), password2="something-else-entirely")
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert not User.objects.filter(username="asha").exists()
    assert not Profile.objects.exists()


@pytest.mark.parametrize("password", ["short", "password123", "12345678901", "asha@example.org"])
def test_finishing_with_a_weak_password_is_refused(client, password):
    _sign_up(client)
    response = _finish(client, _link(mail.outbox[0]), password=password)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not User.objects.filter(username="asha").exists()


def test_sign_up_needs_an_email(client):
    response = _sign_up(client, email="")
    assert response.context["form"].errors["email"]
    assert not mail.outbox


def test_sign_up_refuses_a_malformed_username_whether_or_not_it_exists(client):
    response = _sign_up(client, username="has spaces!")
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not mail.outbox


def test_a_signed_in_person_is_sent_from_sign_up_to_their_profile(client, engineer):
    client.force_login(engineer)
    response = client.get(reverse("sign_up"))
    assert response.status_code == 302
    assert response.url == reverse("profile")
    assert _sign_up(client).status_code == 302
    assert not mail.outbox
    assert not User.objects.filter(username="asha").exists()


def test_profile_of_a_user_created_without_one_is_made_on_first_visit(client):
    user = User.objects.create_user(username="legacy", password="irrelevant-passphrase")
    client.force_login(user)
    assert client.get(reverse("profile")).status_code == 200
    assert Profile.objects.filter(user=user).exists()


def test_login_form_signs_in_and_follows_next(client, engineer, password, project):
    detail = reverse("projects:detail", args=[project.slug])
    response = client.post(reverse("login"), {"username": "engineer", "password": password, "next": detail})
    assert response.status_code == 302
    assert response.url == detail
    assert client.get(reverse("profile")).status_code == 200


def test_login_with_a_wrong_password_is_a_form_error(client, engineer):
    response = client.post(reverse("login"), {"username": "engineer", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert client.get(reverse("profile")).status_code == 302


def test_login_ignores_a_next_to_another_site(client, engineer, password):
    response = client.post(reverse("login"), {"username": "engineer", "password": password,
                                               "next": "https://evil.example/"})
    assert response.status_code == 302
    assert not response.url.startswith("https://evil.example")


# --- The profile -----------------------------------------------------------------------------


def test_profile_update_saves_and_tidies_languages(client, engineer):
    client.force_login(engineer)
    response = client.post(reverse("profile"), {
        "display_name": "Arjun Rao", "affiliation": "Records office",
        "languages": " English,Kannada , , Hindi ", "expertise": "Digit recognition on forms.",
    })
    assert response.status_code == 302
    profile = Profile.objects.get(user=engineer)
    assert profile.display_name == "Arjun Rao"
    assert profile.affiliation == "Records office"
    assert profile.languages == "English, Kannada, Hindi"
    assert profile.language_list == ["English", "Kannada", "Hindi"]
    assert profile.expertise == "Digit recognition on forms."
    page = client.get(reverse("profile"))
    assert b"Profile saved." in page.content
    assert b'value="English, Kannada, Hindi"' in page.content
    # The display name is what the rest of the UI shows for the person.
    assert b"Arjun Rao" in page.content


def test_profile_update_changes_only_your_own_profile(client, engineer, lead):
    before = Profile.objects.get(user=lead).display_name
    client.force_login(engineer)
    client.post(reverse("profile"), {"display_name": "Changed", "affiliation": "", "languages": "",
                                     "expertise": ""})
    assert Profile.objects.get(user=lead).display_name == before
    assert Profile.objects.get(user=engineer).display_name == "Changed"


# --- API tokens ------------------------------------------------------------------------------


def _create_token(client, **data) -> str:
    data = {"expiry_days": "", "password": PASSWORD, **data}
    response = client.post(reverse("token_create"), data)
    assert response.status_code == 302
    assert response.url == reverse("profile")
    page = client.get(reverse("profile"))
    [secret] = NEW_TOKEN.findall(page.content.decode())
    return secret


def test_token_secret_is_shown_once_and_never_again(client, engineer):
    client.force_login(engineer)
    secret = _create_token(client)
    token = AuthToken.objects.get(user=engineer)
    assert secret.startswith(token.token_key)
    # Only a digest is stored.
    assert secret not in (token.digest, token.token_key)
    page = client.get(reverse("profile")).content.decode()
    assert 'data-testid="new-token"' not in page
    assert secret not in page
    assert token.token_key in page  # the list shows the prefix, to tell tokens apart


def test_a_token_authenticates_the_api_until_it_is_revoked(client, engineer, private_project):
    client.force_login(engineer)
    secret = _create_token(client)
    api = "/api/projects/"
    anonymous = client.__class__()
    response = anonymous.get(api, HTTP_AUTHORIZATION=f"Token {secret}")
    assert response.status_code == 200
    assert private_project.slug in response.content.decode()  # it acts as the engineer
    key = AuthToken.objects.get(user=engineer).token_key
    assert client.post(reverse("token_revoke", args=[key])).status_code == 302
    assert not AuthToken.objects.filter(user=engineer).exists()
    assert anonymous.get(api, HTTP_AUTHORIZATION=f"Token {secret}").status_code == 401


def test_token_with_an_expiry(client, engineer):
    client.force_login(engineer)
    _create_token(client, expiry_days="30")
    token = AuthToken.objects.get(user=engineer)
    assert token.expiry is not None
    assert 29 <= (token.expiry - token.created).days <= 30


def test_revoke_only_your_own_token(client, engineer, lead):
    mine, _ = services.api_token_create(user=engineer)
    theirs, _ = services.api_token_create(user=lead)
    client.force_login(engineer)
    response = client.post(reverse("token_revoke", args=[theirs.token_key]), follow=True)
    assert response.status_code == 200
    assert b"No such token." in response.content
    assert AuthToken.objects.filter(pk=theirs.pk).exists()
    response = client.post(reverse("token_revoke", args=[mine.token_key]), follow=True)
    assert b"Token revoked." in response.content
    assert not AuthToken.objects.filter(pk=mine.pk).exists()
    assert AuthToken.objects.filter(pk=theirs.pk).exists()


def test_the_profile_lists_only_your_own_tokens(client, engineer, lead):
    theirs, _ = services.api_token_create(user=lead)
    mine, _ = services.api_token_create(user=engineer)
    client.force_login(engineer)
    page = client.get(reverse("profile")).content.decode()
    assert mine.token_key in page
    assert theirs.token_key not in page


def test_tokens_need_a_signed_in_person(client, engineer):
    token, _ = services.api_token_create(user=engineer)
    for url in (reverse("token_create"), reverse("token_revoke", args=[token.token_key])):
        response = client.post(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert AuthToken.objects.filter(user=engineer).count() == 1


def test_token_pages_refuse_get(client, engineer):
    token, _ = services.api_token_create(user=engineer)
    client.force_login(engineer)
    assert client.get(reverse("token_create")).status_code == 405
    assert client.get(reverse("token_revoke", args=[token.token_key])).status_code == 405
    assert AuthToken.objects.filter(user=engineer).exists()


def test_sign_up_then_token_in_one_session(client):
    _sign_up(client)
    _finish(client, _link(mail.outbox[0]), password=PASSWORD)
    secret = _create_token(client)
    token = AuthToken.objects.get(user__username="asha")
    assert secret.startswith(token.token_key)
