"""Who is asking, by network address: the one reading of a request's client address, for the sign-in
lock-out (AXES_CLIENT_IP_CALLABLE) and the rate limits alike."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address (AXES_CLIENT_IP_CALLABLE). Behind PRAKRIYA_PROXY_COUNT reverse proxies
    it is the address the outermost proxy appended to X-Forwarded-For (earlier entries are the
    client's to forge). Anything that is not an IP address counts as no address."""
    address = request.META.get("REMOTE_ADDR")
    proxies = settings.PRAKRIYA_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return None
