"""Permission-scoped reads of datasets. Every read that shows labels goes through here, and here
is where sealed labels are withheld."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import Http404

from datasets import kinds
from datasets.models import Dataset, DatasetVersion, Item, Profile, SealedItem, VersionState
from prakriya.jobs.models import Job, JobState
from projects import policy
from projects.models import Project
from projects.policy import AnyUser

if TYPE_CHECKING:
    from datasets.ingest import StagedVersion

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


@dataclass(frozen=True, slots=True)
class VisibleItem:
    """An item as people are shown it, by page, API, archive or analysis alike: exactly the fields
    named here, so a field added to Item stays hidden until someone decides to show it. A sealed
    item's label, spans (labels too: named entities) and original name (uploaded names often carry
    the label, as class folders do) are withheld."""

    id: int
    key: str
    label: str | None
    spans: list[dict] | None
    original_name: str
    text: str
    row: dict | list | None
    file_path: str
    content_hash: str
    size_bytes: int
    sealed: bool

    @classmethod
    def of(cls, item: Item, *, sealed: bool) -> VisibleItem:
        return cls(
            id=item.id,
            key=item.key,
            label=SEALED_LABEL if sealed else item.label,
            spans=SEALED_LABEL if sealed else item.spans,
            original_name="" if sealed else item.original_name,
            text=item.text,
            row=item.row,
            file_path=item.file_path,
            content_hash=item.content_hash,
            size_bytes=item.size_bytes,
            sealed=sealed,
        )


def item_page(*, version: DatasetVersion, offset: int, limit: int) -> list[VisibleItem]:
    """One window of the version's items in id order. The total is version.item_count: counting
    the rows again for every window (an archive reads thousands of them) would be a wasted scan."""
    keys = sealed_keys(dataset=version.dataset)
    items = version.items.order_by("id")[offset : offset + limit]
    return [VisibleItem.of(item, sealed=item.key in keys) for item in items]


def item_get(*, version: DatasetVersion, key: str) -> VisibleItem:
    if "\x00" in key:  # no key holds one, and PostgreSQL refuses it in a query
        raise Http404("No such item")
    item = version.items.filter(key=key).first()
    if item is None:
        raise Http404("No such item")
    return VisibleItem.of(item, sealed=item.key in sealed_keys(dataset=version.dataset))


def items_by_key(*, version: DatasetVersion, keys: list[str]) -> dict[str, VisibleItem]:
    """The version's items of these keys (those it holds), as people may see them."""
    sealed = sealed_keys(dataset=version.dataset)
    return {
        item.key: VisibleItem.of(item, sealed=item.key in sealed)
        for item in Item.objects.filter(version=version, key__in=keys)
    }


class VisibleItemPages:
    """A version's items as a paginator (Django's or DRF's) slices them: one page read at a time
    through item_page, so every item on it is a VisibleItem."""

    def __init__(self, version: DatasetVersion, *, max_page: int) -> None:
        self.version = version
        self.max_page = max_page

    def count(self) -> int:
        return self.version.item_count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[VisibleItem]:
        start = window.start or 0
        stop = window.stop if window.stop is not None else start + self.max_page
        return item_page(version=self.version, offset=start, limit=max(0, stop - start))


def version_reproduce(*, version: DatasetVersion, user: AnyUser) -> str:
    """The commands that clone the version's bytes from the server's repository, for those who
    work with the data there (policy.SEE_STORAGE: they name server paths); empty for the others and
    while the version is not ready."""
    dataset = version.dataset
    if version.state != VersionState.READY or not policy.can(
        user=user, project=dataset.project, action=policy.SEE_STORAGE
    ):
        return ""
    from datasets import storage

    try:
        return storage.reproduce_instructions(
            project_slug=dataset.project.slug, dataset_slug=dataset.slug, tag=version.git_tag
        )
    except (storage.StorageError, OSError, ValueError):
        return ""  # help text: its absence must not break the page or the record


def sealed_count(*, version: DatasetVersion) -> int:
    """How many of the version's items are in the sealed split."""
    keys = sealed_keys(dataset=version.dataset)
    return version.items.filter(key__in=keys).count() if keys else 0


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


def version_identical(*, dataset: Dataset, staged: StagedVersion) -> DatasetVersion | None:
    """The newest ready version of the dataset whose content is exactly the staged upload's, or None.

    Same content is what a version records of its items, and what `version_diff` compares: the
    same item keys (a row's or text's place in the file, an image's content hash), each with the
    same content hash (the row's values, the text, the image's bytes), the same label and the same
    spans; for tabular data also the same columns in the same order. Two such versions' diff is
    empty. (Their DVC md5s differ anyway, by the salt of each write: the md5 cannot tell.) Not
    content: the names the files were uploaded under and the version's message.

    Sealed keys are compared by content hash only, as in `version_diff`: their labels, spans and
    uploaded names are in the sealed store (not in the items read here), and an answer that
    compared them would tell whether a guessed test label is right. So an upload that differs from
    a version only in sealed labels is identical to it; the team cannot change sealed labels by
    deriving a version either. The answer names a version of a dataset whose project the uploader
    may launch jobs in, hence see with every version: nothing they cannot already open."""
    if not staged.items:
        return None
    sealed = sealed_keys(dataset=dataset)
    wanted = {
        item.key: (item.content_hash,) if item.key in sealed else (item.content_hash, item.label, item.spans)
        for item in staged.items
    }
    if len(wanted) != len(staged.items):
        return None  # keys repeat: not a layout any version has
    candidates = dataset.versions.filter(state=VersionState.READY, item_count=len(wanted)).order_by("-number")
    for version in candidates:
        if version.columns != staged.columns:
            continue
        rows = version.items.values_list("key", "content_hash", "label", "spans").iterator(chunk_size=5000)
        matched = 0
        for key, digest, label, spans in rows:
            if wanted.get(key) != ((digest,) if key in sealed else (digest, label, spans)):
                break
            matched += 1
        else:
            # Item keys are unique per version: as many matches as wanted items is the same items.
            if matched == len(wanted):
                return version
    return None
