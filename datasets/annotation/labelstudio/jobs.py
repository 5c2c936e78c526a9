"""The job kind that syncs a campaign with a Label Studio server; the work is in
sync.labelstudio_sync_run (plain, tested without Celery)."""

from __future__ import annotations

from typing import Any

from datasets.annotation import kinds
from datasets.annotation.labelstudio import sync
from datasets.annotation.models import Campaign
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext


def _sync(ctx: JobContext) -> dict[str, Any]:
    campaign = Campaign.objects.select_related("project", "version__dataset").filter(pk=ctx.job.target_id).first()
    if campaign is None:
        return {"skipped": "the campaign was deleted"}
    return sync.labelstudio_sync_run(campaign, progress=ctx.progress, log=ctx.log)


registry.register(registry.JobKind(
    name=kinds.LABELSTUDIO_SYNC, label="Label Studio sync", queue="default", run=_sync, on_success=sync.sync_recorded,
))
