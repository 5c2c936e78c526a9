"""String values (labels, categorical columns) as integer codes, and how often each occurs."""

from __future__ import annotations

import numpy as np
import pandas as pd


def factorize_strings(values) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of string-like values, equal after stripping whitespace; missing and
    blank values get -1. Works on the distinct values only: one hash pass over the column."""
    raw_codes, raw_uniques = pd.factorize(values, use_na_sentinel=True)
    raw_codes = np.asarray(raw_codes, dtype=np.int64)
    if len(raw_uniques) == 0:
        return raw_codes, np.array([], dtype=object)
    stripped = np.array([str(u).strip() for u in raw_uniques], dtype=object)
    merged_codes, merged = pd.factorize(stripped)
    merged = np.asarray(merged, dtype=object)
    keep = merged != ""
    renumber = np.full(len(merged), -1, dtype=np.int64)
    renumber[keep] = np.arange(int(keep.sum()))
    per_raw = renumber[merged_codes]
    codes = np.full(len(raw_codes), -1, dtype=np.int64)
    present = raw_codes >= 0
    codes[present] = per_raw[raw_codes[present]]
    return codes, merged[keep]


def code_counts(codes: np.ndarray, n_uniques: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=n_uniques)
