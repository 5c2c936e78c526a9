"""Writes for datasets: creating datasets, starting version writes and profiles, splits and the
sealed test set, the data document. Heavy work happens in jobs (datasets/jobs.py)."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from datasets import ingest, kinds, sealed_store, sealing, selectors
from datasets.models import (
    CollectionMode,
    DataDocument,
    Dataset,
    DatasetKind,
    DatasetVersion,
    Item,
    Profile,
    SealedItem,
    Split,
    SplitAssignment,
    SplitPart,
    VersionState,
)
from prakriya.jobs.models import Job
from prakriya.jobs.services import JobLimitReached, job_enqueue
from prakriya.lib.bulk import bulk_insert
from projects import policy
from projects.models import DeliverableKind, DeliverableState, Project
from projects.services import deliverable_move, timeline_record

SKLEARN_DATASETS = {
    "digits": DatasetKind.IMAGE,
    "iris": DatasetKind.TABULAR,
    "wine": DatasetKind.TABULAR,
    "breast_cancer": DatasetKind.TABULAR,
}


class VersionIdentical(ValidationError):
    """An upload whose content is an existing version's (datasets.selectors.version_identical):
    no copy is written, and the person is sent to that version instead."""

    def __init__(self, version: DatasetVersion) -> None:
        self.version = version
        super().__init__(
            f"This upload is identical to v{version.number} of {version.dataset.name} (the same items, contents "
            f"and labels): no new version was written. Open v{version.number} instead."
        )


def _staging_root() -> Path:
    return Path(settings.DATA_DIR) / "staging"


def staging_dir() -> Path:
    path = _staging_root() / uuid.uuid4().hex
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def staging_path(name: str) -> Path:
    """The staging folder a job parameter names (staging_dir's name); ValueError for anything
    else. Jobs queued before parameters named folders by name carry the absolute path."""
    if re.fullmatch(r"[0-9a-f]{32}", name):
        return _staging_root() / name
    path = Path(name)
    if path.is_absolute() and path.parent.resolve() == _staging_root().resolve() and re.fullmatch(r"[0-9a-f]{32}", path.name):
        return path
    raise ValueError("not a staging folder")


@transaction.atomic
def dataset_create(
    *, project: Project, actor: AbstractBaseUser, slug: str, name: str, kind: str, description: str = ""
) -> Dataset:
    policy.require(user=actor, project=project, action=policy.EDIT_DELIVERABLE, what="add datasets")
    if project.datasets.filter(slug__iexact=slug).exists():
        raise ValidationError({"slug": ["This project already has a dataset with this address."]})
    dataset = Dataset(project=project, slug=slug, name=name, kind=kind, description=description, created_by=actor)
    dataset.full_clean()
    dataset.save()
    timeline_record(project=project, actor=actor, verb="dataset_created", text=f"Dataset “{name}” created")
    return dataset


def staged_manifest_path(staging: Path) -> Path:
    return staging.with_name(staging.name + ".manifest.json")


def staged_manifest_write(staged: ingest.StagedVersion) -> None:
    """What staging learnt that the normalised layout has no place for, kept beside the folder for
    the job: the uploaded names, and each file's hash and size (so the job does not read and
    hash 100,000 images a second time; the folder is the platform's own, written moments ago)."""
    manifest = {
        "names": {item.key: item.original_name for item in staged.items if item.original_name},
        "files": {item.file_path: [item.content_hash, item.size_bytes] for item in staged.items if item.file_path},
    }
    staged_manifest_path(staged.root).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def staged_read(*, kind: str, staging: Path) -> ingest.StagedVersion:
    """The items of a staging folder as its manifest completes them."""
    path = staged_manifest_path(staging)
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    files = {name: (pair[0], pair[1]) for name, pair in manifest.get("files", {}).items()}
    staged = ingest.read_staged(kind=kind, root=staging, known_files=files)
    names = manifest.get("names", {})
    for item in staged.items:
        item.original_name = names.get(item.key, item.original_name)
    return staged


def _staged_discard(staged: ingest.StagedVersion) -> None:
    shutil.rmtree(staged.root, ignore_errors=True)
    staged_manifest_path(staged.root).unlink(missing_ok=True)


def _start_version_job(
    *, dataset: Dataset, actor, staged: ingest.StagedVersion, message: str, parent=None, refuse_identical: bool = False
) -> Job:
    if staged.kind != dataset.kind:
        shutil.rmtree(staged.root, ignore_errors=True)
        raise ValidationError(f"This is {staged.kind} data; the dataset holds {dataset.get_kind_display().lower()} data.")
    if not staged.items:
        shutil.rmtree(staged.root, ignore_errors=True)
        raise ValidationError("The upload holds no items.")
    if refuse_identical:
        twin = selectors.version_identical(dataset=dataset, staged=staged)
        if twin is not None:
            _staged_discard(staged)
            raise VersionIdentical(twin)
    staged_manifest_write(staged)
    try:
        return job_enqueue(
            kind=kinds.VERSION_WRITE,
            project=dataset.project,
            target=dataset,
            created_by=actor,
            params={
                # The folder's name under <data>/staging, never its path: jobs' parameters are shown.
                "staging": staged.root.name,
                "message": message[:300],
                "parent_id": parent.pk if parent else None,
                "columns": staged.columns,
                # Checked again in the job: an identical version may have been written meanwhile.
                "refuse_identical": refuse_identical,
            },
        )
    except JobLimitReached:
        # Over a cap on active jobs: the staged files would wait for a job that never comes.
        _staged_discard(staged)
        raise


def version_start_from_upload(
    *,
    dataset: Dataset,
    actor: AbstractBaseUser,
    path: Path,
    original_name: str,
    message: str = "",
    label_column: str = "label",
    text_column: str = "text",
    allow_identical: bool = False,
) -> Job:
    """Validates and normalises the upload now (a bad file is refused here, with nothing left
    behind), then writes the version in a job. An upload identical to a ready version of the
    dataset is refused with VersionIdentical, naming that version, unless `allow_identical`."""
    policy.require(user=actor, project=dataset.project, action=policy.LAUNCH_JOBS, what="upload data")
    dest = staging_dir()
    try:
        staged = ingest.stage_upload(
            path=path, original_name=original_name, kind=dataset.kind, dest=dest,
            label_column=label_column, text_column=text_column,
        )
    except ingest.UploadRejected as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ValidationError(str(exc)) from exc
    return _start_version_job(
        dataset=dataset, actor=actor, staged=staged, message=message or f"Upload of {original_name}",
        refuse_identical=not allow_identical,
    )


def version_start_from_sklearn(*, dataset: Dataset, actor: AbstractBaseUser, name: str) -> Job:
    policy.require(user=actor, project=dataset.project, action=policy.LAUNCH_JOBS, what="import data")
    if name not in SKLEARN_DATASETS:
        raise ValidationError(f"Unknown bundled dataset {name!r}; choose one of {', '.join(SKLEARN_DATASETS)}.")
    staged = ingest.stage_sklearn(name=name, dest=staging_dir())
    return _start_version_job(dataset=dataset, actor=actor, staged=staged, message=f"scikit-learn’s bundled {name} data")


def version_start_derived(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    remove_keys: list[str],
    relabel: dict[str, str | None],
    respan: dict[str, list | None] | None = None,
    add_path: Path | None = None,
    add_name: str = "",
    message: str = "",
) -> Job:
    """A new version from an older one: items removed, relabelled, their spans replaced (`respan`:
    key → spans, None for no span annotation; text datasets only), and items added from an
    upload. Kept items keep their spans unless respanned."""
    from datasets import storage

    respan = respan or {}
    dataset = version.dataset
    policy.require(user=actor, project=dataset.project, action=policy.LAUNCH_JOBS, what="create versions")
    if version.state != VersionState.READY:
        raise ValidationError("Only a ready version can be the base of a new one.")
    if respan and dataset.kind != DatasetKind.TEXT:
        raise ValidationError("Only the items of a text dataset have spans.")
    keys = set(version.items.values_list("key", flat=True))
    named = set(remove_keys) | set(relabel) | set(respan)
    unknown = sorted(named - keys)
    if unknown:
        raise ValidationError(f"Unknown item keys: {', '.join(unknown[:10])}" + (" …" if len(unknown) > 10 else ""))
    # The sealed test items are not the team's to change: a derived version that relabelled one
    # and a diff against it would tell its label. Refused whatever is asked of them.
    touched = sorted(SealedItem.objects.filter(dataset=dataset, key__in=named).values_list("key", flat=True))
    if touched:
        raise ValidationError(
            f"{len(touched)} of these items belong to the sealed test split (e.g. {touched[0]}): sealed items "
            "cannot be removed, relabelled or respanned."
        )
    base = staging_dir()
    storage.materialize_version(project_slug=dataset.project.slug, dataset_slug=dataset.slug, tag=version.git_tag, dest=base)
    old = ingest.read_staged(kind=dataset.kind, root=base)
    items = []
    for item in old.items:
        if item.key in remove_keys:
            continue
        if item.key in relabel:
            item.label = relabel[item.key] or None
        if item.key in respan:
            item.spans = respan[item.key]  # checked against the item's text when staged below
        items.append(item)
    if add_path is not None:
        added_dir = staging_dir()
        try:
            added = ingest.stage_upload(path=add_path, original_name=add_name, kind=dataset.kind, dest=added_dir)
        except ingest.UploadRejected as exc:
            shutil.rmtree(added_dir, ignore_errors=True)
            shutil.rmtree(base, ignore_errors=True)
            raise ValidationError(str(exc)) from exc
        if dataset.kind == DatasetKind.TABULAR and added.columns != old.columns:
            raise ValidationError(f"Added rows have columns {added.columns}; the version has {old.columns}.")
        # Every key the dataset ever had (and every sealed one) is taken: an added item reusing a
        # removed item's key would read as a relabel in diffs, or inherit its seal.
        taken = set(Item.objects.filter(version__dataset=dataset).values_list("key", flat=True).distinct())
        taken |= set(SealedItem.objects.filter(dataset=dataset).values_list("key", flat=True))
        taken |= {i.key for i in items}
        for new_item in ingest.assign_new_keys(kind=dataset.kind, items=added.items, taken=taken):
            if new_item.file_path:
                # Image files are named by content, so copying them next to the base's cannot clash.
                target = base / new_item.file_path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(added.root / new_item.file_path, target)
            items.append(new_item)
        shutil.rmtree(added.root, ignore_errors=True)
    dest = staging_dir()
    try:
        staged = ingest.stage_items(kind=dataset.kind, items=items, source_root=base, dest=dest, columns=old.columns)
    except ingest.UploadRejected as exc:
        # A bad new label or span (stage_items leaves nothing at dest): the caller's mistake, said as such.
        raise ValidationError(str(exc)) from exc
    finally:
        shutil.rmtree(base, ignore_errors=True)
    changes = f"{len(remove_keys)} removed, {len(relabel)} relabelled" + (f", {len(respan)} respanned" if respan else "")
    return _start_version_job(
        dataset=dataset, actor=actor, staged=staged, parent=version,
        message=message or f"From v{version.number}: {changes}",
    )


def version_reserve(*, dataset: Dataset, job: Job, parent_id: int | None, message: str, columns: list[str]) -> DatasetVersion:
    """The version row a job writes; found again if the job is re-run after a crash."""
    with transaction.atomic():
        existing = DatasetVersion.objects.filter(job=job).first()
        if existing is not None:
            return existing
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # numbers are handed out one at a time
        number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        return DatasetVersion.objects.create(
            dataset=dataset, number=number, parent_id=parent_id, message=message, job=job,
            created_by=job.created_by, columns=columns,
        )


@transaction.atomic
def version_fail(*, version: DatasetVersion, error: str) -> None:
    """The version's write failed: the version says so, with the error, whatever its job does next."""
    DatasetVersion.objects.filter(pk=version.pk).update(state=VersionState.FAILED, error=error[:2000])


@transaction.atomic
def version_mark_ready(*, version: DatasetVersion) -> bool:
    """Marks a written version ready; False when it already was (its job's success is recorded once)."""
    if version.state == VersionState.READY:
        return False
    version.state = VersionState.READY
    version.save(update_fields=["state"])
    return True


@transaction.atomic
def version_record(
    *, version: DatasetVersion, staged: ingest.StagedVersion, committed, sealed_fingerprint: str = ""
) -> DatasetVersion:
    """Records a committed version's items and storage facts. Replaces any items an earlier,
    interrupted attempt recorded, so a job re-run after a crash records them once. The size is
    the items' own bytes (files, texts, rows): it tells nothing of the labels."""
    version.items.all().delete()
    count = bulk_insert(
        Item,
        [
            "version_id", "key", "label", "content_hash", "size_bytes", "text", "row", "file_path", "original_name",
            "spans",
        ],
        (
            (
                version.pk, i.key, i.label, i.content_hash, i.size_bytes, i.text, i.row, i.file_path, i.original_name,
                i.spans,
            )
            for i in staged.items
        ),
    )
    version.git_commit, version.git_tag, version.dvc_md5 = committed.commit, committed.tag, committed.dvc_md5
    version.item_count = count
    # Sealed items count as labelled when they have a label, kept in the sealed store.
    version.labelled_count = sum(1 for i in staged.items if i.label is not None) + sealed_store.labelled_count(
        version=version
    )
    version.size_bytes = sum(i.size_bytes for i in staged.items)
    version.columns = staged.columns
    version.sealed_fingerprint = sealed_fingerprint
    version.save()
    return version


def profile_start(*, version: DatasetVersion, actor=None) -> Job:
    """The profile the platform computes by itself (after a version is written, after a split
    seals items): the follow-up of work already accepted, so never refused by the caps on active
    jobs (see prakriya.jobs.services.job_enqueue)."""
    return job_enqueue(kind=kinds.PROFILE, project=version.dataset.project, target=version, created_by=actor,
                       system=True)


def profile_recompute(*, version: DatasetVersion, actor) -> Job:
    """A profile someone asks for again: held to the caps on active jobs like any launch."""
    return job_enqueue(kind=kinds.PROFILE, project=version.dataset.project, target=version, created_by=actor)


@transaction.atomic
def profile_record(
    *, version_id: int, report: dict[str, Any], warnings: list[dict[str, Any]], sealed_fingerprint: str,
    excludes_sealed: int, rows_per_second: float | None,
) -> Profile:
    """The profile a profile job computed, with the fingerprint of the sealed keys it left out (a
    profile is shown only while that set is unchanged)."""
    return Profile.objects.create(
        version_id=version_id, report=report, warnings=warnings, sealed_fingerprint=sealed_fingerprint,
        excludes_sealed=excludes_sealed, rows_per_second=rows_per_second,
    )


# --- Splits and the sealed test set -----------------------------------------------------------


@transaction.atomic
def split_create(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    seed: int,
    train: float = 0.7,
    validation: float = 0.15,
    test: float = 0.15,
    stratified: bool = True,
) -> Split:
    """A seeded train/validation/test split of the labelled items. The same version, seed and
    fractions always give the same split. The test items' keys are sealed for the dataset."""
    # numpy and scikit-learn load on first use: every web and worker process imports this module.
    import numpy as np
    from sklearn.model_selection import train_test_split

    dataset = version.dataset
    policy.require(user=actor, project=dataset.project, action=policy.LAUNCH_JOBS, what="split datasets")
    if version.state != VersionState.READY:
        raise ValidationError("Only a ready version can be split.")
    if Split.objects.filter(version=version).exists():
        raise ValidationError("This version is already split; splits are immutable.")
    fractions = [train, validation, test]
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6 or test <= 0 or train <= 0:
        raise ValidationError("Fractions must be positive for train and test, non-negative, and add up to 1.")
    if not 0 <= seed < 2**32:
        raise ValidationError("The seed must be between 0 and 4294967295.")
    items = list(version.items.exclude(label__isnull=True).order_by("key").values_list("id", "key", "label"))
    if len(items) < 3:
        raise ValidationError("Splitting needs at least three labelled items.")
    ids = np.array([i[0] for i in items])
    labels = np.array([i[2] for i in items])
    counts = {label: int((labels == label).sum()) for label in set(labels.tolist())}
    stratify_ok = stratified and min(counts.values()) >= 3
    try:
        rest_ids, test_ids, rest_labels, _ = train_test_split(
            ids, labels, test_size=test, random_state=seed, stratify=labels if stratify_ok else None
        )
        if validation > 0:
            val_share = validation / (train + validation)
            train_ids, val_ids = train_test_split(
                rest_ids, test_size=val_share, random_state=seed, stratify=rest_labels if stratify_ok else None
            )
        else:
            train_ids, val_ids = rest_ids, np.array([], dtype=ids.dtype)
    except ValueError as exc:
        raise ValidationError(f"Cannot split these items that way: {exc}") from exc
    split = Split.objects.create(
        version=version, seed=seed, train_fraction=train, validation_fraction=validation, test_fraction=test,
        stratified=stratify_ok, created_by=actor,
        counts={"train": len(train_ids), "validation": len(val_ids), "test": len(test_ids)},
    )
    parts = [(train_ids, SplitPart.TRAIN), (val_ids, SplitPart.VALIDATION), (test_ids, SplitPart.TEST)]
    SplitAssignment.objects.bulk_create(
        [SplitAssignment(split=split, item_id=int(i), part=part) for group, part in parts for i in group], batch_size=5000
    )
    key_of = {i[0]: i[1] for i in items}
    test_keys = [key_of[int(i)] for i in test_ids]
    SealedItem.objects.bulk_create(
        [SealedItem(dataset=dataset, key=key, split=split) for key in test_keys],
        ignore_conflicts=True, batch_size=5000,
    )
    # The test labels leave the items, the campaigns and (in a job) the repository.
    notes = sealing.keys_seal(dataset=dataset, keys=test_keys, actor=actor)
    timeline_record(
        project=dataset.project, actor=actor, verb="split_created",
        text=f"{dataset.name} v{version.number} split (seed {seed}): "
        f"{len(train_ids)} train, {len(val_ids)} validation, {len(test_ids)} test (sealed)"
        + "".join(f"; {note}" for note in notes),
    )
    # Profiles computed before the seal may name sealed labels: recompute every version's.
    for other in dataset.versions.filter(state=VersionState.READY):
        transaction.on_commit(lambda v=other: profile_start(version=v, actor=actor))
    return split


# --- The data document ------------------------------------------------------------------------

DOCUMENT_FIELDS = (
    "collection_mode", "collection_description", "representativeness", "semantics",
    "labelling_process", "quality_assessment", "known_issues",
)
REQUIRED_FOR_REVIEW = (
    "collection_description", "representativeness", "semantics", "labelling_process", "quality_assessment",
)


def _data_deliverable(project: Project):
    return project.deliverables.select_for_update().get(kind=DeliverableKind.DATA_DOCUMENT)


@transaction.atomic
def data_document_save(*, dataset: Dataset, actor: AbstractBaseUser, version: DatasetVersion, **fields) -> DataDocument:
    project = dataset.project
    policy.require(user=actor, project=project, action=policy.EDIT_DELIVERABLE, what="edit the data document")
    unknown = set(fields) - set(DOCUMENT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    if version.dataset_id != dataset.pk or version.state != VersionState.READY:
        raise ValidationError("Pin the data document to a ready version of this dataset.")
    deliverable = _data_deliverable(project)
    if policy.deliverable_frozen(deliverable.state):
        raise ValidationError(
            f"The data document is {deliverable.get_state_display().lower()}; it can be edited again once a lead "
            "requests changes or reopens it."
        )
    document = DataDocument.objects.filter(dataset=dataset).first() or DataDocument(dataset=dataset)
    document.version = version
    for name, value in fields.items():
        setattr(document, name, value)
    if document.collection_mode not in CollectionMode.values:
        raise ValidationError({"collection_mode": ["Choose how the data was collected."]})
    document.updated_by = actor
    document.full_clean()
    document.save()
    if deliverable.state == DeliverableState.NOT_STARTED or deliverable.state == DeliverableState.CHANGES_REQUESTED:
        deliverable_move(deliverable=deliverable, to_state=DeliverableState.DRAFT, actor=actor)
    timeline_record(project=project, actor=actor, verb="data_document_edited",
                    text=f"Data document of {dataset.name} edited (pinned to v{version.number})")
    return document


def data_document_ready_check(deliverable) -> None:
    """Submit check for the data document deliverable: every dataset has a complete datasheet."""
    project = deliverable.project
    datasets = list(project.datasets.select_related("document"))
    if not datasets:
        raise ValidationError("Add a dataset and write its data document before submitting.")
    problems = []
    for dataset in datasets:
        document = getattr(dataset, "document", None)
        if document is None:
            problems.append(f"{dataset.name} has no data document")
            continue
        missing = [f.replace("_", " ") for f in REQUIRED_FOR_REVIEW if not getattr(document, f).strip()]
        if missing:
            problems.append(f"{dataset.name}: {', '.join(missing)} missing")
    if problems:
        raise ValidationError("The data document is not complete: " + "; ".join(problems) + ".")
