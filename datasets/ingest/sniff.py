"""What a file really is, judged by its bytes rather than its name.

Binary formats are recognised by their signatures (the `filetype` package). Text is recognised
first, because several signatures are printable ASCII ("BM" is a BMP, "MZ" an executable) and a
CSV whose header starts with "BMI," must stay a CSV.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import filetype

from datasets.ingest.records import UploadRejected

HEAD_BYTES = 8192
CHUNK = 1024 * 1024

TEXT = "text"
UNKNOWN = "unknown"
UTF16 = "utf16"

IMAGE_TYPES = {"png", "jpg", "gif", "webp", "bmp", "tif"}
TEXT_CLAIMS = {"csv", "tsv", "jsonl", "json", "txt"}

_DESCRIPTIONS = {
    TEXT: "text",
    UNKNOWN: "binary data of an unrecognised format",
    UTF16: "UTF-16 text",
    "zip": "a ZIP archive",
    "png": "a PNG image",
    "jpg": "a JPEG image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "bmp": "a BMP image",
    "tif": "a TIFF image",
    "pdf": "a PDF document",
    "gz": "a gzip archive",
    "bz2": "a bzip2 archive",
    "xz": "an xz archive",
    "7z": "a 7-Zip archive",
    "rar": "a RAR archive",
    "tar": "a tar archive",
    "xlsx": "an Excel workbook",
    "xls": "an Excel workbook",
    "docx": "a Word document",
    "doc": "a Word document",
    "pptx": "a PowerPoint presentation",
    "exe": "a Windows executable",
    "elf": "a Linux executable",
    "sqlite": "an SQLite database",
}

# What a file name claims: extension → (type code, description used in messages).
_CLAIMS = {
    ".csv": ("csv", "a CSV file"),
    ".tsv": ("tsv", "a TSV file"),
    ".jsonl": ("jsonl", "a JSON Lines file"),
    ".ndjson": ("jsonl", "a JSON Lines file"),
    ".json": ("json", "a JSON file"),
    ".txt": ("txt", "a text file"),
    ".zip": ("zip", "a ZIP archive"),
    ".png": ("png", "a PNG image"),
    ".jpg": ("jpg", "a JPEG image"),
    ".jpeg": ("jpg", "a JPEG image"),
    ".gif": ("gif", "a GIF image"),
    ".webp": ("webp", "a WebP image"),
    ".bmp": ("bmp", "a BMP image"),
    ".tif": ("tif", "a TIFF image"),
    ".tiff": ("tif", "a TIFF image"),
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def display_name(original_name: str) -> str:
    """The name shown in messages: the last path part only (browsers may send C:\\fakepath\\…),
    without control characters, not absurdly long."""
    name = re.split(r"[/\\]", original_name or "")[-1]
    name = _CONTROL.sub("", name).strip() or "the upload"
    return name if len(name) <= 120 else name[:117] + "…"


def describe(code: str) -> str:
    return _DESCRIPTIONS.get(code, f"{code.upper()} data")


def claimed(name: str) -> tuple[str, str] | None:
    """(type code, description) the file name's extension claims, or None for no known claim."""
    return _CLAIMS.get(os.path.splitext(name)[1].lower())


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def looks_like_text(head: bytes) -> bool:
    if not head:
        return True
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end in the middle of a character; anything earlier is a real error.
        if exc.reason != "unexpected end of data" or exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return not _CONTROL.search(text)


def detect(head: bytes) -> str:
    """A type code for these leading bytes: TEXT, an image or archive code (png, zip, …),
    UTF16, or UNKNOWN."""
    if looks_like_text(head):
        return TEXT
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    kind = filetype.guess(head)
    if kind is None:
        return UNKNOWN
    return kind.extension


def check_claim(name: str, content: str) -> None:
    """Reject a file whose content disagrees with the type its extension claims."""
    claim = claimed(name)
    if claim is None:
        return
    code, description = claim
    if code in TEXT_CLAIMS:
        # UNKNOWN and UTF16 content is left to the UTF-8 check, whose message is more precise.
        agrees = content in (TEXT, UNKNOWN, UTF16)
    else:
        agrees = content == code
    if not agrees:
        raise UploadRejected(f"{name} is not {description}: its content is {describe(content)}")


def check_utf8(path: Path, name: str) -> None:
    """Stream the whole file through a strict UTF-8 decoder; report the first bad byte's position."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if offset == 0 and chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise UploadRejected(f"{name} is UTF-16 text; save it as UTF-8 (in Excel: “CSV UTF-8”)")
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                position = offset - len(pending) + exc.start
                byte = exc.object[exc.start]
                raise UploadRejected(
                    f"{name} is not valid UTF-8 (byte 0x{byte:02x} at position {position})"
                ) from None
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise UploadRejected(
                    f"{name} contains a NUL byte at position {offset + nul}: it is binary data, not text"
                )
            if not chunk:
                return
            offset += len(chunk)
