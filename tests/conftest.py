"""Shared fixtures: the roles of the permission model and a public and a private project."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from prakriya.celery import app as celery_app
from projects import services
from projects.models import Role
from tests import matrix
from tests.factories import PASSWORD, UserFactory, make_project


def _keep_bytecode() -> None:
    """Compiled modules are kept for the suite's processes even where PYTHONDONTWRITEBYTECODE is set
    (the Dockerfile sets it, and so do many CI images): without it, every pytest-xdist process, Celery
    worker and DVC subprocess the suite starts compiles Django, DVC, MLflow… from source again, one to
    three seconds per process, tens of seconds per pytest process. The bytecode goes to a cache folder
    of its own (PYTHONPYCACHEPREFIX), beside Label Studio's (scripts/ensure_label_studio.sh), never
    into the checkout or the virtualenv; Python checks each file against its source, so a stale one
    is compiled again. Runs at import, in the pytest process that then starts the others."""
    if not (sys.flags.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE")):
        return
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prakriya" / "pycache"
    )
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the processes started from here on
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.pycache_prefix = prefix  # and for what this process imports from now on
    sys.dont_write_bytecode = False


_keep_bytecode()

pytest_plugins = [
    "tests.fixtures_worker", "tests.fixtures_annotation", "tests.fixtures_mlflow", "tests.policy_coverage",
]

# Each test run gets its own broker namespace so runs sharing a Redis never take each other's
# messages; worker processes started by the tests are given the same prefix.
TEST_KEY_PREFIX = os.environ.get("CELERY_KEY_PREFIX") or f"prakriya-test-{uuid.uuid4().hex[:8]}:"
if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    celery_app.conf.broker_transport_options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": TEST_KEY_PREFIX,
    }

# Static files keep their plain names in the suite: pytest-django's live_server answers /static/
# through Django's StaticFilesHandler, which looks files up with the finders and knows no hashed
# name, and a collectstatic per xdist process would cost every run seconds. The hashed, compressed
# storage of production is exercised with a real collectstatic in tests/test_static_files.py.
override_settings(STORAGES={
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}).enable()

ROLES = ("anonymous", "outsider", "viewer", "annotator", "engineer", "lead")

# Tests that take tens of seconds each: they start workers, Label Studio or browsers, or crawl
# every page.
_HEAVY_MARKS = ("e2e", "worker", "slow")
_HEAVY_FIXTURES = {"start_worker", "label_studio_server"}
_HEAVY_WEIGHT = 100
_MATRIX_CALLS = {"check_routes", "check_matrix"}
_MATRIX_WEIGHT = 20


def pytest_collection_modifyitems(config, items):
    """Files with heavy tests come first. Under pytest-xdist (`--dist loadfile
    --no-loadscope-reorder`, see the Makefile) each process takes whole files in this order; left
    to the end, one long file keeps one process busy for minutes while the other has nothing left.
    A file's tests stay together and in their order."""
    cost: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(str(item.path), index)
        heavy = any(item.get_closest_marker(mark) for mark in _HEAVY_MARKS) or bool(
            _HEAVY_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        # A permission matrix sends every route for every role in one test: seconds, not one test's worth.
        calls = getattr(getattr(item, "function", None), "__code__", None)
        matrix = calls is not None and bool(_MATRIX_CALLS & set(calls.co_names))
        cost[str(item.path)] = cost.get(str(item.path), 0) + (
            _HEAVY_WEIGHT if heavy else _MATRIX_WEIGHT if matrix else 1)
    items.sort(key=lambda item: (-cost[str(item.path)], first[str(item.path)]))


@pytest.fixture(autouse=True)
def _prediction_log_left_behind():
    # A test that predicted and did not read its log leaves rows in this process's buffer: they
    # must not be written into the next test's database (its deployments are not theirs).
    yield
    log = sys.modules.get("deployments.serving.log")
    if log is not None:
        log.buffer.discard()


@pytest.fixture(autouse=True)
def _matrix_scope():
    # The permission matrices' sessions and copies of the data folders last one test (tests/matrix.py).
    with matrix.test_scope():
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every test creates several users; the production hasher would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory, settings):
    # Files a test writes (exports, staging folders, DVC repositories and remote) go to a folder of
    # its own, apart from the test's tmp_path; worker processes started by a test get the same.
    root = tmp_path_factory.mktemp("prakriya")
    settings.DATA_DIR = root / "data"
    settings.DATA_DIR.mkdir()
    settings.PRAKRIYA_EXPORT_DIR = root / "exports"
    settings.PRAKRIYA_DVC_ROOT = root / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(root / "dvc-remote")
    # MLflow's store follows the data folder (tests/fixtures_mlflow.py fills it from a template).
    settings.PRAKRIYA_MLFLOW_BACKEND_URI = f"sqlite:///{settings.DATA_DIR / 'mlflow' / 'mlflow.db'}"
    settings.PRAKRIYA_MLFLOW_ARTIFACTS_DIR = str(settings.DATA_DIR / "mlflow" / "artifacts")
    return root


@pytest.fixture(autouse=True)
def _cache(_data_dir, settings):
    # The rate-limit counters live in the cache: each test gets a cache of its own, of the
    # embedded default's kind (a diskcache folder), so counts never leak between tests or between
    # the suite's processes.
    settings.CACHES = {"default": {"BACKEND": "diskcache.DjangoCache", "LOCATION": str(_data_dir / "cache")}}


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def lead(db):
    return UserFactory(username="lead")


@pytest.fixture
def engineer(db):
    return UserFactory(username="engineer")


@pytest.fixture
def annotator(db):
    return UserFactory(username="annotator")


@pytest.fixture
def viewer(db):
    return UserFactory(username="viewer")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


def _staff(project, lead, engineer, annotator, viewer):
    for user, role in ((engineer, Role.ENGINEER), (annotator, Role.ANNOTATOR), (viewer, Role.VIEWER)):
        services.membership_set(project=project, actor=lead, user=user, role=role)
    return project


@pytest.fixture
def project(lead, engineer, annotator, viewer):
    """A public project with one member of each role."""
    return _staff(make_project(lead=lead, slug="digits"), lead, engineer, annotator, viewer)


@pytest.fixture
def private_project(lead, engineer, annotator, viewer):
    """A private project with one member of each role."""
    return _staff(
        make_project(lead=lead, slug="secret-forms", visibility="private", title="Secret forms"),
        lead,
        engineer,
        annotator,
        viewer,
    )


@pytest.fixture
def users(lead, engineer, annotator, viewer, outsider):
    """Every role by name; anonymous is None."""
    return {
        "anonymous": None,
        "outsider": outsider,
        "viewer": viewer,
        "annotator": annotator,
        "engineer": engineer,
        "lead": lead,
    }
