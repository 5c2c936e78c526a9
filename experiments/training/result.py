"""What a training call returns. A cancelled or diverged run is a normal outcome with a status,
not an exception: the job layer decides what each means for the job (cancelled, failed with a
"loss became NaN" message) and still gets the model and the metrics reached so far."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from experiments.training.trained import TrainedModel

Status = Literal["completed", "cancelled", "diverged"]


@dataclass
class TrainResult:
    status: Status
    # None only when cancelled before anything was fitted.
    model: TrainedModel | None
    # The last validation metrics logged (empty if none were).
    metrics: dict[str, float]
    epochs: int
    steps: int
    message: str = ""
