"""Errors in MLflow's JSON shape ({"error_code": …, "message": …}), so that MLflow clients raise
their usual MlflowException with the platform's message."""

from __future__ import annotations

import json

from django.http import HttpResponse


class TrackingError(Exception):
    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        body = json.dumps({"error_code": self.error_code, "message": self.message})
        response = HttpResponse(body, status=self.status, content_type="application/json")
        for name, value in self.headers.items():
            response[name] = value
        return response


def unauthenticated(message: str) -> TrackingError:
    # Both schemes MLflow clients speak: MLFLOW_TRACKING_TOKEN (Bearer) and
    # MLFLOW_TRACKING_USERNAME/PASSWORD (Basic).
    return TrackingError(
        401,
        "UNAUTHENTICATED",
        message,
        {"WWW-Authenticate": 'Bearer realm="prakriya", Basic realm="prakriya"'},
    )


def permission_denied(message: str) -> TrackingError:
    return TrackingError(403, "PERMISSION_DENIED", message)


def not_found(message: str) -> TrackingError:
    return TrackingError(404, "RESOURCE_DOES_NOT_EXIST", message)


def endpoint_not_found(message: str) -> TrackingError:
    return TrackingError(404, "ENDPOINT_NOT_FOUND", message)


def bad_request(message: str) -> TrackingError:
    return TrackingError(400, "MALFORMED_REQUEST", message)


def invalid_parameter(message: str) -> TrackingError:
    return TrackingError(400, "INVALID_PARAMETER_VALUE", message)


def already_exists(message: str) -> TrackingError:
    return TrackingError(400, "RESOURCE_ALREADY_EXISTS", message)


def too_large(message: str) -> TrackingError:
    return TrackingError(413, "REQUEST_LIMIT_EXCEEDED", message)
