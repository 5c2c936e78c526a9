"""REST framework plumbing shared by every app's API: hostile or malformed requests end in a
4xx with the API's error shape, never a 500. Named as defaults in settings.REST_FRAMEWORK."""

from __future__ import annotations

import io
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework import exceptions, renderers, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def _read_capped(stream) -> io.BytesIO:
    # Older DRF releases read JSON and form bodies straight from the socket, bypassing Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE check (newer DRF reads request.body, which checks it).
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
    return io.BytesIO(body)


class CappedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(_read_capped(stream), media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from exc


class CappedFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(_read_capped(stream), media_type, parser_context)
        except SuspiciousOperation as exc:  # too many fields
            raise exceptions.ParseError(str(exc)) from exc


_TOKEN_CHARS = re.compile(rb"[\x21-\x7e]+")


class StrictTokenAuthentication(TokenAuthentication):
    """knox decodes the header as UTF-8 and passes it to the database unchecked: a token with
    invalid bytes or a NUL would be a 500. Such a token is simply invalid."""

    def authenticate_credentials(self, token: bytes):
        if not _TOKEN_CHARS.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class StrictTokenAuthenticationScheme(KnoxTokenScheme):
    target_class = StrictTokenAuthentication


class ApiViewMixin:
    # Token first: an anonymous write is answered 401 with a WWW-Authenticate header.
    authentication_classes = [StrictTokenAuthentication, SessionAuthentication]
    parser_classes = [CappedJSONParser, CappedFormParser]
    # Expensive requests by action ("create", "upload") or method ("post") → their rate-limit
    # scope (prakriya/limits.py); only requests that change something count.
    rate_limits: dict[str, str] = {}

    def get_throttles(self):
        from prakriya.limits import ScopedRateLimit

        throttles = list(super().get_throttles())
        scope = self.rate_limits.get(getattr(self, "action", None) or self.request.method.lower())
        if scope is not None:
            throttles.append(ScopedRateLimit(scope))
        return throttles

    def handle_exception(self, exc):
        if isinstance(exc, RequestDataTooBig):
            # Django would answer with an HTML 400; API clients get the JSON error shape.
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            exc = PayloadTooLarge(f"Request body exceeds {limit} bytes.")
        return super().handle_exception(exc)



def parse(serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False,
          **context: Any) -> dict[str, Any]:
    """The request's body validated by `serializer_class` (a 400 listing each bad field otherwise)."""
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request, **context})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def job_accepted(request: Request, job, *, status_code: int = status.HTTP_202_ACCEPTED) -> Response:
    """The answer to a request that started a job: the job as GET /api/jobs/{id}/ shows it, with
    that address in Location (202; 201 where the job is the thing created, as a training run's)."""
    from prakriya.jobs.serializers import JobDetailSerializer

    location = reverse("api:job-detail", kwargs={"pk": job.pk}, request=request)
    return Response(JobDetailSerializer(job).data, status=status_code, headers={"Location": location})


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, with its code-highlighting style rules admitted by the
    Content-Security-Policy nonce (frontend/templates/api_docs/browsable_api.html)."""

    template = "api_docs/browsable_api.html"
