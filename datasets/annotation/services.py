"""Writes for labelling campaigns: creating a campaign and its queue, the guideline, claiming,
submitting, skipping and editing annotations, gold labels.

The queue under concurrency: a claim takes the first open item in the campaign's order that the
annotator has not labelled or skipped, locking it with `SELECT … FOR UPDATE SKIP LOCKED` so that
concurrent claimers pass over each other's rows instead of waiting; the item's `taken` counter
(annotations + live claims) is raised in the same transaction and the database refuses
`taken > capacity`. Expired claims are released lazily by the next claims of the campaign."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    CampaignState,
    Claim,
    GuidelineExample,
    GuidelineVersion,
    LabelChoice,
    LabelDefinition,
    QueueOrder,
    Skip,
    TaskType,
    Tool,
)
from datasets.models import DatasetKind, DatasetVersion, Item, SealedItem, VersionState
from prakriya.lib.bulk import bulk_insert
from projects import policy
from projects.models import Membership, Role
from projects.services import timeline_record

MAX_OVERLAP = 10
MAX_LABELS = 60
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
ANNOTATOR_ROLES = frozenset({Role.LEAD, Role.ENGINEER, Role.ANNOTATOR})


class Conflict(Exception):
    """The request is valid but loses a race or is stale (HTTP 409)."""


# --- Campaigns --------------------------------------------------------------------------------


def _clean_labels(labels: Sequence[dict]) -> list[dict]:
    if not labels:
        raise ValidationError("A campaign needs at least one label.")
    if len(labels) > MAX_LABELS:
        raise ValidationError(f"At most {MAX_LABELS} labels are allowed.")
    cleaned, names, keys = [], set(), set()
    for index, raw in enumerate(labels):
        if not isinstance(raw, dict):
            raise ValidationError("Each label is an object with a name, and optionally a colour and a shortcut.")
        name = str(raw.get("name") or "").strip()
        if not name or len(name) > 100:
            raise ValidationError("Each label needs a name of at most 100 characters.")
        if name.casefold() in names:
            raise ValidationError(f'The label "{name}" is listed twice.')
        if name == "O":
            raise ValidationError('"O" is reserved: it means "outside every span".')
        colour = str(raw.get("colour") or _PALETTE[index % len(_PALETTE)])
        if not _COLOUR.match(colour):
            raise ValidationError(f'The colour of "{name}" must look like #1f77b4.')
        shortcut = str(raw.get("shortcut") or "").strip()
        if len(shortcut) > 1 or (shortcut and not shortcut.isalnum()):
            raise ValidationError(f'The shortcut of "{name}" must be one letter or digit.')
        if shortcut and shortcut.lower() in keys:
            raise ValidationError(f'The shortcut "{shortcut}" is used twice.')
        names.add(name.casefold())
        if shortcut:
            keys.add(shortcut.lower())
        cleaned.append({"name": name, "colour": colour.lower(), "shortcut": shortcut.lower(), "position": index})
    return cleaned


def _check_annotators(project, annotators: Iterable[AbstractBaseUser]) -> list[AbstractBaseUser]:
    annotators = list(annotators)
    members = dict(
        Membership.objects.filter(project=project, user__in=annotators).values_list("user_id", "role")
    )
    outsiders = [u.username for u in annotators if members.get(u.pk) not in ANNOTATOR_ROLES]
    if outsiders:
        raise ValidationError(
            f"Only annotators, engineers and the lead of this project can be assigned: {', '.join(outsiders)}."
        )
    return annotators


@transaction.atomic
def campaign_create(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    name: str,
    task_type: str,
    labels: Sequence[dict],
    slug: str = "",
    overlap: int = 1,
    blind: bool = True,
    order: str = QueueOrder.RANDOM,
    seed: int = 0,
    lock_ttl_seconds: int = 600,
    annotators: Iterable[AbstractBaseUser] = (),
    introduction: str = "",
    definitions: dict[str, str] | None = None,
) -> Campaign:
    """A campaign over every item of a ready version except the sealed test items (whose labels
    nobody may see, so nobody labels them here either), with guideline v1."""
    project = version.dataset.project
    policy.require(user=actor, project=project, action=policy.MANAGE_CAMPAIGNS, what="create campaigns")
    if version.state != VersionState.READY:
        raise ValidationError("Only a ready dataset version can be labelled.")
    if task_type not in TaskType.values:
        raise ValidationError(f"Unknown task type {task_type!r}; choose one of {', '.join(TaskType.values)}.")
    if task_type == TaskType.SPAN and version.dataset.kind != DatasetKind.TEXT:
        raise ValidationError("Span labelling needs a text dataset.")
    if version.dataset.kind == DatasetKind.TABULAR:
        raise ValidationError("Tabular datasets are not labelled in campaigns; use an image or text dataset.")
    if order not in QueueOrder.values:
        raise ValidationError(f"Unknown order {order!r}; choose one of {', '.join(QueueOrder.values)}.")
    if not 1 <= int(overlap) <= MAX_OVERLAP:
        raise ValidationError(f"Overlap must be between 1 and {MAX_OVERLAP}.")
    if not 30 <= int(lock_ttl_seconds) <= 86_400:
        raise ValidationError("The lock time-to-live must be between 30 seconds and a day.")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError("A campaign needs a name of at most 120 characters.")
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError("The campaign's address needs letters or digits.")
    if Campaign.objects.filter(project=project, slug=slug).exists():
        raise ValidationError(f'This project already has a campaign at "{slug}".')
    cleaned = _clean_labels(labels)
    people = _check_annotators(project, annotators)

    campaign = Campaign.objects.create(
        project=project, version=version, slug=slug, name=name, task_type=task_type, overlap=int(overlap),
        blind=bool(blind), order=order, seed=int(seed), lock_ttl_seconds=int(lock_ttl_seconds), created_by=actor,
    )
    LabelChoice.objects.bulk_create(LabelChoice(campaign=campaign, **label) for label in cleaned)
    campaign.annotators.set(people)
    _queue_fill(campaign)
    guideline = GuidelineVersion.objects.create(
        campaign=campaign, number=1, introduction=introduction, change_note="First version", created_by=actor
    )
    LabelDefinition.objects.bulk_create(
        LabelDefinition(guideline=guideline, label=label["name"], definition=(definitions or {}).get(label["name"], ""))
        for label in cleaned
    )
    timeline_record(
        project=project, actor=actor, verb="campaign_created",
        text=f"{name}: {version.dataset.name} v{version.number}, overlap {campaign.overlap}",
    )
    return campaign


def queue_order_key(seed: int, key: str) -> str:
    """The seeded random order of a campaign's queue: items sorted by md5("<seed>:<item key>").
    The same on every database (PostgreSQL computes it in SQL) and for every re-run."""
    return hashlib.md5(f"{seed}:{key}".encode(), usedforsecurity=False).hexdigest()


def _queue_fill(campaign: Campaign) -> int:
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


def _require_manager(campaign: Campaign, actor: AbstractBaseUser, what: str) -> None:
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what=what)


@transaction.atomic
def campaign_update(
    *, campaign: Campaign, actor: AbstractBaseUser, annotators: Iterable[AbstractBaseUser] | None = None,
    blind: bool | None = None, lock_ttl_seconds: int | None = None, name: str | None = None,
) -> Campaign:
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="change campaigns")
    if annotators is not None:
        campaign.annotators.set(_check_annotators(campaign.project, annotators))
    if blind is not None:
        campaign.blind = bool(blind)
    if lock_ttl_seconds is not None:
        if not 30 <= int(lock_ttl_seconds) <= 86_400:
            raise ValidationError("The lock time-to-live must be between 30 seconds and a day.")
        campaign.lock_ttl_seconds = int(lock_ttl_seconds)
    if name is not None:
        if not name.strip() or len(name.strip()) > 120:
            raise ValidationError("A campaign needs a name of at most 120 characters.")
        campaign.name = name.strip()
    campaign.save()
    return campaign


@transaction.atomic
def campaign_close(*, campaign: Campaign, actor: AbstractBaseUser) -> Campaign:
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="close campaigns")
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.state == CampaignState.CLOSED:
        campaign.state, campaign.closed_at = locked.state, locked.closed_at
        return campaign
    Claim.objects.filter(campaign=campaign).delete()
    CampaignItem.objects.filter(campaign=campaign).exclude(taken=F("annotation_count")).update(taken=F("annotation_count"))
    campaign.state = CampaignState.CLOSED
    campaign.closed_at = timezone.now()
    campaign.save(update_fields=["state", "closed_at"])
    timeline_record(project=campaign.project, actor=actor, verb="campaign_closed", text=campaign.name)
    return campaign


@transaction.atomic
def campaign_reopen(*, campaign: Campaign, actor: AbstractBaseUser) -> Campaign:
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="reopen campaigns")
    campaign.state = CampaignState.OPEN
    campaign.closed_at = None
    campaign.save(update_fields=["state", "closed_at"])
    return campaign


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


# --- Guideline ----------------------------------------------------------------------------------


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


# --- The queue ----------------------------------------------------------------------------------


def _require_annotator(campaign: Campaign, user: AbstractBaseUser) -> None:
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
    _require_annotator(campaign, annotator)
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
    _require_annotator(campaign, annotator)
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
def task_skip(*, campaign: Campaign, annotator: AbstractBaseUser, campaign_item: CampaignItem) -> None:
    """The annotator passes on the item: it is not offered to them again, and its slot returns."""
    _require_annotator(campaign, annotator)
    claim = Claim.objects.select_for_update().filter(campaign_item=campaign_item, annotator=annotator).first()
    if claim is None:
        raise Conflict("This item is not yours to skip (your claim expired or you labelled it).")
    claim.delete()
    CampaignItem.objects.filter(pk=campaign_item.pk).update(taken=F("taken") - 1)
    Skip.objects.get_or_create(campaign_item=campaign_item, annotator=annotator)


@transaction.atomic
def annotation_update(
    *, annotation: Annotation, annotator: AbstractBaseUser, value, revision: int, seconds_spent: float = 0.0
) -> Annotation:
    """Edits one's own annotation. `revision` is the one the editor saw: if someone (another tab,
    the API) saved since, the edit is refused with Conflict instead of overwriting it."""
    if annotation.annotator_id != annotator.pk:
        raise PermissionDenied("You can only edit your own annotations.")
    campaign = annotation.campaign
    _require_annotator(campaign, annotator)
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


# --- Adjudication -------------------------------------------------------------------------------


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


def user_by_email(email: str) -> AbstractBaseUser | None:
    return get_user_model().objects.filter(email__iexact=email).first() if email else None
