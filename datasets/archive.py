"""The download archive of a version: its data as people may see it.

The files that hold labels (table.csv, texts.jsonl, labels.csv) are never copied from the
repository: they are written again from the version's items as datasets.selectors shows them, so
every sealed item's label is blank and its spans left out. Image files are copied by the paths
the items name (they are named by content and hold no label). CSV cells that a spreadsheet would
run as a formula are escaped."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from django.utils import timezone

from datasets import selectors, storage
from datasets.csv_safety import write_csv
from datasets.models import DatasetKind, DatasetVersion

BATCH = 2000


def archive_name(version: DatasetVersion) -> str:
    dataset = version.dataset
    return f"{dataset.project.slug}-{dataset.slug}-v{version.number}.zip"


def _folder(version: DatasetVersion) -> str:
    return f"{version.dataset.slug}-v{version.number}"


def _visible_items(version: DatasetVersion) -> Iterator[selectors.VisibleItem]:
    offset = 0
    while True:
        items = selectors.item_page(version=version, offset=offset, limit=BATCH)
        if not items:
            return
        yield from items
        offset += len(items)


def _write_csv(zf: zipfile.ZipFile, name: str, header: list[str], rows: Iterator[list[object]]) -> None:
    with (
        zf.open(name, "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh,
    ):
        write_csv(rows, fh, header)


def _write_member(zf: zipfile.ZipFile, name: str, chunks: Iterator[bytes]) -> None:
    with zf.open(name, "w", force_zip64=True) as out:
        for chunk in chunks:
            out.write(chunk)


def _readme(version: DatasetVersion, sealed: int, files: list[str]) -> str:
    dataset = version.dataset
    lines = [
        f"{dataset.name} v{version.number}",
        f"Project: {dataset.project.title} ({dataset.project.slug})",
        f"Dataset: {dataset.slug} ({dataset.get_kind_display()})",
        f"Version: v{version.number}" + (f" — {version.message}" if version.message else ""),
        f"Git tag: {version.git_tag}",
        f"Git commit: {version.git_commit}",
        f"DVC md5: {version.dvc_md5}",
        f"Items: {version.item_count} ({version.labelled_count} labelled)",
        f"Downloaded: {timezone.now():%Y-%m-%d %H:%M} UTC",
        "",
        "Files: " + ", ".join(files),
        "",
    ]
    if sealed:
        withheld = "labels and spans" if dataset.kind == DatasetKind.TEXT else "labels"
        lines += [
            f"{sealed} items belong to the sealed test split: their {withheld} are left blank here. They are",
            "read only inside a sealed evaluation.",
            "",
        ]
    lines += [
        "The label files were written from the platform's records of this version; CSV cells that",
        "begin like a spreadsheet formula (= + - @) are prefixed with an apostrophe.",
    ]
    return "\n".join(lines) + "\n"


def _text_record(item: selectors.VisibleItem) -> dict:
    record = {"_item": item.key, "text": item.text, "label": item.label}
    # As in the stored texts.jsonl, "spans" only for an item with a span annotation; a sealed
    # item's spans are withheld (None) like its label.
    if item.spans is not None:
        record["spans"] = item.spans
    return record


def build_archive(*, version: DatasetVersion) -> IO[bytes]:
    """A zip of the version in a temporary file, rewound; the caller streams and closes it."""
    dataset = version.dataset
    folder = _folder(version)
    keys = selectors.sealed_keys(dataset=dataset)
    sealed = version.items.filter(key__in=keys).count() if keys else 0
    handle = tempfile.TemporaryFile(prefix="prakriya-archive-")
    try:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            if dataset.kind == DatasetKind.TABULAR:
                files = ["table.csv"]
                columns = list(version.columns or [])
                rows = (
                    [item.key, *((item.row or {}).get(c) for c in columns), item.label]
                    for item in _visible_items(version)
                )
                _write_csv(zf, f"{folder}/table.csv", ["_item", *columns, "label"], rows)
            elif dataset.kind == DatasetKind.TEXT:
                files = ["texts.jsonl"]
                lines = (
                    (json.dumps(_text_record(item), ensure_ascii=False) + "\n").encode("utf-8")
                    for item in _visible_items(version)
                )
                _write_member(zf, f"{folder}/texts.jsonl", lines)
            else:
                files = ["labels.csv", "images/"]
                _write_images(zf, version, folder)
            zf.writestr(f"{folder}/README.txt", _readme(version, sealed, files))
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def _write_images(zf: zipfile.ZipFile, version: DatasetVersion, folder: str) -> None:
    dataset = version.dataset
    workdir = Path(tempfile.mkdtemp(prefix="prakriya-archive-"))
    try:
        storage.materialize_version(
            project_slug=dataset.project.slug,
            dataset_slug=dataset.slug,
            tag=version.git_tag,
            dest=workdir / "v",
        )
        root = (workdir / "v").resolve()
        rows = []
        for item in _visible_items(version):
            relpath = PurePosixPath(item.file_path)
            source = (root / relpath).resolve()
            # Only files inside the version's folder, by the path recorded for the item.
            if relpath.is_absolute() or root not in source.parents or not source.is_file():
                continue
            zf.write(source, f"{folder}/{relpath}")
            rows.append([item.key, str(relpath), item.label])
        _write_csv(zf, f"{folder}/labels.csv", ["_item", "file", "label"], iter(rows))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
