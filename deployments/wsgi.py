"""The prediction endpoint's fast path: a WSGI layer in front of Django that answers
`POST /api/projects/<project>/deployments/<deployment>/predict/` called with a deployment key and
a JSON body, and hands every other request to Django unchanged.

Why it exists: through Django's middleware and DRF a prediction cost ~5 ms of CPU, nearly all of
it request handling around a model that answers in ~0.1 ms, so a web server answered a few
hundred predictions a second where a model server answers thousands (docs/benchmarks.md). Here a
prediction is the key's route (the key, its deployment's rollout state and the project's privacy
setting: one SQL query, which each process repeats for a key at most every
settings.PRAKRIYA_PREDICT_ROUTE_SECONDS, 0.2 s by default, so a revocation, a promote or a
rollback reaches every process within that time; a query per request cost as much as the rest of
the prediction), then the same code the API view runs (deployments/serving/predict.py: rollout,
input preparation, the process's ONNX Runtime session, the buffered prediction log).

It answers exactly what the API view answers (tests/deployments/test_serving.py runs the
endpoint's tests through both doors and compares their answers): the same body cap (413), the
same JSON parser (400), the same 401/403 for a bad key, the same 400 naming the input schema. It
declines, leaving the request to Django, whenever it is not the plain case: another method or
path, no `X-Deployment-Key` header, a body that is not JSON or has no Content-Length, a Host that
settings.ALLOWED_HOSTS refuses or may need forwarded-host handling, plain HTTP where the site
redirects to HTTPS. Personal tokens, sessions and uploaded image files go through the API view.

settings.PRAKRIYA_WSGI_LAYERS names it, and prakriya/wsgi.py wraps the application in it, so
gunicorn (compose), `make run` and the tests' WSGI client all serve through it.
"""

from __future__ import annotations

import functools
import io
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.dispatch import receiver
from django.http.request import split_domain_port, validate_host
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from deployments.api import json_inputs
from deployments.models import Deployment, DeploymentKey, ModelExport
from deployments.selectors import key_digest
from deployments.serving.predict import Caller, InputError, Route, ScoringError, predict
from prakriya.api_errors import exception_handler
from prakriya.rest import CappedJSONParser, PayloadTooLarge
from projects.models import Project

PATH = re.compile(r"^/api/projects/(?P<project>[-a-zA-Z0-9_]+)/deployments/(?P<deployment>[-a-zA-Z0-9_]+)/predict/$")
KEY_ENVIRON = "HTTP_X_DEPLOYMENT_KEY"

StartResponse = Callable[..., Any]


def _route_sql() -> str:
    key, deployment, project = DeploymentKey._meta.db_table, Deployment._meta.db_table, Project._meta.db_table
    # One row: the live key, its deployment's rollout state and the project's privacy setting.
    return (
        f"SELECT k.id, d.id, d.slug, p.slug, d.stable_id, d.canary_id, d.canary_percent, p.prediction_inputs "
        f"FROM {key} k JOIN {deployment} d ON d.id = k.deployment_id JOIN {project} p ON p.id = d.project_id "
        f"WHERE k.digest = %s AND k.revoked_at IS NULL"
    )


class _Exports:
    """The exports this process serves, read once each: an export never changes once ready, and
    ids are never reused (AUTOINCREMENT on SQLite, sequences on PostgreSQL)."""

    LIMIT = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: OrderedDict[int, ModelExport] = OrderedDict()

    def get(self, pk: int) -> ModelExport:
        with self._lock:
            found = self._rows.get(pk)
            if found is not None:
                self._rows.move_to_end(pk)
                return found
        found = ModelExport.objects.get(pk=pk)
        with self._lock:
            self._rows[pk] = found
            while len(self._rows) > self.LIMIT:
                self._rows.popitem(last=False)
        return found


class _Routes:
    """What this process last read for each live key (by digest), kept for
    PRAKRIYA_PREDICT_ROUTE_SECONDS. Unknown and revoked keys are never kept: they are read again
    on every request, so a key that starts working does so at once."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[float, tuple]] = {}

    def get(self, digest: str, now: float) -> tuple | None:
        with self._lock:
            kept = self._rows.get(digest)
        return kept[1] if kept is not None and kept[0] > now else None

    def keep(self, digest: str, row: tuple, until: float) -> None:
        with self._lock:
            if len(self._rows) >= self.LIMIT:
                self._rows.clear()  # many keys at once: start over rather than track their age
            self._rows[digest] = (until, row)


class _Refusal(Exception):
    def __init__(self, error: exceptions.APIException, headers: dict[str, str] | None = None) -> None:
        self.error, self.headers = error, headers or {}


class PredictFastPath:
    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.exports = _Exports()
        self.routes = _Routes()
        self._sql = _route_sql()
        self._renderer = JSONRenderer()
        self._parser = CappedJSONParser()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        match = self._claim(environ)
        if match is None:
            return self.app(environ, start_response)
        try:
            status, body, headers = self._answer(environ, match["project"], match["deployment"])
        finally:
            self._release_connection()
        return self._respond(start_response, status, body, headers, environ)

    # --- deciding -------------------------------------------------------------------------

    def _claim(self, environ: dict) -> re.Match | None:
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get(KEY_ENVIRON):
            return None
        match = PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("SCRIPT_NAME"):
            return None
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
            return None
        if not environ.get("CONTENT_LENGTH", "").isdigit():
            return None
        if not self._host_allowed(environ):
            return None
        if settings.SECURE_SSL_REDIRECT and not self._secure(environ):
            return None
        return match

    @staticmethod
    def _host_allowed(environ: dict) -> bool:
        if settings.USE_X_FORWARDED_HOST or "HTTP_HOST" not in environ:
            return False
        domain, _port = split_domain_port(environ["HTTP_HOST"])
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        return bool(domain) and validate_host(domain, allowed)

    @staticmethod
    def _secure(environ: dict) -> bool:
        proxy = settings.SECURE_PROXY_SSL_HEADER
        if proxy:
            header, value = proxy
            forwarded = environ.get(header)
            if forwarded is not None:
                return forwarded.split(",")[0].strip() == value
        return environ.get("wsgi.url_scheme") == "https"

    # --- answering ------------------------------------------------------------------------

    def _answer(self, environ: dict, project_slug: str, deployment_slug: str) -> tuple[int, Any, dict[str, str]]:
        try:
            length = int(environ["CONTENT_LENGTH"])
            if length > settings.PRAKRIYA_PREDICT_MAX_BODY_BYTES:
                raise _Refusal(PayloadTooLarge(f"Request body exceeds {settings.PRAKRIYA_PREDICT_MAX_BODY_BYTES} bytes."))
            route, key_id = self._route(environ[KEY_ENVIRON], project_slug, deployment_slug)
            body = environ["wsgi.input"].read(length) if length else b""
            try:
                data = self._parser.parse(io.BytesIO(body), "application/json", {})
            except exceptions.APIException as exc:
                raise _Refusal(exc) from None
            try:
                inputs = json_inputs(data)
            except exceptions.ValidationError as exc:
                raise _Refusal(exc) from None
        except _Refusal as refusal:
            return self._error(refusal)
        try:
            return 200, predict(deployment=route, caller=Caller("key", key_id), inputs=inputs), {}
        except InputError as exc:
            return 400, {"detail": str(exc), "input_schema": route.stable.input_schema}, {}
        except ScoringError as exc:
            return 400, {"detail": str(exc)}, {}

    def _route(self, secret: str, project_slug: str, deployment_slug: str) -> tuple[Route, int]:
        row = self._fetch(secret) if 0 < len(secret) <= 200 else None
        if row is None:
            raise _Refusal(exceptions.AuthenticationFailed("Invalid or revoked deployment key."),
                           {"WWW-Authenticate": 'Bearer realm="deployment"'})
        key_id, pk, slug, project, stable_id, canary_id, canary_percent, prediction_inputs = row
        if (project, slug) != (project_slug, deployment_slug):
            raise _Refusal(exceptions.PermissionDenied("This key belongs to another deployment."))
        route = Route(pk=pk, slug=slug, stable=self.exports.get(stable_id),
                      canary=self.exports.get(canary_id) if canary_id else None,
                      canary_percent=canary_percent, prediction_inputs=prediction_inputs)
        return route, key_id

    def _fetch(self, secret: str) -> tuple | None:
        digest = key_digest(secret)
        now = time.monotonic()
        row = self.routes.get(digest, now)
        if row is not None:
            return row
        try:
            row = self._query(digest)
        except (OperationalError, InterfaceError):
            # A kept connection the database dropped (a restart): Django's per-request health
            # check would have found it; here it costs one retry on a fresh connection instead
            # of a query on every request.
            connection.close()
            row = self._query(digest)
        if row is not None and settings.PRAKRIYA_PREDICT_ROUTE_SECONDS:
            self.routes.keep(digest, row, now + settings.PRAKRIYA_PREDICT_ROUTE_SECONDS)
        return row

    def _query(self, digest: str) -> tuple | None:
        with connection.cursor() as cursor:
            cursor.execute(self._sql, [digest])
            return cursor.fetchone()

    @staticmethod
    def _error(refusal: _Refusal) -> tuple[int, Any, dict[str, str]]:
        response = exception_handler(refusal.error, {})
        return response.status_code, response.data, refusal.headers

    @staticmethod
    def _release_connection() -> None:
        # What Django does when a request finishes (close_old_connections), without re-arming
        # the health check that would add a query to the next request: close the connection
        # past its DATABASE_CONN_MAX_AGE, or after an error.
        if connection.connection is None:
            return
        expired = connection.close_at is not None and time.monotonic() >= connection.close_at
        if expired or connection.errors_occurred:
            try:
                connection.close()
            except DatabaseError:
                pass

    # --- writing the answer ---------------------------------------------------------------

    def _respond(self, start_response: StartResponse, status: int, data: Any, extra: dict[str, str],
                 environ: dict) -> list[bytes]:
        body = self._renderer.render(data)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **extra,
                   **security_headers()}
        if settings.SECURE_HSTS_SECONDS and self._secure(environ):
            headers["Strict-Transport-Security"] = hsts_header()
        phrase = HTTPStatus(status).phrase
        start_response(f"{status} {phrase}", list(headers.items()))
        return [body]


@functools.cache
def security_headers() -> dict[str, str]:
    """The headers Django's middleware puts on every API answer (SecurityMiddleware,
    XFrameOptionsMiddleware, the CSP middleware); the tests compare them with a Django answer's.
    Built once per process (building the policy costs as much as running the model); a changed
    setting (in tests) builds them again."""
    # The platform's Content-Security-Policy, built by django-csp from the same settings as its
    # middleware builds it (no nonce: a JSON answer uses none).
    headers = {"X-Frame-Options": settings.X_FRAME_OPTIONS, "Content-Security-Policy": build_policy()}
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers["X-Content-Type-Options"] = "nosniff"
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers["Referrer-Policy"] = policy if isinstance(policy, str) else ",".join(policy)
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers["Cross-Origin-Opener-Policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    return headers


def hsts_header() -> str:
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value


@receiver(setting_changed)
def _forget_headers(**kwargs) -> None:
    security_headers.cache_clear()
