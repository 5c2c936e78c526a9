"""Rate limits on expensive requests, and the 429 answers to them and to the caps on active jobs.

The counting is django-ratelimit's (a fixed window per person, or per address for sign-up, kept
in the default cache, which settings.py makes one for every process of a deployment). One scope
is one count, whatever the door: an upload through the page and one through the API take from
the same allowance. Scopes and their rates are settings.PRAKRIYA_RATE_LIMITS:

- uploads:  dataset uploads, imports and derivations (a new version written by a job);
- jobs:     every other job launch (training, overfit-one-batch, sweeps, agreement, active
            labelling, Label Studio sync, exports, label releases, evaluations);
- profiles: recomputing a version's data profile;
- signups:  creating an account, per address.

Only requests that change something count (POST and the like), refused ones included: asking is
what costs. HTML views take `@rate_limited(scope)`; API views (prakriya.rest.ApiViewMixin) name
their scopes by action in `rate_limits`. A refusal is a 429 with Retry-After, as a page (LimitsMiddleware)
or as the API's JSON error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_ratelimit import UNSAFE
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from prakriya.jobs.services import JobLimitReached

WHAT = {
    "uploads": ("Too many uploads", "uploads"),
    "jobs": ("Too many jobs started", "job launches"),
    "profiles": ("Too many profile recomputes", "profile recomputes"),
    "signups": ("Too many sign-ups", "new accounts from one address"),
}
_PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


class RateLimitExceeded(Ratelimited):
    """A request over its scope's rate (a PermissionDenied, as django-ratelimit's own)."""

    def __init__(self, scope: str, retry_after: int) -> None:
        self.scope, self.retry_after = scope, max(int(retry_after), 1)
        super().__init__(rate_limit_message(scope, self.retry_after))


def client_address(request) -> str:
    """The address per-address limits count by (RATELIMIT_IP_META_KEY): the sign-in throttle's
    (prakriya.client_ip), or one shared bucket for requests without one."""
    from prakriya.client_ip import client_ip

    return client_ip(getattr(request, "_request", request)) or "0.0.0.0"


def _group(scope: str) -> str:
    return f"prakriya.{scope}"


def _rate(group: str, request) -> str:
    return settings.PRAKRIYA_RATE_LIMITS[group.removeprefix("prakriya.")]


def _key(scope: str) -> str:
    # Sign-ups are anonymous by nature: counted per address. The rest per person signed in.
    return "ip" if scope == "signups" else "user_or_ip"


def rate_text(rate: str) -> str:
    """'30/h' → '30 an hour'; '10/15m' → '10 every 15 minutes'."""
    count, multiple, unit = re.fullmatch(r"(\d+)/(\d*)([smhd])", rate).groups()
    name = _PERIODS[unit]
    if multiple and int(multiple) != 1:
        return f"{count} every {multiple} {name}s"
    return f"{count} an {name}" if name == "hour" else f"{count} a {name}"


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def rate_limit_message(scope: str, retry_after: int) -> str:
    title, what = WHAT[scope]
    rate = rate_text(settings.PRAKRIYA_RATE_LIMITS[scope])
    return f"{title}: at most {rate} {what}. Try again in {_wait_text(retry_after)}."


def rate_limit_hit(request, scope: str) -> int | None:
    """Counts the request in its scope; the seconds to wait when it is over the rate, else None."""
    usage = get_usage(request, group=_group(scope), key=_key(scope), rate=_rate, method=UNSAFE, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)


def rate_limited(scope: str) -> Callable:
    """Decorator for an HTML view: its POSTs count in `scope`; one over the rate is a 429 page."""
    if scope not in WHAT:
        raise ValueError(f"unknown rate-limit scope {scope!r}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            wait = rate_limit_hit(request, scope)
            if wait is not None:
                raise RateLimitExceeded(scope, wait)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class ScopedRateLimit(BaseThrottle):
    """A DRF throttle counting in a scope's django-ratelimit count (shared with the pages)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def allow_request(self, request, view) -> bool:
        # The DRF request: its user is the one the token authenticated.
        wait = rate_limit_hit(request, self.scope)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail=rate_limit_message(self.scope, wait))
        return True


def _limit_page(request: HttpRequest, *, title: str, message: str, retry_after: int) -> HttpResponse:
    body = render_to_string("429.html", {"title": title, "message": message}, request=request)
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """settings.RATELIMIT_VIEW: the page for a request over a rate limit."""
    if isinstance(exception, RateLimitExceeded):
        return _limit_page(request, title=WHAT[exception.scope][0], message=str(exception),
                           retry_after=exception.retry_after)
    return _limit_page(request, title="Too many requests", message="Too many requests: try again later.",
                       retry_after=60)


class LimitsMiddleware:
    """Turns a rate limit or a cap on active jobs met by an HTML view into a readable 429 page
    (the API answers them itself, in its JSON error shape)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Ratelimited):
            return rate_limited_view(request, exception)
        if isinstance(exception, JobLimitReached):
            return _limit_page(request, title="Too many jobs at once", message=exception.message,
                               retry_after=exception.retry_after)
        return None
