"""A campaign's labels written as a new version of its dataset: the label version that training
runs pin.

How each item's label is decided (selectors.label_set): the lead's gold label if the item was
adjudicated, else the strict majority of its annotators, else undecided. Undecided items (and the
items nobody labelled, and the sealed test items, which are never in a campaign) keep the label
and spans they had in the campaign's version.

How a decided value becomes part of the dataset:
- single: the label name becomes the item's label;
- multi: the chosen names, sorted, joined with "|" (e.g. "damaged|late"), become the item's label
  (a dataset label is one string); an item on which the annotators agreed that no label applies
  becomes unlabelled (an empty label);
- span: the decided spans replace the item's spans (texts.jsonl's "spans" field, Item.spans);
  its label is left as it was. An item on which the annotators agreed that no span applies gets
  an empty span list: annotated, with no entity, which is not the same as not annotated.

Every release of every kind writes its version through datasets.services.version_start_derived,
the ordinary DVC versioning. The LabelRelease row keeps the summary (how many items were decided
how, the annotations per annotator), never the labels themselves: those are in the version.
"""

from __future__ import annotations

from collections import Counter

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from datasets import services as dataset_services
from datasets import storage
from datasets.annotation import selectors
from datasets.annotation.models import Annotation, Campaign, CampaignItem, LabelRelease, TaskType
from datasets.models import DatasetVersion
from projects import policy
from projects.services import timeline_record

MULTI_SEPARATOR = "|"
MAX_DATASET_LABEL = 200  # datasets.models.Item.label
METHOD = "gold label if adjudicated, else strict majority"


def dataset_label(task_type: str, value) -> str | None:
    """The dataset label of a decided campaign value (see the module's docstring)."""
    if task_type == TaskType.MULTI:
        return MULTI_SEPARATOR.join(sorted(value)) or None
    return str(value)


def decided_labels(campaign: Campaign) -> tuple[dict[str, object], dict]:
    """Item key → decided value, and the release summary (how many were decided how, and the
    annotations per annotator). Plain: reads the database, writes nothing."""
    decided = selectors.label_set(campaign=campaign)
    keys = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "item__key"))
    sources = Counter(entry["source"] for entry in decided.values())
    values = {keys[item_id]: entry["value"] for item_id, entry in decided.items() if entry["source"] != "undecided"}
    per_annotator = dict(
        Annotation.objects.filter(campaign=campaign).values_list("annotator__username")
        .annotate(n=Count("id")).order_by("annotator__username")
    )
    summary = {
        "gold": sources.get("gold", 0),
        "majority": sources.get("majority", 0),
        # Items with votes but no strict majority, plus those nobody labelled: both keep the old label.
        "undecided": len(keys) - sources.get("gold", 0) - sources.get("majority", 0),
        "items": len(keys),
        "annotators": per_annotator,
        "method": METHOD,
        "task_type": campaign.task_type,
    }
    return values, summary


def respan_map(values: dict[str, object]) -> dict[str, list[dict]]:
    """Item key → spans for version_start_derived's `respan`. The values were checked against the
    item's text when they were submitted; staging the version checks them again."""
    return {key: [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in value]
            for key, value in values.items()}


def relabel_map(campaign: Campaign, values: dict[str, object]) -> dict[str, str | None]:
    """Item key → dataset label for version_start_derived's `relabel`."""
    if campaign.task_type == TaskType.MULTI:
        clashing = sorted({name for value in values.values() for name in value if MULTI_SEPARATOR in name})
        if clashing:
            # "a|b" could not be told apart from the two labels "a" and "b" once joined.
            raise ValidationError(
                f"The label “{clashing[0]}” contains “{MULTI_SEPARATOR}”, which separates the labels of a "
                "multi-label item in the dataset; rename it before releasing."
            )
    relabel = {key: dataset_label(campaign.task_type, value) for key, value in values.items()}
    too_long = sorted(key for key, label in relabel.items() if label and len(label) > MAX_DATASET_LABEL)
    if too_long:
        raise ValidationError(
            f"{len(too_long)} items would get a label longer than {MAX_DATASET_LABEL} characters once their "
            f"labels are joined with “{MULTI_SEPARATOR}” (e.g. {too_long[0]}); use fewer or shorter label names."
        )
    return relabel


@transaction.atomic
def release_start(*, campaign: Campaign, actor: AbstractBaseUser) -> LabelRelease:
    """Records a release of the campaign's labels and starts the job that writes them as a new
    version derived from the campaign's version. The version is found later as the one written
    by `release.job`."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS,
                 what="write a campaign's labels as a dataset version")
    values, summary = decided_labels(campaign)
    if not values:
        raise ValidationError("No item has a decided label yet (a gold label or a strict majority): nothing to write.")
    guideline = selectors.guideline_current(campaign=campaign)
    counts = f"{summary['gold']} gold, {summary['majority']} majority, {summary['undecided']} unchanged"
    if campaign.task_type == TaskType.SPAN:
        changes = {"relabel": {}, "respan": respan_map(values)}
        message = f"Spans of campaign “{campaign.name}”: {counts}"
    else:
        changes = {"relabel": relabel_map(campaign, values)}
        message = f"Labels of campaign “{campaign.name}”: {counts}"
    try:
        job = dataset_services.version_start_derived(
            version=campaign.version, actor=actor, remove_keys=[], message=message, **changes,
        )
    except storage.StorageError as exc:
        # The version's files are gone from the store (or it is unreachable): say so, not a 500.
        raise ValidationError(f"The files of {campaign.version} could not be read: {exc}") from exc
    release = LabelRelease.objects.create(
        campaign=campaign, job=job, guideline_version=guideline, summary=summary, created_by=actor
    )
    what = "spans" if campaign.task_type == TaskType.SPAN else "labels"
    timeline_record(
        project=campaign.project, actor=actor, verb="labels_released",
        text=f"{campaign.name}: {summary['gold']} gold and {summary['majority']} majority {what} released",
    )
    return release


def release_version(release: LabelRelease) -> DatasetVersion | None:
    """The dataset version a release wrote: the row itself once linked, else the version its
    write job reserved (pending, ready or failed), else None (not started yet; or a span release
    made before span releases wrote versions)."""
    if release.version_id:
        return release.version
    if release.job_id is None:
        return None
    return DatasetVersion.objects.filter(job_id=release.job_id).select_related("dataset").first()


def release_list(*, campaign: Campaign) -> list[tuple[LabelRelease, DatasetVersion | None]]:
    """The campaign's releases, newest first, each with its version resolved in one query."""
    releases = list(
        campaign.releases.select_related("job", "guideline_version", "created_by", "version__dataset")
    )
    by_job = {
        v.job_id: v for v in DatasetVersion.objects.filter(
            job_id__in=[r.job_id for r in releases if r.job_id and not r.version_id]
        ).select_related("dataset")
    }
    return [(r, r.version if r.version_id else by_job.get(r.job_id)) for r in releases]
