"""The agreement job of a labelling campaign (job kind `annotation_agreement`): the statistics of
`datasets.annotation.agreement` over the campaign's annotations as they are when the job runs,
stored as an AgreementReport.

The report's `result` is {"stats": compute_agreement's dict, "timeline": agreement_over_time's
list, "timeline_bucket": "hour" | "day" | "week" | "4 weeks", "ordered": bool}, with the
database's ids translated for the people reading it: `stats["annotators"]` and the per-annotator
`name` are usernames (their user ids kept in `annotator_ids` / `annotator_id`), and every entry
of `most_disagreed` names its `campaign_item` (the id the adjudication page takes) and the item's
`key` instead of the dataset item id the units were coded with (plus, for spans, the `token`).

Ordinal and interval alpha are computed only when asked for ("the labels are ordered, in the
order listed"), and only single-label campaigns can ask: a multi-label unit is a yes/no question
and a span unit's "outside" has no place in an order of entity types.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from datasets.annotation import kinds
from datasets.annotation.agreement.report import compute_agreement
from datasets.annotation.agreement.timeline import agreement_over_time
from datasets.annotation.agreement.units import code_annotations, epoch_seconds
from datasets.annotation.models import AgreementReport, Annotation, Campaign, CampaignItem, TaskType
from datasets.models import Item
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.services import job_enqueue
from projects import policy

MOST_DISAGREED = 20
RESAMPLES = 1000
SEED = 0
# The timeline uses the narrowest bucket that keeps the chart readable: a campaign labelled in
# an afternoon is shown by the hour, one that ran for a year by four-week periods.
TIMELINE_BUCKETS = (
    ("hour", timedelta(hours=1)),
    ("day", timedelta(days=1)),
    ("week", timedelta(weeks=1)),
    ("4 weeks", timedelta(weeks=4)),
)
TIMELINE_POINTS_MAX = 60
UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED)

NO_PAIRS = (
    "Agreement compares annotators on the same items, and no item has labels from two annotators yet"
)


class NotEnoughLabels(Exception):
    """No item has two annotators' labels: there is nothing to compare. The job fails with this
    message, which is what the person following the job reads."""


# --- Starting it ----------------------------------------------------------------------------


def agreement_start(*, campaign: Campaign, actor: AbstractBaseUser, ordered: bool = False) -> Job:
    """Starts the agreement job (lead, engineers). A campaign with nothing to compare is refused
    now rather than by a failed job; asking again while a run with the same options is waiting
    or running returns that run instead of computing the same numbers twice."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS,
                 what="compute a campaign's agreement")
    if ordered and campaign.task_type != TaskType.SINGLE:
        raise ValidationError(
            {"ordered": "Only single-label campaigns have labels that can be ordered: a multi-label or span "
                        "campaign's agreement is nominal."}
        )
    if not CampaignItem.objects.filter(campaign=campaign, annotation_count__gte=2).exists():
        raise ValidationError(f"{NO_PAIRS}. Compute it once some items have been labelled by two annotators.")
    running = agreement_jobs(campaign=campaign).filter(state__in=UNFINISHED, params__ordered=ordered).first()
    if running is not None:
        return running
    return job_enqueue(kind=kinds.AGREEMENT, project=campaign.project, target=campaign, created_by=actor,
                       params={"ordered": ordered})


def agreement_jobs(*, campaign: Campaign):
    """The campaign's agreement jobs, newest first."""
    return Job.objects.filter(
        kind=kinds.AGREEMENT, target_type=ContentType.objects.get_for_model(Campaign), target_id=campaign.pk
    ).order_by("-created_at", "-id")


# --- The work -------------------------------------------------------------------------------


def timeline_bucket(seconds: list[float]) -> tuple[str, timedelta]:
    """The narrowest bucket that shows the annotations' time range in at most
    TIMELINE_POINTS_MAX points."""
    known = [s for s in seconds if not math.isnan(s)]  # nan: unknown time
    spread = timedelta(seconds=(max(known) - min(known)) if known else 0)
    for name, width in TIMELINE_BUCKETS:
        if spread / width <= TIMELINE_POINTS_MAX:
            return name, width
    return TIMELINE_BUCKETS[-1]


def load_annotations(campaign: Campaign) -> list[tuple[int, int, Any, Any]]:
    """(dataset item id, annotator id, value, updated_at) of every annotation, in the order they
    were made: the input `code_annotations` takes."""
    return list(
        Annotation.objects.filter(campaign=campaign).order_by("id")
        .values_list("campaign_item__item_id", "annotator_id", "value", "updated_at")
    )


def compute(campaign: Campaign, *, ordered: bool = False, report=None) -> dict[str, Any]:
    """The report's result for the campaign's annotations now (see the module's docstring).
    Plain: reads the database, writes nothing. `report(percent, message)` follows the steps."""
    say = report or (lambda percent, message: None)
    say(5, "Loading the annotations")
    rows = load_annotations(campaign)
    per_item = Counter(item for item, *_ in rows)
    if not any(count >= 2 for count in per_item.values()):
        raise NotEnoughLabels(
            f"{NO_PAIRS} ({len(rows)} annotation{'s' if len(rows) != 1 else ''} on {len(per_item)} "
            f"item{'s' if len(per_item) != 1 else ''})."
        )
    labels = list(campaign.labels.order_by("position", "name").values_list("name", flat=True))
    texts = None
    if campaign.task_type == TaskType.SPAN:
        say(10, "Loading the texts")
        texts = dict(Item.objects.filter(pk__in=list(per_item)).values_list("pk", "text"))

    say(20, "Coding the annotations into units")
    try:
        data = code_annotations(campaign.task_type, rows, labels, texts=texts)
    except ValueError as exc:
        # An annotation that no longer fits the labels must be fixed, not silently left out.
        raise ValueError(f"An annotation does not fit the campaign's labels: {exc}") from exc

    say(35, f"Computing agreement over {data.n_units} units with {RESAMPLES} bootstrap resamples")
    stats = compute_agreement(data, ordered=ordered, top=MOST_DISAGREED, resamples=RESAMPLES, seed=SEED)

    bucket_name, bucket = timeline_bucket([epoch_seconds(when) for *_, when in rows])
    say(70, f"Agreement over time, by {bucket_name}")
    timeline = agreement_over_time(data, bucket=bucket, resamples=RESAMPLES, seed=SEED)

    say(90, "Naming annotators and items")
    _name_people_and_items(stats, campaign=campaign, texts=texts)
    return {
        "stats": stats,
        "timeline": timeline,
        "timeline_bucket": bucket_name,
        "ordered": ordered,
        "annotation_count": len(rows),
    }


def _name_people_and_items(stats: dict[str, Any], *, campaign: Campaign, texts: dict[int, str] | None) -> None:
    """Database ids → what the page links and shows (see the module's docstring). In place."""
    user_ids = list(stats["annotators"])
    names = {user.pk: user.get_username() for user in get_user_model().objects.filter(pk__in=user_ids)}
    stats["annotator_ids"] = user_ids
    stats["annotators"] = [names.get(pk, f"user {pk}") for pk in user_ids]
    for row in stats["per_annotator"]:
        row["annotator_id"] = row["name"]
        row["name"] = names.get(row["name"], f"user {row['name']}")

    item_ids = [row["item"] for row in stats["most_disagreed"]]
    queue = {
        item_id: (pk, key)
        for pk, item_id, key in CampaignItem.objects.filter(campaign=campaign, item_id__in=item_ids)
        .values_list("pk", "item_id", "item__key")
    }
    for row in stats["most_disagreed"]:
        item_id = row.pop("item")
        row["campaign_item"], row["key"] = queue.get(item_id, (None, ""))
        if texts is not None and "start" in row:
            row["token"] = texts.get(item_id, "")[row["start"]:row["end"]]


def _run(ctx: JobContext) -> dict[str, Any]:
    campaign = Campaign.objects.select_related("project").filter(pk=ctx.job.target_id).first()
    if campaign is None:
        return {"skipped": "the campaign was deleted"}
    ordered = bool(ctx.params.get("ordered", False))
    try:
        outcome = compute(campaign, ordered=ordered, report=ctx.progress)
    except NotEnoughLabels as exc:
        ctx.log(str(exc))
        raise
    stats = outcome["stats"]
    alpha = stats["krippendorff_alpha"]["nominal"]["value"]
    ctx.log(
        f"{outcome['annotation_count']} annotations by {len(stats['annotators'])} annotators, "
        f"{stats['units_with_pairs']} units with two or more labels; nominal alpha "
        + ("undefined" if alpha is None else f"{alpha:.3f}")
    )
    return {"campaign_id": campaign.pk, **outcome}


def _store(job: Job, result: dict[str, Any]) -> None:
    """Writes the report, exactly once, in the transaction that marks the job succeeded. The
    statistics move from the job's result to the report (the runner stores this same dict on the
    job afterwards), so the job row keeps a summary and a link, not a second copy."""
    if "stats" not in result or not Campaign.objects.filter(pk=result["campaign_id"]).exists():
        return
    stats, timeline = result.pop("stats"), result.pop("timeline")
    report, _ = AgreementReport.objects.update_or_create(
        job=job,
        defaults={
            "campaign_id": result["campaign_id"],
            "annotation_count": result["annotation_count"],
            "result": {"stats": stats, "timeline": timeline, "ordered": result["ordered"],
                       "timeline_bucket": result["timeline_bucket"]},
        },
    )
    result["report_id"] = report.pk
    result["krippendorff_alpha"] = stats["krippendorff_alpha"]["nominal"]["value"]
    result["percent_agreement"] = stats["percent_agreement"]["value"]


def _link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    """The campaign's agreement page (its latest report), for who may see it there."""
    from django.urls import reverse

    campaign = Campaign.objects.select_related("project").filter(pk=job.target_id).first()
    if campaign is None or not policy.can(user=user, project=campaign.project, action=policy.MANAGE_CAMPAIGNS):
        return None
    return registry.JobLink(reverse("annotation:agreement", args=[campaign.project.slug, campaign.slug]),
                            f"Open the agreement report of “{campaign.name}”")


registry.register(registry.JobKind(
    name=kinds.AGREEMENT, label="Annotator agreement", queue="default", run=_run, on_success=_store,
    result_link=_link,
))
