"""Writing Label Studio JSON: LS tasks built from items, and the LS JSON export of a campaign
(span offsets in code points by default, or UTF-16 units for an old LS: see offsets.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

from datasets.annotation.labelstudio.offsets import codepoint_to_utf16
from datasets.annotation.labelstudio.records import (
    CONTROL_NAME,
    ITEM_KEY_FIELD,
    MEDIA,
    OFFSET_UNITS,
    TASK_TYPES,
    AnnotationRecord,
    ItemRecord,
    LabelStudioFormatError,
    Value,
    check_choice,
    is_int,
    is_number,
)


def task_payload(item: ItemRecord, *, media: str) -> dict:
    """One LS task (`{"data": {...}}`) for an item, carrying our item key in `data`."""
    check_choice(media, MEDIA, "media")
    if not isinstance(item, ItemRecord):
        raise LabelStudioFormatError(f"expected an ItemRecord, got {type(item).__name__}")
    if not isinstance(item.key, str) or not item.key:
        raise LabelStudioFormatError("an item needs a non-empty string key")
    if media == "text":
        if not isinstance(item.text, str):
            raise LabelStudioFormatError(f"item {item.key!r} has no text")
        return {"data": {"text": item.text, ITEM_KEY_FIELD: item.key}}
    if not isinstance(item.image_url, str) or not item.image_url:
        raise LabelStudioFormatError(f"item {item.key!r} has no image URL")
    return {"data": {"image": item.image_url, ITEM_KEY_FIELD: item.key}}


def task_payloads(items: Iterable[ItemRecord], *, media: str) -> list[dict]:
    tasks = []
    seen: set[str] = set()
    for item in items:
        task = task_payload(item, media=media)
        if item.key in seen:
            raise LabelStudioFormatError(f"item key {item.key!r} appears twice")
        seen.add(item.key)
        tasks.append(task)
    return tasks


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _export_result(task_type: str, value: Value, text: str | None, offsets: str, where: str) -> list[dict]:
    if task_type == "single":
        if not isinstance(value, str):
            raise LabelStudioFormatError("a single-label value must be a label name", where)
        return [{"choices": [value]}]
    if task_type == "multi":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LabelStudioFormatError("a multi-label value must be a list of label names", where)
        return [{"choices": list(dict.fromkeys(value))}] if value else []
    if not isinstance(value, list):
        raise LabelStudioFormatError("a span value must be a list of spans", where)
    results = []
    for index, span in enumerate(value):
        spath = f"{where}[{index}]"
        if not isinstance(span, Mapping) or set(span) != {"start", "end", "label"}:
            raise LabelStudioFormatError("a span must have exactly start, end and label", spath)
        start, end, label = span["start"], span["end"], span["label"]
        if not is_int(start) or not is_int(end) or not isinstance(label, str):
            raise LabelStudioFormatError("span start and end must be integers and label a string", spath)
        if not 0 <= start < end <= len(text):
            raise LabelStudioFormatError(f"span [{start}, {end}) is outside the text ({len(text)} code points)", spath)
        ls_start, ls_end = start, end
        if offsets == "utf16":
            ls_start, ls_end = codepoint_to_utf16(text, start), codepoint_to_utf16(text, end)
        results.append({"start": ls_start, "end": ls_end, "text": text[start:end], "labels": [label]})
    return results


def export_campaign(
    *,
    task_type: str,
    media: str,
    items: Iterable[ItemRecord],
    annotations: Iterable[AnnotationRecord],
    user_ids: Mapping[str, int] | None = None,
    offsets: Literal["codepoints", "utf16"] = "codepoints",
) -> list[dict]:
    """A campaign as Label Studio's JSON export: one task per item (ids from 1, in item order),
    each with its annotations. `completed_by` is LS's expanded form `{"id", "email", ...}`; ids come
    from `user_ids` (email -> LS user id) or are numbered by first appearance. Imported into LS
    (`labelstudio_sync.push_tasks`), LS files each annotation under the member with that email,
    refuses emails that are not members of its organization, and stamps its own created_at."""
    check_choice(task_type, TASK_TYPES, "task_type")
    check_choice(media, MEDIA, "media")
    check_choice(offsets, OFFSET_UNITS, "offsets")
    if task_type == "span" and media != "text":
        raise LabelStudioFormatError("span labelling needs text items")
    items = list(items)
    tasks = task_payloads(items, media=media)
    by_key = {}
    for task_id, (item, task) in enumerate(zip(items, tasks, strict=True), start=1):
        task.update({"id": task_id, "annotations": [], "predictions": []})
        by_key[item.key] = (item, task)

    ids = dict(user_ids or {})
    next_id = max(ids.values(), default=0) + 1
    annotation_id = 0
    for index, record in enumerate(annotations):
        where = f"annotations[{index}]"
        if not isinstance(record, AnnotationRecord):
            raise LabelStudioFormatError(f"expected an AnnotationRecord, got {type(record).__name__}", where)
        if record.item_key not in by_key:
            raise LabelStudioFormatError(f"unknown item key {record.item_key!r}", where)
        if not isinstance(record.annotator_email, str) or "@" not in record.annotator_email:
            raise LabelStudioFormatError(f"annotator email {record.annotator_email!r} is not an email", where)
        if record.lead_time is not None and not is_number(record.lead_time):
            raise LabelStudioFormatError("lead_time must be a finite number of seconds", where)
        item, task = by_key[record.item_key]
        values = _export_result(task_type, record.value, item.text, offsets, f"{where}.value")
        if record.annotator_email not in ids:
            ids[record.annotator_email] = next_id
            next_id += 1
        annotation_id += 1
        result = [
            {
                "id": f"pk{annotation_id}-{n}",
                "from_name": CONTROL_NAME,
                "to_name": media,
                "type": "labels" if task_type == "span" else "choices",
                "origin": "manual",
                "value": value,
            }
            for n, value in enumerate(values, start=1)
        ]
        task["annotations"].append(
            {
                "id": annotation_id,
                "completed_by": {
                    "id": ids[record.annotator_email],
                    "email": record.annotator_email,
                    "first_name": "",
                    "last_name": "",
                },
                "result": result,
                "was_cancelled": False,
                "ground_truth": False,
                "created_at": _iso(record.created_at),
                "updated_at": _iso(record.updated_at or record.created_at),
                "lead_time": record.lead_time,
                "task": task["id"],
            }
        )
    return tasks

