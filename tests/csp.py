"""The Content-Security-Policy every HTML page must carry, and a check used by the permission
matrices (tests/matrix.py) on every response they get, and by tests/test_content_security_policy.py."""

from __future__ import annotations

import re

from django.http import HttpResponseBase

# Directive → the sources it must list exactly ("nonce" stands for the page's own nonce, present
# only when the page used it).
REQUIRED = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
NONCE = re.compile(r"^'nonce-[A-Za-z0-9+/=]{16,}'$")


def policy_of(response: HttpResponseBase) -> dict[str, list[str]] | None:
    header = response.get("Content-Security-Policy")
    if header is None:
        return None
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def is_html(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def csp_problem(response: HttpResponseBase) -> str | None:
    """What is wrong with an HTML response's policy, or None (also for other content types)."""
    if not is_html(response):
        return None
    if response.has_header("Content-Security-Policy-Report-Only") and not response.has_header(
        "Content-Security-Policy"
    ):
        return "the Content-Security-Policy is report-only"
    policy = policy_of(response)
    if policy is None:
        return "no Content-Security-Policy header"
    for directive, sources in REQUIRED.items():
        if policy.get(directive) != sources:
            return f"{directive} is {policy.get(directive)}, not {sources}"
    # Pages drawing WebGL charts allow eval (prakriya/csp.py); never inline scripts or other hosts.
    if policy.get("script-src") not in (["'self'"], ["'self'", "'unsafe-eval'"]):
        return f"script-src is {policy.get('script-src')}, not 'self' (and 'unsafe-eval' for WebGL charts)"
    style = policy.get("style-src", [])
    if style[:1] != ["'self'"] or not all(NONCE.match(source) for source in style[1:]):
        return f"style-src is {style}, not 'self' and the page's nonce"
    return None
