"""Reads for labelling campaigns, scoped to the requesting user.

Who sees a campaign: the project's lead and engineers see all of them; an annotator (of any role)
sees the campaigns they are assigned to; everyone else gets a 404, as for any object they may not
see. Within a blind campaign an annotator sees only their own annotations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    Claim,
    GuidelineVersion,
    TaskType,
)
from projects import policy
from projects.models import Project
from projects.selectors import AnyUser


def campaign_list_visible(*, user: AnyUser, project: Project) -> QuerySet[Campaign]:
    qs = Campaign.objects.filter(project=project).select_related("version", "version__dataset")
    if policy.can(user=user, project=project, action=policy.MANAGE_CAMPAIGNS):
        return qs
    if not user.is_authenticated or policy.role_of(user=user, project=project) is None:
        return qs.none()
    return qs.filter(annotators=user)


def campaign_get_visible(*, user: AnyUser, project: Project, slug: str) -> Campaign:
    campaign = campaign_list_visible(user=user, project=project).filter(slug=slug).first()
    if campaign is None:
        raise Http404("No such campaign")
    return campaign


def campaign_list_for_annotator(*, user: AnyUser) -> QuerySet[Campaign]:
    """Every open campaign the user is assigned to, across projects (their home page queue)."""
    if not user.is_authenticated:
        return Campaign.objects.none()
    return (
        Campaign.objects.filter(annotators=user, state="open", project__memberships__user=user)
        .select_related("project", "version", "version__dataset").distinct()
    )


# Image addresses handed to Label Studio: its browser has no Prakriya session, so each address
# carries a signature for that one item of that one campaign, valid for a bounded time — the
# way object stores presign URLs. Sealed items are never in a campaign, so none can be signed.
_ITEM_SIGNER_SALT = "prakriya.annotation.item-content"
ITEM_SIGNATURE_MAX_AGE = 30 * 24 * 3600


def item_signature(*, campaign: Campaign, campaign_item_id: int) -> str:
    from django.core.signing import TimestampSigner

    return TimestampSigner(salt=_ITEM_SIGNER_SALT).sign(f"{campaign.pk}:{campaign_item_id}").split(":", 2)[-1]


def item_signature_valid(*, campaign: Campaign, campaign_item_id: int, signature: str) -> bool:
    from django.core.signing import BadSignature, TimestampSigner

    try:
        TimestampSigner(salt=_ITEM_SIGNER_SALT).unsign(
            f"{campaign.pk}:{campaign_item_id}:{signature}", max_age=ITEM_SIGNATURE_MAX_AGE
        )
    except BadSignature:  # also SignatureExpired
        return False
    return True


def campaign_item_get(*, campaign: Campaign, pk: int) -> CampaignItem:
    item = CampaignItem.objects.filter(campaign=campaign, pk=pk).select_related("item").first()
    if item is None:
        raise Http404("No such item in this campaign")
    return item


def guideline_current(*, campaign: Campaign) -> GuidelineVersion | None:
    return (
        campaign.guideline_versions.order_by("-number")
        .prefetch_related("definitions", "examples__campaign_item__item").first()
    )


def guideline_history(*, campaign: Campaign) -> QuerySet[GuidelineVersion]:
    return campaign.guideline_versions.select_related("created_by").prefetch_related("caused_by__item")


@dataclass(frozen=True)
class Progress:
    items: int
    target: int  # items × overlap: annotations the campaign needs
    annotations: int
    complete_items: int
    mine: int = 0
    left_for_me: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.annotations / self.target if self.target else 100.0


def campaign_progress(*, campaign: Campaign, user: AnyUser | None = None) -> Progress:
    agg = CampaignItem.objects.filter(campaign=campaign).aggregate(
        items=Count("id"), complete=Count("id", filter=Q(annotation_count__gte=campaign.overlap)),
    )
    annotations = Annotation.objects.filter(campaign=campaign).count()
    mine = left = 0
    if user is not None and user.is_authenticated:
        mine = Annotation.objects.filter(campaign=campaign, annotator=user).count()
        left = (
            CampaignItem.objects.filter(campaign=campaign, annotation_count__lt=campaign.overlap)
            .exclude(annotations__annotator=user).count()
        )
    return Progress(
        items=agg["items"], target=agg["items"] * campaign.overlap, annotations=annotations,
        complete_items=agg["complete"], mine=mine, left_for_me=left,
    )


def annotator_progress(*, campaign: Campaign) -> list[dict]:
    """Per assigned annotator: annotations, median seconds, live claim."""
    counts = dict(
        Annotation.objects.filter(campaign=campaign).values_list("annotator_id").annotate(n=Count("id"))
    )
    claims = set(Claim.objects.filter(campaign=campaign).values_list("annotator_id", flat=True))
    return [
        {"user": u, "annotations": counts.get(u.pk, 0), "working": u.pk in claims}
        for u in campaign.annotators.order_by("username")
    ]


def my_annotations(*, campaign: Campaign, user: AnyUser) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(campaign=campaign, annotator=user)
        .select_related("campaign_item__item").order_by("-updated_at")
    )


def others_annotations(*, campaign: Campaign, user: AnyUser, campaign_item: CampaignItem) -> list[Annotation]:
    """Other annotators' labels on the item, for non-blind campaigns and for managers."""
    if campaign.blind and not policy.can(user=user, project=campaign.project, action=policy.MANAGE_CAMPAIGNS):
        return []
    return list(
        Annotation.objects.filter(campaign_item=campaign_item).exclude(annotator=user).select_related("annotator")
    )


def value_key(value) -> str:
    """A hashable, comparable form of an annotation value (for votes and agreement)."""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return ";".join(f"{s['start']}-{s['end']}:{s['label']}" for s in value)
        return "|".join(value)
    return str(value)


def _votes(campaign: Campaign) -> dict[int, list[tuple[int, object]]]:
    votes: dict[int, list[tuple[int, object]]] = {}
    for item_id, annotator_id, value in (
        Annotation.objects.filter(campaign=campaign).values_list("campaign_item_id", "annotator_id", "value")
        .order_by("campaign_item_id", "id")
    ):
        votes.setdefault(item_id, []).append((annotator_id, value))
    return votes


def disagreements(*, campaign: Campaign, include_resolved: bool = False) -> list[dict]:
    """Items whose annotators did not all agree, most disagreement first: the adjudication queue."""
    queue = []
    gold = dict(
        CampaignItem.objects.filter(campaign=campaign, gold__isnull=False).values_list("id", "gold")
    )
    for item_id, votes in _votes(campaign).items():
        if len(votes) < 2:
            continue
        counts = Counter(value_key(v) for _, v in votes)
        if len(counts) == 1:
            continue
        if item_id in gold and not include_resolved:
            continue
        top = counts.most_common(1)[0][1]
        queue.append({"campaign_item_id": item_id, "votes": len(votes), "distinct": len(counts),
                      "agreement": top / len(votes), "resolved": item_id in gold})
    queue.sort(key=lambda r: (r["agreement"], -r["votes"], r["campaign_item_id"]))
    return queue


def label_set(*, campaign: Campaign) -> dict[int, dict]:
    """The campaign's labels: per campaign item, the gold label if adjudicated, else the majority
    vote if there is a strict majority, else undecided (None). For multi-label campaigns the
    majority is taken per label (present if more than half the annotators chose it)."""
    result: dict[int, dict] = {}
    gold = dict(CampaignItem.objects.filter(campaign=campaign, gold__isnull=False).values_list("id", "gold"))
    votes = _votes(campaign)
    for item_id in set(votes) | set(gold):
        item_votes = votes.get(item_id, [])
        if item_id in gold:
            result[item_id] = {"value": gold[item_id], "source": "gold", "votes": len(item_votes)}
            continue
        result[item_id] = {"value": _majority(campaign, [v for _, v in item_votes]), "source": "majority",
                           "votes": len(item_votes)}
        if result[item_id]["value"] is None:
            result[item_id]["source"] = "undecided"
    return result


def _majority(campaign: Campaign, values: list):
    if not values:
        return None
    if campaign.task_type == TaskType.MULTI:
        counts = Counter(name for v in values for name in v)
        return sorted(name for name, n in counts.items() if n * 2 > len(values))
    counts = Counter(value_key(v) for v in values)
    key, n = counts.most_common(1)[0]
    if n * 2 <= len(values):
        return None
    return next(v for v in values if value_key(v) == key)


def human_baseline(*, campaign: Campaign) -> dict:
    """Each annotator's accuracy against the gold labels (items adjudicated by the lead), and
    their mean: the human baseline the baselines deliverable compares models with."""
    gold = dict(CampaignItem.objects.filter(campaign=campaign, gold__isnull=False).values_list("id", "gold"))
    per: dict[int, list[int]] = {}
    for annotator_id, item_id, value in Annotation.objects.filter(
        campaign=campaign, campaign_item_id__in=list(gold)
    ).values_list("annotator_id", "campaign_item_id", "value"):
        per.setdefault(annotator_id, []).append(int(value_key(value) == value_key(gold[item_id])))
    from django.contrib.auth import get_user_model

    names = dict(get_user_model().objects.filter(pk__in=list(per)).values_list("pk", "username"))
    annotators = [
        {"annotator": names.get(pk, str(pk)), "items": len(hits), "accuracy": sum(hits) / len(hits)}
        for pk, hits in sorted(per.items(), key=lambda kv: names.get(kv[0], ""))
    ]
    mean = sum(a["accuracy"] for a in annotators) / len(annotators) if annotators else None
    return {"gold_items": len(gold), "annotators": annotators, "mean_accuracy": mean}


def human_baselines(*, project: Project) -> list[tuple[Campaign, dict]]:
    """Each campaign of the project with adjudicated (gold) items, by name, and its human baseline:
    what the baselines deliverable shows, from whichever app draws it."""
    campaigns = Campaign.objects.filter(project=project, items__gold__isnull=False).distinct().order_by("name")
    return [(campaign, human_baseline(campaign=campaign)) for campaign in campaigns]
