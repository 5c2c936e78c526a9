"""The batch-prediction job's work, plain Python tested without Celery: every item of a dataset
version outside its sealed test set, read as the export's input schema says, run through ONNX
Runtime in batches of CHUNK, written to a CSV under the data folder.

What is read: only the platform's own exported ONNX model (its bytes checked against the
export's SHA-256; nothing is unpickled), and of the items only their key, split part and input
(a tabular row, a text, an image file). Never a label, and never an item of the sealed test set:
those are left out by the query that lists the items (deployments/batch/selectors.py), and
counted. An image version's files are fetched from its DVC store as training fetches them, and
only the files of the items scored are opened.

Inputs are prepared as the platform prepared them for the model: a tabular row's columns named
by the schema's features (a missing or non-numeric cell leaves the item out: the training mean
that filled it in training is not part of the model), an image decoded, converted and resized by
the serving endpoint's own code (deployments/serving/prepare.py), a text as it is. Then
deployments.export.runtime feeds them to the session exactly as the export's parity check did.

The CSV: one row per item scored, in item order: its key, its split part (train, validation or
empty; never test), the predicted label, its score, then one probability column per class.
Text cells are formula-escaped (datasets.csv_safety). It is written beside its final name and
renamed over it, so an attempt run again after a crash replaces the file whole.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from datasets import storage
from datasets.csv_safety import write_csv
from datasets.models import Item
from deployments import onnx_files
from deployments.batch import files, selectors, services
from deployments.export import runtime
from deployments.export import selectors as export_selectors
from deployments.models import BatchPrediction
from deployments.serving.prepare import InputError, image_pixels

Progress = Callable[[float, str], None]
# Items read and scored at a time: what the job holds in memory is one chunk's inputs.
CHUNK = 256
FIELDS = ("id", "key", "text", "row", "file_path", "assignment__part")
MISSING_FEATURE = "a feature is missing or not a number (training filled such cells with its own means)"
MISSING_FILE = "its file is not in the version's files"
NOT_AN_IMAGE = "its file is not an image the model's input preparation can read"


class BatchFailed(Exception):
    """The batch prediction cannot be made; the message is ours, for people."""


class _Unreadable(Exception):
    """One item's input cannot be read; the message is the reason, the same for every such item."""


def header(classes: list[str]) -> list[str]:
    return ["item_key", "split_part", "predicted_label", "score", *(f"p_{name}" for name in classes)]


def _reader(schema: dict[str, Any], kind: str, root: Path | None) -> Callable[[dict[str, Any]], Any]:
    """How one item (a dict of FIELDS) becomes one input of the model."""
    if kind == "text":
        return lambda item: item["text"] or ""
    if kind == "image":
        assert root is not None
        top = root.resolve()

        def image(item: dict[str, Any]) -> list[float]:
            path = (root / (item["file_path"] or "")).resolve()
            if not item["file_path"] or not path.is_relative_to(top) or not path.is_file():
                raise _Unreadable(MISSING_FILE)
            try:
                return image_pixels(schema, path.read_bytes(), where=f"item {item['key']}")
            except InputError:
                raise _Unreadable(NOT_AN_IMAGE) from None

        return image
    names = list(schema.get("feature_names") or [])
    if not names or len(names) != int(schema.get("n_features") or 0):
        raise BatchFailed("The model names no features to read the version's columns by.")

    def tabular(item: dict[str, Any]) -> list[float]:
        row = item["row"] or {}
        values = []
        for name in names:
            raw = row.get(name)
            try:
                number = float(raw) if not isinstance(raw, bool) else math.nan
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise _Unreadable(MISSING_FEATURE)
            values.append(number)
        return values

    return tabular


def _scored_rows(*, ids: list[int], read: Callable[[dict[str, Any]], Any], session, schema: dict[str, Any],
                 classes: list[str], unreadable: Counter, progress: Progress, scored: list[int]) -> Iterator[list]:
    """The CSV's rows, chunk by chunk: each chunk's items read, scored in one call, then yielded."""
    total = len(ids)
    for start in range(0, total, CHUNK):
        chunk = list(Item.objects.filter(pk__in=ids[start : start + CHUNK]).order_by("id").values(*FIELDS))
        kept, inputs = [], []
        for item in chunk:
            try:
                inputs.append(read(item))
            except _Unreadable as exc:
                unreadable[str(exc)] += 1
                continue
            kept.append(item)
        if inputs:
            probabilities = runtime.predict_proba(session, schema, inputs, batch_size=CHUNK)
            for item, row in zip(kept, probabilities, strict=True):
                best = int(np.argmax(row))
                scored[0] += 1
                yield [item["key"], item["assignment__part"] or "", classes[best], float(row[best]),
                       *(float(p) for p in row)]
        done = min(start + CHUNK, total)
        progress(10 + 85 * done / total, f"Scored {scored[0]} of {total} items")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _notes(sealed: int, unreadable: Counter) -> list[str]:
    notes = []
    if sealed:
        notes.append(f"{sealed} items of the sealed test set were left out: they are read only by a sealed evaluation, "
                     "never by a derivation such as this one.")
    for reason, count in sorted(unreadable.items()):
        notes.append(f"{count} items were left out: {reason}.")
    return notes


def batch_predict_run(*, batch: BatchPrediction, progress: Progress) -> dict[str, Any]:
    """Scores the batch's version with its export and records the file; raises BatchFailed with a
    reason for people when it cannot."""
    services.batch_predict_reset(batch=batch)
    export, version = batch.export, batch.version
    dataset = version.dataset
    schema = export.input_schema or {}
    kind = schema.get("kind")
    classes = [str(c) for c in schema.get("classes") or []]
    if kind != dataset.kind:
        raise BatchFailed(f"{export} takes {kind or 'unknown'} inputs; {dataset.name} holds {dataset.kind} items.")
    if not classes:
        raise BatchFailed(f"{export} names no classes.")
    progress(2, "Loading the model")
    try:
        data = export_selectors.export_bytes(export=export)
    except onnx_files.OnnxFileError as exc:
        raise BatchFailed(str(exc)) from None
    session = runtime.session(data)

    ids = list(selectors.items_to_score(version=version).order_by("id").values_list("id", flat=True))
    limit = settings.PRAKRIYA_BATCH_PREDICT_MAX_ITEMS
    if len(ids) > limit:
        raise BatchFailed(f"{dataset.name} {version.label} has {len(ids)} items to score; a batch prediction "
                          f"scores at most {limit} (PRAKRIYA_BATCH_PREDICT_MAX_ITEMS).")
    if not ids:
        raise BatchFailed(f"{dataset.name} {version.label} has no item outside the sealed test set to score.")
    sealed = selectors.sealed_left_out(version=version)

    relative = files.relative_path(project_id=batch.project_id, batch_id=batch.pk)
    target = files.absolute(relative)
    assert target is not None  # the path is made of two ids
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    folder = Path(tempfile.mkdtemp(prefix="prakriya-batch-"))
    unreadable: Counter = Counter()
    scored = [0]
    try:
        root = None
        if kind == "image":
            progress(5, f"Fetching the files of {dataset.name} {version.label}")
            try:
                root = storage.materialize_version(project_slug=dataset.project.slug, dataset_slug=dataset.slug,
                                                   tag=version.git_tag, dest=folder / "v")
            except storage.StorageError:
                raise BatchFailed(f"The files of {dataset.name} {version.label} could not be fetched.") from None
        read = _reader(schema, kind, root)
        progress(10, f"Scoring {len(ids)} items")
        with open(partial, "w", encoding="utf-8", newline="") as out:
            write_csv(_scored_rows(ids=ids, read=read, session=session, schema=schema, classes=classes,
                                   unreadable=unreadable, progress=progress, scored=scored), out, header(classes))
            out.flush()
            os.fsync(out.fileno())
        if not scored[0]:
            raise BatchFailed("No item's input could be read: " + " ".join(_notes(0, unreadable)))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    results = {
        "items": len(ids) + sealed, "scored": scored[0], "sealed_left_out": sealed,
        "unreadable": sum(unreadable.values()), "notes": _notes(sealed, unreadable), "file_path": relative,
        "sha256": _sha256(target), "size_bytes": target.stat().st_size,
    }
    services.batch_predict_results_save(batch=batch, results=results)
    return {"batch": batch.pk, "scored": results["scored"], "sealed_left_out": sealed,
            "unreadable": results["unreadable"]}
