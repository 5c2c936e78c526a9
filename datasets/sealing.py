"""Sealing: once an item's key is sealed (the test part of a split), nothing the platform keeps in
the open depends on the item's label.

- `keys_seal` (in the split's transaction): every version's items with those keys give up their
  label, spans and uploaded name to the sealed store (encrypted; only the sealed evaluation reads
  it), the consumers registered in datasets.hooks drop the items (labelling campaigns: their
  queue rows, claims and annotations, the annotations kept in the sealed store), and the
  repository job is started.
- `version_files_seal` (in the version write job, before the commit): a new version's files never
  carry a sealed key's label; what they carried goes to the sealed store.
- `repository_seal` (the `dataset_seal` job): every ready version whose committed files may hold a
  sealed key's label (its `sealed_fingerprint` is stale) is written again without it, with
  `split.csv` for a split version, its tag moved to the new commit; then the objects that held
  those labels are deleted from the DVC cache and the remote (datasets.storage).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from datasets import hooks, ingest, kinds, sealed_store, storage
from datasets.csv_safety import csv_line
from datasets.ingest import layout
from datasets.models import Dataset, DatasetVersion, Item, SealedItem, VersionRevision, VersionState
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.services import job_enqueue

logger = logging.getLogger(__name__)

SPLIT_FILE = "split.csv"
BATCH = 5000

Progress = Callable[[float, str], None]


def _chunks(values: list, size: int = BATCH) -> Iterable[list]:
    for first in range(0, len(values), size):
        yield values[first:first + size]


def _sealed_fields(label, spans, original_name) -> dict:
    return {"label": label, "spans": spans, "original_name": original_name}


def _items_seal(version: DatasetVersion, keys: list[str]) -> int:
    """The version's items with these keys give up their label, spans and uploaded name to the
    sealed store. Returns how many items had something to give."""
    moved = 0
    for chunk in _chunks(keys):
        rows = list(
            Item.objects.filter(version=version, key__in=chunk)
            .filter(Q(label__isnull=False) | Q(spans__isnull=False) | ~Q(original_name=""))
            .values_list("pk", "key", "label", "spans", "original_name")
        )
        if not rows:
            continue
        sealed_store.records_write(
            version=version, records={key: _sealed_fields(label, spans, name) for _, key, label, spans, name in rows}
        )
        Item.objects.filter(pk__in=[pk for pk, *_ in rows]).update(label=None, spans=None, original_name="")
        moved += len(rows)
    return moved


def keys_seal(*, dataset: Dataset, keys: Collection[str], actor=None) -> list[str]:
    """Moves what would tell the labels of `keys` out of every version of the dataset (call inside
    the transaction that creates their SealedItem rows). Returns sentences for the timeline."""
    keys = sorted(set(keys))
    moved = sum(_items_seal(version, keys) for version in dataset.versions.all())
    notes = [note for consumer in hooks.seal_consumers() if (note := consumer(dataset=dataset, keys=keys, actor=actor))]
    transaction.on_commit(lambda: repository_seal_start(dataset=dataset, actor=actor), robust=True)
    logger.info("Sealed %d keys of %s (%d item records moved)", len(keys), dataset, moved)
    return notes


def _sealed_among(dataset: Dataset, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys):
        found |= set(SealedItem.objects.filter(dataset=dataset, key__in=chunk).values_list("key", flat=True))
    return found


def _fingerprint(sealed_keys: Iterable[str], split_id: int | None) -> str:
    keys = sorted(sealed_keys)
    if not keys and split_id is None:
        return ""
    digest = hashlib.sha256(f"split:{split_id or ''}\n".encode())
    for key in keys:
        digest.update(key.encode("utf-8") + b"\n")
    return digest.hexdigest()


def version_files_seal(*, version: DatasetVersion, staged: ingest.StagedVersion) -> str:
    """Leaves the labels of the dataset's sealed keys out of a version about to be committed: the
    staged items lose them (into the sealed store, for `version`) and the layout file is written
    again; a derived version keeps its parent's sealed records of the sealed items it holds.
    Returns the version's fingerprint (what its files are written without; version_seal_state)."""
    sealed = _sealed_among(version.dataset, [i.key for i in staged.items])
    taken: dict[str, dict] = {}
    for item in staged.items:
        if item.key in sealed and (item.label is not None or item.spans is not None or item.original_name):
            taken[item.key] = _sealed_fields(item.label, item.spans, item.original_name)
            item.label, item.spans, item.original_name = None, None, ""
    if taken:
        _layout_rewrite(staged)
    sealed_store.records_write(version=version, records=taken)
    if version.parent_id:
        sealed_store.records_carry(parent=version.parent, version=version, keys=sorted(sealed - set(taken)))
    return _fingerprint(sealed, None)


def _layout_rewrite(staged: ingest.StagedVersion) -> None:
    # The layout files are replaced, never written in place: a file materialised from the DVC
    # cache may be a hard link to the cached object.
    for name in (layout.TABLE_FILE, layout.TEXTS_FILE, layout.LABELS_FILE):
        (staged.root / name).unlink(missing_ok=True)
    layout.write_layout(kind=staged.kind, root=staged.root, items=staged.items, columns=staged.columns)


def version_seal_state(version: DatasetVersion) -> str:
    """What the version's committed files must be written without: the sealed keys it holds, and
    its split (written as split.csv). Equal to `version.sealed_fingerprint` once they are."""
    keys = Item.objects.filter(
        version=version, key__in=SealedItem.objects.filter(dataset_id=version.dataset_id).values("key")
    ).values_list("key", flat=True)
    split = version.split if hasattr(version, "split") else None
    return _fingerprint(keys, split.pk if split else None)


def versions_stale(dataset: Dataset) -> list[DatasetVersion]:
    """Ready versions whose committed files may still hold a sealed label, oldest first."""
    versions = dataset.versions.filter(state=VersionState.READY).select_related("split").order_by("number")
    return [v for v in versions if version_seal_state(v) != v.sealed_fingerprint]


def repository_seal_start(*, dataset: Dataset, actor=None) -> Job | None:
    """The job that writes the dataset's stale versions again; one at a time per dataset."""
    active = Job.objects.filter(
        kind=kinds.SEAL, target_id=dataset.pk, state__in=[JobState.QUEUED, JobState.RUNNING]
    ).order_by("-id").first()
    if active is not None and active.state == JobState.QUEUED:
        return active  # not started: it will see every key sealed so far
    # Started by the platform, never refused by the caps on active jobs: a split must lead to it.
    return job_enqueue(kind=kinds.SEAL, project=dataset.project, target=dataset, created_by=actor, system=True)


def _split_write(version: DatasetVersion, root: Path) -> None:
    rows = version.split.assignments.select_related("item").order_by("item__key").values_list("item__key", "part")
    draft = root / f"{SPLIT_FILE}.tmp"
    with open(draft, "w", encoding="utf-8", newline="") as fh:
        fh.write(csv_line(["_item", "part"]))
        for key, part in rows.iterator(chunk_size=BATCH):
            fh.write(csv_line([key, part]))
    draft.replace(root / SPLIT_FILE)


def version_rewrite(*, version: DatasetVersion, scratch: Path) -> VersionRevision | None:
    """Writes one version's files again without its sealed keys' labels (and with split.csv when
    it is split), moving its tag; records the revision. None when nothing had to change."""
    dataset = version.dataset
    project_slug = dataset.project.slug
    tag = storage.version_tag(dataset.slug, version.number)
    commit = storage.tag_commit(project_slug=project_slug, tag=tag)
    folder = scratch / f"v{version.number}"
    storage.materialize_version(project_slug=project_slug, dataset_slug=dataset.slug, tag=tag, dest=folder)
    staged = ingest.read_staged(kind=dataset.kind, root=folder)
    sealed = _sealed_among(dataset, [i.key for i in staged.items])
    split_id = version.split.pk if hasattr(version, "split") else None
    # An item recorded while its key was being sealed (a version written meanwhile) may still
    # hold its label in the database.
    _items_seal(version, sorted(sealed))
    taken: dict[str, dict] = {}
    for item in staged.items:
        if item.key in sealed and (item.label is not None or item.spans is not None):
            taken[item.key] = _sealed_fields(item.label, item.spans, "")
            item.label, item.spans = None, None
    _layout_rewrite(staged)
    if hasattr(version, "split"):
        _split_write(version, folder)
    sealed_store.records_write(version=version, records=taken)
    what = f"{len(taken)} sealed label{'s' if len(taken) != 1 else ''} left out"
    if hasattr(version, "split"):
        what += ", split.csv added"
    old, new = storage.recommit_version(
        project_slug=project_slug, dataset_slug=dataset.slug, number=version.number, source_dir=folder,
        message=f"{dataset.name} v{version.number}: {what}", expected_commit=commit,
    )
    with transaction.atomic():
        DatasetVersion.objects.filter(pk=version.pk).update(
            git_commit=new.commit, dvc_md5=new.dvc_md5, sealed_fingerprint=_fingerprint(sealed, split_id)
        )
        return VersionRevision.objects.create(
            version=version, old_commit=old.commit, old_dvc_md5=old.dvc_md5, new_commit=new.commit,
            new_dvc_md5=new.dvc_md5, reason=what,
        )


def repository_seal(*, dataset: Dataset, progress: Progress, scratch: Path) -> dict:
    """The seal job's work: every stale version written again, the workspace back on the latest
    version, the old label files purged. Safe to run again after a crash."""
    rewritten: list[int] = []
    for _ in range(3):  # versions written meanwhile by other jobs are caught by a second pass
        stale = versions_stale(dataset)
        if not stale:
            break
        for index, version in enumerate(stale):
            progress(5 + 80 * index / len(stale), f"Writing v{version.number} again without sealed labels")
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            try:
                version_rewrite(version=version, scratch=scratch)
            except storage.VersionMovedError:
                continue  # another seal job wrote it meanwhile: the next pass looks again
            rewritten.append(version.number)
    shutil.rmtree(scratch, ignore_errors=True)
    latest = dataset.versions.filter(state=VersionState.READY).order_by("-number").first()
    project_slug = dataset.project.slug
    if latest is not None and rewritten:
        storage.workspace_restore(
            project_slug=project_slug, dataset_slug=dataset.slug, tag=storage.version_tag(dataset.slug, latest.number)
        )
    progress(90, "Deleting the old label files from the DVC cache and remote")
    purged = storage.purge_unreferenced(project_slug=project_slug, dataset_slug=dataset.slug)
    return {"rewritten": sorted(set(rewritten)), "purged_objects": purged}
