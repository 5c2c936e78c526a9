"""What staging produces: the items of a version and the folder that holds its files, plus the
one exception every rejection is reported with."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("tabular", "text", "image")
# Item.key and Item.label are CharField(max_length=200).
MAX_KEY_CHARS = 200
MAX_LABEL_CHARS = 200
# Keys become file names for images, so they are restricted to a safe alphabet.
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class UploadRejected(Exception):
    """The upload (or item list) can't become a version. str(exc) is the user-facing message."""


@dataclass(slots=True)
class StagedItem:
    key: str
    label: str | None
    content_hash: str
    size_bytes: int
    text: str = ""
    row: dict | None = None
    file_path: str = ""
    original_name: str = ""
    # Text items: labelled spans of the text, [{"start", "end", "label"}] in Unicode code points,
    # sorted and non-overlapping (see normalise_spans). None: no span annotation; []: annotated,
    # and no span applies.
    spans: list[dict] | None = None


@dataclass(slots=True)
class StagedVersion:
    kind: str
    root: Path
    items: list[StagedItem]
    columns: list[str] = field(default_factory=list)

    @property
    def labelled_count(self) -> int:
        return sum(1 for item in self.items if item.label is not None)

    @property
    def size_bytes(self) -> int:
        """Bytes of the files in the staging folder (what DVC will store)."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def row_bytes(row: dict) -> bytes:
    """Canonical JSON of a row's feature values: what a tabular item's hash and size are taken from."""
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def row_key(number: int) -> str:
    return f"r{number:06d}"


def text_key(number: int) -> str:
    return f"t{number:06d}"


IMAGES_DIR = "images"


def image_relpath(key: str, suffix: str) -> str:
    """Where an image of a version goes: images/<shard>/<key><suffix>, the shard being the first
    two hex digits of the key's sha256. Creating 100,000 files in one folder took twice as long as
    spreading them over 256 (measured on ext4), so versions written since keep them apart;
    versions written before hold images/<key><suffix>, and both are read alike."""
    shard = hashlib.sha256(key.encode("utf-8")).hexdigest()[:2]
    return f"{IMAGES_DIR}/{shard}/{key}{suffix}"


def image_key(content_hash: str, taken: set[str] | None = None) -> str:
    """img-<sha256[:16]>; an exact duplicate of an image already taken gets -2, -3, …"""
    key = f"img-{content_hash[:16]}"
    if taken is None or key not in taken:
        return key
    n = 2
    while f"{key}-{n}" in taken:
        n += 1
    return f"{key}-{n}"


def normalise_label(value: object, *, where: str) -> str | None:
    """A label as stored: stripped text, or None when missing (empty cell, null)."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise UploadRejected(f"{where}: the label is a nested JSON value; labels must be text or numbers")
    text = json_scalar_text(value).strip()
    if text == "":
        return None
    if len(text) > MAX_LABEL_CHARS:
        raise UploadRejected(
            f"{where}: the label is {len(text)} characters long; at most {MAX_LABEL_CHARS} are allowed"
        )
    return text


def normalise_spans(value: object, *, text: str, where: str) -> list[dict] | None:
    """Spans as stored: [{"start", "end", "label"}] sorted by (start, end), offsets in Unicode code
    points of `text` (what Python indexes a str by), labels stripped; None when missing."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise UploadRejected(f'{where}: "spans" must be a list of {{"start", "end", "label"}} objects')
    spans = []
    for number, span in enumerate(value, start=1):
        spans.append(_span(span, text=text, where=f"{where}: span {number}"))
    spans.sort(key=lambda s: (s["start"], s["end"]))
    for a, b in zip(spans, spans[1:], strict=False):
        if b["start"] < a["end"]:
            raise UploadRejected(
                f"{where}: the spans {a['start']}–{a['end']} and {b['start']}–{b['end']} overlap"
            )
    return spans


def _span(span: object, *, text: str, where: str) -> dict:
    if not isinstance(span, dict) or set(span) != {"start", "end", "label"}:
        raise UploadRejected(f'{where} must be an object with exactly "start", "end" and "label"')
    start, end, label = span["start"], span["end"], span["label"]
    if type(start) is not int or type(end) is not int:
        raise UploadRejected(f"{where}: start and end must be whole numbers (Unicode code points)")
    if not 0 <= start < end <= len(text):
        raise UploadRejected(
            f"{where} ({start}–{end}) is not inside the text, which is {len(text)} code points long "
            "(a span needs 0 ≤ start < end ≤ length)"
        )
    if not isinstance(label, str) or not label.strip():
        raise UploadRejected(f"{where}: the label must be non-empty text")
    label = label.strip()
    if len(label) > MAX_LABEL_CHARS:
        raise UploadRejected(
            f"{where}: the label is {len(label)} characters long; at most {MAX_LABEL_CHARS} are allowed"
        )
    if "\x00" in label:
        raise UploadRejected(f"{where}: the label holds a NUL character")
    try:
        label.encode("utf-8")
    except UnicodeEncodeError:
        raise UploadRejected(f"{where}: the label is not valid Unicode (a lone surrogate)") from None
    return {"start": start, "end": end, "label": label}


def json_scalar_text(value: object) -> str:
    """A JSON scalar as the text a CSV cell would hold (so a JSONL row and a CSV row agree)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
