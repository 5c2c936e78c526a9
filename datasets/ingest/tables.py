"""CSV, TSV, JSON Lines and JSON-array uploads turned into tabular or text items.

The file has already passed the size cap, the content check and a strict UTF-8 check; here it
must parse, every record must have the header's shape, and the columns asked for must exist.
Feature values are kept as the text a CSV cell would hold (None when empty), so a row reads back
from the stored table.csv exactly as it was staged and its hash never changes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

from datasets.ingest.limits import Limits
from datasets.ingest.records import (
    StagedItem,
    UploadRejected,
    json_scalar_text,
    normalise_label,
    normalise_spans,
    row_bytes,
    row_key,
    sha256_hex,
    text_key,
)
from datasets.ingest.sniff import check_utf8, claimed

RESERVED = ("_item", "label")
SPANS_COLUMN = "spans"
_DELIMITERS = (",", "\t", ";", "|")
_FIRST_LINE_BYTES = 1024 * 1024
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

Records = Iterator[tuple[str, dict[str, object]]]


def text_format(path: Path, name: str) -> str:
    """csv, tsv, jsonl or json: what the name claims, checked against the first line, or (with no
    claim) what the first line looks like."""
    claim = (claimed(name) or ("", ""))[0]
    with open(path, encoding="utf-8-sig", newline="") as fh:
        first = ""
        while not first.strip():
            first = fh.readline(_FIRST_LINE_BYTES)
            if not first:
                break
    first = first.strip()
    if claim == "jsonl":
        return "jsonl"
    if claim == "json":
        return "json" if first.startswith("[") else "jsonl"
    starts_object = first.startswith("{")
    if claim in ("csv", "tsv"):
        if starts_object and _is_json_object(first):
            raise UploadRejected(f"{name} is not a {claim.upper()} file: its content is JSON Lines")
        return claim
    if starts_object:
        return "jsonl"
    if first.startswith("["):
        return "json"
    return "csv"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def open_records(path: Path, name: str, fmt: str, limits: Limits) -> tuple[list[str], Records]:
    """(columns in order, iterator of (where, record)). `where` names the line for messages."""
    if fmt in ("csv", "tsv"):
        return _csv_records(path, name, "\t" if fmt == "tsv" else None, limits)
    if fmt == "jsonl":
        columns = _check_columns(name, _jsonl_columns(path, name, limits), limits)
        return columns, _jsonl_records(path, name)
    return _json_array_records(path, name, limits)


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_columns(name: str, columns: list[str], limits: Limits) -> list[str]:
    if len(columns) > limits.max_columns:
        raise UploadRejected(f"{name} has {len(columns)} columns; at most {limits.max_columns} are allowed")
    seen: set[str] = set()
    for index, column in enumerate(columns, start=1):
        if column == "":
            raise UploadRejected(f"{name}: column {index} has no name in the header row")
        if column in seen:
            raise UploadRejected(f'{name}: column "{column}" appears twice in the header row')
        seen.add(column)
    return columns


def _csv_rows(path: Path, name: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the non-blank rows; the file is open only while this runs."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        while True:
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise UploadRejected(
                    f"{name} line {reader.line_num} could not be read as CSV ({exc})"
                ) from None
            if row is None:
                return
            if any(cell.strip() for cell in row) or len(row) > 1:
                yield reader.line_num, row


def _csv_records(path: Path, name: str, delimiter: str | None, limits: Limits) -> tuple[list[str], Records]:
    if delimiter is None:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            delimiter = _sniff_delimiter(fh.readline(_FIRST_LINE_BYTES))
    rows = _csv_rows(path, name, delimiter)
    try:
        _, header = next(rows, (0, None))
    finally:
        rows.close()
    if header is None:
        raise UploadRejected(f"{name} is empty")
    columns = _check_columns(name, [c.strip() for c in header], limits)

    def records() -> Records:
        rows = _csv_rows(path, name, delimiter)
        with contextlib.closing(rows):
            next(rows)  # the header
            count = 0
            for line, row in rows:
                if len(row) != len(columns):
                    fields = "1 field" if len(row) == 1 else f"{len(row)} fields"
                    raise UploadRejected(f"{name} line {line} has {fields}; the header has {len(columns)}")
                count += 1
                if count > limits.max_rows:
                    raise UploadRejected(f"{name} has more than {limits.max_rows} rows (the limit)")
                yield f"line {line}", dict(zip(columns, row, strict=True))
        if count == 0:
            raise UploadRejected(f"{name} has a header row but no data rows")

    return columns, records()


def _jsonl_lines(path: Path, name: str) -> Iterator[tuple[int, dict]]:
    with open(path, "rb") as fh:
        # Split on "\n" only: U+2028 and friends are legal inside JSON strings.
        for number, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8")
            if number == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UploadRejected(
                    f"{name} line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            except RecursionError:
                raise UploadRejected(f"{name} line {number} is nested too deeply") from None
            _check_unicode(line, value, f"{name} line {number}")
            if not isinstance(value, dict):
                raise UploadRejected(f"{name} line {number} is not a JSON object")
            yield number, value


def _check_unicode(source: str, value: object, where: str) -> None:
    """JSON can spell a lone UTF-16 surrogate ("\\ud800"), which is no character at all and can't
    be stored as UTF-8. Only text that has such an escape is checked the slow way."""
    if _SURROGATE_ESCAPE.search(source):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UploadRejected(f"{where} holds an invalid Unicode escape (a lone surrogate)") from None


def _jsonl_columns(path: Path, name: str, limits: Limits) -> list[str]:
    columns: dict[str, None] = {}
    count = 0
    for _number, value in _jsonl_lines(path, name):
        count += 1
        if count > limits.max_rows:
            raise UploadRejected(f"{name} has more than {limits.max_rows} rows (the limit)")
        for key in value:
            if key not in columns:
                columns[key] = None
                if len(columns) > limits.max_columns:
                    raise UploadRejected(f"{name} has more than {limits.max_columns} columns (the limit)")
    if count == 0:
        raise UploadRejected(f"{name} is empty")
    return list(columns)


def _jsonl_records(path: Path, name: str) -> Records:
    for number, value in _jsonl_lines(path, name):
        yield f"line {number}", value


def _json_array_records(path: Path, name: str, limits: Limits) -> tuple[list[str], Records]:
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadRejected(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise UploadRejected(f"{name} is nested too deeply") from None
    _check_unicode(text, data, name)
    if not isinstance(data, list) or not all(isinstance(v, dict) for v in data):
        raise UploadRejected(f"{name} must hold a list of JSON objects (or one object per line)")
    if not data:
        raise UploadRejected(f"{name} is empty")
    if len(data) > limits.max_rows:
        raise UploadRejected(f"{name} has more than {limits.max_rows} rows (the limit)")
    columns: dict[str, None] = {}
    for value in data:
        columns.update(dict.fromkeys(value))
    checked = _check_columns(name, list(columns), limits)
    return checked, ((f"record {i}", value) for i, value in enumerate(data, start=1))


def find_column(columns: list[str], wanted: str) -> str | None:
    """The column called `wanted`: exact match, else the one case-insensitive match."""
    if wanted in columns:
        return wanted
    folded = [c for c in columns if c.casefold() == wanted.casefold()]
    return folded[0] if len(folded) == 1 else None


def _missing_column(name: str, what: str, wanted: str, columns: list[str]) -> UploadRejected:
    shown = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
    return UploadRejected(f'{name} has no "{wanted}" column for the {what} (its columns: {shown})')


def _cell(value: object, *, name: str, where: str, column: str) -> str | None:
    if type(value) is str:  # every CSV cell: the common case first
        return value or None
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise UploadRejected(f'{name} {where}: "{column}" holds a nested JSON value; values must be flat')
    text = value if isinstance(value, str) else json_scalar_text(value)
    return text if text != "" else None


def tabular_items(
    *, name: str, columns: list[str], records: Records, label_column: str, require_label: bool
) -> tuple[list[StagedItem], list[str]]:
    label_col = find_column(columns, label_column)
    if label_col is None and require_label:
        raise _missing_column(name, "labels", label_column, columns)
    features = [c for c in columns if c != label_col]
    for reserved in RESERVED:
        if reserved in features:
            raise UploadRejected(
                f'{name}: a feature column may not be called "{reserved}" (the stored table uses that name); '
                "rename it, or choose it as the label column"
            )
    if not features:
        raise UploadRejected(f"{name} has no feature columns besides the label")
    items: list[StagedItem] = []
    for where, record in records:
        label = normalise_label(record.get(label_col), where=f"{name} {where}") if label_col else None
        row = {c: _cell(record.get(c), name=name, where=where, column=c) for c in features}
        data = row_bytes(row)
        items.append(
            StagedItem(
                key=row_key(len(items) + 1),
                label=label,
                content_hash=sha256_hex(data),
                size_bytes=len(data),
                row=row,
            )
        )
    return items, features


def text_items(
    *,
    name: str,
    columns: list[str],
    records: Records,
    label_column: str,
    text_column: str,
    require_label: bool,
    with_spans: bool = False,
) -> list[StagedItem]:
    """`with_spans`: the records are JSON, whose "spans" field (if any) holds pre-annotated spans;
    a CSV cell can't hold a list, so a CSV's "spans" column is just another ignored column."""
    text_col = find_column(columns, text_column)
    if text_col is None:
        raise _missing_column(name, "texts", text_column, columns)
    label_col = find_column(columns, label_column)
    if label_col is None and require_label:
        raise _missing_column(name, "labels", label_column, columns)
    spans_col = find_column(columns, SPANS_COLUMN) if with_spans else None
    if spans_col in (text_col, label_col):
        spans_col = None
    items: list[StagedItem] = []
    for where, record in records:
        text = _cell(record.get(text_col), name=name, where=where, column=text_col) or ""
        label = normalise_label(record.get(label_col), where=f"{name} {where}") if label_col else None
        spans = normalise_spans(record.get(spans_col), text=text, where=f"{name} {where}") if spans_col else None
        data = text.encode("utf-8")
        items.append(
            StagedItem(
                key=text_key(len(items) + 1),
                label=label,
                content_hash=sha256_hex(data),
                size_bytes=len(data),
                text=text,
                spans=spans,
            )
        )
    return items


def read_label_file(
    path: Path, name: str, label_column: str, limits: Limits
) -> list[tuple[str, str, str | None]]:
    """The rows of an image archive's labels.csv: (where, file, label)."""
    check_utf8(path, name)
    columns, records = open_records(path, name, "csv", limits)
    file_col = next(
        (c for w in ("file", "filename", "path", "image") if (c := find_column(columns, w))), None
    )
    if file_col is None:
        raise _missing_column(name, "image file names", "file", columns)
    label_col = find_column(columns, label_column)
    if label_col is None:
        raise _missing_column(name, "labels", label_column, columns)
    rows = []
    for where, record in records:
        file = str(record.get(file_col) or "").strip().replace("\\", "/").removeprefix("./")
        if not file:
            raise UploadRejected(f"{name} {where} has no file name")
        rows.append((where, file, normalise_label(record.get(label_col), where=f"{name} {where}")))
    return rows
