"""An exported model under ONNX Runtime: the session (providers from the settings, fixed thread
counts when asked), the inputs it takes built from plain rows or texts as the input schema says,
and its class probabilities. Used by the export's parity check and the benchmark alike, so both
measure the model exactly as it would be fed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings


def session(data: bytes, *, threads: int | None = None):
    """An InferenceSession over the model's bytes (already checked by onnx_files). With `threads`,
    one operator runs on that many threads and operators run one after the other: the numbers of a
    benchmark then mean the same from one run to the next."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the runtime's warnings are not the user's concern
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(data, sess_options=options, providers=list(settings.PRAKRIYA_ONNX_PROVIDERS))


def feeds(schema: dict[str, Any], x: Any) -> dict[str, np.ndarray]:
    """The session's inputs for `x`: a matrix of rows (tabular, images flattened) or a list of
    texts, as the export's input schema says it takes them."""
    inputs = schema["onnx_inputs"]
    names = [spec["name"] for spec in inputs]
    if names == ["ids", "offsets"]:
        from experiments.training.text import tokenize

        lookup = {token: i for i, token in enumerate((schema.get("text") or {}).get("tokens") or [])}
        ids: list[int] = []
        offsets: list[int] = []
        for text in x:
            offsets.append(len(ids))
            ids.extend(lookup.get(token, 0) for token in tokenize(text))
        return {"ids": np.asarray(ids, dtype=np.int64), "offsets": np.asarray(offsets, dtype=np.int64)}
    if inputs[0]["dtype"] == "string":
        return {names[0]: np.asarray(list(x), dtype=object).reshape(-1, 1)}
    array = np.asarray(x, dtype=np.float32)
    return {names[0]: np.ascontiguousarray(array.reshape(len(array), -1))}


def predict_proba(onnx_session, schema: dict[str, Any], x: Any, *, batch_size: int = 256) -> np.ndarray:
    """(n, len(schema classes)) float64 probabilities, in batches."""
    n = len(x)
    parts = []
    for start in range(0, n, batch_size):
        chunk = x[start : start + batch_size]
        parts.append(onnx_session.run([schema["onnx_output"]], feeds(schema, chunk))[0])
    if not parts:
        return np.zeros((0, len(schema["classes"])), dtype=np.float64)
    return np.concatenate(parts).astype(np.float64)
