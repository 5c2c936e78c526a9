"""The queue of a campaign: filling and ordering it, claiming and skipping items.

The queue under concurrency: a claim takes the first open item in the campaign's order that the
annotator has not labelled or skipped, locking it with `SELECT … FOR UPDATE SKIP LOCKED` so that
concurrent claimers pass over each other's rows instead of waiting; the item's `taken` counter
(annotations + live claims) is raised in the same transaction and the database refuses
`taken > capacity`. Expired claims are released lazily by the next claims of the campaign."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    CampaignState,
    Claim,
    QueueOrder,
    Skip,
)
from datasets.annotation.services.conflict import Conflict
from datasets.models import Item, SealedItem
from prakriya.lib.bulk import bulk_insert


def queue_order_key(seed: int, key: str) -> str:
    """The seeded random order of a campaign's queue: items sorted by md5("<seed>:<item key>").
    The same on every database (PostgreSQL computes it in SQL) and for every re-run."""
    return hashlib.md5(f"{seed}:{key}".encode(), usedforsecurity=False).hexdigest()


def queue_fill(campaign: Campaign) -> int:
    """One queue row per unsealed item, positioned by the campaign's order. On PostgreSQL one
    INSERT … SELECT does it inside the database (a million items in seconds, nothing shipped
    to Python); elsewhere the rows are computed here and bulk-inserted."""
    order_sql = "md5(%s || ':' || i.key)" if campaign.order == QueueOrder.RANDOM else "i.id"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {CampaignItem._meta.db_table}
                    (campaign_id, item_id, position, capacity, taken, annotation_count, gold_note)
                SELECT %s, i.id, row_number() OVER (ORDER BY {order_sql}, i.id) - 1, %s, 0, 0, ''
                FROM {Item._meta.db_table} i
                WHERE i.version_id = %s
                  AND NOT EXISTS (SELECT 1 FROM {SealedItem._meta.db_table} s
                                  WHERE s.dataset_id = %s AND s.key = i.key)
                """,
                [campaign.pk, *([str(campaign.seed)] if campaign.order == QueueOrder.RANDOM else []),
                 campaign.overlap, campaign.version_id, campaign.version.dataset_id],
            )
            return cursor.rowcount
    sealed = set(SealedItem.objects.filter(dataset=campaign.version.dataset).values_list("key", flat=True))
    items = [(pk, key) for pk, key in Item.objects.filter(version=campaign.version).values_list("id", "key")
             if key not in sealed]
    if campaign.order == QueueOrder.RANDOM:
        items.sort(key=lambda pair: (queue_order_key(campaign.seed, pair[1]), pair[0]))
    else:
        items.sort()
    rows = ((campaign.pk, pk, position, campaign.overlap, 0, 0) for position, (pk, _) in enumerate(items))
    return bulk_insert(
        CampaignItem, ["campaign_id", "item_id", "position", "capacity", "taken", "annotation_count"], rows
    )


def queue_reorder(*, campaign: Campaign, scores: dict[int, float]) -> int:
    """Most uncertain first: positions follow the scores (campaign item id → uncertainty,
    higher first); items without a score keep their relative order after the scored ones."""
    with transaction.atomic():
        rows = list(CampaignItem.objects.filter(campaign=campaign).values_list("id", "position"))
        ranked = sorted(rows, key=lambda r: (-scores[r[0]] if r[0] in scores else float("inf"), r[1]))
        updates = [
            CampaignItem(id=pk, position=index, uncertainty=scores.get(pk)) for index, (pk, _) in enumerate(ranked)
        ]
        CampaignItem.objects.bulk_update(updates, ["position", "uncertainty"], batch_size=5000)
        Campaign.objects.filter(pk=campaign.pk).update(order=QueueOrder.UNCERTAINTY)
    return len(updates)


def require_annotator(campaign: Campaign, user: AbstractBaseUser) -> None:
    """One query: is the user assigned, and is the campaign open? Read from the database, as the
    caller's copy may predate a close."""
    if not user.is_authenticated:
        raise PermissionDenied("Sign in to label.")
    state = Campaign.objects.filter(pk=campaign.pk, annotators=user).values_list("state", flat=True).first()
    if state is None:
        raise PermissionDenied("You are not an annotator of this campaign.")
    if state != CampaignState.OPEN:
        raise ValidationError("This campaign is closed.")


def _release_expired(campaign: Campaign, now) -> int:
    """Returns expired claims' slots to the queue. Claims another releaser already holds are
    passed over (SKIP LOCKED); for the rest the item's row lock is waited for — it is held only
    for the few statements of a claim or submission — so a claimer never gives up on a slot
    that is free, however busy the item. Claim rows are locked before item rows everywhere,
    and item rows in id order, so releasers cannot deadlock."""
    expired = list(
        Claim.objects.select_for_update(skip_locked=True)
        .filter(campaign=campaign, expires_at__lte=now).order_by("campaign_item_id")
        .values_list("id", "campaign_item_id")[:100]
    )
    for claim_id, item_id in expired:
        list(CampaignItem.objects.select_for_update().filter(pk=item_id).values_list("pk", flat=True))
        Claim.objects.filter(pk=claim_id).delete()
        CampaignItem.objects.filter(pk=item_id).update(taken=F("taken") - 1)
    return len(expired)


@transaction.atomic
def task_claim(*, campaign: Campaign, annotator: AbstractBaseUser) -> CampaignItem | None:
    """The annotator's next item, or None when nothing is left for them. Asking again before
    submitting returns the same item (its lock renewed).

    The claim passes over rows other transactions hold (SKIP LOCKED). When that finds nothing,
    the queue may only look empty — its last open item held for a moment by someone's skip or
    submission — so expired claims are released and the claim is tried once more, this time
    waiting for held rows: "nothing left" is then the truth."""
    require_annotator(campaign, annotator)
    now = timezone.now()
    expires = now + timedelta(seconds=campaign.lock_ttl_seconds)
    claim = _claim_postgresql if connection.vendor == "postgresql" else _claim_orm
    item_id = claim(campaign, annotator, now, expires, skip_locked=True)
    if item_id is None:
        _release_expired(campaign, now)
        item_id = claim(campaign, annotator, now, expires, skip_locked=False)
    if item_id is None:
        return None
    return CampaignItem.objects.select_related("item").get(pk=item_id)


# One round trip: renew the annotator's live claim, or take the first open item they have not
# labelled or skipped (SKIP LOCKED: concurrent claimers pass over each other's rows), count it
# taken and record the claim. Fifty annotators claim at once without queueing behind each other.
_CLAIM_SQL = """
WITH mine AS (
    UPDATE {claim} SET expires_at = %(expires)s
    WHERE campaign_id = %(campaign)s AND annotator_id = %(annotator)s
    RETURNING campaign_item_id
), candidate AS (
    SELECT ci.id FROM {item} ci
    WHERE NOT EXISTS (SELECT 1 FROM mine)
      AND ci.campaign_id = %(campaign)s AND ci.taken < ci.capacity
      AND NOT EXISTS (SELECT 1 FROM {annotation} a WHERE a.campaign_item_id = ci.id AND a.annotator_id = %(annotator)s)
      AND NOT EXISTS (SELECT 1 FROM {skip} s WHERE s.campaign_item_id = ci.id AND s.annotator_id = %(annotator)s)
    ORDER BY ci.position
    LIMIT 1
    FOR UPDATE {skip_locked}
), counted AS (
    UPDATE {item} SET taken = taken + 1 WHERE id IN (SELECT id FROM candidate) RETURNING id
), claimed AS (
    INSERT INTO {claim} (campaign_id, campaign_item_id, annotator_id, claimed_at, expires_at)
    SELECT %(campaign)s, id, %(annotator)s, %(now)s, %(expires)s FROM counted
    RETURNING campaign_item_id
)
SELECT campaign_item_id FROM mine UNION ALL SELECT campaign_item_id FROM claimed
"""


def _claim_postgresql(campaign: Campaign, annotator: AbstractBaseUser, now, expires, *, skip_locked: bool) -> int | None:
    sql = _CLAIM_SQL.format(
        claim=Claim._meta.db_table, item=CampaignItem._meta.db_table,
        annotation=Annotation._meta.db_table, skip=Skip._meta.db_table,
        skip_locked="SKIP LOCKED" if skip_locked else "",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "annotator": annotator.pk, "now": now, "expires": expires})
        row = cursor.fetchone()
    return row[0] if row else None


def _claim_orm(campaign: Campaign, annotator: AbstractBaseUser, now, expires, *, skip_locked: bool) -> int | None:
    """The same claim for databases without SKIP LOCKED (SQLite, which serialises writers)."""
    mine = Claim.objects.select_for_update().filter(campaign=campaign, annotator=annotator).first()
    if mine is not None:
        mine.expires_at = expires
        mine.save(update_fields=["expires_at"])
        return mine.campaign_item_id
    candidate = (
        CampaignItem.objects.filter(campaign=campaign, taken__lt=F("capacity"))
        .exclude(pk__in=Annotation.objects.filter(campaign=campaign, annotator=annotator).values("campaign_item_id"))
        .exclude(pk__in=Skip.objects.filter(campaign_item__campaign=campaign, annotator=annotator).values("campaign_item_id"))
        .order_by("position")
        .select_for_update(skip_locked=skip_locked)
        .values_list("pk", flat=True)
        .first()
    )
    if candidate is None:
        return None
    CampaignItem.objects.filter(pk=candidate).update(taken=F("taken") + 1)
    Claim.objects.create(
        campaign=campaign, campaign_item_id=candidate, annotator=annotator, claimed_at=now, expires_at=expires
    )
    return candidate


@transaction.atomic
def task_skip(*, campaign: Campaign, annotator: AbstractBaseUser, campaign_item: CampaignItem) -> None:
    """The annotator passes on the item: it is not offered to them again, and its slot returns."""
    require_annotator(campaign, annotator)
    claim = Claim.objects.select_for_update().filter(campaign_item=campaign_item, annotator=annotator).first()
    if claim is None:
        raise Conflict("This item is not yours to skip (your claim expired or you labelled it).")
    claim.delete()
    CampaignItem.objects.filter(pk=campaign_item.pk).update(taken=F("taken") - 1)
    Skip.objects.get_or_create(campaign_item=campaign_item, annotator=annotator)



@transaction.atomic
def skips_return(*, campaign: Campaign, annotator: AbstractBaseUser) -> int:
    """The annotator's skipped items go back into their queue (in the queue's own order), to be
    labelled after all; returns how many. Items that meanwhile got every annotator they need stay
    out of it anyway: the claim never offers a full item."""
    require_annotator(campaign, annotator)
    deleted, _ = Skip.objects.filter(campaign_item__campaign=campaign, annotator=annotator).delete()
    return deleted
