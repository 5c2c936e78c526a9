"""Reading a Label Studio JSON export back into plain records (`parse_export`); span offsets read
as code points unless a span's `text` only fits as UTF-16 units (see offsets.py).

Every malformed input becomes a `LabelStudioFormatError` (a ValueError) naming where it is, e.g.
`task[3].annotations[0].result[1].value.start: expected an integer, got 'x'`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from datasets.annotation.labelstudio.offsets import all_bmp, utf16_to_codepoint
from datasets.annotation.labelstudio.records import (
    ITEM_KEY_FIELD,
    OFFSET_UNITS,
    TASK_TYPES,
    ImportedAnnotation,
    ItemRef,
    LabelStudioFormatError,
    ParsedExport,
    Value,
    check_choice,
    is_int,
    is_number,
)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _load(data: list | bytes | bytearray | str) -> list:
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LabelStudioFormatError(f"the export is not UTF-8 text (byte {exc.start})") from None
    if isinstance(data, str):
        try:
            data = json.loads(data, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise LabelStudioFormatError(f"the export is not valid JSON ({exc})") from None
        except RecursionError:
            raise LabelStudioFormatError("the export is nested too deeply to be a Label Studio export") from None
    if not isinstance(data, list):
        raise LabelStudioFormatError(f"a Label Studio JSON export is a list of tasks, not {type(data).__name__}")
    return data


def _refuse_constant(name: str):
    raise LabelStudioFormatError(f"the export contains {name}, which is not JSON")


def _optional_str(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise LabelStudioFormatError(f"expected a string, got {_describe(value)}", path)


def _timestamp(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if is_number(value):  # LS before 1.0 wrote epoch seconds
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise LabelStudioFormatError(f"{value!r} is not a usable epoch timestamp", path) from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise LabelStudioFormatError(f"expected an ISO 8601 timestamp, got {_describe(value)}", path) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise LabelStudioFormatError(f"expected a timestamp, got {_describe(value)}", path)


def _annotator(value: Any, path: str) -> tuple[int | None, str | None]:
    if value is None:
        return None, None
    if is_int(value):
        return value, None
    if isinstance(value, str):  # CSV-style exports name the annotator by email
        return None, value or None
    if isinstance(value, Mapping):
        user_id, email = value.get("id"), value.get("email")
        if user_id is not None and not is_int(user_id):
            raise LabelStudioFormatError(f"expected an integer user id, got {_describe(user_id)}", f"{path}.id")
        return user_id, _optional_str(email, f"{path}.email") or None
    raise LabelStudioFormatError(f"expected a user id or a user object, got {_describe(value)}", path)


def _string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LabelStudioFormatError(f"expected a list of strings, got {_describe(value)}", path)
    return value


def _quoted_matches(covered: str, quoted: str) -> bool:
    # LS writes a line break inside a span's `text` as the two characters backslash and n.
    return covered == quoted or re.sub(r"[\r\n]", r"\\n", covered) == quoted


class _Parser:
    def __init__(self, task_type, from_name, text_field, image_field, label_names, offsets):
        self.task_type = task_type
        self.from_name = from_name
        self.text_field = text_field
        self.image_field = image_field
        self.label_names = set(label_names) if label_names is not None else None
        self.offsets = offsets
        self.result_type = "labels" if task_type == "span" else "choices"
        self.control_names: set[str] = set()
        self.utf16_spans = 0

    def item_ref(self, task: Mapping, path: str) -> ItemRef:
        task_id = task.get("id")
        if task_id is not None and not is_int(task_id):
            raise LabelStudioFormatError(f"expected an integer task id, got {_describe(task_id)}", f"{path}.id")
        data = task.get("data")
        if not isinstance(data, Mapping):
            raise LabelStudioFormatError("a task needs a `data` object", f"{path}.data")
        key = data.get(ITEM_KEY_FIELD)
        if key is not None and not isinstance(key, str | int):
            raise LabelStudioFormatError(f"expected an item key, got {_describe(key)}", f"{path}.data.{ITEM_KEY_FIELD}")
        text, image = data.get(self.text_field), data.get(self.image_field)
        return ItemRef(
            task_id=task_id,
            key=None if key is None else str(key),
            text=text if isinstance(text, str) else None,
            image=image if isinstance(image, str) else None,
        )

    def check_label(self, label: str, path: str) -> None:
        if self.label_names is not None and label not in self.label_names:
            raise LabelStudioFormatError(f"{label!r} is not a label of this campaign", path)

    def span_offsets(self, text: str, value: Mapping, path: str) -> tuple[int, int]:
        start, end, quoted = value.get("start"), value.get("end"), value.get("text")
        for name, offset in (("start", start), ("end", end)):
            if not is_int(offset):
                raise LabelStudioFormatError(f"expected an integer, got {_describe(offset)}", f"{path}.{name}")
        if quoted is not None and not isinstance(quoted, str):
            raise LabelStudioFormatError(f"expected a string, got {_describe(quoted)}", f"{path}.text")
        unit = self.offsets
        if unit == "auto":
            unit = "codepoints"
            if quoted is not None and not all_bmp(text):
                if not (0 <= start < end <= len(text) and _quoted_matches(text[start:end], quoted)):
                    try:
                        cp = utf16_to_codepoint(text, start), utf16_to_codepoint(text, end)
                    except ValueError:
                        cp = None
                    if cp and _quoted_matches(text[cp[0] : cp[1]], quoted):
                        unit = "utf16"
        if unit == "utf16":
            try:
                start, end = utf16_to_codepoint(text, start), utf16_to_codepoint(text, end)
            except ValueError as exc:
                raise LabelStudioFormatError(str(exc), path) from None
            self.utf16_spans += 1
        if not 0 <= start < end <= len(text):
            raise LabelStudioFormatError(
                f"span [{start}, {end}) is outside the task's text ({len(text)} code points)", path
            )
        return start, end

    def value(self, results: list, item: ItemRef, path: str) -> Value | None:
        """Our value from an annotation's results; None for a single-label annotation with no
        choice. A submitted LS annotation without spans or choices is an answer: "none apply"."""
        mine = []
        for index, result in enumerate(results):
            rpath = f"{path}[{index}]"
            if not isinstance(result, Mapping):
                raise LabelStudioFormatError(f"expected a result object, got {_describe(result)}", rpath)
            name, rtype = result.get("from_name"), result.get("type")
            if self.from_name is not None and name != self.from_name:
                continue
            if rtype != self.result_type:
                if self.from_name is not None:
                    raise LabelStudioFormatError(
                        f"expected a {self.result_type!r} result, got {_describe(rtype)}", f"{rpath}.type"
                    )
                continue
            if not isinstance(name, str):
                raise LabelStudioFormatError(f"expected a control name, got {_describe(name)}", f"{rpath}.from_name")
            self.control_names.add(name)
            if len(self.control_names) > 1:
                raise LabelStudioFormatError(
                    f"the export has several {self.result_type} controls {sorted(self.control_names)}; "
                    "say which one with from_name"
                )
            value = result.get("value")
            if not isinstance(value, Mapping):
                raise LabelStudioFormatError(f"expected a value object, got {_describe(value)}", f"{rpath}.value")
            mine.append((rpath, value))

        if self.task_type == "span":
            if item.text is None:
                raise LabelStudioFormatError(f"the task has no text in data.{self.text_field}", path)
            spans = []
            for rpath, value in mine:
                start, end = self.span_offsets(item.text, value, f"{rpath}.value")
                for label in _string_list(value.get("labels"), f"{rpath}.value.labels"):
                    self.check_label(label, f"{rpath}.value.labels")
                    spans.append({"start": start, "end": end, "label": label})
            spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
            return spans

        choices: list[str] = []
        for rpath, value in mine:
            for choice in _string_list(value.get("choices"), f"{rpath}.value.choices"):
                self.check_label(choice, f"{rpath}.value.choices")
                if choice not in choices:
                    choices.append(choice)
        if self.task_type == "multi":
            return choices
        if len(choices) > 1:
            raise LabelStudioFormatError(f"a single-label campaign got {len(choices)} choices {choices}", path)
        return choices[0] if choices else None


def parse_export(
    data: list | bytes | str,
    *,
    task_type: str,
    from_name: str | None = None,
    text_field: str = "text",
    image_field: str = "image",
    label_names: Iterable[str] | None = None,
    offsets: Literal["auto", "codepoints", "utf16"] = "auto",
) -> ParsedExport:
    """Reads an LS JSON export (the parsed list, or its bytes / text) into plain records.

    `from_name` picks the control when the config has several of the campaign's kind; by default
    the one Choices (single, multi) or Labels (span) control found is used. `label_names`, if given,
    refuses labels outside the campaign. Annotations cancelled (skipped) in LS, and annotations with
    no choice in a single-label campaign, are left out and listed in `skipped`; in multi-label and
    span campaigns an annotation without choices or spans means "none apply" and gives [].
    Raises LabelStudioFormatError.
    """
    check_choice(task_type, TASK_TYPES, "task_type")
    check_choice(offsets, ("auto", *OFFSET_UNITS), "offsets")
    if from_name is not None and not isinstance(from_name, str):
        raise LabelStudioFormatError("from_name must be a string")
    tasks = _load(data)
    parser = _Parser(task_type, from_name, text_field, image_field, label_names, offsets)
    refs: list[ItemRef] = []
    imported: list[ImportedAnnotation] = []
    skipped: list[str] = []
    for t_index, task in enumerate(tasks):
        tpath = f"task[{t_index}]"
        if not isinstance(task, Mapping):
            raise LabelStudioFormatError(f"expected a task object, got {_describe(task)}", tpath)
        item = parser.item_ref(task, tpath)
        refs.append(item)
        # `completions` is what LS before 1.0 called annotations.
        key = "annotations" if "annotations" in task else "completions"
        annotations = task.get(key)
        if annotations is None:
            continue
        if not isinstance(annotations, list):
            raise LabelStudioFormatError(f"expected a list, got {_describe(annotations)}", f"{tpath}.{key}")
        for a_index, annotation in enumerate(annotations):
            apath = f"{tpath}.{key}[{a_index}]"
            if not isinstance(annotation, Mapping):
                raise LabelStudioFormatError(f"expected an annotation object, got {_describe(annotation)}", apath)
            annotation_id = annotation.get("id")
            if annotation_id is not None and not is_int(annotation_id):
                raise LabelStudioFormatError(f"expected an integer id, got {_describe(annotation_id)}", f"{apath}.id")
            label = f"annotation {annotation_id} of task {item.task_id}"
            if annotation.get("was_cancelled") is True:
                skipped.append(f"{label}: skipped (cancelled) in Label Studio")
                continue
            results = annotation.get("result")
            if not isinstance(results, list):
                raise LabelStudioFormatError(f"expected a list of results, got {_describe(results)}", f"{apath}.result")
            value = parser.value(results, item, f"{apath}.result")
            if value is None:
                skipped.append(f"{label}: no choice made")
                continue
            annotator_id, email = _annotator(annotation.get("completed_by"), f"{apath}.completed_by")
            lead_time = annotation.get("lead_time")
            if lead_time is not None and not (is_number(lead_time) and lead_time >= 0):
                raise LabelStudioFormatError(
                    f"expected a number of seconds, got {_describe(lead_time)}", f"{apath}.lead_time"
                )
            imported.append(
                ImportedAnnotation(
                    item=item,
                    annotator_id=annotator_id,
                    annotator_email=email,
                    value=value,
                    lead_time=None if lead_time is None else float(lead_time),
                    created_at=_timestamp(annotation.get("created_at"), f"{apath}.created_at"),
                    updated_at=_timestamp(annotation.get("updated_at"), f"{apath}.updated_at"),
                    annotation_id=annotation_id,
                )
            )
    return ParsedExport(tasks=refs, annotations=imported, skipped=skipped, utf16_spans=parser.utf16_spans)
