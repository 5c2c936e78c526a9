from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken


def api_token_list(*, user: AbstractBaseUser) -> QuerySet[AuthToken]:
    return AuthToken.objects.filter(user=user).order_by("-created")


# --- Sign-in lock-outs (django-axes' failure records) ----------------------------------------


def _recent_attempts() -> QuerySet[AccessAttempt]:
    return AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)


def _locked_until(rows: Iterable[tuple[datetime, int]]) -> datetime | None:
    """When the failures stop adding up to the limit. axes counts, at any moment, the failures of
    the records touched within the cool-off; records age out oldest first, so the lock ends when
    the record that brings the newest ones to the limit ages out."""
    total = 0
    for attempt_time, failures in sorted(rows, reverse=True):
        total += failures
        if total >= settings.AXES_FAILURE_LIMIT:
            return attempt_time + settings.AXES_COOLOFF_TIME
    return None


def lockout_until(*, username: str | None, ip_address: str | None) -> datetime | None:
    """When signing in as `username` from `ip_address` is possible again (None: it is now). The
    account and the address are counted apart; the later lock holds."""
    ends = []
    recent = _recent_attempts()
    if username is not None:
        ends.append(_locked_until(recent.filter(username=username).values_list("attempt_time", "failures_since_start")))
    if ip_address is not None:
        ends.append(_locked_until(recent.filter(ip_address=ip_address).values_list("attempt_time", "failures_since_start")))
    ends = [end for end in ends if end is not None and end > timezone.now()]
    return max(ends) if ends else None


def locked_usernames(*, usernames: Iterable[str]) -> dict[str, datetime]:
    """Which of these accounts are locked out, and until when (their addresses aside)."""
    rows: dict[str, list[tuple[datetime, int]]] = {}
    for username, attempt_time, failures in _recent_attempts().filter(username__in=list(usernames)).values_list(
        "username", "attempt_time", "failures_since_start"
    ):
        rows.setdefault(username, []).append((attempt_time, failures))
    now = timezone.now()
    locked = {name: _locked_until(found) for name, found in rows.items()}
    return {name: until for name, until in locked.items() if until is not None and until > now}


@dataclass(frozen=True)
class LockoutEntry:
    kind: str  # "account" or "address"
    value: str
    until: datetime
    failures: int


def lockout_list() -> list[LockoutEntry]:
    """Every account and address locked out now, latest lock first (the staff's lock-out page)."""
    by_kind: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for username, ip_address, attempt_time, failures in _recent_attempts().values_list(
        "username", "ip_address", "attempt_time", "failures_since_start"
    ):
        if username is not None:
            by_kind.setdefault(("account", username), []).append((attempt_time, failures))
        if ip_address is not None:
            by_kind.setdefault(("address", ip_address), []).append((attempt_time, failures))
    now = timezone.now()
    entries = []
    for (kind, value), rows in by_kind.items():
        until = _locked_until(rows)
        if until is not None and until > now:
            entries.append(LockoutEntry(kind=kind, value=value, until=until, failures=sum(f for _, f in rows)))
    return sorted(entries, key=lambda entry: entry.until, reverse=True)


def user_label(user) -> str:
    """How a person is named on pages and in API answers: their display name, else their username."""
    if user is None:
        return "someone"
    profile = getattr(user, "profile", None)
    return profile.display_name if profile and profile.display_name else user.get_username()
