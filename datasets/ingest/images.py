"""Image archives: every member is read through the safe archive, checked to be the image its
bytes (and name) say it is, fully decoded by Pillow, and stored under a content-derived name."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image

from datasets.ingest.archive import Member, SafeArchive
from datasets.ingest.limits import Limits
from datasets.ingest.records import StagedItem, UploadRejected, image_key, normalise_label, sha256_hex
from datasets.ingest.sniff import HEAD_BYTES, IMAGE_TYPES, claimed, describe, detect, read_head
from datasets.ingest.tables import read_label_file

PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tif": "TIFF"}
EXTENSIONS = {"png": ".png", "jpg": ".jpg", "gif": ".gif", "webp": ".webp", "bmp": ".bmp", "tif": ".tif"}
LABELS_FILE = "labels.csv"
MAX_LISTED = 10
IN_MEMORY_BYTES = 16 * 1024 * 1024
# Operating-system litter that archivers add; never data.
_JUNK_NAMES = {"thumbs.db", "desktop.ini"}


def image_problem(source: bytes | Path, member_name: str, max_pixels: int) -> tuple[str | None, str]:
    """(what is wrong with the image — its bytes, or a file holding them — or None, its type code)."""
    head = source[:HEAD_BYTES] if isinstance(source, bytes) else read_head(source)
    if not head:
        return "empty file", ""
    content = detect(head)
    if content == "apng":
        content = "png"  # an animated PNG is a PNG
    if content not in IMAGE_TYPES:
        return f"not an image: its content is {describe(content)}", content
    claim = claimed(member_name)
    if claim is not None and claim[0] != content:
        return f"its content is {describe(content)}, not {claim[1]}", content

    def opened() -> Image.Image:
        fp = io.BytesIO(source) if isinstance(source, bytes) else source
        return Image.open(fp, formats=[PIL_FORMATS[content]])

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with opened() as im:
                width, height = im.size
                if width * height > max_pixels:
                    return f"too large: {width}×{height} pixels, at most {max_pixels} are allowed", content
                im.verify()
            with opened() as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too many pixels (a decompression bomb)", content
    except MemoryError:
        raise
    except Exception as exc:  # Pillow reports broken files with many exception types
        message = str(exc) or type(exc).__name__
        if "truncat" in message.lower() or isinstance(exc, EOFError):
            return "truncated", content
        return f"corrupt: {message[:120]}", content
    return None, content


def _is_junk(path: str) -> bool:
    parts = path.split("/")
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts) or parts[-1].lower() in _JUNK_NAMES


def _find_label_file(members: list[Member]) -> tuple[Member | None, str]:
    """labels.csv at the archive's root, or inside the one folder that holds everything; with
    the folder its file names are relative to."""
    for m in members:
        if m.path.lower() == LABELS_FILE:
            return m, ""
    tops = {m.path.split("/", 1)[0] for m in members}
    if len(tops) == 1 and all("/" in m.path for m in members):
        top = tops.pop()
        for m in members:
            if m.path.lower() == f"{top}/{LABELS_FILE}".lower():
                return m, f"{top}/"
    return None, ""


def _listing(entries: list[str]) -> str:
    shown = ", ".join(entries[:MAX_LISTED])
    return shown + (f", and {len(entries) - MAX_LISTED} more" if len(entries) > MAX_LISTED else "")


def stage_image_zip(
    *, path: Path, name: str, dest: Path, limits: Limits, label_column: str
) -> list[StagedItem]:
    incoming = dest / ".incoming"
    incoming.mkdir()
    (dest / "images").mkdir()
    with SafeArchive(path, name, limits) as archive:
        members = [m for m in archive.members if not _is_junk(m.path)]
        label_member, base = _find_label_file(members)
        images = sorted((m for m in members if m is not label_member), key=lambda m: m.path)
        if not images:
            raise UploadRejected(f"{name} contains no images")
        if len(images) > limits.max_rows:
            raise UploadRejected(f"{name} has {len(images)} images; at most {limits.max_rows} are allowed")

        listed: dict[str, str | None] | None = None
        if label_member is not None:
            label_path = incoming / LABELS_FILE
            archive.copy(label_member, label_path)
            listed = _labels_by_path(label_path, f"{name}: {label_member.path}", base, label_column, limits)
            label_path.unlink()

        items: list[StagedItem] = []
        problems: list[str] = []
        taken: set[str] = set()
        for index, member in enumerate(images):
            scratch = incoming / f"{index:07d}"
            if member.info.file_size <= IN_MEMORY_BYTES:
                # Small files (nearly all images) are checked in memory: one file write each.
                data: bytes | None = archive.read(member)
                digest, size = sha256_hex(data), len(data)
                problem, content = image_problem(data, member.path, limits.image_max_pixels)
            else:
                data = None
                digest, size = archive.copy(member, scratch)
                problem, content = image_problem(scratch, member.path, limits.image_max_pixels)
            if problem or problems:
                # Once the upload is known to fail, later files are only checked, so that the
                # message can name every bad one.
                scratch.unlink(missing_ok=True)
                if problem:
                    problems.append(f"{member.path} ({problem})")
                continue
            key = image_key(digest, taken)
            taken.add(key)
            relative = f"images/{key}{EXTENSIONS[content]}"
            if data is None:
                os.replace(scratch, dest / relative)
            else:
                with open(dest / relative, "xb") as out:
                    out.write(data)
            if listed is not None:
                label = listed.pop(member.path, None)
            else:
                folder = member.path.rsplit("/", 2)[-2] if "/" in member.path else None
                label = normalise_label(folder, where=f'{name}: folder "{folder}"')
            items.append(
                StagedItem(
                    key=key,
                    label=label,
                    content_hash=digest,
                    size_bytes=size,
                    file_path=relative,
                    original_name=member.path,
                )
            )
    if problems:
        noun = "file is not a valid image" if len(problems) == 1 else "files are not valid images"
        raise UploadRejected(f"{len(problems)} {noun}: {_listing(problems)}")
    if listed:
        missing = sorted(listed)
        what = "file that is not an image" if len(missing) == 1 else "files that are not images"
        raise UploadRejected(
            f"{label_member.path} lists {len(missing)} {what} in {name}: {_listing(missing)}"
        )
    incoming.rmdir()
    return items


def _labels_by_path(
    path: Path, name: str, base: str, label_column: str, limits: Limits
) -> dict[str, str | None]:
    labels: dict[str, str | None] = {}
    for where, file, label in read_label_file(path, name, label_column, limits):
        full = base + "/".join(p for p in file.split("/") if p not in ("", "."))
        if full in labels:
            raise UploadRejected(f'{name} {where}: "{file}" is listed twice')
        labels[full] = label
    return labels
