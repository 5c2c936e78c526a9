"""Syncing a campaign with a Label Studio server, as a job: create the LS project once, push the
items not pushed yet, pull the annotations made there and import them (imports.py). The HTTP
calls are client.py's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.urls import reverse

from datasets.annotation import kinds
from datasets.annotation.labelstudio import client
from datasets.annotation.labelstudio.exports import campaign_label_config, item_record, label_schema
from datasets.annotation.labelstudio.imports import ImportResult, counted, import_parsed
from datasets.annotation.labelstudio.writer import task_payloads
from datasets.annotation.models import (
    Campaign,
    CampaignItem,
    CampaignState,
    LabelStudioTask,
)
from datasets.models import SealedItem
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.services import job_enqueue
from projects import policy
from projects.services import timeline_record

PUSH_BATCH = client.IMPORT_BATCH
LS_TITLE_MAX = 50  # Label Studio's PROJECT_TITLE_MAX_LEN
NOT_CONFIGURED = (
    "Label Studio sync is not configured (set PRAKRIYA_LABEL_STUDIO_URL and PRAKRIYA_LABEL_STUDIO_API_KEY)."
)
UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED)


def sync_jobs(*, campaign: Campaign):
    """The campaign's sync jobs, newest first."""
    return Job.objects.filter(
        kind=kinds.LABELSTUDIO_SYNC, target_type=ContentType.objects.get_for_model(Campaign), target_id=campaign.pk
    ).order_by("-created_at", "-id")


def is_configured() -> bool:
    return bool(settings.PRAKRIYA_LABEL_STUDIO_URL and settings.PRAKRIYA_LABEL_STUDIO_API_KEY)


def project_url(campaign: Campaign) -> str | None:
    """The campaign's project in the Label Studio UI, once synced."""
    if not settings.PRAKRIYA_LABEL_STUDIO_URL or campaign.labelstudio_project_id is None:
        return None
    return f"{settings.PRAKRIYA_LABEL_STUDIO_URL}/projects/{campaign.labelstudio_project_id}/"


def labelstudio_sync_start(*, campaign: Campaign, actor: AbstractBaseUser) -> Job:
    """Starts a sync with the configured Label Studio server (lead, engineers). Asking again
    while one is waiting or running returns that one: two at once would both create the project."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="sync a campaign with Label Studio")
    if not is_configured():
        raise ValidationError(NOT_CONFIGURED)
    if campaign.state == CampaignState.CLOSED:
        raise ValidationError("This campaign is closed: reopen it to sync it with Label Studio.")
    running = sync_jobs(campaign=campaign).filter(state__in=UNFINISHED).first()
    if running is not None:
        return running
    return job_enqueue(kind=kinds.LABELSTUDIO_SYNC, project=campaign.project, target=campaign, created_by=actor)


def sync_recorded(job: Job, result: dict[str, Any]) -> None:
    """On the timeline once a sync that wrote something has succeeded (the job's on_success)."""
    imported = result.get("import") or {}
    written = int(imported.get("created", 0)) + int(imported.get("updated", 0))
    if job.project is None or not (written or result.get("pushed")):
        return
    name = Campaign.objects.filter(pk=result.get("campaign_id")).values_list("name", flat=True).first() or "A campaign"
    timeline_record(
        project=job.project, actor=job.created_by, verb="labelstudio_synced",
        text=f"{name} synced with Label Studio: {counted(result.get('pushed', 0), 'item')} pushed, "
             f"{counted(written, 'annotation')} imported",
    )


def _project_title(campaign: Campaign) -> str:
    title = f"{campaign.project.title} · {campaign.name}"
    if len(title) > LS_TITLE_MAX:
        title = title[: LS_TITLE_MAX - 1].rstrip() + "…"
    return title if len(title) >= 3 else f"{title} (Prakriya)"


def _ensure_project(campaign: Campaign, base_url: str, api_key: str, log: Callable[[str], None]) -> int:
    if campaign.labelstudio_project_id is not None:
        try:
            client.get_label_config(base_url, api_key, campaign.labelstudio_project_id)
            return campaign.labelstudio_project_id
        except client.LabelStudioRequestError as exc:
            if exc.status_code != 404:
                raise
        # Deleted in Label Studio: its tasks went with it. The annotations imported stay here.
        log(f"Label Studio project {campaign.labelstudio_project_id} no longer exists; creating a new one")
        LabelStudioTask.objects.filter(campaign_item__campaign=campaign).delete()
    description = (f"Labelling campaign “{campaign.name}” of {campaign.project.title}, synced from Prakriya: "
                   f"{settings.PRAKRIYA_PUBLIC_URL}{reverse('annotation:detail', args=[campaign.project.slug, campaign.slug])}")
    project_id = client.create_project(
        base_url, api_key, _project_title(campaign), campaign_label_config(campaign), description=description,
    )
    # Stored at once (the job runs outside a transaction): a retry after a crash reuses the project.
    Campaign.objects.filter(pk=campaign.pk).update(labelstudio_project_id=project_id)
    campaign.labelstudio_project_id = project_id
    log(f"created Label Studio project {project_id} “{_project_title(campaign)}”")
    return project_id


def _push(campaign: Campaign, base_url: str, api_key: str, project_id: int,
          progress: Callable[[float, str], None]) -> int:
    """Pushes the items not pushed yet, a batch at a time, recording each batch's task ids as soon
    as LS returns them (a crash between the two re-pushes at most one batch)."""
    pending = CampaignItem.objects.filter(campaign=campaign, labelstudio_task__isnull=True)
    total = pending.count()
    pushed = 0
    while True:
        batch = list(pending.order_by("position").values_list("pk", "item__key", "item__text")[:PUSH_BATCH])
        if not batch:
            return pushed
        tasks = task_payloads(
            [item_record(campaign, pk, key, text) for pk, key, text in batch], media=campaign.media
        )
        task_ids = client.push_tasks(base_url, api_key, project_id, tasks)
        LabelStudioTask.objects.bulk_create(
            [LabelStudioTask(campaign_item_id=pk, task_id=task_id) for (pk, _, _), task_id in
             zip(batch, task_ids, strict=True)],
            ignore_conflicts=True,
        )
        pushed += len(batch)
        progress(10 + 50 * pushed / max(total, 1), f"Pushed {pushed} of {total} items to Label Studio")


def labelstudio_sync_run(
    campaign: Campaign, *, progress: Callable[[float, str], None], log: Callable[[str], None]
) -> dict[str, Any]:
    """The sync job's work (plain: tested without Celery). Raises LabelStudioSyncError with a
    message for the person who configured the server when LS is unreachable or refuses the key."""
    base_url, api_key = settings.PRAKRIYA_LABEL_STUDIO_URL, settings.PRAKRIYA_LABEL_STUDIO_API_KEY
    if not base_url or not api_key:
        raise client.LabelStudioSyncError(NOT_CONFIGURED)
    progress(2, "Connecting to Label Studio")
    who = client.whoami(base_url, api_key)
    log(f"connected to Label Studio at {base_url} as {who}")
    progress(5, "Preparing the Label Studio project")
    project_id = _ensure_project(campaign, base_url, api_key, log)
    pushed = _push(campaign, base_url, api_key, project_id, progress)
    log(f"pushed {pushed} new task{'s' if pushed != 1 else ''} to project {project_id}")

    progress(65, "Pulling the annotations made in Label Studio")
    parsed = client.pull_export(
        base_url, api_key, project_id, task_type=campaign.task_type,
        label_names=[label.name for label in label_schema(campaign)],
    )
    log(f"pulled {len(parsed.annotations)} annotations ({len(parsed.skipped)} left out) from {len(parsed.tasks)} tasks")
    # Items sealed since they were pushed (a split of the campaign's dataset) must not stay in
    # Label Studio to be labelled there: their tasks, and what was said on them, are deleted.
    sealed = set(
        SealedItem.objects.filter(
            dataset_id=campaign.version.dataset_id, key__in=[t.key for t in parsed.tasks if t.key]
        ).values_list("key", flat=True)
    )
    doomed = sorted({t.task_id for t in parsed.tasks if t.key in sealed and t.task_id is not None})
    deleted = 0
    if doomed:
        deleted = client.delete_tasks(base_url, api_key, doomed)
        log(f"deleted {len(doomed)} task{'s' if len(doomed) != 1 else ''} of items sealed since they were pushed")
        gone = set(doomed)
        parsed = replace(
            parsed,
            tasks=[t for t in parsed.tasks if t.task_id not in gone],
            annotations=[a for a in parsed.annotations if a.item.task_id not in gone],
        )
    if Campaign.objects.filter(pk=campaign.pk, state=CampaignState.CLOSED).exists():
        log("the campaign was closed meanwhile: nothing imported")
        result = ImportResult(tasks=len(parsed.tasks), skipped=["the campaign is closed"])
    else:
        task_ids = [a.item.task_id for a in parsed.annotations if a.item.task_id is not None]
        task_items = dict(
            LabelStudioTask.objects.filter(campaign_item__campaign=campaign, task_id__in=task_ids)
            .values_list("task_id", "campaign_item_id")
        )
        result = import_parsed(
            campaign, parsed, task_items=task_items,
            report=lambda done, total: progress(70 + 28 * done / max(total, 1),
                                                f"Importing annotations: {done} of {total}"),
        )
        log(f"imported: {result.created} created, {result.updated} updated, {result.unchanged} already here, "
            f"{len(result.skipped)} skipped")
        for reason in result.skipped[:20]:
            log(f"skipped {reason}")
        if result.unknown_annotators:
            log(f"annotators not matched: {', '.join(result.unknown_annotators[:20])}")
    return {
        "campaign_id": campaign.pk,
        "labelstudio_project_id": project_id,
        "labelstudio_url": f"{base_url}/projects/{project_id}/",
        "pushed": pushed,
        "deleted_sealed": deleted,
        "tasks": LabelStudioTask.objects.filter(campaign_item__campaign=campaign).count(),
        "import": result.as_dict(),
    }
