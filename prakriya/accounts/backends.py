"""The sign-in throttle as an authentication backend (settings.AUTHENTICATION_BACKENDS)."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' backend: refuses a locked-out account or address before any password is
    checked. A check made without a request (a management command, a shell) has no client to
    count and is not throttled; axes itself would raise, and that would be a 500 wherever it
    happened."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
