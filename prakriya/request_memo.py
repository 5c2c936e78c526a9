"""Answers remembered for the length of one request, and no longer.

The access policy asks for a user's role in a project on nearly every check a page or an API call
makes; reading it once per request (rather than once per check, or in a cache that outlives a
change of membership) is what this module is for. Outside a request (jobs, management commands,
tests calling services) nothing is remembered: every answer is read afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, object] | None] = ContextVar("prakriya_request_memo", default=None)


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned earlier in this request for the same key."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]


def forget_all() -> None:
    """Drops what this request remembered (after a write that changes an answer, e.g. a role)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


class RequestMemoMiddleware:
    """Gives each request a memo of its own (a context variable: threads and requests never share one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)
