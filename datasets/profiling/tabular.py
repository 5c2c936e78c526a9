"""Profile of a normalised tabular version: root/table.csv with columns _item, features…, label.

Everything is vectorised: string columns are factorised once and then analysed through their
distinct values, and duplicate rows are found by hashing rows, so a million rows take seconds."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .categories import code_counts, factorize_strings
from .duplicates import duplicate_report
from .labels import label_profile
from .numeric import numeric_summary, round_significant
from .progress import Progress

# The C engine's default missing markers ("", "NA", "null", "n/a", …), applied to features only:
# item keys and labels are taken literally, an empty label being the one way to say "unlabelled".
NA_STRINGS = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
# A string column is numeric (or a date) when this share of its values parses; the rest are
# reported as unparsable.
PARSE_SHARE = 0.8
SAMPLE = 2000
TOP_CATEGORIES = 20
BOOLEAN_WORDS = {"true", "false", "yes", "no", "t", "f", "y", "n"}
TRUE_WORDS = {"true", "yes", "t", "y"}
# A string column is free text, not a category, when its values are long and mostly distinct.
TEXT_MIN_MEAN_CHARS = 30


def profile_tabular(root: Path, exclude_keys: frozenset[str], progress: Progress) -> dict:
    path = root / "table.csv"
    progress(2, "Reading table.csv")
    frame = _read_table(path)
    if "_item" not in frame.columns:
        raise ValueError("table.csv has no _item column")
    features = [c for c in frame.columns if c not in ("_item", "label")]

    excluded = 0
    if exclude_keys:
        sealed = frame["_item"].isin(list(exclude_keys)).to_numpy()
        excluded = int(sealed.sum())
        if excluded:
            frame = frame.loc[~sealed].reset_index(drop=True)
    n = len(frame)
    progress(35, f"Read {n} rows")

    keys = frame["_item"].to_numpy(dtype=object, na_value="")
    if "label" in frame.columns:
        label_codes, label_names = factorize_strings(frame["label"])
    else:
        label_codes, label_names = np.full(n, -1, dtype=np.int64), np.array([], dtype=object)

    columns, exact_parts, near_parts = [], {}, {}
    for i, name in enumerate(features):
        progress(35 + 45 * i / max(1, len(features)), f"Column {name}")
        column, exact, near = _column(str(name), frame[name])
        columns.append(column)
        exact_parts.update({f"{i}:{k}": v for k, v in exact.items()})
        near_parts.update({f"{i}:{k}": v for k, v in near.items()})
    del frame

    progress(82, "Looking for duplicate rows")
    if features and n:
        exact_ids = pd.util.hash_pandas_object(pd.DataFrame(exact_parts), index=False).to_numpy()
        near_ids = pd.util.hash_pandas_object(pd.DataFrame(near_parts), index=False).to_numpy()
    else:  # without features no two rows can be told apart, nor compared
        exact_ids = near_ids = np.arange(n, dtype=np.int64)
    duplicates = duplicate_report(keys, exact_ids, near_ids, label_codes, label_names)

    return {
        "item_count": n,
        "excluded_items": excluded,
        **label_profile(label_codes, label_names),
        "columns": columns,
        "missing": {c["name"]: c["missing"] for c in columns if c["missing"]},
        "unparsable": {c["name"]: c["unparsable"] for c in columns if c["unparsable"]},
        "duplicates": {"exact": duplicates["exact"], "near": duplicates["near"]},
        "conflicting_labels": duplicates["conflicting_labels"],
    }


def _read_table(path: Path) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0, encoding="utf-8", encoding_errors="replace").columns
    options = {
        "dtype": {"_item": str, "label": str},
        "keep_default_na": False,
        "na_values": {c: NA_STRINGS for c in header if c not in ("_item", "label")},
        "encoding": "utf-8",
        "encoding_errors": "replace",
    }
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        try:
            return pd.read_csv(path, engine="pyarrow", **options)
        except (ValueError, TypeError):  # an option this pyarrow does not support: use the C engine
            pass
    # low_memory=False: one dtype per column, never a column parsed chunk by chunk into mixed types.
    return pd.read_csv(path, low_memory=False, **options)


def _column(name: str, series: pd.Series) -> tuple[dict, dict, dict]:
    """(profile of the column, arrays identifying exact values, arrays identifying near values).

    The arrays depend on the values only, not on the dtype the reader picked, so that rows left
    out (sealed items) cannot change which of the remaining rows count as duplicates."""
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=np.int8)
        return _boolean(name, values == 1, np.zeros(len(values), bool), 0), {"v": values}, {"v": values}
    if ptypes.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).all():  # a column with no values is read as floats: it has no type
            return _empty(name, len(values)), {"v": values}, {"v": values}
        column = _numeric(name, values, unparsable=0, unparsable_examples=[])
        if column["type"] == "boolean":
            flags = np.where(np.isnan(values), -1, values).astype(np.int8)
            return column, {"v": flags}, {"v": flags}
        return column, {"v": values}, {"v": round_significant(values)}
    if ptypes.is_datetime64_any_dtype(dtype):
        stamps = pd.DatetimeIndex(series)
        column = _datetime(name, stamps, unparsable=0, unparsable_examples=[])
        ints = stamps.asi8
        return column, {"v": ints}, {"v": ints}
    return _strings(name, series)


def _strings(name: str, series: pd.Series) -> tuple[dict, dict, dict]:
    codes, uniques = factorize_strings(series)
    counts = code_counts(codes, len(uniques))
    present = codes >= 0
    n_missing = int(len(codes) - present.sum())

    if len(uniques) == 0:
        return _empty(name, n_missing), {"v": codes}, {"v": codes}

    parsed = _parse_numbers(uniques)
    if parsed is not None and _share(counts, ~np.isnan(parsed)) >= PARSE_SHARE:
        bad = np.isnan(parsed)
        values = np.full(len(codes), np.nan)
        values[present] = parsed[codes[present]]
        column = _numeric(
            name,
            values,
            unparsable=int(counts[bad].sum()),
            unparsable_examples=_examples(uniques, counts, bad),
        )
        unparsed = np.where(np.isnan(values), codes, -2)
        if column["type"] == "boolean":
            flags = np.where(np.isnan(values), -1, values).astype(np.int8)
            return column, {"v": flags, "raw": unparsed}, {"v": flags, "raw": unparsed}
        # Near: numbers rounded, and unparsable text folded in case, so "N.A." and "n.a." match.
        tokens = np.array(
            [
                s.casefold() if b else v
                for s, v, b in zip(uniques, round_significant(parsed), bad, strict=True)
            ],
            dtype=object,
        )
        return column, {"v": values, "raw": unparsed}, {"v": _recode(codes, tokens)}

    folded = np.array([u.casefold() for u in uniques], dtype=object)
    distinct_folded = set(folded)
    if distinct_folded <= BOOLEAN_WORDS:
        truthy = np.array([f in TRUE_WORDS for f in folded])
        is_true = np.zeros(len(codes), bool)
        is_true[present] = truthy[codes[present]]
        flags = np.where(present, is_true, -1).astype(np.int8)
        return _boolean(name, is_true, ~present, 0), {"v": flags}, {"v": flags}

    exact, near = {"v": codes}, {"v": _recode(codes, folded)}
    stamps = _parse_dates(uniques)
    if stamps is not None and _share(counts, ~np.isnat(stamps)) >= PARSE_SHARE:
        bad = np.isnat(stamps)
        values = stamps[codes[present]]
        column = _datetime(
            name,
            pd.DatetimeIndex(values[~np.isnat(values)]),
            unparsable=int(counts[bad].sum()),
            unparsable_examples=_examples(uniques, counts, bad),
        )
        column["missing"] = n_missing
        return column, exact, near

    lengths = np.array([len(u) for u in uniques], dtype=np.float64)
    n_present = len(codes) - n_missing
    mean_chars = float((lengths * counts).sum() / max(1, n_present))
    column = {
        "name": name,
        "missing": n_missing,
        "unparsable": 0,
        "unique": int(len(uniques)),
        "constant": len(uniques) == 1,
        "empty": False,
    }
    if mean_chars >= TEXT_MIN_MEAN_CHARS and len(uniques) > n_present / 2:
        column["type"] = "text"
        column["length"] = numeric_summary(lengths[codes[present]])
    else:
        order = np.argsort(-counts, kind="stable")[:TOP_CATEGORIES]
        column["type"] = "categorical"
        column["top"] = [{"value": str(uniques[i]), "count": int(counts[i])} for i in order]
        column["other"] = int(n_present - counts[order].sum())
    return column, exact, near


def _empty(name: str, missing: int) -> dict:
    return {
        "name": name,
        "type": "categorical",
        "missing": missing,
        "unparsable": 0,
        "unique": 0,
        "constant": False,
        "empty": True,
        "top": [],
        "other": 0,
    }


def _numeric(name: str, values: np.ndarray, *, unparsable: int, unparsable_examples: list) -> dict:
    """values: floats with NaN for missing and unparsable values (`unparsable` of them)."""
    nan = np.isnan(values)
    finite = values[np.isfinite(values)]
    n_nan = int(nan.sum())
    infinite = int(len(values) - n_nan - finite.size)
    if (
        finite.size
        and not infinite
        and 0 < np.count_nonzero(finite) < finite.size
        and bool(np.all((finite == 0) | (finite == 1)))
    ):
        column = _boolean(name, values == 1, nan, unparsable)
        column["unparsable_examples"] = unparsable_examples
        return column
    unique = int(pd.unique(finite).size) if finite.size else 0
    return {
        "name": name,
        "type": "numeric",
        "missing": n_nan - unparsable,
        "unparsable": unparsable,
        "unparsable_examples": unparsable_examples,
        "infinite": infinite,
        "unique": unique,
        "constant": unique == 1 and not infinite,
        "empty": False,
        "stats": numeric_summary(finite),
    }


def _boolean(name: str, is_true: np.ndarray, missing: np.ndarray, unparsable: int) -> dict:
    n_missing = int(missing.sum()) - unparsable
    trues = int(np.count_nonzero(is_true & ~missing))
    falses = int(len(is_true) - n_missing - unparsable - trues)
    return {
        "name": name,
        "type": "boolean",
        "missing": n_missing,
        "unparsable": unparsable,
        "unique": int(trues > 0) + int(falses > 0),
        "constant": (trues > 0) != (falses > 0),
        "empty": False,
        "true": trues,
        "false": falses,
    }


def _datetime(name: str, stamps: pd.DatetimeIndex, *, unparsable: int, unparsable_examples: list) -> dict:
    valid = stamps[~stamps.isna()]
    unique = int(valid.nunique())
    return {
        "name": name,
        "type": "datetime",
        "missing": int(stamps.isna().sum()),
        "unparsable": unparsable,
        "unparsable_examples": unparsable_examples,
        "unique": unique,
        "constant": unique == 1,
        "empty": False,
        "min": valid.min().isoformat() if len(valid) else None,
        "max": valid.max().isoformat() if len(valid) else None,
    }


def _parse_numbers(uniques: np.ndarray) -> np.ndarray | None:
    """Float per distinct value (NaN where it is not a number), or None when a sample shows the
    column is not numeric, to spare parsing a million distinct strings for nothing."""
    sample = pd.Series(uniques[:SAMPLE], dtype=object)
    if pd.to_numeric(sample, errors="coerce").notna().mean() < 0.5:
        return None
    return pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _parse_dates(uniques: np.ndarray) -> np.ndarray | None:
    if not any(ch.isdigit() for u in uniques[:50] for ch in u):
        return None
    sample = pd.Series(uniques[:SAMPLE], dtype=object)
    for fmt in ("ISO8601", None):
        with warnings.catch_warnings():
            # "Could not infer format": we judge the parse by its share of failures instead.
            warnings.simplefilter("ignore")
            try:
                if pd.to_datetime(sample, errors="coerce", format=fmt, utc=True).notna().mean() < PARSE_SHARE:
                    continue
                parsed = pd.to_datetime(
                    pd.Series(uniques, dtype=object), errors="coerce", format=fmt, utc=True
                )
            except (ValueError, TypeError, OverflowError):
                continue
        # Naive and zoned stamps alike, as UTC without a zone.
        return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return None


def _share(counts: np.ndarray, ok: np.ndarray) -> float:
    total = counts.sum()
    return float(counts[ok].sum() / total) if total else 0.0


def _examples(uniques: np.ndarray, counts: np.ndarray, mask: np.ndarray, limit: int = 5) -> list[str]:
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(-counts[idx], kind="stable")][:limit]
    return [str(uniques[i])[:80] for i in idx]


def _recode(codes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Codes of the distinct values mapped to codes of their tokens (missing stays -1)."""
    token_codes = np.asarray(pd.factorize(tokens)[0], dtype=np.int64)
    out = np.full(len(codes), -1, dtype=np.int64)
    present = codes >= 0
    out[present] = token_codes[codes[present]]
    return out
