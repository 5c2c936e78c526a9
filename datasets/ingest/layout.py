"""The normalised layout of a version's folder, written and read back.

    tabular  table.csv      _item, <features…>, label
    text     texts.jsonl    {"_item", "text", "label"} per line, plus "spans" for an item that
                            has a span annotation: [{"start", "end", "label"}], offsets in
                            Unicode code points, sorted by (start, end), non-overlapping
    image    images/<key><ext> + labels.csv   _item, file, label

UTF-8, "\\n" line endings, items in the order given, no timestamps: the same items always give
byte-identical files, so DVC's hashes are stable. Stored files are the data itself and are not
formula-escaped; downloads that render CSV go through datasets.csv_safety.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from datasets.csv_safety import csv_line
from datasets.ingest.records import (
    IMAGES_DIR,
    KEY_RE,
    KINDS,
    StagedItem,
    StagedVersion,
    UploadRejected,
    image_key,
    image_relpath,
    json_scalar_text,
    normalise_label,
    normalise_spans,
    row_bytes,
    row_key,
    sha256_hex,
    text_key,
)

TABLE_FILE = "table.csv"
TEXTS_FILE = "texts.jsonl"
LABELS_FILE = "labels.csv"
ITEM_COLUMN = "_item"
LABEL_COLUMN = "label"
SPANS_FIELD = "spans"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
# images/<key><ext> (versions written before image_relpath spread them out) or images/<shard>/<key><ext>.
_STORED_IMAGE = re.compile(r"^images/(?:[0-9a-f]{2}/)?([A-Za-z0-9][A-Za-z0-9._-]*)$")
CHUNK = 1024 * 1024


@contextlib.contextmanager
def staging_folder(dest: Path) -> Iterator[Path]:
    """Create dest (which must not exist, or be empty) and remove it — with any parent folder
    made for it — if the block raises: a rejected upload leaves nothing behind."""
    dest = Path(dest)
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise ValueError(f"staging folder {dest} must be new or empty")
        made = []
    else:
        made = [p for p in (dest, *dest.parents) if not p.exists()]
        dest.mkdir(parents=True)
    try:
        yield dest
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        for parent in made[1:]:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only if still empty: someone else may have used it meanwhile
        raise


def write_layout(*, kind: str, root: Path, items: list[StagedItem], columns: list[str]) -> None:
    if kind == "tabular":
        with open(root / TABLE_FILE, "w", encoding="utf-8", newline="") as fh:
            fh.write(csv_line([ITEM_COLUMN, *columns, LABEL_COLUMN]))
            for item in items:
                row = item.row or {}
                fh.write(csv_line([item.key, *(row.get(c) or "" for c in columns), item.label or ""]))
    elif kind == "text":
        with open(root / TEXTS_FILE, "w", encoding="utf-8", newline="") as fh:
            for item in items:
                record = {ITEM_COLUMN: item.key, "text": item.text, LABEL_COLUMN: item.label}
                # Only items with a span annotation have the field: versions written before spans
                # existed keep their exact bytes (and DVC hashes) when written again.
                if item.spans is not None:
                    record[SPANS_FIELD] = item.spans
                fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    elif kind == "image":
        with open(root / LABELS_FILE, "w", encoding="utf-8", newline="") as fh:
            fh.write(csv_line([ITEM_COLUMN, "file", LABEL_COLUMN]))
            for item in items:
                fh.write(csv_line([item.key, item.file_path, item.label or ""]))
    else:
        raise ValueError(f"unknown dataset kind {kind!r}")


# --- reading a materialised version back ------------------------------------------------------


def read_staged(
    *, kind: str, root: Path, known_files: dict[str, tuple[str, int]] | None = None
) -> StagedVersion:
    """The items of a normalised folder (the inverse of write_layout). Raises ValueError when the
    folder is not in the normalised layout. `known_files` (relative path → sha256, size) spares
    hashing image files whose hashes the caller already has."""
    root = Path(root)
    if kind == "tabular":
        items, columns = _read_table(root)
        return StagedVersion(kind, root, items, columns)
    if kind == "text":
        return StagedVersion(kind, root, _read_texts(root), [])
    if kind == "image":
        return StagedVersion(kind, root, _read_images(root, known_files or {}), [])
    raise ValueError(f"unknown dataset kind {kind!r}")


def _read_table(root: Path) -> tuple[list[StagedItem], list[str]]:
    with open(root / TABLE_FILE, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        header = next(reader, None)
        if not header or header[0] != ITEM_COLUMN or header[-1] != LABEL_COLUMN or len(header) < 3:
            raise ValueError(f"{root / TABLE_FILE} does not start with the normalised header")
        columns = header[1:-1]
        items = []
        for values in reader:
            if len(values) != len(header):
                raise ValueError(f"{root / TABLE_FILE} line {reader.line_num} has {len(values)} fields")
            row = {c: (v if v != "" else None) for c, v in zip(columns, values[1:-1], strict=True)}
            data = row_bytes(row)
            items.append(
                StagedItem(
                    key=values[0],
                    label=values[-1] or None,
                    content_hash=sha256_hex(data),
                    size_bytes=len(data),
                    row=row,
                )
            )
    return items, columns


def _read_texts(root: Path) -> list[StagedItem]:
    items = []
    with open(root / TEXTS_FILE, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            record = json.loads(raw)
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(f"{root / TEXTS_FILE} line {number} is not a normalised text record")
            text = record["text"]
            spans = record.get(SPANS_FIELD)
            if spans is not None and not isinstance(spans, list):
                raise ValueError(f"{root / TEXTS_FILE} line {number} has spans that are not a list")
            data = text.encode("utf-8")
            items.append(
                StagedItem(
                    key=record[ITEM_COLUMN],
                    label=record.get(LABEL_COLUMN) or None,
                    content_hash=sha256_hex(data),
                    size_bytes=len(data),
                    text=text,
                    spans=spans,
                )
            )
    return items


def _read_images(root: Path, known: dict[str, tuple[str, int]]) -> list[StagedItem]:
    items = []
    with open(root / LABELS_FILE, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        if next(reader, None) != [ITEM_COLUMN, "file", LABEL_COLUMN]:
            raise ValueError(f"{root / LABELS_FILE} does not start with the normalised header")
        for values in reader:
            if len(values) != 3 or not _STORED_IMAGE.match(values[1]):
                raise ValueError(f"{root / LABELS_FILE} line {reader.line_num} is not a normalised image row")
            key, file_path, label = values
            digest, size = known[file_path] if file_path in known else _hash_file(root / file_path)
            items.append(
                StagedItem(
                    key=key, label=label or None, content_hash=digest, size_bytes=size, file_path=file_path
                )
            )
    return items


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- writing a version from an item list --------------------------------------------------------


def stage_items(
    *,
    kind: str,
    items: list[StagedItem],
    source_root: Path | Iterable[Path] | None,
    dest: Path,
    columns: list[str],
) -> StagedVersion:
    """Write a normalised folder from items (an older version's, with items added, removed or
    relabelled). Image files are copied from <source_root>/<file_path>; source_root may be a list
    of folders searched in order (the older version's and a new upload's). Hashes and sizes are
    recomputed; an image whose bytes no longer match its content_hash is refused."""
    if kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}")
    if source_root is None:
        roots: list[Path] = []
    elif isinstance(source_root, (str, os.PathLike)):
        roots = [Path(source_root)]
    else:
        roots = [Path(r) for r in source_root]
    with staging_folder(dest) as root:
        columns = _check_columns(columns) if kind == "tabular" else []
        staged = _checked_items(kind, items, columns)
        if kind == "image":
            (root / IMAGES_DIR).mkdir()
            staged = [_copy_image(item, roots, root) for item in staged]
        write_layout(kind=kind, root=root, items=staged, columns=columns)
        return StagedVersion(kind, root, staged, list(columns))


def _check_columns(columns: list[str]) -> list[str]:
    if not columns:
        raise UploadRejected("a tabular version needs at least one feature column")
    if len(set(columns)) != len(columns):
        raise UploadRejected("a column name appears twice")
    for column in columns:
        if not isinstance(column, str) or column == "" or column in (ITEM_COLUMN, LABEL_COLUMN):
            raise UploadRejected(f'"{column}" can not be the name of a feature column')
    return list(columns)


def _value(value: object, key: str, column: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise UploadRejected(f'item "{key}": "{column}" holds a nested value; values must be flat')
    text = value if isinstance(value, str) else json_scalar_text(value)
    return text or None


def _checked_items(kind: str, items: list[StagedItem], columns: list[str]) -> list[StagedItem]:
    seen: set[str] = set()
    checked = []
    known = set(columns)
    for item in items:
        try:
            checked.append(_checked_item(kind, item, columns, known, seen))
        except UnicodeEncodeError:
            raise UploadRejected(f'item "{item.key}" holds text that is not valid Unicode') from None
    return checked


def _checked_item(
    kind: str, item: StagedItem, columns: list[str], known: set[str], seen: set[str]
) -> StagedItem:
    key = item.key
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise UploadRejected(f'"{key}" is not a valid item key')
    if key in seen:
        raise UploadRejected(f'item key "{key}" appears twice')
    seen.add(key)
    label = normalise_label(item.label, where=f'item "{key}"')
    if label is not None:
        label.encode("utf-8")  # a lone surrogate can't be stored
    if kind != "text" and item.spans is not None:
        raise UploadRejected(f'item "{key}" has spans; only text items can')
    if kind == "tabular":
        extra = sorted(set(item.row or {}) - known)
        if extra:
            raise UploadRejected(f'item "{key}" has values for unknown columns: {", ".join(extra)}')
        row = {c: _value((item.row or {}).get(c), key, c) for c in columns}
        data = row_bytes(row)
        return replace(
            item,
            label=label,
            row=row,
            content_hash=sha256_hex(data),
            size_bytes=len(data),
            text="",
            file_path="",
        )
    if kind == "text":
        if not isinstance(item.text, str):
            raise UploadRejected(f'item "{key}" has no text')
        spans = normalise_spans(item.spans, text=item.text, where=f'item "{key}"')
        data = item.text.encode("utf-8")
        return replace(
            item, label=label, spans=spans, content_hash=sha256_hex(data), size_bytes=len(data), row=None,
            file_path="",
        )
    return replace(item, label=label, text="", row=None)


def _copy_image(item: StagedItem, roots: list[Path], dest: Path) -> StagedItem:
    relative = item.file_path
    parts = relative.split("/")
    suffix = Path(relative).suffix.lower()
    if (
        not relative
        or relative.startswith("/")
        or "\\" in relative
        or ".." in parts
        or suffix not in IMAGE_SUFFIXES
    ):
        raise UploadRejected(f'item "{item.key}" has an unusable file path "{relative}"')
    source = next((r / relative for r in roots if _is_regular_file(r / relative)), None)
    if source is None:
        raise UploadRejected(f'the file of item "{item.key}" ({relative}) was not found')
    target = image_relpath(item.key, suffix)
    (dest / target).parent.mkdir(exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(dest / target, "xb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    content_hash = digest.hexdigest()
    if item.content_hash and item.content_hash != content_hash:
        raise UploadRejected(f'the file of item "{item.key}" ({relative}) does not match its content hash')
    return replace(item, content_hash=content_hash, size_bytes=size, file_path=target)


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def assign_new_keys(*, kind: str, items: list[StagedItem], taken: Iterable[str]) -> list[StagedItem]:
    """Copies of items (e.g. from a new upload being added to an older version) with keys that
    don't collide with `taken`: rows and texts continue after the highest number taken, images
    keep img-<hash> with -2, -3… for an exact duplicate of an image already present."""
    used = set(taken)
    result = []
    if kind == "image":
        for item in items:
            key = image_key(item.content_hash, used)
            used.add(key)
            result.append(replace(item, key=key))
        return result
    prefix, make = ("r", row_key) if kind == "tabular" else ("t", text_key)
    numbers = [int(k[1:]) for k in used if k.startswith(prefix) and k[1:].isdigit()]
    start = max(numbers, default=0)
    for offset, item in enumerate(items, start=1):
        result.append(replace(item, key=make(start + offset)))
    return result
