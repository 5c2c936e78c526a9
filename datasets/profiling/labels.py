"""The label part of a profile: labelled and unlabelled counts, class balance, and the
statistics of labels that read as numbers (a regression target)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .categories import code_counts
from .numeric import numeric_summary

# A profile is stored as JSON on the version: lists that grow with the data are capped, with the
# full count kept beside them.
MAX_CLASSES = 200
# More distinct numeric labels than this reads as a regression target rather than classes.
NUMERIC_LABEL_CLASSES = 50


def label_profile(codes: np.ndarray, names: np.ndarray) -> dict:
    """Labelled/unlabelled counts and class balance. codes: -1 for unlabelled."""
    labelled = int(np.count_nonzero(codes >= 0))
    counts = code_counts(codes, len(names))
    order = np.argsort(-counts, kind="stable")
    result = {
        "labelled_count": labelled,
        "unlabelled_count": int(codes.size - labelled),
        "class_count": int(len(names)),
        "class_balance": {str(names[i]): int(counts[i]) for i in order[:MAX_CLASSES]},
        "class_balance_truncated": bool(len(names) > MAX_CLASSES),
        "label_kind": "categorical",
    }
    if len(names) > NUMERIC_LABEL_CLASSES:
        parsed = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        if np.isfinite(parsed).all():
            result["label_kind"] = "numeric"
            result["label_stats"] = numeric_summary(parsed[codes[codes >= 0]])
    return result
