"""Reading metric histories straight from real MLflow stores (SQLite and PostgreSQL), written by the
real MLflow client, and checking them against MLflow's own get_metric_history."""

from __future__ import annotations

import math

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa
from django.conf import settings
from mlflow import MlflowClient
from mlflow.entities import Metric

from experiments.curves.history import read_histories, read_history, series_versions

PG_DATABASE = "prakriya_curves_mlflow"
T0 = 1_700_000_000_000  # ms; explicit timestamps make the expected order exact


def _pg_server() -> dict:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs the PostgreSQL server of DATABASE_URL")
    return {
        k: db[v] for k, v in (("host", "HOST"), ("port", "PORT"), ("user", "USER"), ("password", "PASSWORD"))
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory):
    """A real MLflow store with two runs logged by MlflowClient; yields (uri, runs)."""
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.chdir(folder)  # anything MLflow writes relative to the working directory stays here
        if request.param == "sqlite":
            yield (
                f"sqlite:///{folder / 'mlflow.sqlite3'}",
                _log_runs(f"sqlite:///{folder / 'mlflow.sqlite3'}", folder),
            )
            return
        server = _pg_server()
        admin = psycopg.connect(dbname="postgres", autocommit=True, **server)
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
        password = f":{server['password']}" if server["password"] else ""
        uri = (
            f"postgresql+psycopg://{server['user']}{password}@{server['host']}:{server['port']}/{PG_DATABASE}"
        )
        try:
            yield uri, _log_runs(uri, folder)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            admin.close()


def _log_runs(uri, folder) -> dict[str, str]:
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("curves", artifact_location=(folder / "artifacts").as_uri())
    first, second = (client.create_run(experiment).info.run_id for _ in range(2))
    loss = [Metric("loss", 1 / (1 + step), T0 + step, step) for step in range(3000)]
    loss[1234] = Metric("loss", math.nan, T0 + 1234, 1234)
    loss[2000] = Metric("loss", math.inf, T0 + 2000, 2000)
    loss[2001] = Metric("loss", -math.inf, T0 + 2001, 2001)
    # Step 10 logged again later (a resumed run), and the batches sent newest first: the store's
    # insertion order must not be the order read back.
    loss.append(Metric("loss", 0.25, T0 + 5000, 10))
    for start in range(3000, -1, -1000):
        client.log_batch(first, metrics=loss[start : start + 1000])
    client.log_batch(
        first, metrics=[Metric("val_loss", 2 - step / 30, T0 + step * 100, step * 100) for step in range(30)]
    )
    client.log_batch(
        second, metrics=[Metric("loss", 3.0 - step / 500, T0 + step, step) for step in range(500)]
    )
    return {"first": first, "second": second, "client": client}


def _mlflow_history(client, run_id, key):
    points = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp, m.value))
    # MLflow's own reader hands back ±inf as the ±float64 maximum it stored.
    values = [
        math.copysign(math.inf, m.value) if abs(m.value) == np.finfo(float).max else m.value for m in points
    ]
    return [m.step for m in points], values, [m.timestamp for m in points]


def test_histories_equal_mlflows_own_reading(store):
    uri, runs = store
    histories = read_histories(uri, [runs["first"], runs["second"]], ["loss", "val_loss"])
    assert set(histories) == {(runs["first"], "loss"), (runs["first"], "val_loss"), (runs["second"], "loss")}
    for (run_id, key), history in histories.items():
        steps, values, timestamps = _mlflow_history(runs["client"], run_id, key)
        assert history.steps.tolist() == steps
        assert history.timestamps.tolist() == timestamps
        assert np.array_equal(history.values, np.array(values), equal_nan=True)
        assert history.steps.dtype == np.int64 and history.values.dtype == np.float64


def test_nan_and_infinities_come_back_as_such_in_step_then_timestamp_order(store):
    uri, runs = store
    history = read_history(uri, runs["first"], "loss")
    assert len(history) == 3001
    assert np.all(np.diff(history.steps) >= 0)
    by_step = dict(zip(history.steps.tolist(), history.values.tolist(), strict=False))
    assert math.isnan(by_step[1234]) and by_step[2000] == math.inf and by_step[2001] == -math.inf
    at_ten = np.flatnonzero(history.steps == 10)
    assert history.values[at_ten].tolist() == [1 / 11, 0.25]  # the earlier timestamp first


def test_engine_or_uri_and_missing_series(store):
    uri, runs = store
    engine = sa.create_engine(uri)
    try:
        assert len(read_history(engine, runs["second"], "loss")) == 500
    finally:
        engine.dispose()
    assert len(read_history(uri, runs["second"], "val_loss")) == 0
    assert read_histories(uri, ["0" * 32], ["loss"]) == {}
    assert read_histories(uri, [], ["loss"]) == {}
    with pytest.raises(TypeError):
        read_histories(uri, runs["first"], ["loss"])  # one string is not a list of run ids


def test_versions_change_while_a_run_keeps_logging(store):
    uri, runs = store
    client, run_id = runs["client"], runs["second"]
    cheap = series_versions(uri, [run_id], ["loss", "val_loss"])
    exact = series_versions(uri, [run_id], ["loss", "val_loss"], exact=True)
    assert set(cheap) == set(exact) == {(run_id, "loss")}
    assert (cheap[(run_id, "loss")].step, cheap[(run_id, "loss")].count) == (499, None)
    assert (exact[(run_id, "loss")].count, exact[(run_id, "loss")].step) == (500, 499)

    client.log_batch(run_id, metrics=[Metric("loss", 1.9, T0 + 600, 500)])
    assert series_versions(uri, [run_id], ["loss"])[(run_id, "loss")].token != cheap[(run_id, "loss")].token
    grown = series_versions(uri, [run_id], ["loss"], exact=True)[(run_id, "loss")]
    assert (grown.count, grown.step) == (501, 500)

    # A point back-filled at an earlier step and time: only the counted version notices (the
    # documented trade-off of the cheap one).
    before = series_versions(uri, [run_id], ["loss"])[(run_id, "loss")]
    client.log_batch(run_id, metrics=[Metric("loss", 9.0, T0 + 1, 3)])
    assert series_versions(uri, [run_id], ["loss"])[(run_id, "loss")] == before
    assert series_versions(uri, [run_id], ["loss"], exact=True)[(run_id, "loss")].count == 502
