"""The export job's work, plain Python tested without Celery: rebuild the run's model, convert it,
check its parity with the original on the validation part, keep it, and make the variants asked for.

The original model's scores are computed first, from the model as rebuilt, and every ONNX model
(fp32 and each variant) is compared with those same scores. The fp32 model must match within
settings.PRAKRIYA_EXPORT_PARITY_TOLERANCE (max |Δ| of any class score) or the export fails and
nothing is kept: a model that answers differently is not the run's model. A variant is expected to
differ (that is what int8 and pruning trade for size and speed), so its differences are recorded,
never held against it; its validation accuracy says whether the trade is worth it.

Only the train and validation parts are read (experiments.inputs): never the sealed test part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings

from deployments import onnx_files
from deployments.export import convert, runtime, services, variants
from deployments.models import ModelExport, Variant
from experiments import checkpoints
from experiments.evaluation.rebuild import RebuildError, rebuild_model
from experiments.evaluation.recipe import RecipeError, recipe_for

Progress = Callable[[float, str], None]
# The calibration sample of static quantisation is drawn with this seed: the same export asked
# twice gives the same int8 model.
SEED = 0
VARIANT_OF_QUANTISE = {variants.DYNAMIC: Variant.INT8_DYNAMIC, variants.STATIC: Variant.INT8_STATIC}


class ExportFailed(Exception):
    """The export cannot be completed; the message is ours, for people."""


def parity_of(reference: np.ndarray, scores: np.ndarray, *, tolerance: float | None) -> dict[str, Any]:
    """Max and mean |Δscore| between the original's and the ONNX model's probabilities (same
    columns), the share of items whose predicted class agrees, and whether it is within tolerance."""
    n = len(reference)
    if n == 0:
        raise ExportFailed("The validation part is empty: there is nothing to check the export's parity on.")
    delta = np.abs(reference - scores)
    finite = bool(np.isfinite(scores).all())
    max_diff = float(np.max(delta)) if finite else float("inf")
    same = np.argmax(reference, axis=1) == np.argmax(scores, axis=1)
    result = {
        "max_abs_diff": max_diff if finite else None,
        "mean_abs_diff": float(np.mean(delta)) if finite else None,
        "agreement": float(np.mean(same)),
        "disagreements": int(n - int(same.sum())),
        "items": int(n),
        "tolerance": tolerance,
    }
    if tolerance is not None:
        result["within"] = finite and max_diff <= tolerance
    return result


def metrics_of(scores: np.ndarray, *, columns: list[int], classes: tuple[str, ...], y_val_idx: np.ndarray) -> dict:
    """Validation accuracy, macro-F1, mean confidence and per-class recall of a model's scores, computed as the
    training job computes the run's (experiments.training.metrics) so the two compare."""
    from sklearn.metrics import precision_recall_fscore_support

    from experiments.training.metrics import validation_metrics

    full = np.zeros((len(scores), len(classes)), dtype=np.float64)
    full[:, columns] = scores
    found = validation_metrics(full, y_val_idx)
    predicted = np.argmax(full, axis=1)
    present = sorted(set(y_val_idx.tolist()))
    _, recall, _, support = precision_recall_fscore_support(y_val_idx, predicted, labels=present, zero_division=0)
    return {
        "val_accuracy": found["val_accuracy"],
        "val_macro_f1": found["val_macro_f1"],
        # The mean top probability on validation: the drift check's reference for production's.
        "val_mean_confidence": float(np.mean(np.max(scores, axis=1))) if len(scores) else None,
        "per_class": [
            {"class": classes[i], "recall": float(r), "support": int(s)}
            for i, r, s in zip(present, recall, support, strict=True)
        ],
    }


class _Measured:
    """What the fp32 export and its variants share: the original's scores and the inputs."""

    def __init__(self, *, model, loaded, schema: dict[str, Any], columns: list[int], reference: np.ndarray) -> None:
        self.model, self.loaded, self.schema, self.columns, self.reference = model, loaded, schema, columns, reference

    def scores(self, data: bytes) -> np.ndarray:
        return runtime.predict_proba(runtime.session(data), self.schema, self.loaded.data.x_val)

    def metrics(self, scores: np.ndarray) -> dict[str, Any]:
        return metrics_of(scores, columns=self.columns, classes=self.model.classes,
                          y_val_idx=self.loaded.data.y_val_idx)


def _variant(export: ModelExport, measured: _Measured, *, variant: str, options: dict[str, Any],
             make: Callable[[], tuple[bytes, dict[str, Any]]], fp32: dict[str, Any]) -> ModelExport:
    """Makes one variant with `make` (its bytes and extra metrics), measures and keeps it; a
    failure is recorded on a FAILED variant row, the export goes on."""
    try:
        data, extra = make()
        onnx_files.check_model_bytes(data)
        scores = measured.scores(data)
    except Exception as exc:  # noqa: BLE001 - a variant that cannot be made is recorded, not fatal
        return services.export_variant_save(
            base=export, variant=variant, options=options, fields={"input_schema": measured.schema},
            failure=f"The {variant} variant could not be made ({type(exc).__name__}: {str(exc)[:200]}).",
        )
    parity = parity_of(measured.reference, scores, tolerance=None)
    parity["note"] = "A variant is expected to differ from the original; its differences are recorded, not checked."
    metrics = measured.metrics(scores)
    metrics.update(extra)
    metrics["accuracy_delta"] = metrics["val_accuracy"] - fp32["val_accuracy"]
    metrics["macro_f1_delta"] = metrics["val_macro_f1"] - fp32["val_macro_f1"]
    metrics["size_delta_bytes"] = len(data) - fp32["size_bytes"]
    metrics["size_ratio"] = len(data) / fp32["size_bytes"]
    path, sha = onnx_files.store(run_id=export.run.mlflow_run_id, export_id=export.pk, variant=variant, data=data)
    fields = {"opset": measured.schema["opset"], "sha256": sha, "size_bytes": len(data), "artifact_path": path,
              "input_schema": measured.schema, "parity": parity, "metrics": metrics}
    return services.export_variant_save(base=export, variant=variant, options=options, fields=fields)


def export_model(*, export: ModelExport, progress: Progress) -> dict[str, Any]:
    """Runs the export; raises ExportFailed (the export row marked FAILED) when it cannot be kept."""
    import torch

    torch.manual_seed(SEED)
    services.export_reset(export=export)
    options = export.options or {}
    try:
        recipe = recipe_for(run=export.run)
    except RecipeError as exc:
        raise ExportFailed(str(exc)) from None
    try:
        model = rebuild_model(recipe, progress)
    except RebuildError as exc:
        raise ExportFailed(f"{exc} It was not exported.") from None
    from experiments.inputs import load_inputs

    progress(40, "Reading the validation part of the run's dataset version")
    loaded = load_inputs(version=recipe.version)
    # The original's scores, taken before any conversion touches the model.
    reference_full = model.predict_proba(loaded.data.x_val)

    progress(50, "Converting to ONNX")
    try:
        converted = convert.to_onnx(model)
        onnx_files.check_model_bytes(converted.data)
    except (convert.ConversionError, onnx_files.OnnxFileError) as exc:
        raise ExportFailed(str(exc)) from None
    columns = [list(model.classes).index(name) for name in converted.classes]
    schema = convert.input_schema(model=model, converted=converted, feature_names=loaded.feature_names)
    measured = _Measured(model=model, loaded=loaded, schema=schema, columns=columns,
                         reference=reference_full[:, columns])

    progress(60, f"Checking parity on {len(loaded.data.y_val)} validation items")
    tolerance = float(settings.PRAKRIYA_EXPORT_PARITY_TOLERANCE)
    scores = measured.scores(converted.data)
    parity = parity_of(measured.reference, scores, tolerance=tolerance)
    metrics = measured.metrics(scores)
    metrics["original_val_accuracy"] = metrics_of(
        measured.reference, columns=columns, classes=model.classes, y_val_idx=loaded.data.y_val_idx
    )["val_accuracy"]
    common = {"opset": converted.opset, "input_schema": schema, "parity": parity, "metrics": metrics,
              "size_bytes": len(converted.data), "trainer": recipe.trainer}
    if not parity["within"]:
        services.export_fp32_save(export=export, fields=common)
        shown = "not finite" if parity["max_abs_diff"] is None else f"{parity['max_abs_diff']:.3g}"
        raise ExportFailed(
            f"Parity check failed: the ONNX model's class scores differ from the original model's by up to "
            f"{shown} on the {parity['items']} validation items (tolerance {tolerance:g}); "
            f"{parity['agreement']:.1%} of the predicted classes agree. The export was not kept."
        )

    progress(70, "Storing the model and registering it beside the run's checkpoints")
    path, sha = onnx_files.store(run_id=export.run.mlflow_run_id, export_id=export.pk, variant=Variant.FP32,
                                 data=converted.data)
    folder = path.rsplit("/", 1)[0]
    model_version = checkpoints.onnx_version_register(run=export.run, export_id=export.pk, artifact_folder=folder)
    services.export_fp32_save(export=export, fields={**common, "sha256": sha, "artifact_path": path,
                                                     "model_version": model_version})
    fp32 = {"val_accuracy": metrics["val_accuracy"], "val_macro_f1": metrics["val_macro_f1"],
            "size_bytes": len(converted.data)}

    made = []
    quantise = options.get("quantise") or "none"
    if quantise in VARIANT_OF_QUANTISE:
        progress(80, f"Quantising to int8 ({quantise})")

        def quantised() -> tuple[bytes, dict[str, Any]]:
            rows = variants.calibration_rows(loaded.data.x_train, seed=SEED) if quantise == variants.STATIC else []
            feeds = [runtime.feeds(schema, rows[i : i + variants.CALIBRATION_BATCH])
                     for i in range(0, len(rows), variants.CALIBRATION_BATCH)]
            data = variants.quantise(converted.data, mode=quantise, calibration_feeds=feeds)
            return data, {"calibration_items": len(rows), "calibration_seed": SEED if len(rows) else None}

        made.append(_variant(export, measured, variant=VARIANT_OF_QUANTISE[quantise], options={"quantise": quantise},
                             make=quantised, fp32=fp32))
    sparsity = options.get("prune_sparsity")
    if sparsity is not None and recipe.family == "torch":
        progress(88, f"Pruning {sparsity:.0%} of the weights by magnitude")

        def pruned() -> tuple[bytes, dict[str, Any]]:
            module, achieved = variants.pruned_copy(model.module, sparsity=sparsity)
            data = convert.torch_to_onnx(model, module=module).data
            return data, {"sparsity": achieved, "requested_sparsity": sparsity, "pruned": "global L1 (magnitude)"}

        made.append(_variant(export, measured, variant=Variant.PRUNED, options={"prune_sparsity": sparsity},
                             make=pruned, fp32=fp32))

    progress(95, "Writing the model card")
    services.export_card_refresh(export=export)
    return {"export": export.pk, "variants": [v.pk for v in made]}
