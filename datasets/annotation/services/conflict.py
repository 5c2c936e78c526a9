"""The one error the campaign services share beyond Django's ValidationError and PermissionDenied."""


class Conflict(Exception):
    """The request is valid but loses a race or is stale (HTTP 409)."""
