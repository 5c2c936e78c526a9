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


def json_scalar_text(value: object) -> str:
    """A JSON scalar as the text a CSV cell would hold (so a JSONL row and a CSV row agree)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
