"""Profile of a normalised image version: root/images/<file> and root/labels.csv (_item, file, label)."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from datasets.ingest.records import IMAGES_DIR

from .categories import factorize_strings
from .duplicates import duplicate_report, unique_ids
from .labels import label_profile
from .numeric import numeric_summary
from .progress import Progress

# A profile is stored as JSON on the version: lists that grow with the data are capped, with the
# full count kept beside them.
MAX_NAMED_FILES = 100

# Perceptual hashes (64 bits) this many bits apart or fewer are near duplicates.
NEAR_DISTANCE = 4
MAX_SIZES = 100


def profile_images(root: Path, exclude_keys: frozenset[str], progress: Progress) -> dict:
    progress(2, "Reading labels.csv")
    table = pd.read_csv(
        root / "labels.csv", dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace"
    )
    for column in ("_item", "file"):
        if column not in table.columns:
            raise ValueError(f"labels.csv has no {column} column")
    excluded = 0
    if exclude_keys:
        sealed = table["_item"].isin(list(exclude_keys)).to_numpy()
        excluded = int(sealed.sum())
        table = table.loc[~sealed].reset_index(drop=True)
    n = len(table)
    keys = table["_item"].to_numpy(dtype=object)
    files = table["file"].to_numpy(dtype=object)
    label_codes, label_names = factorize_strings(
        table["label"] if "label" in table.columns else pd.Series([""] * n, dtype=object)
    )

    base = root.resolve()
    folder = base / IMAGES_DIR
    digests: list[str | None] = [None] * n
    phashes = np.zeros(n, dtype=np.uint64)
    readable = np.zeros(n, dtype=bool)
    corrupt: list[dict] = []
    sizes: Counter[tuple[int, int]] = Counter()
    modes: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    widths, heights, file_bytes = [], [], []
    for i, name in enumerate(files):
        progress.step(5 + 80 * i / max(1, n), f"Reading image {i + 1} of {n}")
        data, problem = _read(base, folder, name)
        if data is None:
            corrupt.append({"file": name, "item": str(keys[i]), "reason": problem})
            continue
        digests[i] = hashlib.blake2b(data, digest_size=16).hexdigest()
        file_bytes.append(len(data))
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                phashes[i] = _as_int(imagehash.phash(image))
                width, height = image.size
                mode, fmt = image.mode, image.format or "unknown"
        except Exception as exc:  # whatever Pillow raises, the file is not a usable image
            corrupt.append({"file": name, "item": str(keys[i]), "reason": _reason(exc)})
            continue
        readable[i] = True
        sizes[(width, height)] += 1
        modes[mode] += 1
        formats[fmt] += 1
        widths.append(width)
        heights.append(height)

    blank = sum(1 for f in files if not str(f).strip())
    progress(88, "Looking for duplicate images")
    exact = np.asarray(pd.factorize(np.array(digests, dtype=object))[0], dtype=np.int64)
    unread = exact < 0
    exact[unread] = unique_ids(int(unread.sum()), int(exact.max(initial=-1)) + 1)
    # Identical bytes give identical hashes, so near groups contain the exact ones; files that
    # are not images are compared by their bytes alone.
    near = exact + n
    near[readable] = _near_groups(phashes[readable], NEAR_DISTANCE)
    duplicates = duplicate_report(keys, exact, near, label_codes, label_names)

    return {
        "item_count": n,
        "excluded_items": excluded,
        **label_profile(label_codes, label_names),
        "missing": {"file": blank} if blank else {},
        "unparsable": {},
        "corrupt_files": {"count": len(corrupt), "files": corrupt[:MAX_NAMED_FILES]},
        "images": {
            "readable": int(readable.sum()),
            "sizes": [{"width": w, "height": h, "count": c} for (w, h), c in sizes.most_common(MAX_SIZES)],
            "distinct_sizes": len(sizes),
            "width": numeric_summary(np.array(widths, dtype=np.float64)),
            "height": numeric_summary(np.array(heights, dtype=np.float64)),
            "bytes": numeric_summary(np.array(file_bytes, dtype=np.float64)),
            "modes": dict(modes.most_common()),
            "formats": dict(formats.most_common()),
        },
        "duplicates": {"exact": duplicates["exact"], "near": duplicates["near"]},
        "conflicting_labels": duplicates["conflicting_labels"],
    }


def _read(base: Path, folder: Path, name: str) -> tuple[bytes | None, str]:
    """The bytes of the file labels.csv names (relative to the version's folder, as the layout
    writes it: images/<shard>/<key><ext>), which must lie inside images/."""
    if not str(name).strip():
        return None, "no file named"
    path = (base / name).resolve()
    if not path.is_relative_to(folder):
        return None, "outside the images folder"
    try:
        return path.read_bytes(), ""
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, _reason(exc)


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _as_int(image_hash: imagehash.ImageHash) -> np.uint64:
    return np.packbits(image_hash.hash.flatten()).view(">u8")[0].astype(np.uint64)


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def _near_groups(hashes: np.ndarray, distance: int) -> np.ndarray:
    """Group ids joining hashes at most `distance` bits apart (transitively).

    Split into distance+1 bands, two hashes that close agree on at least one whole band
    (pigeonhole), so only hashes sharing a band are compared, not all pairs."""
    if hashes.size == 0:
        return np.zeros(0, dtype=np.int64)
    distinct, inverse = np.unique(hashes, return_inverse=True)
    parent = np.arange(distinct.size)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    bands = distance + 1
    width = -(-64 // bands)
    for band in range(bands):
        shift = band * width
        bits = min(width, 64 - shift)
        values = (distinct >> np.uint64(shift)) & np.uint64((1 << bits) - 1)
        order = np.argsort(values, kind="stable")
        starts = np.flatnonzero(np.r_[True, values[order][1:] != values[order][:-1], True])
        for start, stop in zip(starts[:-1], starts[1:], strict=True):
            members = order[start:stop]
            for j, a in enumerate(members[:-1]):
                rest = members[j + 1 :]
                for b in rest[_popcount(distinct[rest] ^ distinct[a]) <= distance]:
                    ra, rb = find(int(a)), find(int(b))
                    if ra != rb:
                        parent[rb] = ra
    roots = np.array([find(i) for i in range(distinct.size)], dtype=np.int64)
    return roots[inverse]
