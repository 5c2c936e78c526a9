"""Writes of adjudication: the gold label of an item."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from datasets.annotation.models import (
    Campaign,
    CampaignItem,
)
from datasets.annotation.services.annotations import validate_value
from projects import policy


@transaction.atomic
def gold_set(
    *, campaign: Campaign, actor: AbstractBaseUser, campaign_item: CampaignItem, value, note: str = ""
) -> CampaignItem:
    """The adjudicated (gold) label of an item; None clears it."""
    policy.require(user=actor, project=campaign.project, action=policy.ADJUDICATE, what="adjudicate labels")
    if campaign_item.campaign_id != campaign.pk:
        raise ValidationError("This item is not part of the campaign.")
    if value is not None:
        value = validate_value(campaign, value, text=campaign_item.item.text)
    campaign_item.gold = value
    campaign_item.gold_by = actor if value is not None else None
    campaign_item.gold_at = timezone.now() if value is not None else None
    campaign_item.gold_note = (note or "")[:300]
    campaign_item.save(update_fields=["gold", "gold_by", "gold_at", "gold_note"])
    return campaign_item

