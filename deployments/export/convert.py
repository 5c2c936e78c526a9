"""A run's model as one self-contained `.onnx` file, following the platform's ONNX contract (the
serving side relies on it exactly):

- one output, `probabilities`: float32 [batch, n_classes], rows summing to 1, columns in the order
  of the input schema's `classes`. A torch module gives logits, so Softmax is added inside the
  graph; a scikit-learn model's probability output is kept and its label output dropped;
- dense models take one input `input`, float32 [batch, n_features] (images flattened channels
  first, 0–255, as experiments/inputs.py gives them: the modules normalise and reshape inside);
  the torch text model takes `ids` and `offsets`, int64, EmbeddingBag's layout; the batch
  dimension is dynamic.

A scikit-learn baseline trained without some class has no column for it: its columns follow
`estimator.classes_`, and `classes` lists exactly those names. The TF-IDF baseline is refused:
skl2onnx's tokenizer does not reproduce scikit-learn's (its scores differed by 0.2 on plain
sentences here), and a model that answers differently from its run is not that run's model.
The majority baseline has no skl2onnx converter; its graph (the training prior repeated for every
row) is written here with onnx.helper.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

OPSET = 17
OUTPUT = "probabilities"
SCHEMA_FORMAT = 1


class ConversionError(Exception):
    """The model cannot be exported; the message is ours, for people."""


@dataclass
class Converted:
    data: bytes
    opset: int
    # [{"name", "dtype", "shape"}] with None for a dynamic dimension.
    onnx_inputs: list[dict[str, Any]]
    # Class names in the order of the output's columns.
    classes: list[str]


def exportable(*, trainer: str) -> str | None:
    """Why a trainer's models cannot be exported, or None when they can."""
    if trainer == "tfidf_logreg":
        return (
            "TF-IDF baselines are not exported to ONNX: skl2onnx's tokenizer does not reproduce "
            "scikit-learn's, so the exported model would not answer as the run's model does."
        )
    return None


def _dense_inputs(n_features: int) -> list[dict[str, Any]]:
    return [{"name": "input", "dtype": "float32", "shape": [None, int(n_features)]}]


# --- PyTorch ------------------------------------------------------------------------------------


def _with_softmax(module):
    from torch import nn

    class Probabilities(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            import torch

            return torch.softmax(self.inner(*args), dim=1)

    return Probabilities(module).eval()


def _fixed_adaptive_pools(module, example: tuple):
    """A copy of `module` whose AdaptiveAvgPool2d layers are spelled out for the one input size the
    model takes (its image shape is fixed): the TorchScript exporter cannot export adaptive pooling
    once the batch dimension is dynamic ("input size not accessible"). Each output cell averages
    the same window adaptive pooling uses, [floor(i·in/out), ceil((i+1)·in/out)), so the result is
    the same computation; the parity check confirms it."""
    import copy
    import math

    import torch
    from torch import nn

    if not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in module.modules()):
        return module
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [
        layer.register_forward_hook(lambda m, inputs, out, name=name: sizes.__setitem__(name, tuple(inputs[0].shape[-2:])))
        for name, layer in module.named_modules() if isinstance(layer, nn.AdaptiveAvgPool2d)
    ]
    try:
        with torch.no_grad():
            module(*example)
    finally:
        for hook in hooks:
            hook.remove()

    class FixedAdaptiveAvgPool2d(nn.Module):
        def __init__(self, size_in: tuple[int, int], size_out: tuple[int, int]) -> None:
            super().__init__()
            self.rows = [(math.floor(i * size_in[0] / size_out[0]), math.ceil((i + 1) * size_in[0] / size_out[0]))
                         for i in range(size_out[0])]
            self.cols = [(math.floor(j * size_in[1] / size_out[1]), math.ceil((j + 1) * size_in[1] / size_out[1]))
                         for j in range(size_out[1])]

        def forward(self, x):
            return torch.stack([
                torch.stack([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for c0, c1 in self.cols], dim=-1)
                for r0, r1 in self.rows
            ], dim=-2)

    fixed = copy.deepcopy(module)
    for name, layer in list(fixed.named_modules()):
        if isinstance(layer, nn.AdaptiveAvgPool2d):
            out = layer.output_size if isinstance(layer.output_size, tuple) else (layer.output_size,) * 2
            size_in = sizes[name]
            out = tuple(size_in[k] if out[k] is None else int(out[k]) for k in range(2))
            parent_name, _, child = name.rpartition(".")
            parent = fixed.get_submodule(parent_name) if parent_name else fixed
            setattr(parent, child, FixedAdaptiveAvgPool2d(size_in, out))
    return fixed.eval()


def torch_to_onnx(model, module=None) -> Converted:
    """A TorchModel (experiments.training.trained) through torch.onnx; `module` replaces the
    model's own (a pruned copy)."""
    import torch

    module = module if module is not None else model.module
    module.eval()
    if model.kind == "text":
        names = ["ids", "offsets"]
        axes = {"ids": {0: "tokens"}, "offsets": {0: "batch"}, OUTPUT: {0: "batch"}}
        inputs = [{"name": "ids", "dtype": "int64", "shape": [None]},
                  {"name": "offsets", "dtype": "int64", "shape": [None]}]
    else:
        names = ["input"]
        axes = {"input": {0: "batch"}, OUTPUT: {0: "batch"}}
        inputs = _dense_inputs(model.n_features)
    example = model.example_inputs(n=2)
    wrapped = _with_softmax(_fixed_adaptive_pools(module, example))
    with tempfile.TemporaryDirectory(prefix="prakriya-export-") as folder:
        path = os.path.join(folder, "model.onnx")
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter (dynamo=False): on this torch it is about 8× faster than the
            # dynamo exporter and handles EmbeddingBag's offsets with dynamic_axes. It warns that
            # it is deprecated; that is known and not the user's concern.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped, example, path, input_names=names, output_names=[OUTPUT],
                dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )
        with open(path, "rb") as exported:
            data = exported.read()
    return Converted(data=data, opset=OPSET, onnx_inputs=inputs, classes=list(model.classes))


# --- scikit-learn -------------------------------------------------------------------------------


def _only_probabilities(model_proto) -> None:
    """Keeps the probability output alone (renamed to the contract's name) and drops the nodes
    that only fed the others (skl2onnx also gives the predicted label)."""
    outputs = list(model_proto.graph.output)
    chosen = next((o for o in outputs if o.name == OUTPUT), None) or next(
        (o for o in outputs if "prob" in o.name.lower()), None
    )
    if chosen is None:
        raise ConversionError("The converted model has no probability output.")
    if chosen.name != OUTPUT:
        old = chosen.name
        for node in model_proto.graph.node:
            node.output[:] = [OUTPUT if name == old else name for name in node.output]
        chosen.name = OUTPUT
    del model_proto.graph.output[:]
    model_proto.graph.output.append(chosen)
    needed = {OUTPUT}
    kept = []
    for node in reversed(list(model_proto.graph.node)):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    del model_proto.graph.node[:]
    model_proto.graph.node.extend(reversed(kept))
    used = {name for node in kept for name in node.input}
    initializers = [t for t in model_proto.graph.initializer if t.name in used]
    del model_proto.graph.initializer[:]
    model_proto.graph.initializer.extend(initializers)
    # skl2onnx may declare a domain twice (once per converter); tools that read the opset (ONNX
    # Runtime's quantisation) expect each domain once.
    versions: dict[str, int] = {}
    for entry in model_proto.opset_import:
        versions[entry.domain] = max(versions.get(entry.domain, 0), entry.version)
    del model_proto.opset_import[:]
    for domain, version in versions.items():
        model_proto.opset_import.add(domain=domain, version=version)


def _majority_graph(prior: np.ndarray, *, string_input: bool, n_features: int | None):
    """The majority baseline: its training prior, the same row for every input row."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    width = len(prior)
    if string_input:
        source = helper.make_tensor_value_info("input", TensorProto.STRING, [None, 1])
    else:
        source = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, n_features])
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, width])
    constants = [
        numpy_helper.from_array(np.asarray(prior, dtype=np.float32).reshape(1, width), "prior"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([width], dtype=np.int64), "width"),
    ]
    nodes = [
        helper.make_node("Shape", ["input"], ["input_shape"]),
        helper.make_node("Slice", ["input_shape", "zero", "one"], ["rows"]),
        helper.make_node("Concat", ["rows", "width"], ["output_shape"], axis=0),
        helper.make_node("Expand", ["prior", "output_shape"], [OUTPUT]),
    ]
    graph = helper.make_graph(nodes, "majority", [source], [output], initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="prakriya")
    onnx.checker.check_model(model)
    return model


def sklearn_to_onnx(model) -> Converted:
    """A SklearnModel (experiments.training.trained) through skl2onnx, its probability output only."""
    reason = exportable(trainer=model.trainer)
    if reason:
        raise ConversionError(reason)
    estimator = model.estimator
    classes = [model.classes[int(i)] for i in estimator.classes_]
    string_input = model.kind == "text"
    inputs = ([{"name": "input", "dtype": "string", "shape": [None, 1]}] if string_input
              else _dense_inputs(model.n_features))
    if model.trainer == "majority":
        proto = _majority_graph(np.asarray(estimator.class_prior_), string_input=string_input,
                                n_features=model.n_features)
        return Converted(data=proto.SerializeToString(), opset=OPSET, onnx_inputs=inputs, classes=classes)
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    try:
        proto = convert_sklearn(
            estimator, initial_types=[("input", FloatTensorType([None, int(model.n_features)]))],
            options={id(final): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 1},
        )
    except Exception as exc:  # noqa: BLE001 - skl2onnx raises many types for what it cannot convert
        raise ConversionError(f"skl2onnx cannot convert this {model.trainer} model ({type(exc).__name__}).") from None
    _only_probabilities(proto)
    return Converted(data=proto.SerializeToString(), opset=OPSET, onnx_inputs=inputs, classes=classes)


def to_onnx(model) -> Converted:
    from experiments.training import TorchModel

    if isinstance(model, TorchModel):
        return torch_to_onnx(model)
    return sklearn_to_onnx(model)


def input_schema(*, model, converted: Converted, feature_names: list[str] | None) -> dict[str, Any]:
    """ModelExport.input_schema, exactly as the contract words it."""
    image = None
    if model.kind == "image" and model.image_shape:
        channels, height, width = (int(d) for d in model.image_shape)
        image = {"mode": "L" if channels == 1 else "RGB", "channels": channels, "height": height, "width": width}
    vocab = getattr(model, "vocab", None)
    return {
        "format": SCHEMA_FORMAT,
        "kind": model.kind,
        "classes": list(converted.classes),
        "feature_names": list(feature_names) if model.kind == "tabular" and feature_names else None,
        "n_features": int(model.n_features) if model.n_features is not None else None,
        "image": image,
        "text": {"tokens": list(vocab.tokens)} if vocab is not None else None,
        "onnx_inputs": converted.onnx_inputs,
        "onnx_output": OUTPUT,
        "opset": converted.opset,
        "trainer": model.trainer,
    }
