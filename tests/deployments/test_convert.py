"""The ONNX contract for every built-in trainer, checked on small models trained here (no
database): one `probabilities` output whose columns follow the schema's classes, the inputs the
schema names, a dynamic batch, and the same scores as the model under ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from deployments.export import convert, runtime, variants
from deployments.onnx_files import check_model_bytes
from experiments.training import TrainData, train

RNG = np.random.default_rng(0)
TEXTS = ["the cat sat on the mat", "a dog barked loudly", "cats and dogs", "the dog sat", "naïve café", ""] * 20
TEXT_LABELS = ["cat", "dog", "cat", "dog", "cat", "dog"] * 20


def _images(shape, n=150, classes=3):
    x = RNG.uniform(0, 255, size=(n, int(np.prod(shape)))).astype(np.float32)
    y = [str(int(v)) for v in RNG.integers(0, classes, n)]
    return TrainData(x[:100], y[:100], x[100:], y[100:], kind="image", image_shape=shape)


def _exported(model, x_val):
    converted = convert.to_onnx(model)
    check_model_bytes(converted.data)
    schema = convert.input_schema(model=model, converted=converted, feature_names=None)
    session = runtime.session(converted.data)
    columns = [list(model.classes).index(name) for name in converted.classes]
    reference = model.predict_proba(x_val)[:, columns]
    scores = runtime.predict_proba(session, schema, x_val, batch_size=7)
    return converted, schema, session, reference, scores


@pytest.mark.parametrize(("trainer", "data", "config"), [
    ("cnn", _images((1, 13, 21)), {"epochs": 1, "seed": 1}),  # adaptive pooling over uneven windows
    ("cnn", _images((3, 16, 16)), {"epochs": 1, "seed": 1}),
    ("mlp", _images((1, 8, 8)), {"epochs": 1, "seed": 1}),
    ("embedding_bag", TrainData(TEXTS, TEXT_LABELS, TEXTS[:12] + ["words never seen"], TEXT_LABELS[:13],
                                kind="text"), {"epochs": 2, "seed": 1}),
    ("majority", TrainData(TEXTS, TEXT_LABELS, TEXTS[:12], TEXT_LABELS[:12], kind="text"), {}),
    ("majority", _images((1, 8, 8)), {}),
    ("random_forest", _images((1, 8, 8)), {"n_estimators": 5, "seed": 1}),
    ("logistic_regression", _images((1, 8, 8)), {"seed": 1}),
], ids=["cnn-uneven", "cnn-rgb", "mlp", "embedding_bag", "majority-text", "majority-image", "random_forest",
        "logistic_regression"])
def test_each_trainer_exports_to_the_contract_with_parity(trainer, data, config):
    model = train(trainer, data, config).model

    converted, schema, session, reference, scores = _exported(model, data.x_val)

    proto = onnx.load_from_string(converted.data)
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    assert [i.name for i in proto.graph.input] == [i["name"] for i in schema["onnx_inputs"]]
    assert schema["classes"] == list(model.classes) and schema["opset"] == 17 and schema["trainer"] == trainer
    assert np.abs(reference - scores).max() <= 1e-5
    assert scores.dtype == np.float64 and np.allclose(scores.sum(axis=1), 1, atol=1e-5)
    for batch in (1, 64):
        rows = (data.x_val * 10)[:batch] if isinstance(data.x_val, list) else np.resize(data.x_val, (batch, data.x_val.shape[1]))
        out = session.run(["probabilities"], runtime.feeds(schema, rows))[0]
        assert out.shape == (batch, len(schema["classes"])) and out.dtype == np.float32
    if trainer == "embedding_bag":
        assert schema["text"]["tokens"][0] == "<unk>" and schema["onnx_inputs"][0]["dtype"] == "int64"
    # int8 keeps the inputs, the output and the columns.
    quantised = variants.quantise(converted.data, mode="dynamic")
    check_model_bytes(quantised)
    assert runtime.predict_proba(runtime.session(quantised), schema, data.x_val).shape == scores.shape


def test_a_baseline_that_never_saw_a_class_lists_only_the_classes_of_its_columns():
    data = _images((1, 8, 8))
    data = TrainData(data.x_train, data.y_train, data.x_val, data.y_val, classes=["0", "1", "2", "9"],
                     kind="image", image_shape=(1, 8, 8))
    model = train("logistic_regression", data, {"seed": 1}).model

    converted, schema, _, reference, scores = _exported(model, data.x_val)

    assert model.classes == ("0", "1", "2", "9") and schema["classes"] == ["0", "1", "2"]
    assert scores.shape == (len(data.x_val), 3) and np.abs(reference - scores).max() <= 1e-5


def test_the_tfidf_baseline_is_refused_with_the_reason():
    model = train("tfidf_logreg", TrainData(TEXTS, TEXT_LABELS, TEXTS[:6], TEXT_LABELS[:6], kind="text"),
                  {"seed": 1}).model
    with pytest.raises(convert.ConversionError, match="tokenizer"):
        convert.to_onnx(model)


def test_pruning_zeroes_the_chosen_share_of_weights_and_keeps_the_model_exportable():
    data = _images((1, 8, 8))
    model = train("cnn", data, {"epochs": 1, "seed": 1}).model
    pruned, achieved = variants.pruned_copy(model.module, sparsity=0.6)
    assert achieved == pytest.approx(0.6, abs=0.01)
    converted = convert.torch_to_onnx(model, module=pruned)
    check_model_bytes(converted.data)
    # The original module is left as it was.
    assert all(float((layer.weight == 0).float().mean()) < 0.05 for layer, _ in variants.prunable_weights(model.module))
