"""Writes for setting a labelling campaign up: creating it (its labels, annotators, first guideline
and queue), changing, closing and reopening it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from datasets.annotation.models import (
    Campaign,
    CampaignItem,
    CampaignState,
    Claim,
    GuidelineVersion,
    LabelChoice,
    LabelDefinition,
    QueueOrder,
    TaskType,
)
from datasets.annotation.services.queue import queue_fill
from datasets.models import DatasetKind, DatasetVersion, VersionState
from projects import policy
from projects.models import Membership, Role
from projects.services import timeline_record

MAX_OVERLAP = 10
MAX_LABELS = 60
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
ANNOTATOR_ROLES = frozenset({Role.LEAD, Role.ENGINEER, Role.ANNOTATOR})


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
    queue_fill(campaign)
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
