"""Permission-scoped reads of datasets. Every read that shows labels goes through here, and here
is where sealed labels are withheld."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet
from django.http import Http404

from datasets import kinds
from datasets.models import Dataset, DatasetVersion, Item, Profile, SealedItem, VersionState
from prakriya.jobs.models import Job, JobState
from projects.models import Project

SEALED_LABEL = None  # what a sealed item's label reads as, everywhere


def dataset_list(*, project: Project) -> QuerySet[Dataset]:
    """The caller has already resolved `project` through projects.selectors (visibility)."""
    return project.datasets.all()


def dataset_get(*, project: Project, slug: str) -> Dataset:
    dataset = project.datasets.filter(slug=slug).first()
    if dataset is None:
        raise Http404("No such dataset")
    return dataset


def version_list(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return dataset.versions.order_by("-number")


def version_get(*, dataset: Dataset, number: int) -> DatasetVersion:
    version = dataset.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version")
    return version


def ready_version_get(*, dataset: Dataset, number: int) -> DatasetVersion:
    version = version_get(dataset=dataset, number=number)
    if version.state != VersionState.READY:
        raise Http404("This version is not ready")
    return version


def sealed_keys(*, dataset: Dataset) -> frozenset[str]:
    return frozenset(SealedItem.objects.filter(dataset=dataset).values_list("key", flat=True))


def sealed_fingerprint(keys: frozenset[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest() if keys else ""


class VisibleItem:
    """An item as shown to people: a sealed item's label, spans and original name are withheld."""

    __slots__ = ("item", "sealed")

    def __init__(self, item: Item, sealed: bool) -> None:
        self.item, self.sealed = item, sealed

    def __getattr__(self, name):
        return getattr(self.item, name)

    @property
    def label(self) -> str | None:
        return SEALED_LABEL if self.sealed else self.item.label

    @property
    def spans(self) -> list[dict] | None:
        # Spans are labels (named entities), sealed exactly like them.
        return SEALED_LABEL if self.sealed else self.item.spans

    @property
    def original_name(self) -> str:
        # Uploaded names often carry the label (class folders), so a sealed item shows none.
        return "" if self.sealed else self.item.original_name


def item_page(*, version: DatasetVersion, offset: int, limit: int) -> tuple[list[VisibleItem], int]:
    keys = sealed_keys(dataset=version.dataset)
    qs = version.items.order_by("id")
    total = qs.count()
    return [VisibleItem(item, item.key in keys) for item in qs[offset : offset + limit]], total


def item_get(*, version: DatasetVersion, key: str) -> VisibleItem:
    item = version.items.filter(key=key).first()
    if item is None:
        raise Http404("No such item")
    return VisibleItem(item, item.key in sealed_keys(dataset=version.dataset))


def class_balance(*, version: DatasetVersion) -> dict[str, int]:
    """Label counts over the items whose labels anyone may see."""
    from django.db.models import Count

    keys = sealed_keys(dataset=version.dataset)
    rows = (
        version.items.exclude(key__in=keys).exclude(label__isnull=True)
        .values("label").annotate(n=Count("id")).order_by("-n", "label")
    )
    return {row["label"]: row["n"] for row in rows}


def profile_current(*, version: DatasetVersion) -> Profile | None:
    """The newest profile computed with the dataset's current sealed set left out; an older one
    may mention labels sealed since, so it is never shown."""
    fingerprint = sealed_fingerprint(sealed_keys(dataset=version.dataset))
    return version.profiles.filter(sealed_fingerprint=fingerprint).order_by("-created_at", "-id").first()


def seal_job_active(*, dataset: Dataset):
    """The job writing the dataset's versions again without sealed labels, while it waits or runs
    (datasets.kinds.SEAL)."""
    return (
        Job.objects.filter(kind=kinds.SEAL, target_id=dataset.pk, project_id=dataset.project_id,
                           state__in=[JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED])
        .order_by("-id").first()
    )


def version_diff(*, old: DatasetVersion, new: DatasetVersion) -> dict:
    """Items added, removed and changed between two versions of a dataset, label and span changes
    and the class balance before and after. Sealed items are never compared by label or spans:
    nothing here depends on a sealed label (their labels are in neither version's items anyway;
    see datasets.sealing), only how many of them both versions hold."""
    keys = sealed_keys(dataset=new.dataset)
    fields = ("key", "label", "content_hash", "spans")
    before = {i["key"]: i for i in old.items.values(*fields)}
    after = {i["key"]: i for i in new.items.values(*fields)}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    common = set(before) & set(after)
    open_common = common - keys
    changed = sorted(k for k in common if before[k]["content_hash"] != after[k]["content_hash"])
    relabelled = sorted(k for k in open_common if before[k]["label"] != after[k]["label"])
    respanned = sorted(k for k in open_common if before[k]["spans"] != after[k]["spans"])
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "label_changes": [{"key": k, "before": before[k]["label"], "after": after[k]["label"]} for k in relabelled],
        "span_changes": [{"key": k, "before": before[k]["spans"], "after": after[k]["spans"]} for k in respanned],
        "sealed_items": len(common & keys),
        "balance_before": class_balance(version=old),
        "balance_after": class_balance(version=new),
    }
