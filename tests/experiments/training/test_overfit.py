"""Overfit-one-batch passes for a working model and fails for one that cannot fit, both ways."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.training import Callbacks, RecordingLogger, TrainData, TrainingConfigError, overfit_one_batch


@pytest.mark.parametrize(
    ("name", "dataset"), [("mlp", "digits"), ("cnn", "digits"), ("embedding_bag", "texts")]
)
def test_working_model_fits_one_batch(request, name, dataset):
    data = request.getfixturevalue(dataset)
    logger = RecordingLogger()
    result = overfit_one_batch(
        name, data, {"seed": 0}, loss_threshold=0.01, max_steps=400, callbacks=Callbacks(logger=logger)
    )

    assert result.passed, result.message
    assert result.final_loss < 0.01
    assert result.losses[0] > 1.0  # it really started from an untrained model
    assert len(result.losses) == result.steps < 400
    assert [step for step, _ in logger.history("train_loss")] == list(range(result.steps))
    assert logger.params["overfit_loss_threshold"] == 0.01
    assert logger.params["dropout"] == 0.0  # regularisation is off for the check
    # The returned model is the one that fitted the batch.
    assert result.batch_size == 32


def test_learning_rate_far_too_small_fails(digits):
    result = overfit_one_batch("mlp", digits, {"lr": 1e-8}, max_steps=150)

    assert result.status == "failed"
    assert not result.passed
    assert result.steps == 150
    assert result.final_loss > 1.0
    assert "stayed above" in result.message


def test_contradictory_labels_cannot_be_fitted(digits):
    # Every image appears twice with two different labels: the best possible loss is log 2.
    x = np.concatenate([digits.x_train[:16], digits.x_train[:16]])
    y = [str(i % 10) for i in range(16)] + [str((i + 1) % 10) for i in range(16)]
    data = TrainData(
        x, y, digits.x_val, digits.y_val, classes=digits.classes, kind="image", image_shape=(8, 8)
    )

    result = overfit_one_batch("mlp", data, {"lr": 1e-2}, batch_size=32, max_steps=300)

    assert result.status == "failed"
    assert min(result.losses) > math.log(2) - 1e-3


def test_cancelled_check_stops_before_the_next_step(digits):
    polls: list[int] = []

    def should_stop() -> bool:
        polls.append(1)
        return len(polls) > 5

    result = overfit_one_batch("mlp", digits, callbacks=Callbacks(should_stop=should_stop))
    assert result.status == "cancelled"
    assert result.steps == 5


def test_baselines_have_no_overfit_check(iris):
    with pytest.raises(TrainingConfigError, match="baseline"):
        overfit_one_batch("logistic_regression", iris)


def test_bad_check_settings_are_rejected(digits):
    with pytest.raises(TrainingConfigError, match="loss_threshold"):
        overfit_one_batch("mlp", digits, loss_threshold=-1)
    with pytest.raises(TrainingConfigError, match="max_steps"):
        overfit_one_batch("mlp", digits, max_steps=0)
