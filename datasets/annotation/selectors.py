"""Reads for labelling campaigns, scoped to the requesting user.

Who sees a campaign: the project's lead and engineers see all of them; an annotator (of any role)
sees the campaigns they are assigned to; everyone else gets a 404, as for any object they may not
see. Within a blind campaign an annotator sees only their own annotations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet, Sum
from django.http import Http404

from datasets.annotation import human_accuracy
from datasets.annotation.models import (
    AgreementReport,
    Annotation,
    Campaign,
    CampaignItem,
    Claim,
    GoldSample,
    GuidelineVersion,
    Skip,
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


def left_for_annotator(*, campaigns: list[Campaign], user: AnyUser) -> dict[int, int]:
    """Campaign id → items still open that the user has not labelled (Progress.left_for_me),
    for many campaigns in one query."""
    rows = (
        CampaignItem.objects.filter(campaign__in=campaigns, annotation_count__lt=F("campaign__overlap"))
        .exclude(annotations__annotator=user).values("campaign").annotate(left=Count("id"))
    )
    return {row["campaign"]: row["left"] for row in rows}


def skipped_count(*, campaign: Campaign, user: AnyUser) -> int:
    """How many items the user skipped that still need annotators (so could still take their label)."""
    if not user.is_authenticated:
        return 0
    return Skip.objects.filter(
        campaign_item__campaign=campaign, annotator=user, campaign_item__annotation_count__lt=campaign.overlap
    ).count()


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


# --- The human baseline ----------------------------------------------------------------------

# Below this many items a human baseline is shown with its interval but not compared with models:
# its interval is too wide for a comparison to mean much (at 0.8 on 29 items: 0.62–0.91).
MIN_BASELINE_ITEMS = 30
GOLD_SAMPLE = "gold_sample"
FROM_AGREEMENT = "agreement"
METHOD_NAMES = {GOLD_SAMPLE: "gold sample", FROM_AGREEMENT: "estimated from agreement"}


@dataclass(frozen=True)
class AnnotatorAccuracy:
    annotator: str
    items: int  # gold sample items the annotator labelled
    correct: int
    low: float  # Wilson 95% interval
    high: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.items


@dataclass(frozen=True)
class HumanBaseline:
    """How often a human label is right, with how it was measured. `accuracy` is None when there
    is nothing to measure it on; `comparable` says whether it may stand beside models' figures."""

    method: str | None = None  # GOLD_SAMPLE, FROM_AGREEMENT or None
    items: int = 0  # the items it rests on
    accuracy: float | None = None
    low: float | None = None  # 95% interval
    high: float | None = None
    annotators: list[AnnotatorAccuracy] = field(default_factory=list)  # gold sample only
    agreement: float | None = None  # from agreement: the observed pairwise agreement
    labels: int = 0  # from agreement: K
    sample_items: int = 0  # items in the gold sample, adjudicated or not
    sample_adjudicated: int = 0

    @property
    def too_few(self) -> bool:
        return self.accuracy is not None and self.items < MIN_BASELINE_ITEMS

    @property
    def comparable(self) -> bool:
        return self.accuracy is not None and not self.too_few

    @property
    def sample_pending(self) -> int:
        return self.sample_items - self.sample_adjudicated

    @property
    def method_name(self) -> str:
        return METHOD_NAMES.get(self.method or "", "none")

    @property
    def method_note(self) -> str:
        """How the number was computed, in a sentence or two, for every place that shows it."""
        if self.method == GOLD_SAMPLE:
            return (
                f"Annotators' labels against the lead's gold labels on {self.items} items drawn at random from "
                "those two or more annotators labelled, adjudicated whether the annotators agreed or not. The "
                "accuracy is the share of an item's labels that match its gold label, averaged over the items; "
                "each annotator's interval is a Wilson 95% interval, the mean's one allows for labels of the "
                "same item going together."
            )
        if self.method == FROM_AGREEMENT:
            return (
                f"No gold sample yet: estimated from how often two annotators agree on the same item "
                f"({self.agreement:.3f} over {self.items} items labelled by two or more), assuming every "
                f"annotator is equally accurate and, when wrong, picks any of the other {self.labels - 1} labels "
                "equally often (agreement = a² + (1 − a)²/(K − 1), solved for a). Labels that are confused "
                "with one another more than with the rest make this too high. The interval is the Wilson 95% "
                "interval of the agreement carried through that formula."
            )
        return "No gold sample has been adjudicated and no item has two annotators' labels to compare."


def _gold_sample_baseline(campaign: Campaign, sampled: dict[int, object], names: dict[int, str]) -> HumanBaseline:
    per_item: dict[int, list[int]] = {}
    per_annotator: dict[int, list[int]] = {}
    for annotator_id, item_id, value in Annotation.objects.filter(
        campaign=campaign, campaign_item_id__in=list(sampled)
    ).values_list("annotator_id", "campaign_item_id", "value"):
        hit = int(value_key(value) == value_key(sampled[item_id]))
        per_item.setdefault(item_id, []).append(hit)
        per_annotator.setdefault(annotator_id, []).append(hit)
    if not per_item:
        return HumanBaseline()
    shares = [sum(hits) / len(hits) for hits in per_item.values()]
    mean, low, high = human_accuracy.mean_share_interval(shares, sum(len(hits) for hits in per_item.values()))
    annotators = []
    for pk, hits in per_annotator.items():
        a_low, a_high = human_accuracy.wilson_interval(sum(hits) / len(hits), len(hits))
        annotators.append(AnnotatorAccuracy(annotator=names.get(pk, str(pk)), items=len(hits), correct=sum(hits),
                                            low=a_low, high=a_high))
    annotators.sort(key=lambda a: a.annotator)
    return HumanBaseline(method=GOLD_SAMPLE, items=len(per_item), accuracy=mean, low=low, high=high,
                         annotators=annotators)


def _agreement_baseline(campaign: Campaign) -> HumanBaseline:
    """From the pairwise agreement of single-label items that two annotators or more labelled: the
    mean over those items of the share of their annotator pairs that agree. Summed in the
    database, a campaign of a million items included: per item count m (the annotations) and value,
    c annotators gave it, and the item's share is Σ c(c − 1) / (m(m − 1))."""
    labels = campaign.labels.count()
    if campaign.task_type != TaskType.SINGLE or labels < 2:
        return HumanBaseline()
    items = CampaignItem.objects.filter(campaign=campaign, annotation_count__gte=2).count()
    if not items:
        return HumanBaseline()
    groups = (
        Annotation.objects.filter(campaign=campaign, campaign_item__annotation_count__gte=2)
        .values("campaign_item_id", "value")
        .annotate(c=Count("id"), m=F("campaign_item__annotation_count"))
    )
    total = groups.aggregate(
        shares=Sum(ExpressionWrapper(F("c") * (F("c") - 1) * 1.0 / (F("m") * (F("m") - 1)), output_field=FloatField()))
    )["shares"] or 0.0
    agreement = min(1.0, total / items)
    p_low, p_high = human_accuracy.wilson_interval(agreement, items)
    return HumanBaseline(
        method=FROM_AGREEMENT, items=items, agreement=agreement, labels=labels,
        accuracy=human_accuracy.accuracy_from_agreement(agreement, labels),
        low=human_accuracy.accuracy_from_agreement(p_low, labels),
        high=human_accuracy.accuracy_from_agreement(p_high, labels),
    )


def human_baseline(*, campaign: Campaign) -> HumanBaseline:
    """How often the campaign's annotators are right: the human baseline the baselines deliverable
    compares models with. Measured on the gold sample (items drawn at random from the overlapped
    ones, then adjudicated) when it has enough adjudicated items; else estimated from the
    annotators' agreement; a sample too small to compare is still shown, flagged, when agreement
    gives nothing better. Gold labels outside the sample — the disagreements the lead settled —
    are never used: they are the hard items by construction, and measured on them alone two
    annotators score about 0.5 whatever their skill."""
    sample = CampaignItem.objects.filter(campaign=campaign, gold_sample__isnull=False)
    sample_items = sample.count()
    sampled = dict(sample.filter(gold__isnull=False).values_list("id", "gold")) if sample_items else {}
    found = HumanBaseline()
    if sampled:
        from django.contrib.auth import get_user_model

        names = dict(
            get_user_model().objects.filter(annotations__campaign_item_id__in=list(sampled)).distinct()
            .values_list("pk", "username")
        )
        found = _gold_sample_baseline(campaign, sampled, names)
    if not found.comparable:
        estimate = _agreement_baseline(campaign)
        if estimate.comparable or found.accuracy is None:
            found = estimate
    return replace(found, sample_items=sample_items, sample_adjudicated=len(sampled))


def human_baselines(*, project: Project) -> list[tuple[Campaign, HumanBaseline]]:
    """Each campaign of the project with a human baseline, by name: what the baselines deliverable
    shows, from whichever app draws it."""
    campaigns = Campaign.objects.filter(project=project).select_related("version__dataset").order_by("name")
    found = [(campaign, human_baseline(campaign=campaign)) for campaign in campaigns]
    return [(campaign, baseline) for campaign, baseline in found if baseline.accuracy is not None]


def gold_sample_queue(*, campaign: Campaign) -> QuerySet[CampaignItem]:
    """The gold sample's items still to adjudicate: draw by draw, in queue order."""
    return (
        CampaignItem.objects.filter(campaign=campaign, gold_sample__isnull=False, gold__isnull=True)
        .select_related("item").order_by("gold_sample_id", "position")
    )


@dataclass(frozen=True)
class GoldSampleState:
    items: int
    adjudicated: int
    draws: list[GoldSample]

    @property
    def pending(self) -> int:
        return self.items - self.adjudicated


def gold_sample_state(*, campaign: Campaign) -> GoldSampleState:
    """The gold sample's size, how much of it is adjudicated, and its draws, oldest first."""
    counts = CampaignItem.objects.filter(campaign=campaign, gold_sample__isnull=False).aggregate(
        items=Count("id"), adjudicated=Count("id", filter=Q(gold__isnull=False)),
    )
    return GoldSampleState(items=counts["items"], adjudicated=counts["adjudicated"],
                           draws=list(campaign.gold_samples.select_related("drawn_by")))


def agreement_summary(report: AgreementReport | None) -> dict | None:
    """Krippendorff's alpha (nominal) with its bootstrap interval and the percent agreement of a
    report, whatever shape its result has: the agreement job's format may grow, and the pages
    must not break on it."""
    if report is None:
        return None
    result = report.result if isinstance(report.result, dict) else {}
    # The agreement job stores the statistics under "stats", beside the timeline.
    result = result["stats"] if isinstance(result.get("stats"), dict) else result

    def number(value):
        if isinstance(value, dict):
            value = value.get("value")
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    alpha = result.get("krippendorff_alpha")
    nominal = alpha.get("nominal") if isinstance(alpha, dict) else alpha
    interval = nominal.get("ci") if isinstance(nominal, dict) else None
    if not (isinstance(interval, list) and len(interval) == 2 and all(number(v) is not None for v in interval)):
        interval = None
    percent = number(result.get("percent_agreement"))
    if percent is not None and percent <= 1:
        percent *= 100  # stored as a fraction
    return {"report": report, "alpha": number(nominal), "alpha_ci": interval, "percent": percent}


def labelling_process(*, project: Project) -> list[dict]:
    """Every campaign of the project as its data document describes it: what was labelled, by how
    many annotators (never who: the figures are for every reader of the document), under which
    guideline version, when, how far, how well they agreed and which label versions it wrote."""
    campaigns = (
        Campaign.objects.filter(project=project).select_related("version__dataset")
        .annotate(annotator_count=Count("annotators", distinct=True)).order_by("created_at", "pk")
    )
    rows = []
    for campaign in campaigns:
        guideline = campaign.guideline_versions.order_by("-number").values_list("number", flat=True).first()
        releases = list(
            campaign.releases.filter(version__isnull=False).select_related("version__dataset").order_by("created_at")
        )
        rows.append({
            "campaign": campaign,
            "guideline": guideline,
            "progress": campaign_progress(campaign=campaign),
            "agreement": agreement_summary(campaign.agreement_reports.order_by("-created_at").first()),
            "releases": [release.version for release in releases],
        })
    return rows
