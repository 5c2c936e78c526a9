"""Exact and near duplicate groups, and conflicting labels among them."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A profile is stored as JSON on the version: lists that grow with the data are capped, with the
# full count kept beside them.
EXAMPLE_GROUPS = 20
KEYS_PER_GROUP = 10


def unique_ids(count: int, start: int) -> np.ndarray:
    """Ids no other item shares: items with nothing to compare (missing text, unreadable file)
    are never duplicates of each other."""
    return np.arange(start, start + count, dtype=np.int64)


def duplicate_report(
    keys: np.ndarray, exact: np.ndarray, near: np.ndarray, labels: np.ndarray, label_names: np.ndarray
) -> dict:
    """Exact and near duplicate groups and label conflicts among them.

    exact/near hold one group id per item; items sharing an id are duplicates. Equal exact ids
    must imply equal near ids, so near groups contain the exact ones; a near group counts as a
    near duplicate only when its items are not all exact copies of one another. Conflicts are
    looked for in every near group, exact or not."""
    frame = pd.DataFrame({"exact": exact, "near": near, "label": labels})

    exact_part = frame[frame["exact"].duplicated(keep=False).to_numpy()]
    exact_sizes = exact_part.groupby("exact").size()

    near_part = frame[frame["near"].duplicated(keep=False).to_numpy()]
    distinct = near_part.groupby("near")["exact"].nunique()
    near_only = near_part[near_part["near"].isin(distinct.index[distinct > 1])]
    near_sizes = near_only.groupby("near").size()

    labelled = near_part[near_part["label"] >= 0]
    label_variety = labelled.groupby("near")["label"].nunique()
    conflict_ids = label_variety.index[label_variety > 1]
    conflicts = near_part[near_part["near"].isin(conflict_ids)]
    conflict_sizes = conflicts.groupby("near").size()

    conflict_examples = []
    for group, members in _top_groups(conflicts, "near", conflict_sizes):
        group_labels = frame["label"].to_numpy()[members]
        named = pd.Series(label_names[group_labels[group_labels >= 0]]).value_counts()
        conflict_examples.append(
            {
                "size": int(len(members)),
                "keys": [str(k) for k in keys[members[:KEYS_PER_GROUP]]],
                "labels": {str(k): int(v) for k, v in named.items()},
                "exact": bool(distinct.get(group, 1) == 1),
            }
        )
    labelled_in_conflict = int(np.count_nonzero(conflicts["label"].to_numpy() >= 0))
    return {
        "exact": _group_summary(keys, exact_part, "exact", exact_sizes),
        "near": _group_summary(keys, near_only, "near", near_sizes),
        "conflicting_labels": {
            "groups": int(len(conflict_sizes)),
            "items": labelled_in_conflict,
            "examples": conflict_examples,
        },
    }


def _top_groups(part: pd.DataFrame, column: str, sizes: pd.Series):
    """The largest groups, ties broken by where a group first appears in the data, never by a
    group id (a hash), so the same rows give the same examples whatever else was read."""
    if sizes.empty:
        return
    first = pd.Series(part.index.to_numpy(), index=part[column].to_numpy()).groupby(level=0).min()
    ranking = pd.DataFrame({"size": sizes, "first": first.reindex(sizes.index)})
    top = ranking.sort_values(["size", "first"], ascending=[False, True]).index[:EXAMPLE_GROUPS]
    chosen = part[part[column].isin(top)]
    positions = chosen.groupby(column).indices
    for group in top:
        yield group, np.asarray(chosen.index.to_numpy()[positions[group]])


def _group_summary(keys: np.ndarray, part: pd.DataFrame, column: str, sizes: pd.Series) -> dict:
    examples = [
        {"size": int(len(members)), "keys": [str(k) for k in keys[members[:KEYS_PER_GROUP]]]}
        for _, members in _top_groups(part, column, sizes)
    ]
    items = int(sizes.sum())
    return {
        "groups": int(len(sizes)),
        "items": items,
        "redundant": items - int(len(sizes)),
        "examples": examples,
    }
