"""Fixtures that start real Celery worker processes against the test database and the test run's
broker namespace. Nothing is mocked: the worker is `celery -A prakriya worker` in a subprocess.

Tests that use `start_worker` must use `@pytest.mark.django_db(transaction=True)`: the worker is
another process and only sees committed rows.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from prakriya.celery import app as celery_app
from prakriya.jobs.registry import QUEUES

# Short enough for crash tests to run in seconds; passed to every worker the tests start.
WORKER_HEARTBEAT_SECONDS = 1
WORKER_VISIBILITY_TIMEOUT = 5
WORKER_STALE_SECONDS = 5  # the minimum settings.py accepts
# Two test processes share two cores with their own workers, live servers and browsers: a worker
# importing Django, MLflow and torch can take a minute to come up on a busy machine.
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, workers=(), interval=0.1):
    """Polls until predicate() is truthy and returns its value; fails with the workers' logs."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(w.describe() for w in workers)
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{logs}", pytrace=False)
        time.sleep(interval)


@dataclass
class WorkerHandle:
    name: str
    process: subprocess.Popen
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self) -> str:
        code = self.process.poll()
        status = "running" if code is None else f"exited with {code}"
        return f"----- worker {self.name} (pid {self.pid}, {status}) log -----\n{self.log()}\n----- end -----"

    def task_ids(self, event: str = "received") -> list[str]:
        """Ids of prakriya.jobs.run messages this worker logged as received / succeeded / failed."""
        return re.findall(rf"Task prakriya\.jobs\.run\[([0-9a-f-]+)\] {event}", self.log())

    def wait_for_log(self, pattern: str, *, timeout: float) -> re.Match:
        regex = re.compile(pattern)

        def found():
            if self.process.poll() is not None and not regex.search(self.log()):
                pytest.fail(f"worker exited while waiting for {pattern!r}\n{self.describe()}", pytrace=False)
            return regex.search(self.log())

        return wait_for(found, timeout=timeout, what=f"{pattern!r} in the worker log", workers=[self])

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task without acknowledging its message (a real crash)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)
        self._close_log()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), escalating to SIGKILL if the worker does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("worker tests need PostgreSQL: set DATABASE_URL=postgres://…")
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    # NAME is the test database's name once pytest-django has created it.
    return f"postgres://{credentials}{host}{port}/{quote(db['NAME'], safe='')}"


def _broker_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        pytest.skip("worker tests need Redis: set CELERY_BROKER_URL=redis://…")
    return url


def broker_purge() -> None:
    """Drops every message in the test run's namespace: the queues and the unacknowledged set.
    The prefix of this run is applied by kombu to every key, so no other run is touched."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            channel.queue_purge(queue)
        channel.client.delete(channel.unacked_key, channel.unacked_index_key)


def broker_queue_length(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def worker_env(**overrides: str) -> dict[str, str]:
    from tests.conftest import TEST_KEY_PREFIX

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="prakriya.settings",
        DATABASE_URL=_database_url(),
        CELERY_BROKER_URL=_broker_url(),
        CELERY_KEY_PREFIX=TEST_KEY_PREFIX,
        PRAKRIYA_DATA_DIR=str(settings.DATA_DIR),
        # One signing key for every process, as in a deployment (signed addresses, sessions).
        SECRET_KEY=settings.SECRET_KEY,
        # And one sealed-label key: the worker decrypts what the test process sealed.
        PRAKRIYA_SEALED_KEY=",".join(settings.PRAKRIYA_SEALED_KEYS),
        PRAKRIYA_EXPORT_DIR=str(settings.PRAKRIYA_EXPORT_DIR),
        PRAKRIYA_DVC_ROOT=str(settings.PRAKRIYA_DVC_ROOT),
        PRAKRIYA_DVC_REMOTE_URL=str(settings.PRAKRIYA_DVC_REMOTE_URL),
        PRAKRIYA_MLFLOW_BACKEND_URI=settings.PRAKRIYA_MLFLOW_BACKEND_URI,
        PRAKRIYA_MLFLOW_ARTIFACTS_DIR=str(settings.PRAKRIYA_MLFLOW_ARTIFACTS_DIR),
        PRAKRIYA_JOB_HEARTBEAT_SECONDS=str(WORKER_HEARTBEAT_SECONDS),
        PRAKRIYA_JOB_STALE_SECONDS=str(WORKER_STALE_SECONDS),
        CELERY_VISIBILITY_TIMEOUT=str(WORKER_VISIBILITY_TIMEOUT),
        PYTHONUNBUFFERED="1",
        # Celery runs Django's system checks when a worker starts, and the URL check imports every
        # view (torch and scikit-learn with them): 10 s or more of every test worker's start. `make
        # test` runs the same checks once (manage.py check); the tasks import what they use.
        CELERY_SKIP_CHECKS="1",
    )
    env.update(overrides)
    return env


@pytest.fixture(scope="session", autouse=True)
def _drop_broker_namespace():
    """At the end of the run, deletes the Redis keys of the namespace this run generated for itself
    (a prefix given in CELERY_KEY_PREFIX belongs to whoever set it and is left alone)."""
    yield
    from tests.conftest import TEST_KEY_PREFIX

    if os.environ.get("CELERY_KEY_PREFIX") or not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        keys = list(client.scan_iter(match=f"{TEST_KEY_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except redis.RedisError:
        pass  # a broker that is gone has nothing left to clean


@pytest.fixture
def start_worker(transactional_db, settings, tmp_path) -> Iterator[Callable[..., WorkerHandle]]:
    """Factory: start_worker() starts a Celery worker on every queue and returns once it is
    ready. Every worker started is stopped at teardown, before the test database is flushed
    (this fixture depends on transactional_db, so it is torn down first)."""
    _database_url(), _broker_url()  # skip early on the wrong backends
    broker_purge()  # messages left by earlier tests name rows that are gone
    started: list[WorkerHandle] = []

    def start(*, pool: str = "solo", **env_overrides: str) -> WorkerHandle:
        # solo runs the task in the worker's main process (a SIGKILL lands on the job); prefork,
        # the pool of a deployment, is the one that enforces Celery's time limits.
        name = f"jobs-test-{len(started) + 1}-{uuid.uuid4().hex[:6]}"
        log_path = tmp_path / f"{name}.log"
        log_file = open(log_path, "w")  # closed when the worker stops
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "prakriya", "worker",
                "-Q", ",".join(QUEUES), "--pool", pool, "--concurrency", "1",
                "--without-gossip", "--without-mingle", "--loglevel", "INFO",
                "-n", f"{name}@%h",
            ],
            cwd=settings.BASE_DIR, env=worker_env(**env_overrides),
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        handle = WorkerHandle(name=name, process=process, log_path=log_path, _log_file=log_file)
        started.append(handle)
        handle.wait_for_log(r"\bready\.", timeout=READY_TIMEOUT)
        return handle

    yield start

    for handle in started:
        handle.stop()
    broker_purge()
