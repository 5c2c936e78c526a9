"""Campaigns give up the items a split seals (a datasets.hooks seal consumer).

A campaign created before its version was split holds the items the split then seals as test
items. Left there, annotators would label them, the campaign's export and release would carry
their labels, and the adjudication and agreement pages would show them. So, in the split's
transaction, every campaign of the dataset drops those items from its queue: their claims are
released, their annotations and gold labels are moved into the sealed store (encrypted, read by
nothing: nobody's work is destroyed, nobody sees it), their guideline examples go, and stored
agreement reports stop naming them. Label Studio tasks already pushed for them are deleted from
the server by the campaign's next sync (labelstudio/sync.py, labelstudio_sync_run).
"""

from __future__ import annotations

from collections import defaultdict

from datasets import sealed_store
from datasets.annotation.models import AgreementReport, Annotation, Campaign, CampaignItem, CampaignState
from datasets.models import Dataset

BATCH = 5000


def _chunks(values: list, size: int = BATCH):
    for first in range(0, len(values), size):
        yield values[first:first + size]


def campaign_items_seal(*, dataset: Dataset, keys: list[str], actor=None) -> str | None:
    """Removes the items with these keys from every campaign of the dataset; returns a sentence
    for the timeline, or None when no campaign held any of them."""
    doomed: list[tuple[int, int, str, object]] = []  # (campaign item, campaign, key, gold)
    for chunk in _chunks(sorted(keys)):
        # Locked first: an annotation being submitted for one of them waits, then finds it gone.
        doomed += list(
            CampaignItem.objects.select_for_update()
            .filter(campaign__version__dataset=dataset, item__key__in=chunk)
            .values_list("pk", "campaign_id", "item__key", "gold")
        )
    if not doomed:
        return None
    by_campaign: dict[int, dict[str, dict]] = defaultdict(dict)
    for pk, campaign_id, key, gold in doomed:
        by_campaign[campaign_id][key] = {"campaign_item": pk, "gold": gold, "annotations": []}
    key_of = {pk: (campaign_id, key) for pk, campaign_id, key, _ in doomed}
    annotations = 0
    for chunk in _chunks(list(key_of)):
        for item_id, annotator, value, tool, created_at in Annotation.objects.filter(
            campaign_item_id__in=chunk
        ).values_list("campaign_item_id", "annotator__username", "value", "tool", "created_at"):
            campaign_id, key = key_of[item_id]
            by_campaign[campaign_id][key]["annotations"].append(
                {"annotator": annotator, "value": value, "tool": tool, "created_at": created_at.isoformat()}
            )
            annotations += 1
    campaigns = Campaign.objects.in_bulk(list(by_campaign))
    for campaign_id, records in by_campaign.items():
        sealed_store.records_write(
            version=campaigns[campaign_id].version, records=records, source=sealed_store.campaign_source(campaign_id)
        )
    for chunk in _chunks(list(key_of)):
        # Claims, annotations, skips, guideline examples and Label Studio task links go with them.
        CampaignItem.objects.filter(pk__in=chunk).delete()
    sealed_keys = set(keys)
    for report in AgreementReport.objects.filter(campaign_id__in=list(by_campaign)):
        _report_forget(report, sealed_keys)
    names = ", ".join(
        f"“{campaigns[c].name}”" + (" (closed)" if campaigns[c].state == CampaignState.CLOSED else "")
        for c in sorted(by_campaign)
    )
    return (
        f"{len(doomed)} queued item{'s' if len(doomed) != 1 else ''} of the sealed test split removed from "
        f"{names}, with {annotations} annotation{'s' if annotations != 1 else ''} (kept sealed)"
    )


def _report_forget(report: AgreementReport, keys: set[str]) -> None:
    """A stored agreement report stops naming sealed items (its most disagreed units list their
    votes); its statistics, computed before the split, stay as they were computed."""
    stats = (report.result or {}).get("stats") or {}
    rows = stats.get("most_disagreed") or []
    kept = [row for row in rows if row.get("key") not in keys]
    if len(kept) != len(rows):
        stats["most_disagreed"] = kept
        report.result["sealed_items_removed"] = (report.result.get("sealed_items_removed") or 0) + len(rows) - len(kept)
        report.save(update_fields=["result"])
