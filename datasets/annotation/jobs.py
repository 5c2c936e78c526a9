"""The annotation-level job kind of labelling campaigns (the subdomains register their own:
agreement/jobs.py, labelstudio/jobs.py).

annotation_active: trains the quick baseline of active.py on the campaign's labels so far and
reorders the queue most uncertain first.

Releasing labels has no job kind of its own: release.release_start computes the label set in the
request (one query) and starts the datasets app's `dataset_version_write` job, whose live
progress the release is followed by; a second job around it would only add a hop.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from datasets import services as dataset_services
from datasets import storage
from datasets.annotation import active, kinds, services
from datasets.annotation.models import Campaign
from datasets.models import Item
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext


class NotReady(Exception):
    """The campaign cannot train a baseline (any more): too few labels, or nothing left to order."""


def _reorder(ctx: JobContext) -> dict[str, Any]:
    campaign = Campaign.objects.select_related("project", "version__dataset").filter(pk=ctx.job.target_id).first()
    if campaign is None:
        return {"skipped": "the campaign was deleted"}
    method = ctx.params.get("method", active.Method.ENTROPY)
    ctx.progress(2, "Collecting the labels so far")
    folder: Path | None = None
    read_image = None
    try:
        if campaign.media == "image":
            # One fetch of the version's files instead of a DVC read per image.
            ctx.progress(4, "Fetching the images")
            folder = dataset_services.staging_dir()
            dataset = campaign.version.dataset
            storage.materialize_version(project_slug=campaign.project.slug, dataset_slug=dataset.slug,
                                        tag=campaign.version.git_tag, dest=folder)
            root = folder

            def read_image(item: Item) -> bytes:
                path = root / item.file_path
                return path.read_bytes() if item.file_path and path.is_file() else b""

        try:
            outcome = active.score(campaign, method=method, read_image=read_image, report=ctx.progress)
        except ValidationError as exc:
            # The job's message is what the person following it reads: the reason, not a repr.
            raise NotReady(" ".join(exc.messages)) from exc
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    ctx.progress(95, "Reordering the queue")
    # Idempotent (positions follow the scores), so a re-run after a crash does no harm.
    services.queue_reorder(campaign=campaign, scores=outcome.scores)
    ranked = sorted(outcome.scores.values(), reverse=True)
    ctx.log(f"trained on {outcome.trained_on} items, classes {', '.join(outcome.classes)}; "
            f"scored {len(ranked)} by {method}")
    return {
        "campaign_id": campaign.pk, "method": method, "trained_on": outcome.trained_on,
        "classes": outcome.classes, "scored": len(ranked),
        "top_uncertainty": ranked[0] if ranked else None,
    }


registry.register(registry.JobKind(
    name=kinds.ACTIVE, label="Active labelling", queue="default", run=_reorder,
))
