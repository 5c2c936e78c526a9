"""Writes of a campaign's guideline: each change is a new, numbered guideline version."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from datasets.annotation.models import (
    Campaign,
    CampaignItem,
    GuidelineExample,
    GuidelineVersion,
    LabelDefinition,
)
from projects import policy
from projects.services import timeline_record


def guideline_current(campaign: Campaign) -> GuidelineVersion | None:
    return campaign.guideline_versions.order_by("-number").first()


@transaction.atomic
def guideline_publish(
    *,
    campaign: Campaign,
    actor: AbstractBaseUser,
    introduction: str,
    definitions: dict[str, str],
    change_note: str,
    caused_by: Sequence[int] = (),
    examples: Sequence[dict] = (),
) -> GuidelineVersion:
    """A new guideline version. `caused_by` names the campaign items whose disagreement led to
    the change; `examples` are {label, campaign_item, positive, note}. Examples of the previous
    version are carried over unless replaced."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="edit the guideline")
    if not change_note.strip():
        raise ValidationError("Say what changed and why: the change log is how annotators learn of it.")
    names = set(campaign.labels.values_list("name", flat=True))
    unknown = sorted(set(definitions) - names)
    if unknown:
        raise ValidationError(f"Unknown labels: {', '.join(unknown)}.")
    items = set(CampaignItem.objects.filter(campaign=campaign, pk__in=list(caused_by)).values_list("pk", flat=True))
    if len(items) != len(set(caused_by)):
        raise ValidationError("Some of the disagreements named are not items of this campaign.")
    previous = guideline_current(campaign)
    number = (campaign.guideline_versions.aggregate(n=Max("number"))["n"] or 0) + 1
    guideline = GuidelineVersion.objects.create(
        campaign=campaign, number=number, introduction=introduction, change_note=change_note.strip(), created_by=actor
    )
    guideline.caused_by.set(items)
    LabelDefinition.objects.bulk_create(
        LabelDefinition(guideline=guideline, label=name, definition=definitions.get(name, "")) for name in sorted(names)
    )
    carried = list(previous.examples.all()) if previous is not None else []
    new_examples = [_clean_example(campaign, names, e) for e in examples]
    replaced = {(e["label"], e["campaign_item"].pk) for e in new_examples}
    GuidelineExample.objects.bulk_create(
        [GuidelineExample(guideline=guideline, label=e.label, campaign_item_id=e.campaign_item_id, positive=e.positive,
                          note=e.note) for e in carried if (e.label, e.campaign_item_id) not in replaced]
        + [GuidelineExample(guideline=guideline, **e) for e in new_examples]
    )
    timeline_record(
        project=campaign.project, actor=actor, verb="guideline_published",
        text=f"{campaign.name} guideline v{number}: {change_note.strip()[:200]}",
    )
    return guideline


def _clean_example(campaign: Campaign, names: set[str], raw: dict) -> dict:
    label = raw.get("label")
    if label not in names:
        raise ValidationError(f"Unknown label {label!r} for an example.")
    item = raw.get("campaign_item")
    if not isinstance(item, CampaignItem):
        item = CampaignItem.objects.filter(campaign=campaign, pk=item).first()
    if item is None or item.campaign_id != campaign.pk:
        raise ValidationError("An example must be an item of this campaign.")
    return {"label": label, "campaign_item": item, "positive": bool(raw.get("positive", True)),
            "note": str(raw.get("note") or "")[:300]}


@transaction.atomic
def guideline_add_example(
    *, campaign: Campaign, actor: AbstractBaseUser, campaign_item: CampaignItem, label: str, positive: bool = True,
    note: str = "",
) -> GuidelineVersion:
    """Adds an example to the guideline as a new version (a guideline version never changes)."""
    current = guideline_current(campaign)
    definitions = {d.label: d.definition for d in current.definitions.all()} if current else {}
    what = "positive" if positive else "negative"
    return guideline_publish(
        campaign=campaign, actor=actor, introduction=current.introduction if current else "",
        definitions=definitions, change_note=f"Added a {what} example of {label}.",
        caused_by=[campaign_item.pk],
        examples=[{"label": label, "campaign_item": campaign_item, "positive": positive, "note": note}],
    )

