"""From an uploaded file to a validated, normalised staging folder — or a clear rejection."""

from __future__ import annotations

import contextlib
from pathlib import Path

from datasets.ingest.images import stage_image_zip
from datasets.ingest.layout import staging_folder, write_layout
from datasets.ingest.limits import Limits, human_bytes
from datasets.ingest.records import KINDS, StagedItem, StagedVersion, UploadRejected
from datasets.ingest.sniff import (
    TEXT,
    UNKNOWN,
    UTF16,
    check_claim,
    check_utf8,
    describe,
    detect,
    display_name,
    read_head,
)
from datasets.ingest.tables import open_records, tabular_items, text_format, text_items

DEFAULT_LABEL_COLUMN = "label"


def stage_upload(
    *,
    path: Path,
    original_name: str,
    kind: str,
    dest: Path,
    label_column: str = DEFAULT_LABEL_COLUMN,
    text_column: str = "text",
    require_label: bool = False,
) -> StagedVersion:
    """Validate the uploaded file at `path` and write the version's normalised folder at `dest`.

    tabular  CSV/TSV, JSON Lines or a JSON list of objects; a label column is optional (missing
             column: every label None; empty cell: None)
    text     the same formats with a text column and an optional label column; JSON records may
             also carry "spans" (pre-annotated [{"start", "end", "label"}], code point offsets)
    image    a ZIP of images in class folders ("7/a.png" → "7", images at the root → None), or
             images plus a labels.csv (columns file,label; file names relative to labels.csv)

    The label column must exist when `require_label` is set or a column other than the default
    is named. Raises UploadRejected (str(exc) is for the user) and then leaves no trace of dest.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}")
    limits = Limits.from_settings()
    name = display_name(original_name)
    path = Path(path)
    required = require_label or label_column != DEFAULT_LABEL_COLUMN
    with staging_folder(dest) as root:
        size = path.stat().st_size
        if size > limits.upload_max_bytes:
            raise UploadRejected(
                f"{name} is {human_bytes(size)}; uploads are limited to {human_bytes(limits.upload_max_bytes)}"
            )
        if size == 0:
            raise UploadRejected(f"{name} is empty")
        content = detect(read_head(path))
        check_claim(name, content)
        if kind == "image":
            if content != "zip":
                raise UploadRejected(
                    f"{name} is {describe(content)}; an image dataset is uploaded as a ZIP archive of images "
                    "(in class folders, or with a labels.csv)"
                )
            items = stage_image_zip(path=path, name=name, dest=root, limits=limits, label_column=label_column)
            columns: list[str] = []
        else:
            if content not in (TEXT, UNKNOWN, UTF16):
                raise UploadRejected(
                    f"{name} is {describe(content)}; a {kind} dataset is uploaded as a CSV or JSON Lines file"
                )
            check_utf8(path, name)
            fmt = text_format(path, name)
            header, records = open_records(path, name, fmt, limits)
            with contextlib.closing(records):
                items, columns = _items(
                    kind, name, header, records, label_column, text_column, required, with_spans=fmt in ("jsonl", "json")
                )
        write_layout(kind=kind, root=root, items=items, columns=columns)
        return StagedVersion(kind, root, items, columns)


def _items(
    kind: str, name: str, header: list[str], records, label_column: str, text_column: str, required: bool,
    *, with_spans: bool,
) -> tuple[list[StagedItem], list[str]]:
    if kind == "tabular":
        return tabular_items(
            name=name, columns=header, records=records, label_column=label_column, require_label=required
        )
    items = text_items(
        name=name,
        columns=header,
        records=records,
        label_column=label_column,
        text_column=text_column,
        require_label=required,
        with_spans=with_spans,
    )
    return items, []
