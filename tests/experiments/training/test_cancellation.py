"""A should_stop() that turns true stops training before the next step, cleanly: the result says
"cancelled", keeps the metrics of the last finished epoch, and nothing is logged after the stop."""

from __future__ import annotations

import pytest
import torch

from experiments.training import Callbacks, FolderCheckpointer, RecordingLogger, train


def _stop_after(n_polls: int):
    polls = [0]

    def should_stop() -> bool:
        polls[0] += 1
        return polls[0] > n_polls

    return should_stop


def test_torch_training_stops_at_the_requested_step(digits, tmp_path):
    logger = RecordingLogger()
    checkpoints = FolderCheckpointer(tmp_path)
    # 600 examples / 100 = 6 steps per epoch; stop after 9 steps, in the middle of epoch 2.
    result = train(
        "mlp",
        digits,
        {"epochs": 50, "batch_size": 100},
        Callbacks(logger=logger, should_stop=_stop_after(9), on_checkpoint=checkpoints),
    )

    assert result.status == "cancelled"
    assert result.steps == 9
    assert result.epochs == 1
    assert "cancelled" in result.message
    assert [step for step, _ in logger.history("val_loss")] == [6]
    assert result.metrics == logger.metrics[-1][1]
    assert len(checkpoints.paths) == 1
    assert result.model is not None  # the partly trained model is still handed back


def test_cancel_before_the_first_step(texts):
    logger = RecordingLogger()
    result = train("embedding_bag", texts, {"epochs": 5}, Callbacks(logger=logger, should_stop=lambda: True))
    assert result.status == "cancelled"
    assert result.steps == 0
    assert logger.metrics == []


def test_baseline_cancelled_before_fitting(iris):
    logger = RecordingLogger()
    result = train("random_forest", iris, callbacks=Callbacks(logger=logger, should_stop=lambda: True))
    assert result.status == "cancelled"
    assert result.model is None
    assert logger.metrics == []


class _JobGone(Exception):
    """Stands in for what a job's progress callback raises when the job is cancelled or lost."""


def test_exception_from_a_callback_propagates_and_restores_torch_settings(digits):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()

    def progress(fraction: float, message: str) -> None:
        if fraction > 0:
            raise _JobGone()

    with pytest.raises(_JobGone):
        train("mlp", digits, {"epochs": 3, "num_threads": 1}, Callbacks(progress=progress))
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
