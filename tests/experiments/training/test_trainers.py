"""Every trainer learns something real on a small bundled data set, reports through the callbacks
the job layer will use, and returns a model whose probabilities follow the class order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.training import (
    Callbacks,
    FolderCheckpointer,
    RecordingLogger,
    SklearnModel,
    TorchModel,
    TrainData,
    load_checkpoint,
    train,
)

VAL_KEYS = {"val_loss", "val_accuracy", "val_macro_f1"}


@pytest.mark.parametrize(
    ("name", "dataset", "params", "min_accuracy"),
    [
        # digits: 10 classes, chance 0.1; iris and the text set: 3 classes, chance 1/3.
        ("logistic_regression", "digits", {}, 0.85),
        ("logistic_regression", "iris", {}, 0.9),
        ("random_forest", "digits", {"n_estimators": 50}, 0.8),
        ("random_forest", "iris", {"n_estimators": 50}, 0.9),
        ("tfidf_logreg", "texts", {}, 0.9),
        ("mlp", "digits", {"epochs": 8, "lr": 3e-3}, 0.85),
        ("mlp", "iris", {"epochs": 30, "lr": 1e-2, "batch_size": 16}, 0.9),
        ("cnn", "digits", {"epochs": 6, "lr": 3e-3}, 0.85),
        ("embedding_bag", "texts", {"epochs": 5}, 0.9),
    ],
)
def test_trainer_beats_chance_by_far(request, name, dataset, params, min_accuracy):
    data: TrainData = request.getfixturevalue(dataset)
    logger = RecordingLogger()
    result = train(name, data, {"seed": 0, **params}, Callbacks(logger=logger))

    assert result.status == "completed"
    assert result.metrics["val_accuracy"] >= min_accuracy
    assert VAL_KEYS <= result.metrics.keys()
    assert logger.params["trainer"] == name
    assert logger.params["seed"] == 0
    assert logger.params["n_train"] == len(data.y_train)
    # The model's own predictions agree with the logged accuracy.
    predicted = result.model.predict(data.x_val)
    assert np.mean(np.array(predicted) == np.array(data.y_val)) == pytest.approx(
        result.metrics["val_accuracy"]
    )


def test_majority_predicts_the_most_frequent_training_class(iris):
    data = TrainData(
        iris.x_train,
        ["a"] * 60 + ["b"] * 40,
        iris.x_val,
        ["a"] * 20 + ["b"] * 25 + ["c"] * 5,
        classes=["a", "b", "c"],
    )
    logger = RecordingLogger()
    result = train("majority", data, callbacks=Callbacks(logger=logger))

    assert result.model.predict(data.x_val[:3]) == ["a", "a", "a"]
    assert result.metrics["val_accuracy"] == pytest.approx(20 / 50)
    # Logged once, at step 0, with the training log-loss (the entropy of the prior).
    assert [step for step, _ in logger.metrics] == [0]
    assert logger.metrics[0][1]["train_loss"] == pytest.approx(-(0.6 * np.log(0.6) + 0.4 * np.log(0.4)))
    # A class never seen in training gets probability 0, and the loss stays finite.
    np.testing.assert_allclose(result.model.predict_proba(data.x_val[:1]), [[0.6, 0.4, 0.0]])
    assert np.isfinite(result.metrics["val_loss"])


def test_random_forest_logs_no_training_loss(iris):
    logger = RecordingLogger()
    train("random_forest", iris, {"n_estimators": 10}, Callbacks(logger=logger))
    assert logger.metrics[0][0] == 0
    assert set(logger.metrics[0][1]) == VAL_KEYS


def test_predict_proba_columns_follow_classes_even_for_unseen_classes(iris):
    data = TrainData(
        iris.x_train, iris.y_train, iris.x_val, iris.y_val, classes=["zzz-unused", *iris.classes]
    )
    model = train("logistic_regression", data).model

    proba = model.predict_proba(data.x_val)
    assert proba.shape == (len(data.y_val), 4)
    assert np.all(proba[:, 0] == 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert isinstance(model, SklearnModel)
    assert hasattr(model.estimator, "predict_proba")  # the raw estimator stays reachable for export


def test_torch_trainer_logs_every_epoch_and_every_n_steps(digits):
    logger = RecordingLogger()
    progress: list[tuple[float, str]] = []
    result = train(
        "mlp",
        digits,
        {"epochs": 3, "batch_size": 100, "log_every_steps": 2},
        Callbacks(logger=logger, progress=lambda f, m: progress.append((f, m))),
    )

    epochs = logger.history("val_loss")
    # 600 examples / 100 per batch = 6 steps per epoch; epoch metrics sit at the global step.
    assert [step for step, _ in epochs] == [6, 12, 18]
    assert [step for step, _ in logger.history("train_loss_step")] == [2, 4, 6, 8, 10, 12, 14, 16, 18]
    for _, values in logger.metrics:
        if "epoch" in values:
            assert set(values) == {"epoch", "train_loss", *VAL_KEYS}
    assert logger.history("epoch") == [(6, 1.0), (12, 2.0), (18, 3.0)]
    assert result.epochs == 3 and result.steps == 18
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert logger.params["n_parameters"] > 0


def test_max_steps_ends_training_mid_epoch(digits):
    logger = RecordingLogger()
    result = train("mlp", digits, {"epochs": 10, "batch_size": 100, "max_steps": 8}, Callbacks(logger=logger))
    assert result.status == "completed"
    assert result.steps == 8
    assert [step for step, _ in logger.history("val_loss")] == [6, 8]


def test_checkpoint_every_epoch_reloads_to_the_same_predictions(digits, tmp_path):
    checkpointer = FolderCheckpointer(tmp_path / "ckpt")
    result = train("cnn", digits, {"epochs": 2}, Callbacks(on_checkpoint=checkpointer))

    assert [p.name for p in checkpointer.paths] == ["epoch-0001.pt", "epoch-0002.pt"]
    assert (tmp_path / "ckpt" / "epoch-0002.json").exists()
    reloaded = load_checkpoint(checkpointer.paths[-1].read_bytes())
    assert reloaded.classes == result.model.classes
    np.testing.assert_array_equal(
        reloaded.predict_proba(digits.x_val), result.model.predict_proba(digits.x_val)
    )


def test_text_checkpoint_carries_its_vocabulary(texts):
    result = train("embedding_bag", texts, {"epochs": 2})
    reloaded = load_checkpoint(result.model.checkpoint_bytes())
    assert reloaded.vocab == result.model.vocab
    np.testing.assert_array_equal(
        reloaded.predict_proba(texts.x_val), result.model.predict_proba(texts.x_val)
    )


def test_vocabulary_comes_from_training_texts_only(texts):
    data = TrainData(
        texts.x_train, texts.y_train, ["zebra xylophone", *texts.x_val], ["sports", *texts.y_val], kind="text"
    )
    model = train("embedding_bag", data, {"epochs": 1}).model
    assert "zebra" not in model.vocab.tokens
    assert "recipe" in model.vocab.tokens
    assert model.predict_proba(["zebra", ""]).shape == (2, 3)  # unknown words and empty texts still predict


@pytest.mark.parametrize(
    ("name", "dataset"), [("mlp", "iris"), ("cnn", "digits"), ("embedding_bag", "texts")]
)
def test_torch_module_takes_example_inputs_for_export(request, name, dataset):
    data: TrainData = request.getfixturevalue(dataset)
    model = train(name, data, {"epochs": 1}).model
    assert isinstance(model, TorchModel)
    args = model.example_inputs()
    with torch.no_grad():
        logits = model.module(*args)
    assert logits.shape == (2, data.n_classes)


def test_images_may_arrive_shaped(digits):
    shaped = digits.x_val.reshape(-1, 8, 8)
    model = train("cnn", digits, {"epochs": 1}).model
    np.testing.assert_array_equal(model.predict_proba(shaped), model.predict_proba(digits.x_val))


def test_training_leaves_torch_global_settings_as_it_found_them(iris):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    train("mlp", iris, {"epochs": 1, "num_threads": 1})
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_exploding_loss_stops_the_run_as_diverged(digits):
    logger = RecordingLogger()
    result = train("mlp", digits, {"optimizer": "sgd", "lr": 1e8, "epochs": 5}, Callbacks(logger=logger))

    assert result.status == "diverged"
    assert "nan" in result.message
    assert result.epochs == 1 and result.steps < 19  # stopped inside the first epoch
    # The NaN is logged, so the loss-curve page can say "diverged" too.
    assert np.isnan(logger.history("train_loss")[-1][1])
