"""Writes of adjudication: the gold label of an item, and drawing the gold sample."""

from __future__ import annotations

import random

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from datasets.annotation.models import (
    Campaign,
    CampaignItem,
    GoldSample,
)
from datasets.annotation.services.annotations import validate_value
from projects import policy

# Items a campaign's gold sample holds at most, over all its draws: more than a lead adjudicates,
# and what bounds the reads of the human baseline (selectors.human_baseline).
GOLD_SAMPLE_MAX = 2000
MAX_SAMPLE_SEED = 2**31 - 1  # GoldSample.seed is a PositiveIntegerField


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


@transaction.atomic
def gold_sample_draw(*, campaign: Campaign, actor: AbstractBaseUser, size: int, seed: int) -> GoldSample:
    """Adds `size` items to the campaign's gold sample, drawn uniformly at random (seeded) among
    the items that two annotators or more labelled and no earlier draw took — whether their
    annotators agreed or not, and whatever their labels: the draw reads annotation counts only.
    Sealed test items are never in a campaign, so never drawn."""
    policy.require(user=actor, project=campaign.project, action=policy.ADJUDICATE, what="draw a gold sample")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValidationError({"size": "Draw at least one item."})
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SAMPLE_SEED:
        raise ValidationError({"seed": f"The seed is a whole number from 0 to {MAX_SAMPLE_SEED}."})
    # One draw at a time per campaign: two at once would both count the same items as free.
    Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    held = CampaignItem.objects.filter(campaign=campaign, gold_sample__isnull=False).count()
    room = GOLD_SAMPLE_MAX - held
    if room <= 0:
        raise ValidationError(f"The gold sample already holds {held} items, the most it may hold.")
    if size > room:
        raise ValidationError({"size": f"The gold sample holds {held} items and may hold {GOLD_SAMPLE_MAX}: "
                                       f"draw at most {room} more."})
    # In id order, so that the same seed over the same items draws the same sample on any database.
    eligible = list(
        CampaignItem.objects.filter(campaign=campaign, annotation_count__gte=2, gold_sample__isnull=True)
        .order_by("pk").values_list("pk", flat=True)
    )
    if not eligible:
        raise ValidationError(
            "No item is left to draw: the sample is drawn from items that at least two annotators labelled."
            if held else "No item has been labelled by two annotators yet: the sample is drawn from those."
        )
    picked = random.Random(seed).sample(eligible, min(size, len(eligible)))
    sample = GoldSample.objects.create(
        campaign=campaign, seed=seed, size=size, drawn=len(picked), population=len(eligible), drawn_by=actor,
    )
    CampaignItem.objects.filter(pk__in=picked).update(gold_sample=sample)
    return sample
