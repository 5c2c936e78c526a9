"""Who is calling: the platform's API token (knox, as the REST API checks it), sent the ways
MLflow clients send credentials. Session cookies are never looked at on this path, so a browser
page cannot make a signed-in user's browser write runs (no CSRF to defend against)."""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.exceptions import AuthenticationFailed

from experiments.tracking import errors
from prakriya.rest import StrictTokenAuthentication

_HINT = (
    "Send a Prakriya API token: MLFLOW_TRACKING_TOKEN=<token> (Authorization: Bearer), or "
    "MLFLOW_TRACKING_USERNAME=<username> with MLFLOW_TRACKING_PASSWORD=<token>."
)


def authenticate(meta: dict) -> AbstractBaseUser:
    """The token's user, from the request's Authorization header; raises a 401 TrackingError."""
    header = meta.get("HTTP_AUTHORIZATION", "")
    if not header.strip():
        raise errors.unauthenticated("Authentication required. " + _HINT)
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    username = None
    if scheme.lower() in ("bearer", "token"):
        token = credentials
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.encode("latin-1"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise errors.unauthenticated("Malformed Basic credentials. " + _HINT) from None
        username, sep, token = decoded.partition(":")
        if not sep:
            raise errors.unauthenticated("Malformed Basic credentials. " + _HINT)
    else:
        raise errors.unauthenticated("Unsupported authorization scheme. " + _HINT)
    if not token:
        raise errors.unauthenticated("No token given. " + _HINT)
    try:
        user, _auth_token = StrictTokenAuthentication().authenticate_credentials(token.encode("latin-1"))
    except (AuthenticationFailed, UnicodeError):
        raise errors.unauthenticated("Invalid token. " + _HINT) from None
    if username is not None and username != user.get_username():
        raise errors.unauthenticated("The token does not belong to this username. " + _HINT)
    return user
