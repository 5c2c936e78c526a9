"""One error shape for the API: every 4xx answers with a readable `detail` and, for
validation errors, the per-field messages. Unexpected errors still surface as 500s in logs."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from prakriya.jobs.services import JobLimitReached


def exception_handler(exc, context):
    if isinstance(exc, JobLimitReached):
        # A cap on active jobs: nothing wrong with the request, only its timing.
        set_rollback()
        return Response({"detail": exc.message}, status=status.HTTP_429_TOO_MANY_REQUESTS,
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        response.data = {"detail": "Invalid input.", "errors": data}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"detail": f"Malformed request body: {exc.detail}"}
    elif response.status_code == status.HTTP_404_NOT_FOUND:
        response.data = {"detail": "Not found."}
    return response


def error_response(message: str, *, status_code: int = 400) -> Response:
    return Response({"detail": message}, status=status_code)
