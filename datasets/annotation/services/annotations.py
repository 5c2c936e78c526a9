"""Writes of annotations: validating a value against the campaign's task and labels, submitting
an annotation (with or without a claim) and editing one."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    Claim,
    Skip,
    TaskType,
    Tool,
)
from datasets.annotation.services.conflict import Conflict
from datasets.annotation.services.guideline import guideline_current
from datasets.annotation.services.queue import require_annotator


def _label_names(campaign: Campaign) -> list[str]:
    # A campaign's labels never change once it exists: read them once per campaign object.
    if not hasattr(campaign, "_label_names"):
        campaign._label_names = list(campaign.labels.values_list("name", flat=True))
    return campaign._label_names


def validate_value(campaign: Campaign, value, *, text: str | None = None):
    """The annotation value in its canonical form, or a ValidationError naming the problem.
    single: a label name; multi: a list of label names; span: a list of {start, end, label} with
    offsets in Unicode code points of the item's text, non-overlapping."""
    names = _label_names(campaign)
    if campaign.task_type == TaskType.SINGLE:
        if not isinstance(value, str) or value not in names:
            raise ValidationError(f"Choose one of the campaign's labels: {', '.join(names)}.")
        return value
    if campaign.task_type == TaskType.MULTI:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("A multi-label annotation is a list of label names.")
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValidationError(f"Unknown labels: {', '.join(unknown)}.")
        return [n for n in names if n in set(value)]
    if not isinstance(value, list):
        raise ValidationError("A span annotation is a list of spans with start, end and label.")
    length = len(text or "")
    spans = []
    for span in value:
        if not isinstance(span, dict):
            raise ValidationError("Each span is an object with start, end and label.")
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
            raise ValidationError("Span start and end are whole numbers (Unicode code points).")
        if not 0 <= start < end <= length:
            raise ValidationError(f"The span {start}–{end} is outside the text (length {length}).")
        if label not in names:
            raise ValidationError(f"Unknown span label {label!r}.")
        spans.append({"start": start, "end": end, "label": label})
    spans.sort(key=lambda s: (s["start"], s["end"]))
    for a, b in zip(spans, spans[1:], strict=False):
        if b["start"] < a["end"]:
            raise ValidationError(f"The spans {a['start']}–{a['end']} and {b['start']}–{b['end']} overlap.")
    return spans


@transaction.atomic
def annotation_submit(
    *,
    campaign: Campaign,
    annotator: AbstractBaseUser,
    campaign_item: CampaignItem,
    value,
    seconds_spent: float = 0.0,
    tool: str = Tool.PLATFORM,
    created_at=None,
) -> Annotation:
    """Records the annotator's label for the item. Normally the item is theirs by claim; an
    annotation without a claim (API, imports) takes a free slot or is refused with Conflict."""
    require_annotator(campaign, annotator)
    if campaign_item.campaign_id != campaign.pk:
        raise ValidationError("This item is not part of the campaign.")
    value = validate_value(campaign, value, text=campaign_item.item.text)
    try:
        seconds_spent = max(0.0, min(float(seconds_spent or 0), 86_400.0))
    except (TypeError, ValueError) as exc:
        raise ValidationError("seconds_spent must be a number.") from exc
    # The item's row is locked first: a split sealing it meanwhile removes it from the campaign,
    # and then this finds it gone instead of writing an annotation of a sealed item.
    if not CampaignItem.objects.select_for_update().filter(pk=campaign_item.pk).exists():
        raise Conflict("This item is no longer part of the campaign.")
    # Deleting the claim is what locks it: a second submit of the same claim finds nothing.
    had_claim, _ = Claim.objects.filter(campaign_item=campaign_item, annotator=annotator).delete()
    now = timezone.now()
    fields = {
        "campaign": campaign, "campaign_item": campaign_item, "annotator": annotator, "value": value, "tool": tool,
        "seconds_spent": seconds_spent, "guideline_version": guideline_current(campaign),
        "created_at": created_at or now, "updated_at": now,
    }
    if had_claim:
        # Its slot passes to the annotation. A claim is only ever made for an item the annotator
        # has not labelled, so no duplicate can arise on this path.
        annotation = Annotation.objects.create(**fields)
    else:
        if Annotation.objects.filter(campaign_item=campaign_item, annotator=annotator).exists():
            raise Conflict("You have already labelled this item; edit your annotation instead.")
        grabbed = CampaignItem.objects.filter(pk=campaign_item.pk, taken__lt=F("capacity")).update(taken=F("taken") + 1)
        if not grabbed:
            raise Conflict("This item already has all the annotators it needs.")
        try:
            with transaction.atomic():
                annotation = Annotation.objects.create(**fields)
        except IntegrityError as exc:  # the same annotator, a moment earlier, from elsewhere
            raise Conflict("You have already labelled this item; edit your annotation instead.") from exc
        Skip.objects.filter(campaign_item=campaign_item, annotator=annotator).delete()
    CampaignItem.objects.filter(pk=campaign_item.pk).update(annotation_count=F("annotation_count") + 1)
    return annotation


@transaction.atomic
def annotation_update(
    *, annotation: Annotation, annotator: AbstractBaseUser, value, revision: int, seconds_spent: float = 0.0
) -> Annotation:
    """Edits one's own annotation. `revision` is the one the editor saw: if someone (another tab,
    the API) saved since, the edit is refused with Conflict instead of overwriting it."""
    if annotation.annotator_id != annotator.pk:
        raise PermissionDenied("You can only edit your own annotations.")
    campaign = annotation.campaign
    require_annotator(campaign, annotator)
    value = validate_value(campaign, value, text=annotation.campaign_item.item.text)
    updated = Annotation.objects.filter(pk=annotation.pk, revision=revision).update(
        value=value, revision=F("revision") + 1, updated_at=timezone.now(),
        seconds_spent=F("seconds_spent") + max(0.0, float(seconds_spent or 0)),
        guideline_version=guideline_current(campaign),
    )
    if not updated:
        raise Conflict("This annotation was changed since you opened it; reload to see the latest version.")
    annotation.refresh_from_db()
    return annotation

