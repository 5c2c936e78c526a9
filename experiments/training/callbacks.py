"""How a trainer talks to whoever runs it: metrics, parameters, progress, cancellation, checkpoints.

Why callbacks and not MLflow calls: the package must stay importable and testable without MLflow,
Django or a job row. The job layer adapts these small protocols to an MLflow run (log_metrics /
log_params have MLflow's own signatures, so an `mlflow` module or an active-run wrapper fits
directly) and to its JobContext (progress, cancel flag). Every callback is optional; the defaults do
nothing, so a notebook can call a trainer with no plumbing at all.

Checkpoints are handed over as bytes (`Checkpoint.data`) so the caller decides where they live
(MLflow artifact, data folder, object store); FolderCheckpointer is the ready-made "write to a
folder" choice, writing atomically so a crash never leaves half a file that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MetricsLogger(Protocol):
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def log_params(self, params: dict[str, Any]) -> None: ...


class NullLogger:
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def log_params(self, params: dict[str, Any]) -> None:
        pass


@dataclass
class RecordingLogger:
    """Keeps everything in memory, in call order: for tests, notebooks and for a job that logs to
    MLflow in one batch at the end."""

    metrics: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_params(self, params: dict[str, Any]) -> None:
        self.params.update(params)

    def history(self, key: str) -> list[tuple[int, float]]:
        return [(step, values[key]) for step, values in self.metrics if key in values]


@dataclass(frozen=True)
class Checkpoint:
    """One epoch's model state. `data` is a torch.save'd dict of tensors and plain values that
    models.load_checkpoint reads back with weights_only=True (no arbitrary pickle is executed)."""

    epoch: int
    step: int
    metrics: dict[str, float]
    data: bytes


@dataclass
class FolderCheckpointer:
    """Writes every checkpoint to `folder/epoch-NNNN.pt` (plus a metrics sidecar) atomically."""

    folder: Path
    paths: list[Path] = field(default_factory=list)

    def __call__(self, checkpoint: Checkpoint) -> None:
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"epoch-{checkpoint.epoch:04d}.pt"
        _write_atomic(target, checkpoint.data)
        sidecar = {"epoch": checkpoint.epoch, "step": checkpoint.step, "metrics": checkpoint.metrics}
        _write_atomic(target.with_suffix(".json"), json.dumps(sidecar, sort_keys=True).encode())
        self.paths.append(target)


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _never() -> bool:
    return False


def _ignore_progress(fraction: float, message: str) -> None:
    pass


@dataclass
class Callbacks:
    """Everything a trainer reports through. `should_stop` is polled before every optimisation
    step, so it must be cheap (the job layer can rate-limit its database check behind it)."""

    logger: MetricsLogger = field(default_factory=NullLogger)
    progress: Callable[[float, str], None] = _ignore_progress
    should_stop: Callable[[], bool] = _never
    on_checkpoint: Callable[[Checkpoint], None] | None = None
