"""The Label Studio JSON export of a campaign: every item of its queue with every annotation,
annotators named by email (records built from our models, written by writer.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.urls import reverse

from datasets.annotation import selectors
from datasets.annotation.labelstudio.config import label_config
from datasets.annotation.labelstudio.records import (
    AnnotationRecord,
    ItemRecord,
    LabelSpec,
    LabelStudioFormatError,
)
from datasets.annotation.labelstudio.writer import export_campaign
from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
)
from projects import policy

EXPORT_OFFSETS = ("codepoints", "utf16")
# Users without an email still export (LS needs an email per annotator); importing the file
# back finds nobody with it, and says so.
NO_EMAIL_DOMAIN = "users.prakriya.invalid"


def _email(user) -> str:
    email = (user.email or "").strip()
    return email if "@" in email else f"{user.get_username()}@{NO_EMAIL_DOMAIN}"


def _image_url(campaign: Campaign, campaign_item_id: int) -> str:
    # Label Studio's browser fetches the image from us, without a Prakriya session: an absolute
    # address on the public URL, signed for this one item (valid for 30 days).
    path = reverse("annotation:item_content", args=[campaign.project.slug, campaign.slug, campaign_item_id])
    signature = selectors.item_signature(campaign=campaign, campaign_item_id=campaign_item_id)
    return f"{settings.PRAKRIYA_PUBLIC_URL}{path}?signature={signature}"


def item_record(campaign: Campaign, campaign_item_id: int, key: str, text: str) -> ItemRecord:
    if campaign.media == "image":
        return ItemRecord(key=key, image_url=_image_url(campaign, campaign_item_id))
    return ItemRecord(key=key, text=text or "")


def label_schema(campaign: Campaign) -> list[LabelSpec]:
    return [LabelSpec(name=label.name, colour=label.colour, shortcut=label.shortcut)
            for label in campaign.labels.all()]


def campaign_label_config(campaign: Campaign) -> str:
    """The Label Studio labelling config of the campaign's task and labels."""
    return label_config(campaign.task_type, campaign.media, label_schema(campaign))


def labelstudio_export(*, campaign: Campaign, actor: AbstractBaseUser, offsets: str = "codepoints") -> list[dict]:
    """The campaign as a Label Studio JSON export: every item of its queue (texts, or image
    addresses on PRAKRIYA_PUBLIC_URL) with every annotation, annotators named by email. A manager's
    action, so blind campaigns export everyone's labels. Only what the queue holds is read: no
    sealed item (they are never queued) and no dataset label (`Item.label`)."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="export a campaign")
    if offsets not in EXPORT_OFFSETS:
        raise ValidationError(f"Span offsets are exported as {' or '.join(EXPORT_OFFSETS)}, not {offsets!r}.")
    rows = (
        CampaignItem.objects.filter(campaign=campaign).order_by("position")
        .values_list("pk", "item__key", "item__text")
    )
    items = [item_record(campaign, pk, key, text) for pk, key, text in rows.iterator(chunk_size=5000)]
    people = {u.pk: _email(u) for u in get_user_model().objects.filter(
        pk__in=Annotation.objects.filter(campaign=campaign).values("annotator_id"))}
    annotations = [
        AnnotationRecord(
            item_key=key, annotator_email=people[annotator_id], value=value, tool=tool,
            lead_time=seconds, created_at=created_at, updated_at=updated_at,
        )
        for key, annotator_id, value, tool, seconds, created_at, updated_at in
        Annotation.objects.filter(campaign=campaign).order_by("campaign_item__position", "created_at", "id")
        .values_list("campaign_item__item__key", "annotator_id", "value", "tool", "seconds_spent", "created_at",
                     "updated_at").iterator(chunk_size=5000)
    ]
    try:
        return export_campaign(
            task_type=campaign.task_type, media=campaign.media, items=items, annotations=annotations,
            offsets=offsets,
        )
    except LabelStudioFormatError as exc:  # a stored value that no longer fits its item
        raise ValidationError(f"The campaign cannot be exported as it is: {exc}") from exc
