"""What the pages and the API show of a run: its content read from MLflow (status, params, final
metrics, tags and the traceability record they make) next to the platform's mirror row, and its
curves, downsampled and cached.

The Run rows passed in have already been scoped to the requesting user (experiments.selectors);
nothing here checks permissions. MLflow is read in one search per page, not one call per run, and
curves come from experiments.curves.history (one SQL read of MLflow's metrics table) through
Django's cache, keyed on the series' version so a run that is still logging is read again as soon
as it logs, and a finished run never is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache

from experiments import mlflow_store
from experiments.models import Run

# The final metrics the runs list shows, in this order, when a run logged them.
KEY_METRICS = ("val_accuracy", "val_macro_f1", "val_loss", "train_loss")
# The names runs use for their training and validation loss: the platform's trainers log the first
# of each; a run logged from a notebook often uses one of the others.
TRAIN_LOSS_KEYS = ("train_loss", "loss", "training_loss")
VAL_LOSS_KEYS = ("val_loss", "validation_loss", "eval_loss")
# Never more points than this per series leave the server (the page, the JSON endpoint, the API).
MAX_POINTS = 2000
# The cheap series version misses a point back-filled at an earlier step: cached curves expire.
CURVE_TTL_SECONDS = 600
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
_VERSION_REF = re.compile(r"^(?P<dataset>[-a-zA-Z0-9_]+)@v(?P<number>[0-9]{1,9})$")


@dataclass
class RunInfo:
    """One run as the pages show it: the mirror row and what MLflow holds of it (None fields when
    the MLflow run is gone)."""

    record: Run
    found: bool = False
    status: str = ""
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    start_time: int | None = None
    end_time: int | None = None
    # The page of the dataset version the run names, when the project has it (set by the views).
    version_url: str = ""

    @property
    def run_id(self) -> str:
        return self.record.mlflow_run_id

    @property
    def name(self) -> str:
        return self.tags.get(mlflow_store.TAG_MLFLOW_RUN_NAME) or self.record.name or self.run_id

    @property
    def trainer(self) -> str:
        return self.tags.get(mlflow_store.TAG_KIND) or self.params.get("trainer", "")

    @property
    def dataset_version(self) -> str:
        return self.tags.get(mlflow_store.TAG_DATASET_VERSION, "")

    @property
    def traceable(self) -> bool:
        """A run is traceable when it names the dataset version it was trained on."""
        return bool(self.dataset_version) and self.tags.get(mlflow_store.TAG_UNTRACEABLE) != "true"

    @property
    def running(self) -> bool:
        return self.found and self.status not in TERMINAL

    @property
    def created_by_label(self) -> str:
        if self.record.created_by is not None:
            return self.record.created_by.get_username()
        # A run logged from outside names its user in MLflow's own tag.
        return self.tags.get(mlflow_store.TAG_MLFLOW_USER, "")

    @property
    def key_metrics(self) -> list[tuple[str, float]]:
        return [(key, self.metrics[key]) for key in KEY_METRICS if key in self.metrics]

    @property
    def traceability(self) -> list[tuple[str, str]]:
        """The recorded facts that let a number be reproduced, in reading order (empty values
        left out)."""
        rows = [
            ("Dataset version", self.dataset_version),
            ("Label version", self.tags.get(mlflow_store.TAG_LABEL_VERSION, "")),
            ("Seed", self.tags.get(mlflow_store.TAG_SEED, "") or self.params.get("seed", "")),
            ("Code version", self.tags.get(mlflow_store.TAG_CODE_VERSION, "")),
            ("Packages", self.tags.get(mlflow_store.TAG_PACKAGES, "")),
        ]
        return [(label, value) for label, value in rows if value]

    @property
    def user_tags(self) -> list[tuple[str, str]]:
        """Tags other than the platform's and MLflow's own bookkeeping."""
        return sorted(
            (k, v) for k, v in self.tags.items() if not k.startswith(("prakriya.", "mlflow."))
        )

    @property
    def train_key(self) -> str | None:
        return next((k for k in TRAIN_LOSS_KEYS if k in self.metrics), None)

    @property
    def val_key(self) -> str | None:
        return next((k for k in VAL_LOSS_KEYS if k in self.metrics), None)


def version_ref_parts(ref: str) -> tuple[str, int] | None:
    """(dataset slug, version number) of a `<dataset>@v<number>` tag, or None for anything else."""
    match = _VERSION_REF.match(ref or "")
    return (match["dataset"], int(match["number"])) if match else None


def run_infos(records: Sequence[Run]) -> list[RunInfo]:
    """MLflow's content of each run, in the order given, read in one search per experiment."""
    infos = [RunInfo(record=r) for r in records]
    if not infos:
        return infos
    from mlflow.entities import ViewType

    by_id = {info.run_id: info for info in infos}
    experiment_ids = _experiment_ids(records)
    store = mlflow_store.tracking_store()
    found = []
    ids = list(by_id)
    # MLflow's search takes run ids in its filter (ids are hex: nothing to escape); chunks keep
    # the statement small.
    for start in range(0, len(ids) if experiment_ids else 0, 100):
        chunk = [i for i in ids[start : start + 100] if i.isalnum()]
        if not chunk:
            continue
        quoted = ", ".join(f"'{i}'" for i in chunk)
        token = None
        while True:
            page = store.search_runs(
                experiment_ids, f"attributes.run_id IN ({quoted})", ViewType.ALL,
                max_results=len(chunk), page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                break
    for run in found:
        info = by_id.get(run.info.run_id)
        if info is None:
            continue
        info.found = True
        info.status = run.info.status
        info.params = dict(run.data.params)
        info.metrics = dict(run.data.metrics)
        info.tags = dict(run.data.tags)
        info.start_time, info.end_time = run.info.start_time, run.info.end_time
    return infos


def run_info(record: Run) -> RunInfo:
    return run_infos([record])[0]


def _experiment_ids(records: Iterable[Run]) -> list[str]:
    from experiments.models import ProjectExperiment

    projects = {r.project_id for r in records}
    return list(
        ProjectExperiment.objects.filter(project_id__in=projects).values_list("experiment_id", flat=True)
    )


# --- Curves ------------------------------------------------------------------------------------


def _engine():
    from experiments.curves import history

    return history.engine_for(mlflow_store.config().backend_uri)


def _cache_key(run_id: str, key: str, token: str, max_points: int) -> str:
    # Metric keys are free text: the cache key carries them hashed, not raw (memcached's rules).
    import hashlib

    digest = hashlib.sha1(f"{run_id}\0{key}".encode()).hexdigest()  # noqa: S324 - a cache key, not security
    return f"prakriya:curve:{digest}:{max_points}:{token}"


def series(pairs: Iterable[tuple[str, str]], *, max_points: int = MAX_POINTS) -> dict[tuple[str, str], Any]:
    """(run id, metric key) → its downsampled Series (at most max_points points), for the pairs
    that were logged. Served from the cache when the series has not changed since it was cached."""
    from experiments.curves import history
    from experiments.curves.downsample import Series, downsample

    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return {}
    engine = _engine()
    run_ids = list(dict.fromkeys(r for r, _ in pairs))
    keys = list(dict.fromkeys(k for _, k in pairs))
    versions = history.series_versions(engine, run_ids, keys)
    wanted = {p: versions[p] for p in pairs if p in versions}
    cache_keys = {p: _cache_key(p[0], p[1], v.token, max_points) for p, v in wanted.items()}
    cached = cache.get_many(list(cache_keys.values()))
    result: dict[tuple[str, str], Series] = {}
    missing = []
    for pair, cache_key in cache_keys.items():
        data = cached.get(cache_key)
        if data is not None:
            try:
                result[pair] = Series.from_bytes(data)
                continue
            except ValueError:
                pass
        missing.append(pair)
    if missing:
        full = history.read_histories(engine, {r for r, _ in missing}, {k for _, k in missing})
        fresh = {}
        for pair in missing:
            found = full.get(pair)
            if found is None:
                continue
            result[pair] = downsample(found.steps, found.values, max_points=max_points)
            fresh[cache_keys[pair]] = result[pair].to_bytes()
        cache.set_many(fresh, timeout=CURVE_TTL_SECONDS)
    return result


@dataclass(frozen=True)
class RunCurve:
    info: RunInfo
    train: Any = None  # Series or None
    validation: Any = None


def run_curves(infos: Sequence[RunInfo], *, max_points: int = MAX_POINTS) -> list[RunCurve]:
    """The training and validation loss of each run, downsampled."""
    pairs = []
    for info in infos:
        pairs += [(info.run_id, k) for k in (info.train_key, info.val_key) if k]
    found = series(pairs, max_points=max_points)
    return [
        RunCurve(
            info=info,
            train=found.get((info.run_id, info.train_key)) if info.train_key else None,
            validation=found.get((info.run_id, info.val_key)) if info.val_key else None,
        )
        for info in infos
    ]


def loss_figure_json(curves: Sequence[RunCurve], *, title: str = "Loss") -> str:
    from experiments.curves.figures import RunCurves, loss_figure

    figure = loss_figure(
        [RunCurves(name=c.info.name, train=c.train, validation=c.validation) for c in curves],
        title=title, max_points=MAX_POINTS,
    )
    return figure.to_json()


def param_diff(infos: Sequence[RunInfo]) -> tuple[list[tuple[str, list[str | None]]], int]:
    """The parameters whose values differ between the runs (a run without one shows None), each
    with its value per run in the runs' order, and how many parameters all of them share."""
    keys = sorted({key for info in infos for key in info.params})
    differing, same = [], 0
    for key in keys:
        values = [info.params.get(key) for info in infos]
        if len(set(values)) > 1:
            differing.append((key, values))
        else:
            same += 1
    return differing, same


def diagnostics(curve: RunCurve) -> list[dict[str, Any]]:
    """What the run's curves say (experiments.curves.diagnostics), read from the cached series:
    those are at most MAX_POINTS points, so a long run's verdicts are the cautious ones."""
    from experiments.curves.diagnostics import diagnose

    if curve.train is None and curve.validation is None:
        return []
    findings = diagnose(curve.train if curve.train is not None else ([], []), curve.validation)
    return [
        {"code": f.code, "severity": f.severity, "message": f.message, "step": f.step} for f in findings
    ]


def series_payload(found) -> dict[str, Any]:
    """A Series as JSON: non-finite values are null in `values` and listed with their kind, since
    JSON has no NaN or infinity."""
    import numpy as np

    values = found.values
    bad = ~np.isfinite(values)
    return {
        "total": int(found.total),
        "points": len(found),
        "steps": found.steps.tolist(),
        "values": [None if b else float(v) for v, b in zip(values.tolist(), bad.tolist(), strict=True)],
        "nonfinite": [
            {"step": int(s), "value": "NaN" if np.isnan(v) else ("+inf" if v > 0 else "-inf")}
            for s, v in zip(found.steps[bad].tolist(), values[bad].tolist(), strict=True)
        ],
    }


__all__ = [
    "KEY_METRICS",
    "MAX_POINTS",
    "RunCurve",
    "RunInfo",
    "diagnostics",
    "loss_figure_json",
    "run_curves",
    "run_info",
    "run_infos",
    "series",
    "series_payload",
    "version_ref_parts",
]
