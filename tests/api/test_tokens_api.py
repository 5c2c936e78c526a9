"""Personal API tokens (knox): automation signs in with "Authorization: Token <secret>"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from prakriya.accounts.services import api_token_create, api_token_revoke
from projects.models import Membership
from tests.api import fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.django_db


def _token_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def test_token_authenticates_reads_and_writes(outsider):
    _, secret = api_token_create(user=outsider)
    client = _token_client(secret)
    assert client.get("/api/jobs/").status_code == 200  # jobs need a signed-in user
    response = client.post("/api/projects/", {"slug": "automated", "title": "Automated"}, format="json")
    assert response.status_code == 201
    assert Membership.objects.get(project__slug="automated").user == outsider


def test_token_sees_its_owners_private_projects(private_project, viewer, outsider):
    _, viewer_secret = api_token_create(user=viewer)
    _, outsider_secret = api_token_create(user=outsider)
    assert _token_client(viewer_secret).get("/api/projects/secret-forms/").status_code == 200
    assert _token_client(outsider_secret).get("/api/projects/secret-forms/").status_code == 404


def test_revoked_token_gets_401(outsider):
    token, secret = api_token_create(user=outsider)
    assert api_token_revoke(user=outsider, token_key=token.token_key)
    response = _token_client(secret).get("/api/projects/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response.headers["WWW-Authenticate"] == "Token"


def test_expired_token_gets_401(outsider):
    token, secret = api_token_create(user=outsider, expiry_days=1)
    type(token).objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert _token_client(secret).get("/api/projects/").status_code == 401


def test_token_of_a_deactivated_user_gets_401(outsider):
    _, secret = api_token_create(user=outsider)
    outsider.is_active = False
    outsider.save(update_fields=["is_active"])
    assert _token_client(secret).get("/api/projects/").status_code == 401


def test_wrong_secret_gets_401(outsider):
    _, secret = api_token_create(user=outsider)
    tampered = secret[:-4] + ("0000" if not secret.endswith("0000") else "1111")
    assert _token_client(tampered).get("/api/projects/").status_code == 401


def test_anonymous_write_gets_401_with_token_challenge(project):
    response = APIClient().post("/api/projects/digits/targets/", {"metric": "m"}, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_session_sign_in_also_works(project, lead, password):
    client = APIClient()
    # The browsable API's login page (the platform's throttled login form).
    response = client.post("/api/auth/login/", {"username": "lead", "password": password}, format="multipart")
    assert response.status_code == 302
    assert client.get("/api/projects/digits/").json()["my_role"] == "lead"
