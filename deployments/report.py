"""The numbers behind deliverables 7 and 8, read where each one lives and scoped to the reader:
the experience report's key numbers (data versions, agreement, the best baseline and the best run
on validation, the sealed result, the latest benchmark, the deployments) and the deployment's
evidence (ready exports with their parity, benchmarks against the targets, each deployment's
rollout). Every number carries the page it comes from.

Who sees what follows the pages the numbers come from: datasets with the project; runs, the
sealed evaluation's aggregates, exports, benchmarks and deployments with `VIEW_RUNS` /
`VIEW_DEPLOYMENTS`; the agreement page's link with `MANAGE_CAMPAIGNS`; how many predictions a
deployment logged with `VIEW_PREDICTIONS`. Nothing here reads a prediction's input or a test item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse

from datasets.models import VersionState
from deployments.models import Benchmark, Deployment, ExportState, ModelExport, RolloutEvent
from experiments import runs
from experiments import selectors as run_selectors
from experiments.evaluation import selectors as evaluation_selectors
from experiments.panels import is_baseline
from projects import policy
from projects.models import Comparator, Project
from projects.selectors import AnyUser

# Runs read from MLflow to find the best ones, newest first (as the baselines panel reads them).
MAX_RUNS = 500
MAX_DATASETS = 10
MAX_CAMPAIGNS = 10
MAX_EXPORTS = 20
MAX_BENCHMARKS = 5
MAX_DEPLOYMENTS = 20
# The validation metric a project without a (validation-measurable) primary target is read on.
DEFAULT_METRIC = "accuracy"


def source_url(name: str, **kwargs: Any) -> str:
    """The URL of a number's source page, or "" when this build has no such page: the pages of
    benchmarks and deployments come with their own part of the deployments app."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


@dataclass(frozen=True)
class Number:
    label: str  # what the number is about ("digits v3", "Best run")
    value: str  # the number as shown
    url: str = ""  # its source page ("" when there is none to link)
    source: str = ""  # the source in words ("run mlp-seed-7 on digits@v3")


@dataclass(frozen=True)
class DeploymentRow:
    name: str
    url: str
    stable: str
    canary: str  # "" without a canary
    canary_percent: int
    revision: int
    predictions: int | None  # None for a reader who may not see the prediction log
    last_event: RolloutEvent | None = None


@dataclass
class KeyNumbers:
    metric: str  # the validation metric the runs are compared on ("val_accuracy")
    data: list[Number] = field(default_factory=list)
    agreement: list[Number] = field(default_factory=list)
    baseline: Number | None = None
    best_run: Number | None = None
    sealed: list[Number] = field(default_factory=list)
    benchmark: Number | None = None
    deployments: list[DeploymentRow] = field(default_factory=list)
    can_view_runs: bool = False
    can_view_deployments: bool = False

    def rows(self) -> list[tuple[str, Number]]:
        """Every number under its heading, in the order the report reads them."""
        out = [("Data", n) for n in self.data] + [("Agreement", n) for n in self.agreement]
        for heading, number in (("Best baseline", self.baseline), ("Best run", self.best_run)):
            if number is not None:
                out.append((heading, number))
        out += [("Sealed test", n) for n in self.sealed]
        if self.benchmark is not None:
            out.append(("Benchmark", self.benchmark))
        return out


# --- Data and labels -----------------------------------------------------------------------------


def data_numbers(*, project: Project) -> list[Number]:
    """Each dataset's latest ready version (datasets are seen by whoever sees the project)."""
    numbers = []
    for dataset in project.datasets.order_by("name")[:MAX_DATASETS]:
        ready = dataset.versions.filter(state=VersionState.READY).order_by("-number")
        version = ready.first()
        if version is None:
            continue
        count = ready.count()
        numbers.append(Number(
            label=f"{dataset.name} {version.label}",
            value=f"{version.item_count} items, {version.labelled_count} labelled",
            url=source_url("datasets:version", slug=project.slug, ds=dataset.slug, number=version.number),
            source=f"latest of {count} ready version{'s' if count != 1 else ''}",
        ))
    return numbers


def _alpha(result: Any) -> tuple[float | None, float | None]:
    """Nominal Krippendorff's alpha and percent agreement of an agreement report's result."""
    try:
        stats = result["stats"]
        alpha = stats["krippendorff_alpha"]["nominal"]["value"]
        percent = stats["percent_agreement"]["value"]
    except (KeyError, TypeError):
        return None, None
    ok = [isinstance(v, int | float) and not isinstance(v, bool) for v in (alpha, percent)]
    return (alpha if ok[0] else None), (percent if ok[1] else None)


def agreement_numbers(*, user: AnyUser, project: Project) -> list[Number]:
    """The latest agreement report of each campaign: its headline aggregates only, which name no
    annotator (the human baseline is shown to everyone the same way); the agreement page itself,
    which compares annotators, is linked for those who may open it."""
    from datasets.annotation.models import Campaign

    can_open = policy.can(user=user, project=project, action=policy.MANAGE_CAMPAIGNS)
    numbers = []
    for campaign in Campaign.objects.filter(project=project).order_by("name")[:MAX_CAMPAIGNS]:
        report = campaign.agreement_reports.first()
        if report is None:
            continue
        alpha, percent = _alpha(report.result)
        if alpha is None and percent is None:
            continue
        parts = []
        if alpha is not None:
            parts.append(f"α = {alpha:.3f}")
        if percent is not None:
            parts.append(f"{percent * 100:.1f}% pairwise agreement")
        numbers.append(Number(
            label=campaign.name,
            value=", ".join(parts),
            url=source_url("annotation:agreement", slug=project.slug, campaign=campaign.slug) if can_open else "",
            source=f"agreement report of {report.created_at:%Y-%m-%d}, {report.annotation_count} annotations",
        ))
    return numbers


# --- Runs and the sealed result ------------------------------------------------------------------


def validation_value(metrics: dict[str, float], metric: str) -> float | None:
    """The run's validation value of a target's metric: only `val_*` keys, never a training one."""
    bare = metric.removeprefix("val_")
    value = metrics.get(f"val_{bare}")
    return value if isinstance(value, int | float) else None


def _compared_metric(project: Project, infos: list[runs.RunInfo]) -> tuple[str, bool]:
    """The metric the runs are compared on (the primary target's, when runs log it on validation)
    and whether higher is better."""
    primary = project.primary_target
    if primary is not None and any(validation_value(i.metrics, primary.metric) is not None for i in infos):
        return primary.metric.removeprefix("val_"), primary.comparator in (Comparator.GE, Comparator.GT)
    return DEFAULT_METRIC, True


def _best(project: Project, infos: list[runs.RunInfo], metric: str, higher: bool) -> Number | None:
    scored = [(value, info) for info in infos if (value := validation_value(info.metrics, metric)) is not None]
    if not scored:
        return None
    value, info = (max if higher else min)(scored, key=lambda pair: pair[0])
    trained_on = f" on {info.dataset_version}" if info.dataset_version else ""
    return Number(
        label=info.name,
        value=f"{value:.4f}",
        url=source_url("experiments:run", slug=project.slug, run_id=info.run_id),
        source=f"run {info.name}{trained_on}, validation {metric}",
    )


def run_numbers(*, user: AnyUser, project: Project) -> tuple[str, Number | None, Number | None]:
    """(metric, best baseline, best run) among the finished runs the user may see."""
    records = list(run_selectors.runs_for_project(user=user, project=project)[:MAX_RUNS])
    infos = [info for info in runs.run_infos(records) if info.found and info.status == "FINISHED"]
    metric, higher = _compared_metric(project, infos)
    baseline = _best(project, [i for i in infos if is_baseline(i)], metric, higher)
    return f"val_{metric}", baseline, _best(project, infos, metric, higher)


def sealed_numbers(*, user: AnyUser, project: Project) -> list[Number]:
    """Accuracy and macro-F1 of the latest finished sealed evaluation: the aggregates its own page
    shows to the same readers (experiments.evaluation.selectors), nothing else of the test set."""
    evaluation = evaluation_selectors.latest_done(user=user, project=project)
    if evaluation is None:
        return []
    url = source_url("experiments:evaluation", slug=project.slug, pk=evaluation.pk)
    results = evaluation.results if isinstance(evaluation.results, dict) else {}
    source = f"test evaluation #{evaluation.pk} of {evaluation.run}, {results.get('items', '?')} test items"
    numbers = []
    for key, label in (("accuracy", "Test accuracy"), ("macro_f1", "Test macro-F1")):
        value = results.get(key)
        if isinstance(value, int | float):
            numbers.append(Number(label=label, value=f"{value:.4f}", url=url, source=source))
    return numbers


# --- Exports, benchmarks and deployments ---------------------------------------------------------


def export_label(export: ModelExport | None) -> str:
    if export is None:
        return ""
    return f"{export} of {export.run}"


def _benchmarks(project: Project):
    return (
        Benchmark.objects.filter(project=project, finished_at__isnull=False)
        .select_related("export__run")
        .order_by("-finished_at", "-id")
    )


def benchmark_verdict(benchmark: Benchmark) -> str:
    rows = [row for row in benchmark.targets if isinstance(row, dict)]
    met = sum(1 for row in rows if row.get("met") is True)
    missed = sum(1 for row in rows if row.get("met") is False)
    if benchmark.inside_targets:
        return f"inside the targets ({met} met)" if met else "inside the targets"
    return f"{missed} target{'s' if missed != 1 else ''} missed, {met} met"


def benchmark_number(*, project: Project, benchmark: Benchmark | None) -> Number | None:
    if benchmark is None:
        return None
    return Number(
        label=f"Benchmark {benchmark.pk}",
        value=benchmark_verdict(benchmark),
        url=source_url("deployments:benchmark", slug=project.slug, pk=benchmark.pk),
        source=f"{export_label(benchmark.export)}, {benchmark.finished_at:%Y-%m-%d}",
    )


def deployment_rows(*, user: AnyUser, project: Project) -> list[DeploymentRow]:
    see_log = policy.can(user=user, project=project, action=policy.VIEW_PREDICTIONS)
    deployments = Deployment.objects.filter(project=project).select_related("stable__run", "canary__run")
    if see_log:
        # Counted only for those who read the log: a long log is not counted for every visitor.
        deployments = deployments.annotate(prediction_count=Count("predictions"))
    rows = []
    for deployment in deployments.order_by("name", "id")[:MAX_DEPLOYMENTS]:
        rows.append(DeploymentRow(
            name=deployment.name,
            url=source_url("deployments:deployment", slug=project.slug, deployment_slug=deployment.slug),
            stable=export_label(deployment.stable),
            canary=export_label(deployment.canary),
            canary_percent=deployment.canary_percent if deployment.canary_id else 0,
            revision=deployment.revision,
            predictions=deployment.prediction_count if see_log else None,
            last_event=deployment.events.select_related("actor").first(),
        ))
    return rows


def key_numbers(*, user: AnyUser, project: Project) -> KeyNumbers:
    """The experience report's key numbers as `user` may read them."""
    can_view_runs = policy.can(user=user, project=project, action=policy.VIEW_RUNS)
    can_view_deployments = policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS)
    numbers = KeyNumbers(
        metric=f"val_{DEFAULT_METRIC}", data=data_numbers(project=project),
        agreement=agreement_numbers(user=user, project=project),
        can_view_runs=can_view_runs, can_view_deployments=can_view_deployments,
    )
    if can_view_runs:
        numbers.metric, numbers.baseline, numbers.best_run = run_numbers(user=user, project=project)
        numbers.sealed = sealed_numbers(user=user, project=project)
    if can_view_deployments:
        numbers.benchmark = benchmark_number(project=project, benchmark=_benchmarks(project).first())
        numbers.deployments = deployment_rows(user=user, project=project)
    return numbers


@dataclass(frozen=True)
class ExportRow:
    export: ModelExport
    run_url: str
    parity: list[tuple[str, Any]]
    metrics: list[tuple[str, Any]]


@dataclass(frozen=True)
class BenchmarkRow:
    benchmark: Benchmark
    url: str
    verdict: str
    targets: list[dict[str, Any]]


@dataclass
class DeploymentEvidence:
    can_view: bool
    exports: list[ExportRow] = field(default_factory=list)
    benchmarks: list[BenchmarkRow] = field(default_factory=list)
    deployments: list[DeploymentRow] = field(default_factory=list)


def _plain_items(data: Any) -> list[tuple[str, Any]]:
    """The scalar entries of a JSON object, for a table cell (nested values are left out)."""
    if not isinstance(data, dict):
        return []
    return [(str(k), v) for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None]


def deployment_evidence(*, user: AnyUser, project: Project) -> DeploymentEvidence:
    """The deployment deliverable's evidence: the ready exports with their parity check, the
    latest benchmarks with each target met or missed, and each deployment's rollout."""
    if not policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS):
        return DeploymentEvidence(can_view=False)
    exports = (
        ModelExport.objects.filter(project=project, state=ExportState.READY)
        .select_related("run")
        .order_by("-created_at", "-id")[:MAX_EXPORTS]
    )
    return DeploymentEvidence(
        can_view=True,
        exports=[
            ExportRow(
                export=export,
                run_url=source_url("experiments:run", slug=project.slug, run_id=export.run.mlflow_run_id),
                parity=_plain_items(export.parity),
                metrics=_plain_items(export.metrics),
            )
            for export in exports
        ],
        benchmarks=[
            BenchmarkRow(
                benchmark=benchmark,
                url=source_url("deployments:benchmark", slug=project.slug, pk=benchmark.pk),
                verdict=benchmark_verdict(benchmark),
                targets=[row for row in benchmark.targets if isinstance(row, dict)],
            )
            for benchmark in _benchmarks(project)[:MAX_BENCHMARKS]
        ],
        deployments=deployment_rows(user=user, project=project),
    )


# --- The timeline ------------------------------------------------------------------------------

# The project's milestones among its timeline events; the deployments' own events (exports,
# rollouts) are named by their part of the app and recognised by prefix.
MILESTONE_VERBS = frozenset({
    "created", "dataset_created", "version_created", "split_created", "campaign_created",
    "labels_released", "evaluation_done", "deliverable_approve", "stage",
})
MILESTONE_PREFIXES = ("deployment", "rollout", "model_export", "benchmark")
MAX_MILESTONES = 40


def milestones(*, project: Project) -> list[tuple[datetime, str]]:
    """(when, what) of the project's milestones, oldest first: its timeline, which its page shows
    to everyone who sees the project."""
    wanted = Q(verb__in=MILESTONE_VERBS)
    for prefix in MILESTONE_PREFIXES:
        wanted |= Q(verb__startswith=prefix)
    latest = project.timeline.filter(wanted).order_by("-created_at", "-id").values_list("created_at", "text")
    return list(reversed(latest[:MAX_MILESTONES]))
