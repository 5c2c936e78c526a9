"""The prediction log, written so that it never blocks or fails a prediction.

A request appends its rows (plain tuples: building model instances cost a request tens of
microseconds) to this process's buffer and returns; a background thread writes the buffer in bulk
every FLUSH_SECONDS: one COPY on PostgreSQL (its rows are encoded in C: the writer holds the
interpreter lock, which the requests of its process wait for, a fraction as long as an INSERT
built by the ORM), one bulk INSERT elsewhere. If the database is down or slow, rows
wait in memory up to MAX_PENDING and the oldest are dropped past that (counted, and logged as a
warning): a full log is worth less than an answering service. What a row keeps of the input
follows the project's privacy setting (Project.prediction_inputs): the prepared input, only its
SHA-256, or nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import threading
from collections import deque
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from deployments.models import Prediction
from projects.models import PredictionInputs

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
BATCH = 1000
MAX_PENDING = 100_000


def input_digest(row: Any) -> str:
    return hashlib.sha256(json.dumps(row, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def kept_input(policy: str, row: Any) -> tuple[str, Any]:
    """(input_hash, input) as the privacy setting allows."""
    if policy == PredictionInputs.STORE:
        return input_digest(row), row
    if policy == PredictionInputs.HASH:
        return input_digest(row), None
    return "", None


# A log row, in this order: deployment_id, export_id, caller, label, score, latency_ms,
# input_hash, input, stats, created_at.
COLUMNS = ("deployment", "export", "caller", "label", "score", "latency_ms", "input_hash", "input", "stats",
           "created_at")
Row = tuple


def _write(rows: list[Row]) -> None:
    if connection.vendor == "postgresql":
        fields = [Prediction._meta.get_field(name) for name in COLUMNS]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        table = connection.ops.quote_name(Prediction._meta.db_table)
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                kept, stats = row[7], row[8]
                copy.write_row((*row[:7], None if kept is None else json.dumps(kept), json.dumps(stats), row[9]))
        return
    Prediction.objects.bulk_create(
        [Prediction(**{f"{name}_id" if name in ("deployment", "export") else name: value
                       for name, value in zip(COLUMNS, row, strict=True)}) for row in rows]
    )


class PredictionBuffer:
    def __init__(self) -> None:
        self._rows: deque[Row] = deque()
        self._lock = threading.Lock()
        # Held while a batch is written: flush() returns only once what was pending when it was
        # called is in the database, whichever thread took it.
        self._writing = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, rows: list[Row]) -> None:
        with self._lock:
            self._rows.extend(rows)
            overflow = len(self._rows) - MAX_PENDING
            for _ in range(max(0, overflow)):
                self._rows.popleft()
            self.dropped += max(0, overflow)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
                self._thread.start()

    def _take(self) -> list[Row]:
        with self._lock:
            taken = [self._rows.popleft() for _ in range(min(BATCH, len(self._rows)))]
        return taken

    def flush(self) -> int:
        """Writes what is pending; returns the number of rows written. Never raises."""
        written = 0
        with self._writing:
            while batch := self._take():
                try:
                    _write(batch)
                    written += len(batch)
                except Exception:  # noqa: BLE001 - the log must never take the service down
                    logger.warning("Could not write %d predictions to the log; they are dropped", len(batch),
                                   exc_info=True)
                    self.dropped += len(batch)
                    with contextlib.suppress(Exception):
                        close_old_connections()
        return written

    def _loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if not self.pending():
                continue
            try:
                self.flush()
                # This thread's connection is closed between batches, as a request's would be.
                close_old_connections()
            except Exception:  # noqa: BLE001 - the writer must outlive any one failure
                logger.warning("The prediction log's writer failed; it carries on", exc_info=True)

    def discard(self) -> int:
        """Forgets what is pending (a test's leftovers); returns how many rows."""
        with self._lock:
            count = len(self._rows)
            self._rows.clear()
        return count

    def pending(self) -> int:
        with self._lock:
            return len(self._rows)


buffer = PredictionBuffer()
atexit.register(buffer.flush)


def record(
    *, deployment_id: int, export_id: int, caller: str, policy: str, answers: list[dict[str, Any]],
    rows: list[Any], stats: list[dict[str, Any]], latency_ms: float,
) -> None:
    now = timezone.now()
    per_item = latency_ms / max(1, len(answers))
    made = []
    for answer, row, row_stats in zip(answers, rows, stats, strict=True):
        digest, kept = kept_input(policy, row)
        made.append((deployment_id, export_id, caller, str(answer["label"])[:200], float(answer["score"]), per_item,
                     digest, kept, row_stats, now))
    buffer.add(made)


def prune(*, now=None) -> int:
    """Deletes predictions older than the retention setting; returns how many."""
    days = settings.PRAKRIYA_PREDICTION_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = Prediction.objects.filter(created_at__lt=cutoff).delete()
    return deleted
