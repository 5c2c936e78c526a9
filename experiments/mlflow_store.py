"""The one place that opens MLflow's backend store (settings.PRAKRIYA_MLFLOW_BACKEND_URI): the
tracking and model-registry stores, the MlflowClient the platform uses, each project's
experiment name and tags, and the artifact store behind MLflow's served artifacts.

The platform talks to the store directly, never over HTTP. Experiments keep their artifacts
under `mlflow-artifacts:/<experiment id>/…`, the location MLflow's served-artifacts mode gives
them: an outside client resolves it against its tracking URI (the platform's /mlflow/ proxy),
while platform code resolves it to settings.PRAKRIYA_MLFLOW_ARTIFACTS_DIR with
artifact_repository() below. MlflowClient.log_artifact and download_artifacts cannot resolve
such a location on a database tracking URI: platform code uses log_artifact() /
download_artifact() from this module instead.
"""

from __future__ import annotations

import os
import posixpath
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:  # importing mlflow takes seconds: only the functions that need it do
    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repo import ArtifactRepository
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

# Where every experiment's artifacts live, as MLflow's server with --serve-artifacts names it.
ARTIFACT_ROOT = "mlflow-artifacts:/"
SQLITE_BUSY_TIMEOUT_S = 60

# Tags the platform writes. Experiments:
TAG_PROJECT = "prakriya.project"  # the project's slug
TAG_PROJECT_ID = "prakriya.project_id"  # its primary key: a reused slug never adopts old runs
# Runs (the traceability record of every number):
TAG_SOURCE = "prakriya.source"  # platform | external
TAG_DATASET_VERSION = "prakriya.dataset_version"
TAG_LABEL_VERSION = "prakriya.label_version"
TAG_SEED = "prakriya.seed"
TAG_CODE_VERSION = "prakriya.code_version"
TAG_PACKAGES = "prakriya.packages"
TAG_UNTRACEABLE = "prakriya.untraceable"  # "true" on a run that records no dataset version
TAG_JOB = "prakriya.job"
TAG_KIND = "prakriya.kind"
TAG_STAGE = "prakriya.stage"
# MLflow's own tags the platform reads or sets.
TAG_MLFLOW_USER = "mlflow.user"
TAG_MLFLOW_RUN_NAME = "mlflow.runName"
TAG_MLFLOW_PARENT_RUN = "mlflow.parentRunId"

# The experiment tags only the platform may write (the tracking proxy refuses them to clients).
RESERVED_EXPERIMENT_TAG_PREFIX = "prakriya."


@dataclass(frozen=True)
class StoreConfig:
    backend_uri: str
    artifacts_destination: str

    @classmethod
    def current(cls) -> StoreConfig:
        return cls(settings.PRAKRIYA_MLFLOW_BACKEND_URI, str(settings.PRAKRIYA_MLFLOW_ARTIFACTS_DIR))


@dataclass
class _Stores:
    config: StoreConfig
    tracking: TrackingStore
    registry: RegistryStore
    client: MlflowClient


_lock = threading.Lock()
_stores: _Stores | None = None


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _with_busy_timeout(uri: str) -> str:
    """On SQLite, writers wait for each other up to SQLITE_BUSY_TIMEOUT_S instead of pysqlite's 5 s:
    the web process (the tracking server) and every training worker write to the one file, and a
    sweep's parallel children log batches at the same moments."""
    if _sqlite_path(uri) is None or "timeout=" in uri:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}timeout={SQLITE_BUSY_TIMEOUT_S}"


def _open(config: StoreConfig) -> _Stores:
    from mlflow import MlflowClient
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    db_path = _sqlite_path(config.backend_uri)
    if db_path is not None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    if "://" not in config.artifacts_destination:
        Path(config.artifacts_destination).mkdir(parents=True, exist_ok=True)
    uri = _with_busy_timeout(config.backend_uri)
    # Creating the tracking store creates or upgrades MLflow's tables (alembic), once per store.
    tracking = TrackingStore(uri, ARTIFACT_ROOT)
    registry = RegistryStore(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return _Stores(config, tracking, registry, client)


def _current() -> _Stores:
    """The stores for the current settings. Settings are fixed in a deployment; the tests give
    every test its own data folder, so a change of settings opens the new store and closes the
    old one's connections."""
    global _stores
    config = StoreConfig.current()
    stores = _stores
    if stores is not None and stores.config == config:
        return stores
    with _lock:
        if _stores is None or _stores.config != config:
            old = _stores
            _stores = _open(config)
            if old is not None:
                _dispose(old)
        return _stores


def _dispose(stores: _Stores) -> None:
    for store in (stores.tracking, stores.registry):
        engine = getattr(store, "engine", None)
        if engine is not None:
            engine.dispose()


def tracking_store() -> TrackingStore:
    return _current().tracking


def registry_store() -> RegistryStore:
    return _current().registry


def client() -> MlflowClient:
    """An MlflowClient on the backend store. Create experiments with
    experiments.services.experiment_ensure (never client.create_experiment, whose artifact
    location would be a local ./mlruns folder), and move artifacts with the functions below."""
    return _current().client


def config() -> StoreConfig:
    return _current().config


def initialise(backend_uri: str) -> None:
    """Creates (or upgrades) MLflow's tables in a database, without touching the settings: for
    `manage.py` commands and test set-up."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    db_path = _sqlite_path(backend_uri)
    if db_path is not None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    for store in (TrackingStore(backend_uri, ARTIFACT_ROOT), RegistryStore(backend_uri)):
        store.engine.dispose()


def experiment_name(*, slug: str) -> str:
    """A project's experiment is named by its slug: `mlflow.set_experiment("<slug>")` in a
    notebook finds it."""
    return slug


# --- Artifacts ---------------------------------------------------------------------------------


def proxied_path(artifact_uri: str) -> str | None:
    """The path under the artifacts destination of an `mlflow-artifacts:` location, or None for
    any other location."""
    parsed = urllib.parse.urlparse(artifact_uri)
    if parsed.scheme != "mlflow-artifacts":
        return None
    return parsed.path.lstrip("/")


def artifact_repository(artifact_uri: str) -> ArtifactRepository:
    """The artifact repository for a location stored in MLflow: `mlflow-artifacts:` locations
    resolve to the artifacts destination, as the tracking server resolves them."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.utils.uri import validate_path_is_safe

    path = proxied_path(artifact_uri)
    if path is None:
        return get_artifact_repository(artifact_uri)
    destination = config().artifacts_destination
    if path:
        path = validate_path_is_safe(path)
    if "://" in destination:
        return get_artifact_repository(posixpath.join(destination.rstrip("/"), path) if path else destination)
    return get_artifact_repository(os.path.join(destination, path) if path else destination)


def run_artifact_repository(run_id: str) -> ArtifactRepository:
    return artifact_repository(client().get_run(run_id).info.artifact_uri)


def log_artifact(*, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
    """Stores a file (or a folder's contents) among a run's artifacts."""
    local_path = os.fspath(local_path)
    repository = run_artifact_repository(run_id)
    if os.path.isdir(local_path):
        repository.log_artifacts(local_path, artifact_path)
    else:
        repository.log_artifact(local_path, artifact_path)


def download_artifact(*, run_id: str, path: str, dst_path: str | os.PathLike) -> str:
    """Copies one of a run's artifacts (file or folder) into dst_path (created if missing);
    returns the local path."""
    os.makedirs(dst_path, exist_ok=True)
    return run_artifact_repository(run_id).download_artifacts(path, os.fspath(dst_path))


def list_artifacts(*, run_id: str, path: str | None = None) -> list:
    return run_artifact_repository(run_id).list_artifacts(path)
