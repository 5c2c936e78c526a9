"""Image archives: every member is read through the safe archive, checked to be the image its
bytes (and name) say it is, fully decoded by Pillow, and stored under a content-derived name."""

from __future__ import annotations

import io
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from datasets.ingest.archive import Member, SafeArchive
from datasets.ingest.limits import Limits
from datasets.ingest.records import (
    StagedItem,
    UploadRejected,
    image_key,
    image_relpath,
    normalise_label,
    sha256_hex,
)
from datasets.ingest.sniff import HEAD_BYTES, IMAGE_TYPES, claimed, describe, detect, read_head
from datasets.ingest.tables import read_label_file

PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tif": "TIFF"}
EXTENSIONS = {"png": ".png", "jpg": ".jpg", "gif": ".gif", "webp": ".webp", "bmp": ".bmp", "tif": ".tif"}
LABELS_FILE = "labels.csv"
MAX_LISTED = 10
IN_MEMORY_BYTES = 16 * 1024 * 1024
# Uploads with at least this many images are decoded in worker processes (starting them costs
# about a tenth of a second; below this the decoding takes less than that).
PARALLEL_FROM = 2_000
MAX_DECODE_WORKERS = 4
DECODE_BATCH = 256
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
# Operating-system litter that archivers add; never data.
_JUNK_NAMES = {"thumbs.db", "desktop.ini"}


def image_problem(source: bytes | Path, member_name: str, max_pixels: int) -> tuple[str | None, str]:
    """(what is wrong with the image — its bytes, or a file holding them — or None, its type code)."""
    head = source[:HEAD_BYTES] if isinstance(source, bytes) else read_head(source)
    problem, content = type_problem(head, member_name)
    if problem:
        return problem, content
    return decode_problem(source, content, max_pixels), content


def type_problem(head: bytes, member_name: str) -> tuple[str | None, str]:
    """The cheap half of the check, from the first bytes: is it an image, of the type its name
    claims? Returns (problem or None, the content's type code)."""
    if not head:
        return "empty file", ""
    # The signatures of nearly every uploaded image, checked before the general detection, which
    # tries dozens of formats in turn: 100,000 images spent a second there.
    if head.startswith(_PNG_SIGNATURE):
        content = "png"  # an animated PNG is a PNG too
    elif head.startswith(_JPEG_SIGNATURE):
        content = "jpg"
    else:
        content = detect(head)
        if content == "apng":
            content = "png"
    if content not in IMAGE_TYPES:
        return f"not an image: its content is {describe(content)}", content
    claim = claimed(member_name)
    if claim is not None and claim[0] != content:
        return f"its content is {describe(content)}, not {claim[1]}", content
    return None, content


def decode_problem(source: bytes | Path, content: str, max_pixels: int) -> str | None:
    """The expensive half: Pillow verifies the file (chunk checksums) and decodes every pixel."""

    def opened() -> Image.Image:
        fp = io.BytesIO(source) if isinstance(source, bytes) else source
        return Image.open(fp, formats=[PIL_FORMATS[content]])

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with opened() as im:
                width, height = im.size
                if width * height > max_pixels:
                    return f"too large: {width}×{height} pixels, at most {max_pixels} are allowed"
                im.verify()
            with opened() as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too many pixels (a decompression bomb)"
    except MemoryError:
        raise
    except Exception as exc:  # Pillow reports broken files with many exception types
        message = str(exc) or type(exc).__name__
        if "truncat" in message.lower() or isinstance(exc, EOFError):
            return "truncated"
        return f"corrupt: {message[:120]}"
    return None


def _write_and_decode(data: bytes, content: str, path: str | None, max_pixels: int) -> str | None:
    # Written before the decode check: a bad image fails the whole upload, and a failed
    # upload's folder is removed. No path: only checked (the upload already fails).
    if path is not None:
        _write_new(path, data)
    return decode_problem(data, content, max_pixels)


def _write_and_decode_batch(
    batch: list[tuple[int, bytes, str, str | None]], max_pixels: int
) -> list[tuple[int, str]]:
    """Runs in a worker process: writes a batch of in-memory images to their files and returns
    the problems their decoding found."""
    found = []
    for index, data, content, path in batch:
        problem = _write_and_decode(data, content, path, max_pixels)
        if problem:
            found.append((index, problem))
    return found


class _ImageWriter:
    """Writes checked images to their files and decodes them, beside the loop that reads the
    archive. Large uploads are handled by worker processes (one per core): creating 100,000
    files and decoding every pixel is most of the work, and the loop that reads, hashes and
    names them then keeps pace on its own core; small uploads, and uploads handled inside a
    daemonic process (a Celery worker child may not start processes), are written in line."""

    def __init__(self, count: int, max_pixels: int):
        self.max_pixels = max_pixels
        self.problems: dict[int, str] = {}
        self.batch: list[tuple[int, bytes, str, str | None]] = []
        self.pending: list = []
        workers = min(os.cpu_count() or 1, MAX_DECODE_WORKERS)
        self.pool = None
        if count >= PARALLEL_FROM and workers > 1 and not multiprocessing.current_process().daemon:
            # fork, not spawn or forkserver: those re-import the caller's main module, which breaks
            # any script without a main guard. The children only decode bytes they are given: they
            # touch no inherited connection and leave with os._exit, so forking a web process
            # is safe here.
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def add(self, index: int, data: bytes, content: str, path: str | None) -> None:
        """Writes data to path (a new file; None: nowhere) and decodes it; now, or soon in a
        worker."""
        if self.pool is None:
            problem = _write_and_decode(data, content, path, self.max_pixels)
            if problem:
                self.problems[index] = problem
            return
        self.batch.append((index, data, content, path))
        if len(self.batch) >= DECODE_BATCH:
            self._send()

    def _send(self) -> None:
        self.pending.append(self.pool.submit(_write_and_decode_batch, self.batch, self.max_pixels))
        self.batch = []
        if len(self.pending) >= 4 * MAX_DECODE_WORKERS:
            # Bound what is in flight, so memory stays flat however large the upload.
            self._collect(self.pending.pop(0))

    def _collect(self, future) -> None:
        for index, problem in future.result():
            self.problems[index] = problem

    def finish(self) -> dict[int, str]:
        if self.pool is not None:
            try:
                if self.batch:
                    self._send()
                for future in self.pending:
                    self._collect(future)
            finally:
                self.pool.shutdown(cancel_futures=True)
        return self.problems

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _write_new(path: str, data: bytes) -> None:
    """Creates the file (it must not exist) holding data. Plain system calls: for 100,000 small
    images, Python's buffered file objects cost more than the writes."""
    fd = os.open(path, _NEW_FILE_FLAGS, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


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
        problems: dict[int, str] = {}
        taken: set[str] = set()
        shards: set[str] = set()
        dest_dir = os.fspath(dest)
        writer = _ImageWriter(len(images), limits.image_max_pixels)
        try:
            for index, member in enumerate(images):
                scratch = None
                if member.info.file_size <= IN_MEMORY_BYTES:
                    # Small files (nearly all images) are checked in memory: one file write each.
                    data: bytes | None = archive.read(member)
                    digest, size = sha256_hex(data), len(data)
                    problem, content = type_problem(data[:HEAD_BYTES], member.path)
                else:
                    data = None
                    scratch = incoming / f"{index:07d}"
                    digest, size = archive.copy(member, scratch)
                    problem, content = image_problem(scratch, member.path, limits.image_max_pixels)
                if problem or problems:
                    # Once the upload is known to fail, later files are only checked, so that the
                    # message can name every bad one.
                    if scratch is not None:
                        scratch.unlink(missing_ok=True)
                    if problem:
                        problems[index] = problem
                    elif data is not None:
                        writer.add(index, data, content, None)
                    continue
                key = image_key(digest, taken)
                taken.add(key)
                relative = image_relpath(key, EXTENSIONS[content])
                shard = relative.rsplit("/", 1)[0]
                if shard not in shards:
                    os.mkdir(os.path.join(dest_dir, shard))
                    shards.add(shard)
                if data is None:
                    os.replace(scratch, os.path.join(dest_dir, relative))
                else:
                    writer.add(index, data, content, os.path.join(dest_dir, relative))
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
            problems.update(writer.finish())
        finally:
            writer.close()
    problems_listed = [f"{images[i].path} ({problems[i]})" for i in sorted(problems)]
    if problems_listed:
        noun = "file is not a valid image" if len(problems_listed) == 1 else "files are not valid images"
        raise UploadRejected(f"{len(problems_listed)} {noun}: {_listing(problems_listed)}")
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
