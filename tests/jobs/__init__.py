"""Job machinery tests: the runner and sweeper as plain functions, and real Celery workers."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The shared fixtures create five users; the production hasher would spend a second on them.
    Test modules import this fixture to use it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
