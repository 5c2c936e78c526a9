"""Accounts through the HTML pages: signing up, the profile, and personal API tokens."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from knox.models import AuthToken

from prakriya.accounts import services
from prakriya.accounts.models import Profile

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_TOKEN = re.compile(r'data-testid="new-token">([^<]+)<')


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _sign_up(client, **overrides):
    data = {"username": "asha", "email": "asha@example.org", "display_name": "Asha Kumar",
            "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase"}
    data.update(overrides)
    return client.post(reverse("sign_up"), data)


# --- Signing up ------------------------------------------------------------------------------


def test_sign_up_creates_the_user_and_their_profile_and_signs_them_in(client):
    response = _sign_up(client)
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


def test_sign_up_with_mismatched_passwords_creates_nobody(client):
    response = _sign_up(client, password2="something-else-entirely")
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert not User.objects.filter(username="asha").exists()
    assert not Profile.objects.exists()


@pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
def test_sign_up_with_a_weak_password_is_refused(client, password):
    response = _sign_up(client, password1=password, password2=password)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not User.objects.filter(username="asha").exists()


def test_sign_up_needs_an_email(client):
    response = _sign_up(client, email="")
    assert response.context["form"].errors["email"]
    assert not User.objects.filter(username="asha").exists()


def test_a_signed_in_person_is_sent_from_sign_up_to_their_profile(client, engineer):
    client.force_login(engineer)
    response = client.get(reverse("sign_up"))
    assert response.status_code == 302
    assert response.url == reverse("profile")
    assert _sign_up(client).status_code == 302
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
    response = client.post(reverse("token_create"), data or {"expiry_days": ""})
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
    secret = _create_token(client)
    token = AuthToken.objects.get(user__username="asha")
    assert secret.startswith(token.token_key)
