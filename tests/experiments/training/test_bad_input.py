"""Every mistake a person can make (trainer name, config value, trainer/data mismatch, malformed
data) is a TrainingInputError (a ValueError) raised before training starts, with a message that
names the problem, so the job layer can show it as is."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.training import (
    TRAINERS,
    TrainData,
    TrainingConfigError,
    TrainingDataError,
    TrainingInputError,
    load_checkpoint,
    make_config,
    train,
    trainers_for,
)
from experiments.training.torch_trainers import MLPConfig


def test_errors_are_value_errors():
    assert issubclass(TrainingConfigError, TrainingInputError)
    assert issubclass(TrainingDataError, TrainingInputError)
    assert issubclass(TrainingInputError, ValueError)


def test_unknown_trainer(iris):
    with pytest.raises(TrainingConfigError, match=r"unknown trainer 'xgboost'.*logistic_regression"):
        train("xgboost", iris)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"lr": -0.1}, r"lr must be a finite number > 0 \(got -0.1\)"),
        ({"lr": 0}, r"lr must be a finite number > 0"),
        ({"lr": float("nan")}, r"lr must be"),
        ({"epochs": 0}, r"epochs must be >= 1"),
        ({"epochs": True}, r"epochs must be int"),
        ({"epochs": "10"}, r"epochs must be int"),
        ({"batch_size": 2.5}, r"batch_size must be int"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"optimizer": "lbfgs"}, r"optimizer must be one of adam, adamw, sgd"),
        ({"hidden_sizes": 128}, r"hidden_sizes must be a list"),
        ({"hidden_sizes": [64, 0]}, r"hidden_sizes\[1\] must be >= 1"),
        ({"learning_rate": 0.1}, r"unknown setting\(s\) learning_rate"),
        ({"seed": -1}, r"seed must be >= 0"),
    ],
)
def test_bad_config_value(iris, params, pattern):
    with pytest.raises(TrainingConfigError, match=pattern):
        train("mlp", iris, params)


def test_json_shaped_params_are_accepted():
    config = make_config("mlp", {"lr": 1, "hidden_sizes": [32, 16], "max_steps": None, "epochs": 3.0})
    assert config == MLPConfig(lr=1.0, hidden_sizes=(32, 16), max_steps=None, epochs=3)
    # What a run logs can be fed back to re-create it.
    assert make_config("mlp", config.as_params()) == config


def test_config_object_of_another_trainer_is_rejected(iris):
    with pytest.raises(TrainingConfigError, match="MLPConfig"):
        train("cnn", iris, MLPConfig())


def test_invalid_config_object_is_rejected(iris):
    with pytest.raises(TrainingConfigError, match="lr"):
        train("mlp", iris, MLPConfig(lr=-1.0))


def test_cnn_without_image_shape(digits):
    flat = TrainData(digits.x_train, digits.y_train, digits.x_val, digits.y_val, kind="image")
    with pytest.raises(TrainingConfigError, match="cnn needs image data with an image shape"):
        train("cnn", flat)


def test_cnn_on_tabular_data(iris):
    with pytest.raises(TrainingConfigError, match="cnn cannot train on tabular data"):
        train("cnn", iris)


def test_text_trainer_on_matrix_and_matrix_trainer_on_text(iris, texts):
    with pytest.raises(TrainingConfigError, match="use one of majority, tfidf_logreg, embedding_bag"):
        train("logistic_regression", texts)
    with pytest.raises(TrainingConfigError, match="embedding_bag cannot train on tabular"):
        train("embedding_bag", iris)


def test_every_kind_has_a_baseline_and_a_network():
    for kind in ("tabular", "image", "text"):
        families = {spec.family for spec in trainers_for(kind)}
        assert families == {"baseline", "torch"}
    assert set(TRAINERS) == {
        "majority",
        "logistic_regression",
        "random_forest",
        "tfidf_logreg",
        "mlp",
        "cnn",
        "embedding_bag",
    }


def test_every_default_config_is_valid():
    for spec in TRAINERS.values():
        spec.default_config().validate()


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"y_train": ["a"] * 3}, r"x_train has 4 rows but y_train has 3 labels"),
        ({"y_val": ["a", "q"], "classes": ["a", "b"]}, r"y_val has labels that are not in classes: 'q'"),
        ({"x_train": [[1.0], [np.nan], [1.0], [2.0]]}, r"x_train contains NaN"),
        ({"x_val": [[1.0, 2.0], [3.0, 4.0]]}, r"x_train has 1 features but x_val has 2"),
        ({"y_train": ["a"] * 4}, r"at least two classes"),
        ({"x_val": [], "y_val": []}, r"validation split is empty"),
        ({"kind": "audio"}, r"kind must be one of tabular, image, text"),
        (
            {"kind": "image", "image_shape": (2, 2)},
            r"image_shape \(1, 2, 2\) has 4 pixels but each row has 1",
        ),
        ({"image_shape": (1,)}, r"image_shape must be"),
        ({"x_train": "abcd"}, r"x_train must be a numeric matrix"),
    ],
)
def test_malformed_data(kwargs, pattern):
    base = {
        "x_train": [[0.0], [1.0], [2.0], [3.0]],
        "y_train": ["a", "b", "a", "b"],
        "x_val": [[0.5], [2.5]],
        "y_val": ["a", "b"],
    }
    with pytest.raises(TrainingDataError, match=pattern):
        TrainData(**{**base, **kwargs})


def test_text_data_must_be_strings():
    with pytest.raises(TrainingDataError, match=r"x_train\[1\] is int"):
        TrainData(["a", 3], ["x", "y"], ["b"], ["x"], kind="text")


def test_foreign_bytes_are_not_a_checkpoint():
    with pytest.raises(TrainingDataError, match="not a readable checkpoint"):
        load_checkpoint(b"definitely not a checkpoint")
