"""Sign-in throttling: how every place that checks a password (the login pages, the API login,
token creation) learns that an account or address is locked out, and what it answers.

django-axes counts the failures (settings: AXES_*) and refuses a locked-out sign-in before any
password is checked. Each entry point calls `sign_in_check`, which answers with the user, or raises
`SignInLocked` (with the time the lock ends) or `SignInInvalid`; the entry point then answers in
its own form (a form error, a JSON 429). The lock-out message is the same whether or not the
username exists, so it confirms no account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from prakriya.accounts import selectors


class SignInInvalid(Exception):
    """Wrong username or password (which of the two is never said)."""


class SignInLocked(Exception):
    def __init__(self, lockout: Lockout):
        super().__init__(lockout.message)
        self.lockout = lockout


@dataclass(frozen=True)
class Lockout:
    until: datetime

    @property
    def minutes(self) -> int:
        return max(1, math.ceil((self.until - timezone.now()).total_seconds() / 60))

    @property
    def seconds(self) -> int:
        return max(1, math.ceil((self.until - timezone.now()).total_seconds()))

    @property
    def message(self) -> str:
        minutes = self.minutes
        return (
            "Too many failed sign-ins for this account or from your network address: signing in is "
            f"locked for {minutes} more minute{'s' if minutes != 1 else ''} "
            f"(until {self.until:%H:%M} UTC), even with the right password. To be unlocked sooner, "
            "ask a lead of one of your projects or a site administrator."
        )


def _django_request(request) -> HttpRequest:
    # DRF's Request wraps Django's; axes marks the Django request, which its middleware reads.
    return getattr(request, "_request", request)


def sign_in_check(*, request, username: str, password: str) -> AbstractBaseUser:
    """The user these credentials sign in, counting a failure against the account and the address.
    Raises SignInLocked while either is locked out (the right password included), SignInInvalid
    for wrong credentials or an inactive account."""
    django_request = _django_request(request)
    user = authenticate(request=django_request, username=username, password=password)
    if user is not None:
        return user
    lockout = lockout_of_request(request=django_request, username=username)
    if lockout is not None:
        raise SignInLocked(lockout)
    raise SignInInvalid()


def lockout_of_request(*, request: HttpRequest, username: str | None) -> Lockout | None:
    """The lock-out this sign-in ran into, if axes found one; the caller answers it itself, so
    the axes middleware leaves its response alone (lockout_response)."""
    if not getattr(request, "axes_locked_out", False):
        return None
    request.prakriya_lockout_answered = True
    until = selectors.lockout_until(username=username, ip_address=getattr(request, "axes_ip_address", None))
    if until is None:  # locked at this very attempt and already expired: cannot happen with cool-off > 0
        until = timezone.now() + settings.AXES_COOLOFF_TIME
    return Lockout(until=until)


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the answer to a sign-in refused for a lock-out. Entry points that
    answered it themselves keep their answer; any other (the admin's login) gets the page, or
    JSON under /api/."""
    if getattr(request, "prakriya_lockout_answered", False) and original_response is not None:
        return original_response
    username = (credentials or {}).get("username")
    lockout = lockout_of_request(request=request, username=username) or Lockout(
        until=timezone.now() + settings.AXES_COOLOFF_TIME
    )
    return lockout_answer(request, lockout)


def lockout_answer(request: HttpRequest, lockout: Lockout) -> HttpResponse:
    if request.path.startswith("/api/") and not request.path.startswith("/api/auth/login/"):
        response = JsonResponse({"detail": lockout.message, "locked_until": lockout.until.isoformat()}, status=429)
    else:
        response = render(request, "accounts/locked.html", {"lockout": lockout}, status=429)
    response["Retry-After"] = str(lockout.seconds)
    return response
