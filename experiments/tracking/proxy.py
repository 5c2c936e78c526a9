"""One request to /mlflow/…: authenticate the token, match MLflow's route, read the parameters
as MLflow will, authorise (authz), then let MLflow's app answer, recording the runs clients
create and filtering experiment searches to what the caller may see.

Bodies: JSON requests are read whole, within DATA_UPLOAD_MAX_MEMORY_SIZE (Django's cap, as for
the REST API); artifact uploads (PUT) are streamed through to the artifact store, within
PRAKRIYA_MLFLOW_ARTIFACT_MAX_BYTES, and never held in memory.
"""

from __future__ import annotations

import io
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RoutingException
from werkzeug.wrappers import Request as WerkzeugRequest

from experiments import selectors, services
from experiments.models import RunSource
from experiments.tracking import auth, authz, errors, server

logger = logging.getLogger(__name__)

PREFIX = "/mlflow"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Not passed on to MLflow's app, nor back to the client.
_REQUEST_HEADERS_DROPPED = ("HTTP_AUTHORIZATION", "HTTP_COOKIE")
_RESPONSE_HEADERS_DROPPED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
}


class _UploadStream:
    """The request body as a WSGI input stream, read by MLflow in chunks. Django's request
    stream already stops at Content-Length, which was checked against the cap."""

    def __init__(self, request: HttpRequest):
        self._request = request

    def read(self, size: int = -1) -> bytes:
        return self._request.read(size if size is not None and size >= 0 else None)

    def readline(self, size: int = -1) -> bytes:
        return self._request.readline(size if size is not None and size >= 0 else None)


def handle(request: HttpRequest) -> HttpResponse:
    try:
        return _handle(request)
    except errors.TrackingError as exc:
        return exc.response()


def _environ(request: HttpRequest) -> dict:
    environ = dict(request.META)
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX + "/"):
        raise errors.endpoint_not_found("Not an MLflow endpoint.")
    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + PREFIX
    environ["PATH_INFO"] = path[len(PREFIX) :]
    for name in _REQUEST_HEADERS_DROPPED:
        environ.pop(name, None)
    # Downloads come back as werkzeug's own file iterator, which Django streams and closes
    # (the server's file wrapper is meant for the server, not for a response inside a response).
    environ.pop("wsgi.file_wrapper", None)
    return environ


def _route(environ: dict) -> tuple[str, dict]:
    try:
        return server.match(environ)
    except MethodNotAllowed:
        raise errors.TrackingError(
            405, "ENDPOINT_NOT_FOUND", "Method not allowed for this endpoint."
        ) from None
    except (HTTPException, RoutingException):
        raise errors.endpoint_not_found("No MLflow endpoint at this address.") from None


def _json_body(request: HttpRequest) -> tuple[bytes, dict]:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise errors.too_large(
            f"Request body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        ) from None
    if not raw.strip():
        return raw, {}
    try:
        data = json.loads(raw)
        if isinstance(data, str):
            # Older MLflow clients send their JSON encoded twice; MLflow's handlers accept it.
            data = json.loads(data)
    except (ValueError, RecursionError):
        raise errors.bad_request("Malformed JSON in the request body.") from None
    if not isinstance(data, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    return raw, data


def _upload_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH", "")
    try:
        length = int(raw)
    except ValueError:
        raise errors.TrackingError(
            411, "INVALID_PARAMETER_VALUE", "An upload needs a Content-Length."
        ) from None
    if length < 0:
        raise errors.bad_request("Invalid Content-Length.")
    cap = settings.PRAKRIYA_MLFLOW_ARTIFACT_MAX_BYTES
    if length > cap:
        raise errors.too_large(
            f"Artifact files are limited to {cap} bytes (PRAKRIYA_MLFLOW_ARTIFACT_MAX_BYTES)."
        )
    return length


def _handle(request: HttpRequest) -> HttpResponse:
    user = auth.authenticate(request.META)
    environ = _environ(request)
    method = request.method.upper()
    if method not in _METHODS:
        # No MLflow client sends HEAD or OPTIONS; and MLflow reads a HEAD's parameters from its body,
        # not its query string, which the checks below would not see.
        raise errors.TrackingError(405, "ENDPOINT_NOT_FOUND", f"{method} is not served here.")
    rule, view_args = _route(environ)
    if method == "PUT":
        environ["CONTENT_LENGTH"] = str(_upload_length(request))
        environ["wsgi.input"] = _UploadStream(request)
        raw, body = None, {}
    else:
        raw, body = _json_body(request)
    call = authz.Call(
        user=user,
        method=method,
        rule=rule,
        view_args=view_args,
        args=WerkzeugRequest(environ).args,
        body=body,
    )
    plan = authz.plan(call)

    if plan.create_experiment_of is not None:
        return _create_experiment(plan)

    if raw is not None:
        if plan.body is not None:
            raw = json.dumps(plan.body).encode()
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))

    status, headers, content = server.call(environ)
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    if not content_type.startswith("application/json"):
        # Artifact downloads: streamed from the artifact store, whatever their size.
        return _response(StreamingHttpResponse(content, status=status), headers)

    try:
        data = b"".join(content)
    finally:
        if hasattr(content, "close"):
            content.close()
    if status == 200 and plan.record_run:
        _record_run(plan, user, data)
    elif status == 200 and plan.filter_experiments:
        data = _filter_experiments(user, data)
    return _response(HttpResponse(data, status=status), headers)


def _response(response: HttpResponse, headers: list[tuple[str, str]]) -> HttpResponse:
    for name, value in headers:
        if name.lower() in _RESPONSE_HEADERS_DROPPED:
            continue
        if name.lower() == "content-length" and not response.streaming:
            continue  # the body may have been filtered; Django sets it from the content
        response[name] = value
    return response


def _create_experiment(plan: authz.Plan) -> HttpResponse:
    project = plan.create_experiment_of
    if selectors.experiment_of_project(project=project) is not None:
        raise errors.already_exists(f"Experiment '{project.slug}' already exists.")
    record = services.experiment_ensure(project=project)
    return HttpResponse(json.dumps({"experiment_id": record.experiment_id}), content_type="application/json")


def _record_run(plan: authz.Plan, user, data: bytes) -> None:
    try:
        info = json.loads(data)["run"]["info"]
        run_id = info["run_id"]
    except (ValueError, KeyError, TypeError):
        logger.error("MLflow's answer to runs/create has no run id; the run is not recorded")
        return
    services.run_record(
        project=plan.project,
        mlflow_run_id=run_id,
        source=RunSource.EXTERNAL,
        name=info.get("run_name", ""),
        created_by=user,
        parent=plan.parent,
    )


def _filter_experiments(user, data: bytes) -> bytes:
    answer = json.loads(data)
    experiments = answer.get("experiments", [])
    visible = authz.visible_experiment_ids(
        user=user, experiment_ids=[experiment.get("experiment_id") for experiment in experiments]
    )
    answer["experiments"] = [
        experiment for experiment in experiments if experiment.get("experiment_id") in visible
    ]
    if not answer["experiments"]:
        del answer["experiments"]  # as MLflow answers an empty page
    return json.dumps(answer).encode()
