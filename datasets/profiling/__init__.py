"""Data understanding: the profile of a normalised dataset version and the warnings drawn from it.

Plain functions, no Django: the profiling job loads the version, calls `profile_version` with the
keys of the sealed items, and stores the result with `profile_warnings(profile)`. Sealed items
are dropped as the data is read, before anything is counted, so the profile says nothing about
them but how many were left out. Figures are built from a profile by `datasets.charts`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from .checks import profile_warnings
from .images import profile_images
from .progress import Progress, Report
from .tabular import profile_tabular
from .text import profile_text

PROFILE_SCHEMA = 1
_PROFILERS = {"tabular": profile_tabular, "text": profile_text, "image": profile_images}

__all__ = ["PROFILE_SCHEMA", "profile_version", "profile_warnings"]


def profile_version(
    *, kind: str, root: Path, exclude_keys: frozenset[str] = frozenset(), report: Report | None = None
) -> dict:
    """The JSON-serialisable profile of the normalised version folder `root`.

    report(percent, message), when given, is called as the work goes on and last with 100."""
    try:
        profiler = _PROFILERS[kind]
    except KeyError:
        raise ValueError(f"unknown dataset kind {kind!r}") from None
    progress = Progress(report)
    started = time.perf_counter()
    profile = profiler(Path(root), frozenset(exclude_keys), progress)
    elapsed = time.perf_counter() - started
    profile = _json_safe(
        {
            "schema": PROFILE_SCHEMA,
            "kind": kind,
            **profile,
            "elapsed_seconds": round(elapsed, 3),
            "rows_per_second": round(profile["item_count"] / elapsed, 1) if elapsed > 0 else None,
        }
    )
    progress(100, "Profile complete")
    return profile


def _json_safe(value: object) -> object:
    """Plain Python types only, and no NaN or infinity (PostgreSQL's jsonb refuses them)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
