"""Job kinds of the datasets app: writing a version with DVC, and profiling a version."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from django.db import transaction

from datasets import hooks, ingest, kinds, sealed_store, sealing, selectors, services, storage
from datasets.models import Dataset, DatasetVersion, VersionState
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job
from projects.selectors import AnyUser, project_is_visible
from projects.services import timeline_record


def _staged_items(dataset: Dataset, version: DatasetVersion, staging: Path) -> ingest.StagedVersion:
    if staging.exists():
        return services.staged_read(kind=dataset.kind, staging=staging)
    # Re-run after a crash that happened once the files were committed (the staging folder is
    # consumed by the commit): read the items back from the committed version.
    tag = f"{dataset.slug}-v{version.number}"
    tmp = services.staging_dir()
    storage.materialize_version(project_slug=dataset.project.slug, dataset_slug=dataset.slug, tag=tag, dest=tmp)
    return ingest.read_staged(kind=dataset.kind, root=tmp)


def _write_version(ctx: JobContext) -> dict[str, Any]:
    dataset = Dataset.objects.select_related("project").get(pk=ctx.job.target_id)
    params = ctx.params
    staging = services.staging_path(params["staging"])
    staged = None
    if params.get("refuse_identical") and staging.exists() and not DatasetVersion.objects.filter(job=ctx.job).exists():
        # The upload was compared when it was received; a version written since (an identical
        # upload sent twice in a row) is found here, before this job takes a version number.
        staged = services.staged_read(kind=dataset.kind, staging=staging)
        twin = selectors.version_identical(dataset=dataset, staged=staged)
        if twin is not None:
            shutil.rmtree(staging, ignore_errors=True)
            services.staged_manifest_path(staging).unlink(missing_ok=True)
            ctx.log(f"identical to {dataset.name} v{twin.number}: no new version written")
            return {"identical_to": twin.pk, "number": twin.number}
    version = services.version_reserve(
        dataset=dataset, job=ctx.job, parent_id=params.get("parent_id"), message=params.get("message", ""),
        columns=params.get("columns") or [],
    )
    if version.state == VersionState.READY:
        return {"version_id": version.pk, "number": version.number, "tag": version.git_tag}
    try:
        ctx.progress(5, f"Reading {dataset.name} v{version.number}")
        if staged is None:
            staged = _staged_items(dataset, version, staging)
        ctx.log(f"{len(staged.items)} items staged")
        # The files never carry a sealed key's label: it goes to the sealed store instead.
        # Kept before the commit: a re-run after a crash reads the committed files, which no longer
        # hold what was taken.
        fingerprint = sealing.version_files_seal(version=version, staged=staged)
        sealed = sealed_store.labelled_count(version=version)
        if sealed:
            ctx.log(f"{sealed} items of the sealed test split: their labels are kept sealed, not in the files")
        ctx.progress(15, "Adding the files to DVC and committing")
        committed = storage.commit_version(
            project_slug=dataset.project.slug, dataset_slug=dataset.slug, number=version.number,
            source_dir=staging, message=version.message or f"{dataset.name} v{version.number}",
        )
        ctx.log(f"committed {committed.commit[:12]} as {committed.tag} (dvc md5 {committed.dvc_md5})")
        ctx.progress(70, "Recording the items")
        services.version_record(version=version, staged=staged, committed=committed, sealed_fingerprint=fingerprint)
    except Exception as exc:
        services.version_fail(version=version, error=str(exc))
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        services.staged_manifest_path(staging).unlink(missing_ok=True)
    return {"version_id": version.pk, "number": version.number, "tag": committed.tag, "items": version.item_count}


def _version_written(job: Job, result: dict[str, Any]) -> None:
    if "identical_to" in result:
        return  # nothing was written: the job's link leads to the identical version
    version = DatasetVersion.objects.select_related("dataset__project").get(pk=result["version_id"])
    if services.version_mark_ready(version=version):
        timeline_record(
            project=version.dataset.project, actor=job.created_by, verb="version_created",
            text=f"{version.dataset.name} v{version.number} written: {version.item_count} items",
            data={"dataset": version.dataset.slug, "version": version.number},
        )
        for listener in hooks.version_listeners():
            listener(version=version, job=job)
        # Every new version is profiled.
        transaction.on_commit(lambda: services.profile_start(version=version, actor=job.created_by))
        if sealing.version_seal_state(version) != version.sealed_fingerprint:
            # Keys were sealed while the version was being written: its files are written again.
            transaction.on_commit(lambda: sealing.repository_seal_start(dataset=version.dataset, actor=job.created_by))


def _profile(ctx: JobContext) -> dict[str, Any]:
    from datasets import profiling

    version = DatasetVersion.objects.select_related("dataset__project").get(pk=ctx.job.target_id)
    dataset = version.dataset
    keys = selectors.sealed_keys(dataset=dataset)
    tmp = services.staging_dir()
    try:
        ctx.progress(2, "Fetching the version's files")
        storage.materialize_version(project_slug=dataset.project.slug, dataset_slug=dataset.slug,
                                    tag=version.git_tag, dest=tmp)
        started = time.perf_counter()
        report = profiling.profile_version(
            kind=dataset.kind, root=tmp, exclude_keys=keys,
            report=lambda percent, message: ctx.progress(10 + 0.88 * percent, message),
        )
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "report": report,
        "warnings": profiling.profile_warnings(report),
        "fingerprint": selectors.sealed_fingerprint(keys),
        "excluded": len(keys & set(version.items.values_list("key", flat=True))),
        "rows_per_second": (version.item_count / seconds) if seconds > 0 else None,
    }


def _profile_done(job: Job, result: dict[str, Any]) -> None:
    profile = services.profile_record(
        version_id=job.target_id, report=result.pop("report"), warnings=result["warnings"],
        sealed_fingerprint=result["fingerprint"], excludes_sealed=result["excluded"],
        rows_per_second=result.get("rows_per_second"),
    )
    # The report and warnings live on the Profile row, which is hidden once the sealed set
    # changes; the job keeps a pointer and a count, never a second copy that could name a label.
    result["profile_id"] = profile.pk
    result["warnings"] = len(result["warnings"])


def _seal(ctx: JobContext) -> dict[str, Any]:
    dataset = Dataset.objects.select_related("project").get(pk=ctx.job.target_id)
    result = sealing.repository_seal(dataset=dataset, progress=ctx.progress, scratch=services.staging_dir())
    if result["rewritten"]:
        ctx.log(f"Written again without sealed labels: {', '.join(f'v{n}' for n in result['rewritten'])}")
    ctx.log(f"{result['purged_objects']} old objects deleted from the DVC cache and remote")
    return result


def _version_link(job: Job, user: AnyUser) -> registry.JobLink | None:
    """The version written or profiled, for whoever may see its project (as its page asks)."""
    from django.urls import reverse

    versions = DatasetVersion.objects.select_related("dataset__project")
    # A write's target is the dataset: its version is the one it reserved. A profile's is the version.
    version = (versions.filter(job=job) if job.kind == kinds.VERSION_WRITE else versions.filter(pk=job.target_id)).first()
    identical = job.kind == kinds.VERSION_WRITE and version is None and "identical_to" in (job.result or {})
    if identical:
        # An upload identical to a version of the same dataset (the job's target): that version.
        version = versions.filter(pk=job.result["identical_to"], dataset_id=job.target_id).first()
    if version is None or not project_is_visible(user=user, project=version.dataset.project):
        return None
    url = reverse("datasets:version", args=[version.dataset.project.slug, version.dataset.slug, version.number])
    if identical:
        return registry.JobLink(
            url, f"Open {version.dataset.name} v{version.number}",
            note=f"The upload is identical to v{version.number}: no new version was written.",
        )
    if job.kind == kinds.PROFILE:
        return registry.JobLink(f"{url}#profile-heading", f"Open the profile of {version.dataset.name} v{version.number}")
    return registry.JobLink(url, f"Open {version.dataset.name} v{version.number}")


registry.register(registry.JobKind(
    name=kinds.VERSION_WRITE, label="Dataset version write", queue="default", run=_write_version, on_success=_version_written,
    result_link=_version_link,
))
def _sealed(job: Job, result: dict[str, Any]) -> None:
    if not result.get("rewritten"):
        return
    dataset = Dataset.objects.select_related("project").get(pk=job.target_id)
    versions = ", ".join(f"v{n}" for n in result["rewritten"])
    timeline_record(
        project=dataset.project, actor=job.created_by, verb="repository_sealed",
        text=f"{dataset.name}: {versions} written again without the sealed test labels; "
        f"{result['purged_objects']} old files deleted from the DVC cache and remote",
        data={"dataset": dataset.slug, "versions": result["rewritten"]},
    )


registry.register(registry.JobKind(
    name=kinds.SEAL, label="Sealing the repository", queue="default", run=_seal, on_success=_sealed,
    # Each version of the dataset is materialised and added to DVC again (about 40 s per 100,000
    # files here): six hours covers a large dataset with many versions.
    time_limit=6 * 3600,
))
registry.register(registry.JobKind(
    name=kinds.PROFILE, label="Data profile", queue="default", run=_profile, on_success=_profile_done,
    result_link=_version_link,
))
