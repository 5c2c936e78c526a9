"""Profiling 1,000,000 tabular rows: the issue asks for under 30 s on a 2-core machine.

Generates a seeded, normalised tabular version (table.csv: _item, 10 numeric and 2 categorical
columns, label; with missing values, a few unparsable ones, duplicate rows and a skewed class
balance), times `profile_version` on it with a tenth of the items sealed, and prints seconds and
rows/s beside a bare `pandas.read_csv` of the same file as a reference.

    .venv/bin/python bench/profile_tabular.py [--rows 1000000] [--repeat 1] [--folder DIR]

Exits with status 1 when profiling takes 30 s or more.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.profiling import profile_version, profile_warnings  # noqa: E402

LIMIT_SECONDS = 30.0
SEED = 20240601


def generate(path: Path, rows: int) -> None:
    rng = np.random.default_rng(SEED)
    n = rows
    frame = pd.DataFrame({"_item": [f"row-{i:07d}" for i in range(n)]})
    frame["income"] = np.round(rng.lognormal(10, 0.6, n), 2)
    frame["age"] = rng.integers(18, 91, n)
    frame["score"] = np.round(rng.normal(0, 1, n), 4)
    frame["visits"] = rng.poisson(3, n)
    frame["ratio"] = np.round(rng.random(n), 5)
    frame["latency_ms"] = np.round(rng.exponential(120, n), 1)
    frame["temperature"] = np.round(rng.normal(21, 4, n), 2)
    frame["balance"] = np.round(rng.normal(1500, 900, n), 2)
    frame["clicks"] = rng.integers(0, 1000, n)
    frame["weight"] = np.round(rng.normal(70, 12, n), 1)
    for column in ("income", "score", "weight"):  # 1% missing
        frame.loc[rng.random(n) < 0.01, column] = np.nan
    cities = np.array(
        ["Paris", "paris", "Lyon", "Pune", "Delhi", "Lagos", "Lima", "Oslo", "Rome", "Kyiv", "Quito", "Hanoi"]
    )
    frame["city"] = cities[rng.integers(0, len(cities), n)]
    frame["plan"] = np.array(["free", "basic", "pro", "team", "enterprise"])[rng.integers(0, 5, n)]
    classes = np.array(["churn", "stay", "upgrade", "downgrade", "pause"])
    labels = classes[rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])].astype(object)
    labels[rng.random(n) < 0.02] = ""  # unlabelled
    frame["label"] = labels
    # 1% of the rows are copies of other rows under new keys.
    copies = rng.integers(0, n, n // 100)
    targets = rng.choice(n, n // 100, replace=False)
    features = [c for c in frame.columns if c not in ("_item", "label")]
    frame.loc[targets, features] = frame.loc[copies, features].to_numpy()
    # A few unparsable values in a numeric column, as exported by spreadsheets.
    balance = frame["balance"].astype(object)
    balance[rng.random(n) < 0.001] = "#VALUE!"
    frame["balance"] = balance
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is reported")
    parser.add_argument("--sealed", type=float, default=0.1, help="share of items sealed (left out)")
    parser.add_argument("--folder", type=Path, help="keep the generated version here (reused if present)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = args.folder or Path(scratch) / "version"
        table = root / "table.csv"
        if not table.exists():
            started = time.perf_counter()
            generate(table, args.rows)
            print(
                f"generated {args.rows} rows in {time.perf_counter() - started:.1f} s "
                f"({table.stat().st_size / 1e6:.0f} MB)"
            )
        keys = pd.read_csv(table, usecols=["_item"], dtype=str)["_item"]
        rows = len(keys)
        sealed = frozenset(keys.sample(frac=args.sealed, random_state=SEED)) if args.sealed else frozenset()
        del keys

        read_times, profile_times = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            pd.read_csv(table)
            read_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            profile = profile_version(kind="tabular", root=root, exclude_keys=sealed)
            profile_times.append(time.perf_counter() - started)
        read_s, profile_s = min(read_times), min(profile_times)

    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, pandas {pd.__version__}, "
        f"numpy {np.__version__}"
    )
    print(
        f"rows in file: {rows}, sealed and left out: {profile['excluded_items']}, "
        f"profiled: {profile['item_count']}, columns: {len(profile['columns'])}"
    )
    print(f"bare pandas.read_csv:   {read_s:6.2f} s  {rows / read_s:12,.0f} rows/s")
    print(f"profile_version:        {profile_s:6.2f} s  {rows / profile_s:12,.0f} rows/s")
    print(f"ratio profile/read_csv: {profile_s / read_s:6.2f}x")
    print(
        f"found: {profile['duplicates']['exact']['redundant']} exact copies, "
        f"{sum(profile['missing'].values())} missing, {sum(profile['unparsable'].values())} unparsable; "
        f"{len(profile_warnings(profile))} warnings"
    )
    within = profile_s < LIMIT_SECONDS
    print(f"limit {LIMIT_SECONDS:.0f} s: {'PASS' if within else 'FAIL'}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
