"""Agreement over time: percent agreement and nominal alpha per time bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from datasets.annotation.agreement.bootstrap import affordable_resamples, resampled_sums
from datasets.annotation.agreement.coded import MISSING, CodedAnnotations
from datasets.annotation.agreement.report import estimates
from datasets.annotation.agreement.stats import alpha_of, percent_agreement_of, sums, unit_types

# Buckets start on a Monday at midnight UTC, so weekly buckets are calendar weeks.
MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
MAX_BUCKETS = 1000


def agreement_over_time(
    data: CodedAnnotations,
    *,
    bucket: timedelta = timedelta(days=1),
    origin: datetime = MONDAY,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per time bucket, agreement among the units that received their last label in it.

    A unit is dated by its last label because that is when its agreement became what it is; a
    unit counts only once it has two labels. Buckets are `bucket` wide, aligned on `origin`;
    buckets without any such unit are left out. Each entry:
    {"start": ISO time, "end": ISO time, "units": n,
     "percent_agreement": {"value", "ci"}, "krippendorff_alpha": {"value", "ci"}}
    with the bootstrap of `bootstrap.py` run within each bucket.
    """
    if data.times is None:
        raise ValueError("these annotations carry no timestamps")
    width = bucket.total_seconds()
    if width <= 0:
        raise ValueError("bucket must be a positive duration")
    filled = data.codes != MISSING
    # fmax ignores NaN (unknown times) without the all-NaN warnings of nanmax.
    last_label = np.fmax.reduce(np.where(filled, data.times, np.nan), axis=1)
    keep = (filled.sum(axis=1) >= 2) & np.isfinite(last_label)
    if not keep.any():
        return []
    start = origin.timestamp()
    index = np.floor((last_label[keep] - start) / width).astype(np.int64)
    buckets, group = np.unique(index, return_inverse=True)
    if len(buckets) > MAX_BUCKETS:
        raise ValueError(f"{len(buckets)} buckets: choose a wider bucket (at most {MAX_BUCKETS})")
    types = unit_types(data.codes[keep], data.n_labels, group=group.reshape(-1))
    rng = np.random.default_rng(seed)
    out = []
    for position, number in enumerate(buckets):
        members = types.group == position
        bucket_types = types.subset(members)
        freq = bucket_types.freq
        point = sums(bucket_types.counts, freq[None, :])
        used = affordable_resamples(resamples, len(freq), data.n_labels)
        resampled = resampled_sums(bucket_types, used, rng)[0] if used else None
        begins = origin + timedelta(seconds=float(number) * width)
        out.append(
            {
                "start": begins.isoformat(),
                "end": (begins + bucket).isoformat(),
                "units": int(freq.sum()),
                "percent_agreement": estimates(percent_agreement_of, point, resampled, confidence)[0],
                "krippendorff_alpha": estimates(alpha_of, point, resampled, confidence)[0],
            }
        )
    return out
