"""The smaller models made beside an fp32 export: int8 quantisation by ONNX Runtime (dynamic: weights
in int8, activations quantised on the fly; static: activations too, with ranges calibrated on a
sample of the training part) and magnitude pruning of a torch model's weights.

Pruning here is `torch.nn.utils.prune`'s L1 (magnitude) criterion applied globally over every
Linear and Conv weight at the chosen sparsity, then made permanent (`prune.remove`), so the
exported graph holds plain tensors with zeros in them. An ONNX file stores dense tensors: a pruned
model is no smaller on disk, and the size change says so honestly; its interest is the accuracy
it keeps at that sparsity (and smaller files once compressed or quantised).
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

DYNAMIC, STATIC = "dynamic", "static"
CALIBRATION_ITEMS = 200
CALIBRATION_BATCH = 32


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    # onnxruntime.quantization advises pre-processing through the root logger on every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def calibration_rows(x_train, *, seed: int, size: int = CALIBRATION_ITEMS):
    """A fixed sample of the training part (same seed, same rows): the ranges static quantisation
    calibrates on. Never validation rows, which measure the result."""
    n = len(x_train)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(n, size=min(size, n), replace=False))
    if isinstance(x_train, np.ndarray):
        return x_train[picked]
    return [x_train[i] for i in picked]


def quantise(data: bytes, *, mode: str, calibration_feeds: list[dict[str, np.ndarray]] | None = None) -> bytes:
    """The int8 model of `data` (ONNX bytes). Static quantisation needs calibration feeds."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self, batches: list[dict[str, np.ndarray]]) -> None:
            self.batches = iter(batches)

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory(prefix="prakriya-quantise-") as folder, _quiet_root_logger():
        source, target = os.path.join(folder, "fp32.onnx"), os.path.join(folder, "int8.onnx")
        with open(source, "wb") as out:
            out.write(data)
        if mode == DYNAMIC:
            quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        elif mode == STATIC:
            if not calibration_feeds:
                raise ValueError("static quantisation needs calibration data")
            quantize_static(source, target, Reader(calibration_feeds), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        else:
            raise ValueError(f"unknown quantisation {mode!r}")
        with open(target, "rb") as result:
            return result.read()


def prunable_weights(module) -> list:
    from torch import nn

    return [(layer, "weight") for layer in module.modules() if isinstance(layer, nn.Linear | nn.Conv2d)]


def pruned_copy(module, *, sparsity: float):
    """A copy of `module` whose Linear and Conv weights are pruned globally by magnitude to
    `sparsity`, made permanent; returns (copy, the fraction of those weights now zero)."""
    import torch
    from torch.nn.utils import prune

    pruned = copy.deepcopy(module).eval()
    weights = prunable_weights(pruned)
    if not weights:
        raise ValueError("the model has no Linear or Conv weights to prune")
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=float(sparsity))
    for layer, name in weights:
        prune.remove(layer, name)
    with torch.no_grad():
        total = sum(layer.weight.numel() for layer, _ in weights)
        zeros = sum(int((layer.weight == 0).sum()) for layer, _ in weights)
    return pruned, zeros / total
