"""MLflow's store for tests: every test has its own SQLite file under its data folder (set by
the _data_dir fixture in conftest.py). Creating one runs MLflow's alembic migrations (about 3 s);
copying a migrated template made once per session takes a few milliseconds.

Tests under tests/experiments/ get the copy automatically; any other test that touches MLflow
asks for the `mlflow_backend` fixture. A test that does neither still works: the store is then
created on first use, slowly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

_EXPERIMENTS_TESTS = Path(__file__).resolve().parent / "experiments"


@pytest.fixture(scope="session")
def mlflow_template_db(tmp_path_factory) -> Path:
    from experiments import mlflow_store

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    mlflow_store.initialise(f"sqlite:///{path}")
    return path


@pytest.fixture
def mlflow_backend(_data_dir, mlflow_template_db) -> str:
    """This test's MLflow store, migrated and empty; returns its URI."""
    uri = settings.PRAKRIYA_MLFLOW_BACKEND_URI
    target = Path(uri[len("sqlite:///") :])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_template_db, target)
    return uri


@pytest.fixture(autouse=True)
def _mlflow_backend_for_experiments_tests(request):
    if Path(str(request.node.path)).resolve().is_relative_to(_EXPERIMENTS_TESTS):
        request.getfixturevalue("mlflow_backend")
