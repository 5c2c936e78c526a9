"""API tests. Helpers shared by the test modules live here (conftest.py belongs to the suite)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from projects import services


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Each test creates five users; the production hasher would spend a second on them.
    Test modules import this fixture to use it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(user=None) -> APIClient:
    """An API client signed in as `user` (anonymous when None)."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


def add_primary_target(project, lead, **fields):
    values = {"metric": "accuracy", "comparator": ">=", "threshold": 0.9, "is_primary": True}
    values.update(fields)
    return services.target_save(project=project, actor=lead, **values)
