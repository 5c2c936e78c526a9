"""Full metric histories read straight from an MLflow SQL backend store, as numpy arrays.

Why not `MlflowClient.get_metric_history`: it builds one `Metric` object per point (and the REST
API one JSON object per point); at 1,000,000 points that is seconds of pure Python per series.
Here no Python object is made per point:

- PostgreSQL packs each series into binary arrays on the server (`array_agg` + `array_send`): one
  row per series, which `numpy.frombuffer` reads as it is.
- SQLite (and any other SQL store) streams the rows of one series from the DB-API cursor into a
  numpy structured array with `numpy.fromiter`: no list of tuples, no SQLAlchemy Row objects.

The layout read is MLflow's `metrics` table (run_uuid, key, value, timestamp, step, is_nan), which
MLflow has kept since 1.x. MLflow stores NaN as value 0 with is_nan true, and ±inf as ±the largest
float64 (SQL has no infinity); both are turned back into NaN and ±inf here, so a genuinely logged
±1.797e308 also reads as ±inf.

This module takes an SQLAlchemy engine or the store's URI: it knows nothing of the platform's
settings, and it only reads.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

_FLOAT_MAX = np.finfo(np.float64).max
# array_send's header for a one-dimensional array: ndim, has-null flag, element type, length, lower bound.
_ARRAY_HEADER = np.dtype(
    [("ndim", ">i4"), ("hasnull", ">i4"), ("oid", ">i4"), ("size", ">i4"), ("lb", ">i4")]
)
_ROW = np.dtype([("step", "i8"), ("timestamp", "i8"), ("value", "f8"), ("is_nan", "?")])


@dataclass(frozen=True, eq=False)
class History:
    """One metric of one run, ordered by step then timestamp. `values` holds NaN and ±inf where
    MLflow recorded them; `timestamps` are milliseconds since the epoch."""

    steps: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.size)


@dataclass(frozen=True)
class SeriesVersion:
    """What a cache of a series is keyed on. `count` is None for the cheap version (see
    series_versions); `step` and `timestamp` are the latest point's, or the maxima when counted."""

    count: int | None
    step: int
    timestamp: int

    @property
    def token(self) -> str:
        return f"{'-' if self.count is None else self.count}:{self.step}:{self.timestamp}"


def engine_for(store: Engine | str) -> Engine:
    """The engine for a store given as an engine or as its URI (as MLflow spells it: sqlite:///…,
    postgresql://…, postgresql+psycopg://…). Engines are kept per URI: each holds a pool."""
    return store if isinstance(store, Engine) else _engine(str(store))


@functools.lru_cache(maxsize=8)
def _engine(uri: str) -> Engine:
    return sa.create_engine(uri, pool_pre_ping=True)


def read_history(store: Engine | str, run_id: str, key: str) -> History:
    """The full history of one metric; empty arrays if the run never logged it."""
    return read_histories(store, [run_id], [key]).get((run_id, key), _empty())


def read_histories(
    store: Engine | str, run_ids: Iterable[str], keys: Iterable[str]
) -> dict[tuple[str, str], History]:
    """Every logged (run, key) pair among run_ids × keys → its full history. Pairs never logged
    are absent."""
    run_ids, keys = _unique(run_ids), _unique(keys)
    if not run_ids or not keys:
        return {}
    engine = engine_for(store)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return _read_postgresql(conn, run_ids, keys)
        return {
            (run_id, key): history
            for run_id in run_ids
            for key in keys
            if len(history := _read_rows(conn, run_id, key))
        }


_PG_HISTORIES = sa.text(
    # The subquery's ORDER BY is only a hint that usually spares the numpy sort below; the order
    # is checked after reading, never assumed. All three arrays are built from the same rows in
    # the same sequence, so they stay aligned whatever the order.
    """
    SELECT run_uuid, key, count(*) AS n,
           array_send(array_agg(step)) AS steps,
           array_send(array_agg(ts)) AS timestamps,
           array_send(array_agg(v)) AS vals
    FROM (SELECT run_uuid, key, step, COALESCE(timestamp, 0) AS ts,
                 CASE WHEN is_nan THEN 'NaN'::float8 ELSE value END AS v
          FROM metrics WHERE run_uuid IN :run_ids AND key IN :keys
          ORDER BY run_uuid, key, step, timestamp) AS m
    GROUP BY run_uuid, key
    """
).bindparams(sa.bindparam("run_ids", expanding=True), sa.bindparam("keys", expanding=True))


def _read_postgresql(conn, run_ids: list[str], keys: list[str]) -> dict[tuple[str, str], History]:
    result = {}
    for row in conn.execute(_PG_HISTORIES, {"run_ids": run_ids, "keys": keys}):
        n = int(row.n)
        result[(row.run_uuid, row.key)] = _finish(
            steps=_unpack_array(row.steps, ">i8", n),
            timestamps=_unpack_array(row.timestamps, ">i8", n),
            values=_unpack_array(row.vals, ">f8", n),
        )
    return result


def _unpack_array(data, element: str, n: int) -> np.ndarray:
    """A PostgreSQL binary array of n fixed-width, non-null elements: after the header each element
    is a 4-byte length followed by its bytes."""
    data = bytes(data)
    header = np.frombuffer(data, dtype=_ARRAY_HEADER, count=1)[0]
    if header["ndim"] != 1 or header["hasnull"] != 0 or header["size"] != n:
        raise ValueError("unexpected array layout from the MLflow store")
    items = np.frombuffer(
        data, dtype=[("length", ">i4"), ("item", element)], offset=_ARRAY_HEADER.itemsize, count=n
    )
    return items["item"].astype(element.replace(">", "="))


def _read_rows(conn, run_id: str, key: str) -> History:
    """One series, row by row from the driver's own cursor into numpy. Ordered by step only: that
    is the order of MLflow's (run_uuid, key, step) index, so SQLite needs no sort; ties on step are
    put in timestamp order afterwards."""
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.execute(
            "SELECT step, COALESCE(timestamp, 0), value, is_nan FROM metrics "
            "WHERE run_uuid = ? AND key = ? ORDER BY step",
            (run_id, key),
        )
        rows = np.fromiter(cursor, dtype=_ROW)
    else:
        query = sa.text(
            "SELECT step, COALESCE(timestamp, 0), value, is_nan FROM metrics "
            "WHERE run_uuid = :run_id AND key = :key ORDER BY step"
        )
        rows = np.fromiter(
            (tuple(r) for r in conn.execute(query, {"run_id": run_id, "key": key})), dtype=_ROW
        )
    values = np.where(rows["is_nan"], np.nan, rows["value"])
    return _finish(steps=rows["step"].copy(), timestamps=rows["timestamp"].copy(), values=values)


def _finish(*, steps: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> History:
    values = values.astype(np.float64, copy=True)
    values[values == _FLOAT_MAX] = np.inf
    values[values == -_FLOAT_MAX] = -np.inf
    if steps.size > 1 and not np.all(steps[1:] > steps[:-1]):
        # Repeated or unordered steps (a resumed run, several points per step): order by step,
        # then timestamp, then value so two stores give the same arrays.
        order = np.lexsort((values, timestamps, steps))
        steps, timestamps, values = steps[order], timestamps[order], values[order]
    return History(steps=steps, values=values, timestamps=timestamps)


def _empty() -> History:
    return History(
        steps=np.empty(0, np.int64), values=np.empty(0, np.float64), timestamps=np.empty(0, np.int64)
    )


_LATEST = sa.text(
    "SELECT run_uuid, key, step, timestamp FROM latest_metrics WHERE run_uuid IN :run_ids AND key IN :keys"
).bindparams(sa.bindparam("run_ids", expanding=True), sa.bindparam("keys", expanding=True))

_COUNTED = sa.text(
    "SELECT run_uuid, key, count(*) AS n, max(step) AS step, max(timestamp) AS timestamp "
    "FROM metrics WHERE run_uuid IN :run_ids AND key IN :keys GROUP BY run_uuid, key"
).bindparams(sa.bindparam("run_ids", expanding=True), sa.bindparam("keys", expanding=True))


def series_versions(
    store: Engine | str, run_ids: Iterable[str], keys: Iterable[str], *, exact: bool = False
) -> dict[tuple[str, str], SeriesVersion]:
    """A version of every logged (run, key) pair, for keying and invalidating a cache of it.

    The default is cheap: the series' row in MLflow's `latest_metrics` table (a primary-key look-up,
    whatever the series' length), which MLflow updates in the same transaction as every point that
    is later, by (step, timestamp), than the latest one: a run that is still logging changes its
    version with every point. A point back-filled at an earlier step does not; a cache keyed on
    the cheap version should therefore also expire. `exact=True` counts the points and takes the
    maximum step and timestamp instead: it notices everything, and costs a scan of the series'
    index entries (about 0.1 s per million points on SQLite). Series without a latest_metrics row
    (written by something other than MLflow) are counted."""
    run_ids, keys = _unique(run_ids), _unique(keys)
    if not run_ids or not keys:
        return {}
    with engine_for(store).connect() as conn:
        if exact:
            return _counted(conn, run_ids, keys)
        versions = {
            (r.run_uuid, r.key): SeriesVersion(None, int(r.step), int(r.timestamp or 0))
            for r in conn.execute(_LATEST, {"run_ids": run_ids, "keys": keys})
        }
        # Pairs without a row are mostly never logged (a run without validation), which the index
        # answers at once; only the rest cost a count.
        for run_id in run_ids:
            for key in keys:
                if (run_id, key) not in versions:
                    versions.update(_counted(conn, [run_id], [key]))
    return versions


def _counted(conn, run_ids: list[str], keys: list[str]) -> dict[tuple[str, str], SeriesVersion]:
    return {
        (r.run_uuid, r.key): SeriesVersion(int(r.n), int(r.step), int(r.timestamp or 0))
        for r in conn.execute(_COUNTED, {"run_ids": run_ids, "keys": keys})
    }


def _unique(items: Iterable[str]) -> list[str]:
    if isinstance(items, str):
        raise TypeError("pass a list of names, not one string")
    return list(dict.fromkeys(items))
