"""Where an export's `.onnx` file lives, and the checks every ONNX file passes before the platform
keeps or loads it.

The file is an artifact of the run it was exported from (`onnx/<export id>/<variant>.onnx` in
MLflow's artifact store, local or S3-compatible): the one copy every web process and worker can
reach. A process that serves it keeps a copy under settings.PRAKRIYA_MODELS_DIR named by its
SHA-256 and never trusts bytes whose digest is not the one the export recorded.

Only single-file models are accepted: a tensor stored as external data names a path the runtime
would read (onnx's CVE-2024-27318 class of traversal), so any such reference is refused, as are
files past settings.PRAKRIYA_ONNX_MAX_BYTES and anything `onnx.checker` rejects. Nothing here, or
anywhere in deployments/, unpickles.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

from experiments import mlflow_store

MODEL_FILENAME = "model.onnx"


class OnnxFileError(Exception):
    """Why a file is not an ONNX model the platform will keep or load, for people."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_model_bytes(data: bytes) -> None:
    """Raises OnnxFileError unless `data` is one self-contained ONNX model within the size cap
    that passes onnx.checker. Parsing is protobuf only: no code in the file runs."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    if len(data) > settings.PRAKRIYA_ONNX_MAX_BYTES:
        raise OnnxFileError(f"The model is larger than the {settings.PRAKRIYA_ONNX_MAX_BYTES} bytes allowed.")
    if data[:2] == b"\x80\x04" or data[:2] == b"\x80\x02" or data[:4] == b"PK\x03\x04":
        # A pickle (protocol 2+) or a zip (torch.save's format): refused, never opened.
        raise OnnxFileError("This is a pickle or a PyTorch checkpoint, not an ONNX model: it is refused.")
    try:
        model = onnx.load_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf raises several types for bytes that are not a model
        raise OnnxFileError("This file is not an ONNX model.") from None
    if not model.graph.node and not model.graph.output:
        raise OnnxFileError("This file is not an ONNX model (it has no graph).")
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                tensors.append(attribute.t)
            tensors.extend(attribute.tensors)
    if any(uses_external_data(tensor) for tensor in tensors):
        raise OnnxFileError("The model refers to external data files: only single-file models are accepted.")
    try:
        onnx.checker.check_model(model, full_check=False)
    except Exception as exc:  # noqa: BLE001 - the checker's error types differ across onnx releases
        raise OnnxFileError(f"The model fails onnx.checker: {str(exc)[:300]}") from None


def artifact_path(*, export_id: int, variant: str) -> str:
    return f"onnx/{export_id}/{variant}.onnx"


def store(*, run_id: str, export_id: int, variant: str, data: bytes) -> tuple[str, str]:
    """Keeps `data` as an artifact of the run; returns (artifact path, SHA-256). Also placed in
    this process's cache, since the job that made it usually benchmarks it next."""
    path = artifact_path(export_id=export_id, variant=variant)
    folder, name = path.rsplit("/", 1)
    with tempfile.TemporaryDirectory(prefix="prakriya-onnx-") as tmp:
        local = Path(tmp) / name
        local.write_bytes(data)
        mlflow_store.log_artifact(run_id=run_id, local_path=local, artifact_path=folder)
    sha = digest(data)
    _cache_write(sha, data)
    return path, sha


def _cache_path(sha: str) -> Path:
    return Path(settings.PRAKRIYA_MODELS_DIR) / f"{sha}.onnx"


def _cache_write(sha: str, data: bytes) -> Path:
    target = _cache_path(sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return target
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)  # atomic: a concurrent reader sees the whole file or none
    return target


def load(*, run_id: str, path: str, sha256: str) -> bytes:
    """The bytes of an export, from this process's cache or MLflow, checked against the digest
    the export recorded."""
    cached = _cache_path(sha256)
    if cached.exists():
        data = cached.read_bytes()
        if digest(data) == sha256:
            return data
        cached.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="prakriya-onnx-") as tmp:
        data = Path(mlflow_store.download_artifact(run_id=run_id, path=path, dst_path=tmp)).read_bytes()
    if digest(data) != sha256:
        raise OnnxFileError("The stored model does not match its recorded SHA-256: it is not served.")
    _cache_write(sha256, data)
    return data
