"""Profile of a normalised text version: root/texts.jsonl, one {"_item", "text", "label"} per line."""

from __future__ import annotations

import functools
import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .categories import factorize_strings
from .duplicates import duplicate_report, unique_ids
from .labels import label_profile
from .numeric import numeric_summary
from .progress import Progress

SCRIPT_SAMPLE = 1000
SCRIPT_CHARS = 300


def profile_text(root: Path, exclude_keys: frozenset[str], progress: Progress) -> dict:
    path = root / "texts.jsonl"
    total_bytes = max(1, path.stat().st_size)
    keys: list[str] = []
    texts: list[str | None] = []
    labels: list[str | None] = []
    excluded = bad_lines = non_strings = 0
    done = 0
    progress(2, "Reading texts.jsonl")
    with path.open("rb") as fh:
        for raw in fh:
            done += len(raw)
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8", errors="replace"))
            except ValueError:
                record = None
            if not isinstance(record, dict):
                # Not even its key can be read: only the count is reported.
                bad_lines += 1
                continue
            key = "" if record.get("_item") is None else str(record["_item"])
            if key in exclude_keys:
                excluded += 1
                continue
            text = record.get("text")
            if text is not None and not isinstance(text, str):
                non_strings += 1
                text = None
            elif text is not None and not text.strip():
                text = None
            label = record.get("label")
            keys.append(key)
            texts.append(text)
            labels.append(None if label is None else str(label))
            if len(keys) % 20000 == 0:
                progress.step(2 + 58 * done / total_bytes, f"Read {len(keys)} texts")

    n = len(keys)
    progress(60, f"Measuring {n} texts")
    present = np.array([t is not None for t in texts], dtype=bool)
    written = [t for t in texts if t is not None]
    chars = np.fromiter((len(t) for t in written), dtype=np.float64, count=len(written))
    words = np.fromiter((len(t.split()) for t in written), dtype=np.float64, count=len(written))

    progress(70, "Looking for duplicate texts")
    exact = _ids(texts)
    near = _ids([_normalise(t) if t is not None else None for t in texts])
    label_codes, label_names = factorize_strings(np.array(labels, dtype=object))
    duplicates = duplicate_report(np.array(keys, dtype=object), exact, near, label_codes, label_names)

    progress(90, "Guessing scripts")
    missing = int(n - present.sum())
    return {
        "item_count": n,
        "excluded_items": excluded,
        **label_profile(label_codes, label_names),
        "unparsable_lines": bad_lines,
        "missing": {"text": missing - non_strings} if missing - non_strings else {},
        "unparsable": {"text": non_strings} if non_strings else {},
        "text": {
            "chars": numeric_summary(chars),
            "words": numeric_summary(words),
            "scripts": _scripts(written),
        },
        "duplicates": {"exact": duplicates["exact"], "near": duplicates["near"]},
        "conflicting_labels": duplicates["conflicting_labels"],
    }


def _ids(values: list[str | None]) -> np.ndarray:
    """One id per distinct value; missing or blank values get ids of their own."""
    codes = np.asarray(pd.factorize(np.array(values, dtype=object))[0], dtype=np.int64)
    blank = codes < 0
    codes[blank] = unique_ids(int(blank.sum()), int(codes.max(initial=-1)) + 1)
    return codes


@functools.cache
def _punctuation_table() -> dict[int, None]:
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("P")}


def _normalise(text: str) -> str | None:
    """Lower case, no punctuation, single spaces: the text that near duplicates share."""
    folded = " ".join(text.casefold().translate(_punctuation_table()).split())
    return folded or None


@functools.lru_cache(maxsize=4096)
def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    if name.startswith(("CJK", "IDEOGRAPHIC")):
        return "Han"
    return name.split(" ", 1)[0].title() if name else "Unknown"


def _scripts(texts: list[str]) -> dict[str, float]:
    """Share of letters per script over a sample of the texts: a hint at the languages."""
    if not texts:
        return {}
    step = max(1, len(texts) // SCRIPT_SAMPLE)
    counter: Counter[str] = Counter()
    for text in texts[::step][:SCRIPT_SAMPLE]:
        counter.update(_script(ch) for ch in text[:SCRIPT_CHARS] if ch.isalpha())
    total = sum(counter.values())
    return {script: round(count / total, 4) for script, count in counter.most_common(8)} if total else {}
