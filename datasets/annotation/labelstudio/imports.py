"""Importing a Label Studio JSON export into a campaign.

Each LS task is matched to a campaign item by the LS task id the sync job pushed it as,
else by our item key (`data.prakriya_item`, written into every task we make), else — in a text
campaign — by its exact text. Each LS annotation's annotator is matched by email to a user
assigned to the campaign; nobody is created. Annotations go through `services.annotation_submit`
(tool "labelstudio", LS's lead_time as seconds spent, LS's created_at), so overlap k and one
annotation per annotator and item hold as for any other annotation; an item that already has all
its annotators is reported, not an error. An annotator's existing annotation of the item is
replaced only when the LS one was changed after ours (`services.annotation_update`, so a
concurrent edit is never overwritten); otherwise ours is kept and the LS one reported.

An import is not one transaction: every annotation written stays written, and the result says
exactly what was done with each one. A file that is not a usable LS export of the campaign is
refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError

from datasets.annotation import selectors, services
from datasets.annotation.labelstudio.exports import label_schema
from datasets.annotation.labelstudio.reader import parse_export
from datasets.annotation.labelstudio.records import (
    ImportedAnnotation,
    ItemRef,
    LabelStudioFormatError,
    ParsedExport,
)
from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    CampaignState,
    TaskType,
    Tool,
)
from projects import policy
from projects.services import timeline_record

OFFSET_CHOICES = [
    ("auto", "Detect (code points; UTF-16 units if a span only fits that way)"),
    ("codepoints", "Code points (Label Studio 1.x since the emoji fix)"),
    ("utf16", "UTF-16 units (older Label Studio releases)"),
]
# An uploaded LS export is read and parsed in memory, so it is capped far below the platform's
# upload limit; the sync reads the export straight from the LS server instead.
MAX_IMPORT_BYTES = 50 * 1024**2
# Lists kept in a result (a job's result, a page): the counts are always complete.
MAX_LISTED = 200


@dataclass
class ImportResult:
    """What an import did with every annotation it read."""

    tasks: int = 0  # tasks in the file
    annotations: int = 0  # annotations in the file, cancelled ones included
    created: int = 0
    updated: int = 0  # an annotator's earlier annotation replaced by a newer one from LS
    unchanged: int = 0  # already here with the same value (e.g. imported by an earlier sync)
    skipped: list[str] = field(default_factory=list)  # one reason per annotation not written
    unknown_annotators: list[str] = field(default_factory=list)
    unknown_items: list[str] = field(default_factory=list)
    utf16_spans: int = 0  # spans whose offsets were read as UTF-16 units (an older LS)

    @property
    def written(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict[str, Any]:
        """JSON for a job's result or the API, lists cut at MAX_LISTED (the counts are whole)."""
        data = asdict(self)
        for name in ("skipped", "unknown_annotators", "unknown_items"):
            data[f"{name}_count"] = len(data[name])
            data[name] = data[name][:MAX_LISTED]
        return data


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _task_name(ref: ItemRef) -> str:
    if ref.task_id is not None:
        return f"task {ref.task_id}" + (f" (item {ref.key})" if ref.key else "")
    return f"item {ref.key}" if ref.key else "a task without id"


def _annotation_name(annotation: ImportedAnnotation) -> str:
    who = annotation.annotator_email or (
        f"Label Studio user #{annotation.annotator_id}" if annotation.annotator_id is not None else "nobody named"
    )
    number = f"annotation {annotation.annotation_id}" if annotation.annotation_id is not None else "an annotation"
    return f"{number} of {_task_name(annotation.item)} by {who}"


def _chunks(values: list, size: int = 5000) -> Iterable[list]:
    for first in range(0, len(values), size):
        yield values[first:first + size]


def _match_items(
    campaign: Campaign, refs: Iterable[ItemRef], task_items: dict[int, int] | None
) -> dict[ItemRef, CampaignItem | str]:
    """Each task's campaign item, or why it has none (a reason that follows the task's name)."""
    refs = list(dict.fromkeys(refs))
    task_items = task_items or {}
    by_id: dict[int, CampaignItem] = {}
    ids = sorted({task_items[r.task_id] for r in refs if r.task_id in task_items})
    for chunk in _chunks(ids):
        by_id.update(CampaignItem.objects.filter(campaign=campaign, pk__in=chunk).select_related("item").in_bulk())
    keys = sorted({r.key for r in refs if r.key is not None})
    by_key: dict[str, CampaignItem] = {}
    for chunk in _chunks(keys):
        for ci in CampaignItem.objects.filter(campaign=campaign, item__key__in=chunk).select_related("item"):
            by_key[ci.item.key] = ci
    by_text: dict[str, list[CampaignItem]] = {}
    if campaign.media == "text":
        texts = sorted({r.text for r in refs if r.text is not None and r.key not in by_key})
        for chunk in _chunks(texts, 500):
            for ci in CampaignItem.objects.filter(campaign=campaign, item__text__in=chunk).select_related("item"):
                by_text.setdefault(ci.item.text, []).append(ci)

    matched: dict[ItemRef, CampaignItem | str] = {}
    for ref in refs:
        found = by_id.get(task_items.get(ref.task_id)) or by_key.get(ref.key)
        if found is None and campaign.media == "text" and ref.text is not None:
            same = by_text.get(ref.text, [])
            if len(same) == 1:
                found = same[0]
            elif same:
                matched[ref] = f"its text is that of {len(same)} items of the campaign"
                continue
        if found is None:
            matched[ref] = "no item of this campaign has its key" + (
                " or its text" if campaign.media == "text" else "")
        elif campaign.task_type == TaskType.SPAN and ref.text is not None and ref.text != found.item.text:
            # Offsets count characters of the task's text: on another text they would mark other words.
            matched[ref] = f"its text differs from the text of item {found.item.key}"
        else:
            matched[ref] = found
    return matched


def _match_annotators(campaign: Campaign, annotations: list[ImportedAnnotation]) -> dict[str, Any]:
    """email (lower case) → an assigned user, or why there is none."""
    assigned = {}
    for user in campaign.annotators.all().order_by("pk"):
        if user.email:
            assigned.setdefault(user.email.strip().lower(), user)
    matched: dict[str, Any] = {}
    for email in {a.annotator_email.strip().lower() for a in annotations if a.annotator_email}:
        if email in assigned:
            matched[email] = assigned[email]
        elif _user_by_email(email) is not None:
            matched[email] = f"{email} is not an annotator of this campaign"
        else:
            matched[email] = f"{email} is no user of this platform"
    return matched


def _moment(annotation: ImportedAnnotation) -> datetime | None:
    return annotation.updated_at or annotation.created_at


def _newest_first(annotation: ImportedAnnotation) -> tuple:
    moment = _moment(annotation)
    return (moment is not None, moment.timestamp() if moment else 0.0, annotation.annotation_id or 0)


def _write(campaign: Campaign, user, campaign_item: CampaignItem, annotation: ImportedAnnotation,
           result: ImportResult, name: str) -> None:
    """One annotation from LS: created, replacing an older one of the same annotator, or kept
    out with the reason."""
    seconds = annotation.lead_time or 0.0
    existing = Annotation.objects.filter(campaign_item=campaign_item, annotator=user).first()
    try:
        if existing is None:
            services.annotation_submit(
                campaign=campaign, annotator=user, campaign_item=campaign_item, value=annotation.value,
                seconds_spent=seconds, tool=Tool.LABEL_STUDIO, created_at=annotation.created_at,
            )
            result.created += 1
            return
        value = services.validate_value(campaign, annotation.value, text=campaign_item.item.text)
        if selectors.value_key(value) == selectors.value_key(existing.value):
            result.unchanged += 1
            return
        moment = _moment(annotation)
        if moment is None or moment <= existing.updated_at:
            result.skipped.append(f"{name}: kept the annotation made here, which is newer")
            return
        # LS's lead_time is the annotation's whole time there; one we imported before already counts part.
        extra = seconds - existing.seconds_spent if existing.tool == Tool.LABEL_STUDIO else seconds
        services.annotation_update(annotation=existing, annotator=user, value=value, revision=existing.revision,
                                   seconds_spent=max(0.0, extra))
        result.updated += 1
    except services.Conflict as exc:
        result.skipped.append(f"{name}: {exc}")
    except (ValidationError, PermissionDenied) as exc:
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        result.skipped.append(f"{name}: {reason}")


def import_parsed(
    campaign: Campaign, parsed: ParsedExport, *, task_items: dict[int, int] | None = None,
    report: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Writes the annotations of a parsed LS export into the campaign (see the module docstring).
    `task_items` maps LS task ids to campaign item ids (the tasks the sync job pushed)."""
    result = ImportResult(
        tasks=len(parsed.tasks), annotations=len(parsed.annotations) + len(parsed.skipped),
        skipped=list(parsed.skipped), utf16_spans=parsed.utf16_spans,
    )
    items = _match_items(campaign, [a.item for a in parsed.annotations], task_items)
    people = _match_annotators(campaign, parsed.annotations)
    unknown_items: dict[str, None] = {}
    unknown_people: dict[str, None] = {}

    # One annotation per annotator and item: when LS holds several (LS lets a user annotate a
    # task twice), the newest counts and the others are reported.
    chosen: dict[tuple[int, int], tuple[ImportedAnnotation, Any, CampaignItem]] = {}
    for annotation in sorted(parsed.annotations, key=_newest_first, reverse=True):
        name = _annotation_name(annotation)
        item = items[annotation.item]
        if isinstance(item, str):
            unknown_items[f"{_task_name(annotation.item)}: {item}"] = None
            result.skipped.append(f"{name}: {item}")
            continue
        email = (annotation.annotator_email or "").strip().lower()
        user = people.get(email) if email else None
        if user is None:
            reason = f"Label Studio user #{annotation.annotator_id} has no email here" \
                if annotation.annotator_id is not None else "the annotation names no annotator"
            unknown_people[reason] = None
            result.skipped.append(f"{name}: {reason}")
            continue
        if isinstance(user, str):
            unknown_people[email] = None
            result.skipped.append(f"{name}: {user}")
            continue
        if (item.pk, user.pk) in chosen:
            result.skipped.append(f"{name}: the same annotator has a newer annotation of this item")
            continue
        chosen[(item.pk, user.pk)] = (annotation, user, item)

    # Written oldest first, so that where overlap runs out the earliest annotators keep their slot.
    todo = sorted(chosen.values(), key=lambda entry: _newest_first(entry[0]))
    for done, (annotation, user, item) in enumerate(todo):
        _write(campaign, user, item, annotation, result, _annotation_name(annotation))
        if report is not None and done % 100 == 0:
            report(done, len(todo))
    result.unknown_items = sorted(unknown_items)
    result.unknown_annotators = sorted(unknown_people)
    return result


def _read_upload(data) -> list | bytes | str:
    if hasattr(data, "read"):  # an uploaded file
        data = data.read(MAX_IMPORT_BYTES + 1)
    if isinstance(data, bytes | bytearray | str) and len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(
            f"The export is larger than {MAX_IMPORT_BYTES // 1024**2} MB; sync with the Label Studio server "
            "instead, or import it in parts."
        )
    return data


def labelstudio_import(
    *, campaign: Campaign, actor: AbstractBaseUser, data, offsets: str = "auto"
) -> ImportResult:
    """Imports a Label Studio JSON export (the parsed list, its bytes or text, or an open file)
    into the campaign. A file that is not an LS export of this campaign (its task type and labels)
    is refused with a ValidationError naming where, before anything is written."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="import annotations into a campaign")
    if offsets not in dict(OFFSET_CHOICES):
        raise ValidationError(f"Span offsets are read as {', '.join(dict(OFFSET_CHOICES))}, not {offsets!r}.")
    if Campaign.objects.filter(pk=campaign.pk, state=CampaignState.CLOSED).exists():
        raise ValidationError("This campaign is closed: reopen it to import annotations.")
    data = _read_upload(data)
    try:
        parsed = parse_export(
            data, task_type=campaign.task_type, label_names=[label.name for label in label_schema(campaign)],
            offsets=offsets,
        )
    except LabelStudioFormatError as exc:
        raise ValidationError(f"This is not a Label Studio JSON export of this campaign: {exc}") from exc
    result = import_parsed(campaign, parsed)
    if result.written:
        timeline_record(
            project=campaign.project, actor=actor, verb="labelstudio_imported",
            text=f"{campaign.name}: {counted(result.written, 'annotation')} imported from a Label Studio export",
        )
    return result


def _user_by_email(email: str) -> AbstractBaseUser | None:
    return get_user_model().objects.filter(email__iexact=email).first() if email else None
