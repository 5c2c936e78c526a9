"""Label Studio interop of a campaign: its LS JSON export, importing an LS JSON export into it,
and syncing it with a Label Studio server (a job: create the LS project once, push the items not
pushed yet, pull the annotations made there and import them).

The formats are in labelstudio.py, the HTTP client in labelstudio_sync.py; this module maps our
models to and from their records.

Importing. Each LS task is matched to a campaign item by the LS task id the sync job pushed it as,
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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from datasets.annotation import kinds, labelstudio, labelstudio_sync, selectors, services
from datasets.annotation.labelstudio import (
    AnnotationRecord,
    ImportedAnnotation,
    ItemRecord,
    ItemRef,
    LabelSpec,
    LabelStudioFormatError,
    ParsedExport,
)
from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    CampaignState,
    LabelStudioTask,
    TaskType,
    Tool,
)
from datasets.models import SealedItem
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.services import job_enqueue
from projects import policy
from projects.services import timeline_record

OFFSET_CHOICES = [
    ("auto", "Detect (code points; UTF-16 units if a span only fits that way)"),
    ("codepoints", "Code points (Label Studio 1.x since the emoji fix)"),
    ("utf16", "UTF-16 units (older Label Studio releases)"),
]
EXPORT_OFFSETS = ("codepoints", "utf16")
# An uploaded LS export is read and parsed in memory, so it is capped far below the platform's
# upload limit; the sync reads the export straight from the LS server instead.
MAX_IMPORT_BYTES = 50 * 1024**2
PUSH_BATCH = labelstudio_sync.IMPORT_BATCH
# Lists kept in a result (a job's result, a page): the counts are always complete.
MAX_LISTED = 200
LS_TITLE_MAX = 50  # Label Studio's PROJECT_TITLE_MAX_LEN
NOT_CONFIGURED = (
    "Label Studio sync is not configured (set PRAKRIYA_LABEL_STUDIO_URL and PRAKRIYA_LABEL_STUDIO_API_KEY)."
)
# Users without an email still export (LS needs an email per annotator); importing the file
# back finds nobody with it, and says so.
NO_EMAIL_DOMAIN = "users.prakriya.invalid"
UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED)


# --- Results --------------------------------------------------------------------------------


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# --- Access ---------------------------------------------------------------------------------


def _require_manager(campaign: Campaign, actor: AbstractBaseUser, what: str) -> None:
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what=what)


# --- Export ---------------------------------------------------------------------------------


def _email(user) -> str:
    email = (user.email or "").strip()
    return email if "@" in email else f"{user.get_username()}@{NO_EMAIL_DOMAIN}"


def _image_url(campaign: Campaign, campaign_item_id: int) -> str:
    # Label Studio's browser fetches the image from us, without a Prakriya session: an absolute
    # address on the public URL, signed for this one item (valid for 30 days).
    path = reverse("annotation:item_content", args=[campaign.project.slug, campaign.slug, campaign_item_id])
    signature = selectors.item_signature(campaign=campaign, campaign_item_id=campaign_item_id)
    return f"{settings.PRAKRIYA_PUBLIC_URL}{path}?signature={signature}"


def _item_record(campaign: Campaign, campaign_item_id: int, key: str, text: str) -> ItemRecord:
    if campaign.media == "image":
        return ItemRecord(key=key, image_url=_image_url(campaign, campaign_item_id))
    return ItemRecord(key=key, text=text or "")


def label_schema(campaign: Campaign) -> list[LabelSpec]:
    return [LabelSpec(name=label.name, colour=label.colour, shortcut=label.shortcut)
            for label in campaign.labels.all()]


def campaign_label_config(campaign: Campaign) -> str:
    """The Label Studio labelling config of the campaign's task and labels."""
    return labelstudio.label_config(campaign.task_type, campaign.media, label_schema(campaign))


def labelstudio_export(*, campaign: Campaign, actor: AbstractBaseUser, offsets: str = "codepoints") -> list[dict]:
    """The campaign as a Label Studio JSON export: every item of its queue (texts, or image
    addresses on PRAKRIYA_PUBLIC_URL) with every annotation, annotators named by email. A manager's
    action, so blind campaigns export everyone's labels. Only what the queue holds is read: no
    sealed item (they are never queued) and no dataset label (`Item.label`)."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="export a campaign")
    if offsets not in EXPORT_OFFSETS:
        raise ValidationError(f"Span offsets are exported as {' or '.join(EXPORT_OFFSETS)}, not {offsets!r}.")
    rows = (
        CampaignItem.objects.filter(campaign=campaign).order_by("position")
        .values_list("pk", "item__key", "item__text")
    )
    items = [_item_record(campaign, pk, key, text) for pk, key, text in rows.iterator(chunk_size=5000)]
    people = {u.pk: _email(u) for u in get_user_model().objects.filter(
        pk__in=Annotation.objects.filter(campaign=campaign).values("annotator_id"))}
    annotations = [
        AnnotationRecord(
            item_key=key, annotator_email=people[annotator_id], value=value, tool=tool,
            lead_time=seconds, created_at=created_at, updated_at=updated_at,
        )
        for key, annotator_id, value, tool, seconds, created_at, updated_at in
        Annotation.objects.filter(campaign=campaign).order_by("campaign_item__position", "created_at", "id")
        .values_list("campaign_item__item__key", "annotator_id", "value", "tool", "seconds_spent", "created_at",
                     "updated_at").iterator(chunk_size=5000)
    ]
    try:
        return labelstudio.export_campaign(
            task_type=campaign.task_type, media=campaign.media, items=items, annotations=annotations,
            offsets=offsets,
        )
    except LabelStudioFormatError as exc:  # a stored value that no longer fits its item
        raise ValidationError(f"The campaign cannot be exported as it is: {exc}") from exc


# --- Import ---------------------------------------------------------------------------------


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
        elif services.user_by_email(email) is not None:
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
        parsed = labelstudio.parse_export(
            data, task_type=campaign.task_type, label_names=[label.name for label in label_schema(campaign)],
            offsets=offsets,
        )
    except LabelStudioFormatError as exc:
        raise ValidationError(f"This is not a Label Studio JSON export of this campaign: {exc}") from exc
    result = import_parsed(campaign, parsed)
    if result.written:
        timeline_record(
            project=campaign.project, actor=actor, verb="labelstudio_imported",
            text=f"{campaign.name}: {_count(result.written, 'annotation')} imported from a Label Studio export",
        )
    return result


# --- Sync -----------------------------------------------------------------------------------


def sync_jobs(*, campaign: Campaign):
    """The campaign's sync jobs, newest first."""
    return Job.objects.filter(
        kind=kinds.LABELSTUDIO_SYNC, target_type=ContentType.objects.get_for_model(Campaign), target_id=campaign.pk
    ).order_by("-created_at", "-id")


def is_configured() -> bool:
    return bool(settings.PRAKRIYA_LABEL_STUDIO_URL and settings.PRAKRIYA_LABEL_STUDIO_API_KEY)


def project_url(campaign: Campaign) -> str | None:
    """The campaign's project in the Label Studio UI, once synced."""
    if not settings.PRAKRIYA_LABEL_STUDIO_URL or campaign.labelstudio_project_id is None:
        return None
    return f"{settings.PRAKRIYA_LABEL_STUDIO_URL}/projects/{campaign.labelstudio_project_id}/"


def labelstudio_sync_start(*, campaign: Campaign, actor: AbstractBaseUser) -> Job:
    """Starts a sync with the configured Label Studio server (lead, engineers). Asking again
    while one is waiting or running returns that one: two at once would both create the project."""
    policy.require(user=actor, project=campaign.project, action=policy.MANAGE_CAMPAIGNS, what="sync a campaign with Label Studio")
    if not is_configured():
        raise ValidationError(NOT_CONFIGURED)
    if campaign.state == CampaignState.CLOSED:
        raise ValidationError("This campaign is closed: reopen it to sync it with Label Studio.")
    running = sync_jobs(campaign=campaign).filter(state__in=UNFINISHED).first()
    if running is not None:
        return running
    return job_enqueue(kind=kinds.LABELSTUDIO_SYNC, project=campaign.project, target=campaign, created_by=actor)


def sync_recorded(job: Job, result: dict[str, Any]) -> None:
    """On the timeline once a sync that wrote something has succeeded (the job's on_success)."""
    imported = result.get("import") or {}
    written = int(imported.get("created", 0)) + int(imported.get("updated", 0))
    if job.project is None or not (written or result.get("pushed")):
        return
    name = Campaign.objects.filter(pk=result.get("campaign_id")).values_list("name", flat=True).first() or "A campaign"
    timeline_record(
        project=job.project, actor=job.created_by, verb="labelstudio_synced",
        text=f"{name} synced with Label Studio: {_count(result.get('pushed', 0), 'item')} pushed, "
             f"{_count(written, 'annotation')} imported",
    )


def _project_title(campaign: Campaign) -> str:
    title = f"{campaign.project.title} · {campaign.name}"
    if len(title) > LS_TITLE_MAX:
        title = title[: LS_TITLE_MAX - 1].rstrip() + "…"
    return title if len(title) >= 3 else f"{title} (Prakriya)"


def _ensure_project(campaign: Campaign, base_url: str, api_key: str, log: Callable[[str], None]) -> int:
    if campaign.labelstudio_project_id is not None:
        try:
            labelstudio_sync.get_label_config(base_url, api_key, campaign.labelstudio_project_id)
            return campaign.labelstudio_project_id
        except labelstudio_sync.LabelStudioRequestError as exc:
            if exc.status_code != 404:
                raise
        # Deleted in Label Studio: its tasks went with it. The annotations imported stay here.
        log(f"Label Studio project {campaign.labelstudio_project_id} no longer exists; creating a new one")
        LabelStudioTask.objects.filter(campaign_item__campaign=campaign).delete()
    description = (f"Labelling campaign “{campaign.name}” of {campaign.project.title}, synced from Prakriya: "
                   f"{settings.PRAKRIYA_PUBLIC_URL}{reverse('annotation:detail', args=[campaign.project.slug, campaign.slug])}")
    project_id = labelstudio_sync.create_project(
        base_url, api_key, _project_title(campaign), campaign_label_config(campaign), description=description,
    )
    # Stored at once (the job runs outside a transaction): a retry after a crash reuses the project.
    Campaign.objects.filter(pk=campaign.pk).update(labelstudio_project_id=project_id)
    campaign.labelstudio_project_id = project_id
    log(f"created Label Studio project {project_id} “{_project_title(campaign)}”")
    return project_id


def _push(campaign: Campaign, base_url: str, api_key: str, project_id: int,
          progress: Callable[[float, str], None]) -> int:
    """Pushes the items not pushed yet, a batch at a time, recording each batch's task ids as soon
    as LS returns them (a crash between the two re-pushes at most one batch)."""
    pending = CampaignItem.objects.filter(campaign=campaign, labelstudio_task__isnull=True)
    total = pending.count()
    pushed = 0
    while True:
        batch = list(pending.order_by("position").values_list("pk", "item__key", "item__text")[:PUSH_BATCH])
        if not batch:
            return pushed
        tasks = labelstudio.task_payloads(
            [_item_record(campaign, pk, key, text) for pk, key, text in batch], media=campaign.media
        )
        task_ids = labelstudio_sync.push_tasks(base_url, api_key, project_id, tasks)
        LabelStudioTask.objects.bulk_create(
            [LabelStudioTask(campaign_item_id=pk, task_id=task_id) for (pk, _, _), task_id in
             zip(batch, task_ids, strict=True)],
            ignore_conflicts=True,
        )
        pushed += len(batch)
        progress(10 + 50 * pushed / max(total, 1), f"Pushed {pushed} of {total} items to Label Studio")


def labelstudio_sync_run(
    campaign: Campaign, *, progress: Callable[[float, str], None], log: Callable[[str], None]
) -> dict[str, Any]:
    """The sync job's work (plain: tested without Celery). Raises LabelStudioSyncError with a
    message for the person who configured the server when LS is unreachable or refuses the key."""
    base_url, api_key = settings.PRAKRIYA_LABEL_STUDIO_URL, settings.PRAKRIYA_LABEL_STUDIO_API_KEY
    if not base_url or not api_key:
        raise labelstudio_sync.LabelStudioSyncError(NOT_CONFIGURED)
    progress(2, "Connecting to Label Studio")
    who = labelstudio_sync.whoami(base_url, api_key)
    log(f"connected to Label Studio at {base_url} as {who}")
    progress(5, "Preparing the Label Studio project")
    project_id = _ensure_project(campaign, base_url, api_key, log)
    pushed = _push(campaign, base_url, api_key, project_id, progress)
    log(f"pushed {pushed} new task{'s' if pushed != 1 else ''} to project {project_id}")

    progress(65, "Pulling the annotations made in Label Studio")
    parsed = labelstudio_sync.pull_export(
        base_url, api_key, project_id, task_type=campaign.task_type,
        label_names=[label.name for label in label_schema(campaign)],
    )
    log(f"pulled {len(parsed.annotations)} annotations ({len(parsed.skipped)} left out) from {len(parsed.tasks)} tasks")
    # Items sealed since they were pushed (a split of the campaign's dataset) must not stay in
    # Label Studio to be labelled there: their tasks, and what was said on them, are deleted.
    sealed = set(
        SealedItem.objects.filter(
            dataset_id=campaign.version.dataset_id, key__in=[t.key for t in parsed.tasks if t.key]
        ).values_list("key", flat=True)
    )
    doomed = sorted({t.task_id for t in parsed.tasks if t.key in sealed and t.task_id is not None})
    deleted = 0
    if doomed:
        deleted = labelstudio_sync.delete_tasks(base_url, api_key, doomed)
        log(f"deleted {len(doomed)} task{'s' if len(doomed) != 1 else ''} of items sealed since they were pushed")
        gone = set(doomed)
        parsed = replace(
            parsed,
            tasks=[t for t in parsed.tasks if t.task_id not in gone],
            annotations=[a for a in parsed.annotations if a.item.task_id not in gone],
        )
    if Campaign.objects.filter(pk=campaign.pk, state=CampaignState.CLOSED).exists():
        log("the campaign was closed meanwhile: nothing imported")
        result = ImportResult(tasks=len(parsed.tasks), skipped=["the campaign is closed"])
    else:
        task_ids = [a.item.task_id for a in parsed.annotations if a.item.task_id is not None]
        task_items = dict(
            LabelStudioTask.objects.filter(campaign_item__campaign=campaign, task_id__in=task_ids)
            .values_list("task_id", "campaign_item_id")
        )
        result = import_parsed(
            campaign, parsed, task_items=task_items,
            report=lambda done, total: progress(70 + 28 * done / max(total, 1),
                                                f"Importing annotations: {done} of {total}"),
        )
        log(f"imported: {result.created} created, {result.updated} updated, {result.unchanged} already here, "
            f"{len(result.skipped)} skipped")
        for reason in result.skipped[:20]:
            log(f"skipped {reason}")
        if result.unknown_annotators:
            log(f"annotators not matched: {', '.join(result.unknown_annotators[:20])}")
    return {
        "campaign_id": campaign.pk,
        "labelstudio_project_id": project_id,
        "labelstudio_url": f"{base_url}/projects/{project_id}/",
        "pushed": pushed,
        "deleted_sealed": deleted,
        "tasks": LabelStudioTask.objects.filter(campaign_item__campaign=campaign).count(),
        "import": result.as_dict(),
    }
