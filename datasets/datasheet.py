"""What the pages show of a version's data understanding: its current profile's warnings ranked by
severity, class balance, and the profile job still computing it. Everything here comes from the
permission-scoped selectors, so no sealed label can reach a page through it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType

from datasets import kinds, selectors
from datasets.diff_charts import class_balance_figure
from datasets.models import Dataset, DatasetVersion, Profile
from prakriya.jobs.models import Job, JobState

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
SEVERITY_TONE = {"high": "danger", "medium": "warn", "low": "muted"}


def ranked_warnings(warnings: list[dict]) -> list[dict]:
    """Most severe first; each gets the badge tone it is shown with."""
    ranked = sorted(warnings or [], key=lambda w: SEVERITY_ORDER.get(str(w.get("severity")), 3))
    return [{**w, "tone": SEVERITY_TONE.get(str(w.get("severity")), "muted")} for w in ranked]


def latest_profile_job(version: DatasetVersion) -> Job | None:
    return (
        Job.objects.filter(
            kind=kinds.PROFILE,
            target_type=ContentType.objects.get_for_model(DatasetVersion),
            target_id=version.pk,
        )
        .order_by("-id")
        .first()
    )


def waiting_write_jobs(dataset: Dataset) -> list[Job]:
    """Version writes of the dataset that have not started yet: their version has no row until
    the job reserves its number, so the dataset page lists the jobs themselves."""
    return list(
        Job.objects.filter(
            kind=kinds.VERSION_WRITE,
            target_type=ContentType.objects.get_for_model(Dataset),
            target_id=dataset.pk,
            state=JobState.QUEUED,
        ).order_by("id")
    )


@dataclass
class LiveStats:
    """The statistics of a version as a datasheet embeds them."""

    version: DatasetVersion
    profile: Profile | None
    warnings: list[dict] = field(default_factory=list)
    balance: dict[str, int] = field(default_factory=dict)
    balance_figure: str | None = None
    profile_job: Job | None = None

    @property
    def top_warnings(self) -> list[dict]:
        return self.warnings[:5]


def live_stats(version: DatasetVersion, *, chart: bool = True) -> LiveStats:
    profile = selectors.profile_current(version=version)
    balance = selectors.class_balance(version=version)
    return LiveStats(
        version=version,
        profile=profile,
        warnings=ranked_warnings(profile.warnings) if profile else [],
        balance=balance,
        balance_figure=class_balance_figure(balance) if chart else None,
        profile_job=None if profile else latest_profile_job(version),
    )


@dataclass
class Sheet:
    """One dataset's datasheet summary on the data document deliverable's page."""

    dataset: Dataset
    document: object | None
    stats: LiveStats | None


def sheets(datasets: list[Dataset]) -> list[Sheet]:
    result = []
    for dataset in datasets:
        document = getattr(dataset, "document", None)
        stats = live_stats(document.version, chart=False) if document is not None else None
        result.append(Sheet(dataset=dataset, document=document, stats=stats))
    return result
