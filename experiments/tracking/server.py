"""MLflow's own tracking server app (mlflow.server.app: its REST handlers and served
artifacts), configured for the platform's store and called in-process as a WSGI app.

`mlflow server` configures its workers through environment variables; the app here is set up
the same way (backend store, artifact root mlflow-artifacts:/, artifacts destination, serving
artifacts on), and its handlers share the store objects experiments.mlflow_store opened. The
variables also mark this process as a tracking server for MLflow, which then applies its
artifact-URI host policy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from experiments import mlflow_store

# MLflow's own Host-header and CORS checks are off: Django checks the Host header
# (ALLOWED_HOSTS) and sends nosniff, this path takes tokens only (no cookies, so no cross-site
# request can act as a user), and without CORS headers no other site's page can read answers.
# Set before mlflow.server is first imported, which is when MLflow installs those checks.
os.environ.setdefault("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "true")

_lock = threading.Lock()
_configured: mlflow_store.StoreConfig | None = None


def _configure(config: mlflow_store.StoreConfig) -> None:
    from mlflow.server import handlers
    from mlflow.server.constants import (
        ARTIFACT_ROOT_ENV_VAR,
        ARTIFACTS_DESTINATION_ENV_VAR,
        BACKEND_STORE_URI_ENV_VAR,
        SERVE_ARTIFACTS_ENV_VAR,
    )

    os.environ[BACKEND_STORE_URI_ENV_VAR] = config.backend_uri
    os.environ[ARTIFACT_ROOT_ENV_VAR] = mlflow_store.ARTIFACT_ROOT
    os.environ[ARTIFACTS_DESTINATION_ENV_VAR] = config.artifacts_destination
    os.environ[SERVE_ARTIFACTS_ENV_VAR] = "true"
    # The handlers cache their stores in these module globals (built from the variables above on
    # first use); they get the platform's, and a new artifact repository for a new destination.
    handlers._tracking_store = mlflow_store.tracking_store()
    handlers._model_registry_store = mlflow_store.registry_store()
    handlers._artifact_repo = None


def app():
    """The configured Flask app. The configuration follows the settings (fixed in a deployment,
    per test in the test suite)."""
    global _configured
    config = mlflow_store.config()
    if _configured != config:
        with _lock:
            if _configured != config:
                _configure(config)
                _configured = config
    from mlflow.server import app as flask_app

    return flask_app


def call(environ: dict) -> tuple[int, list[tuple[str, str]], Iterable[bytes]]:
    """Runs one request through MLflow's app: status code, headers and the body iterable (which
    the caller closes)."""
    captured: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda data: None

    body = app()(environ, start_response)
    return captured["status"], captured["headers"], body


def match(environ: dict):
    """The route of MLflow's app the request goes to: (rule string, view arguments). Raises
    werkzeug's NotFound / MethodNotAllowed / RequestRedirect."""
    adapter = app().url_map.bind_to_environ(environ)
    rule, view_args = adapter.match(return_rule=True)
    return rule.rule, view_args
