"""Label Studio interop as pure functions: the labelling config XML of a campaign's schema, LS
tasks built from items, the LS JSON export of a campaign, and the parsing of an LS JSON export
back into plain records. No Django models here; services map models to and from these records.

Text span offsets. Ours are Unicode code points (Python string indices). Label Studio's labelling
UI stores code points for `<Text>` regions too: its text model splits strings with `[...text]`
(checked on LS 1.23.2 by labelling words after emoji in its real UI, see
tests/annotation/test_labelstudio_server.py). Older releases stored JavaScript string indices
(UTF-16 code units; LS issue #1347, fixed by label-studio-frontend #308), which differ from code
points after any character outside the Basic Multilingual Plane (emoji, 𝔘, some CJK); Devanagari,
Tamil, Bengali and Urdu are inside it, so there both units agree. So:

- `export_campaign(..., offsets="codepoints")` (the default) writes what current LS expects;
  `offsets="utf16"` writes what an old LS expects.
- `parse_export(..., offsets="auto")` (the default) reads code points, unless a span's `text` only
  matches the item's text when its offsets are read as UTF-16 units (an export of an old LS).

Every malformed input becomes a `LabelStudioFormatError` (a ValueError) naming where it is, e.g.
`task[3].annotations[0].result[1].value.start: expected an integer, got 'x'`.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

TASK_TYPES = ("single", "multi", "span")
MEDIA = ("image", "text")
# The task data key that carries our item key, so annotations made in LS find their item again.
ITEM_KEY_FIELD = "prakriya_item"
CONTROL_NAME = "label"  # the `name` of the Choices / Labels tag in configs we generate
OFFSET_UNITS = ("codepoints", "utf16")

SpanValue = dict  # {"start": int, "end": int, "label": str}, offsets in code points
Value = str | list[str] | list[SpanValue]

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Characters XML 1.0 cannot carry at all, even escaped: ElementTree would write them raw and the
# config would not parse again.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# hotkeys-js (LS's hotkey library) reads "+" as a modifier joiner and "," as a list separator.
_SHORTCUT_FORBIDDEN = {"+", ","}


class LabelStudioFormatError(ValueError):
    """Input that is not what Label Studio (or we) would produce; `path` says where."""

    def __init__(self, message: str, path: str = ""):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSpec:
    name: str
    colour: str = ""
    shortcut: str = ""


@dataclass(frozen=True)
class LabelSchema:
    task_type: str
    media: str
    labels: tuple[LabelSpec, ...]


@dataclass(frozen=True)
class ItemRecord:
    """An item to label: `text` for text media, `image_url` (an address LS can load) for images."""

    key: str
    text: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class AnnotationRecord:
    """One annotation of ours, `value` in our format (see the module docstring)."""

    item_key: str
    annotator_email: str
    value: Value
    tool: str = "platform"
    lead_time: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ItemRef:
    """How an LS task points back at an item: our key if the task came from us, else its data."""

    task_id: int | None
    key: str | None
    text: str | None
    image: str | None


@dataclass(frozen=True)
class ImportedAnnotation:
    """One annotation read from Label Studio, `value` in our format (offsets in code points).
    LS gives the annotator as a user id, an object with an email, or both; the sync client fills
    `annotator_email` from LS's users when only the id came."""

    item: ItemRef
    annotator_id: int | None
    annotator_email: str | None
    value: Value
    lead_time: float | None
    created_at: datetime | None
    updated_at: datetime | None
    annotation_id: int | None = None
    tool: str = "labelstudio"


@dataclass(frozen=True)
class ParsedExport:
    tasks: list[ItemRef]
    annotations: list[ImportedAnnotation]
    # Annotations read but left out, with why (skipped in LS, or no answer for our control).
    skipped: list[str] = field(default_factory=list)
    # Spans whose offsets were read as UTF-16 units (an export of an LS before the emoji fix).
    utf16_spans: int = 0


# --- UTF-16 code units <-> code points -----------------------------------------------------


def _all_bmp(text: str) -> bool:
    return not text or max(text) <= "\uffff"


def utf16_length(text: str) -> int:
    """Length of `text` in UTF-16 code units, i.e. JavaScript's `text.length`."""
    if _all_bmp(text):
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def codepoint_to_utf16(text: str, offset: int) -> int:
    """The UTF-16 offset (JavaScript string index) of code point offset `offset` in `text`."""
    if not 0 <= offset <= len(text):
        raise ValueError(f"offset {offset} is outside a text of {len(text)} code points")
    return utf16_length(text[:offset])


def utf16_to_codepoint(text: str, offset: int) -> int:
    """The code point offset (Python string index) of UTF-16 offset `offset` in `text`; refuses an
    offset that falls between the two halves of a surrogate pair."""
    if offset < 0:
        raise ValueError(f"UTF-16 offset {offset} is negative")
    if _all_bmp(text):
        if offset > len(text):
            raise ValueError(f"UTF-16 offset {offset} is outside a text of {len(text)} code units")
        return offset
    units = 0
    for index, char in enumerate(text):
        if units == offset:
            return index
        units += 2 if char > "\uffff" else 1
        if units > offset:
            raise ValueError(f"UTF-16 offset {offset} falls inside the surrogate pair of {char!r} at {index}")
    if units == offset:
        return len(text)
    raise ValueError(f"UTF-16 offset {offset} is outside a text of {units} code units")


# --- labelling config ----------------------------------------------------------------------


def _check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise LabelStudioFormatError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def _label_spec(label: LabelSpec | Mapping[str, Any], index: int) -> LabelSpec:
    path = f"labels[{index}]"
    if isinstance(label, LabelSpec):
        spec = label
    elif isinstance(label, Mapping):
        unknown = set(label) - {"name", "colour", "shortcut"}
        if unknown:
            raise LabelStudioFormatError(f"unknown keys {sorted(map(str, unknown))}", path)
        spec = LabelSpec(
            name=label.get("name"), colour=label.get("colour") or "", shortcut=label.get("shortcut") or ""
        )
    else:
        raise LabelStudioFormatError(f"expected a label, got {type(label).__name__}", path)
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise LabelStudioFormatError("a label needs a non-empty name", path)
    for attr in ("name", "colour", "shortcut"):
        value = getattr(spec, attr)
        if not isinstance(value, str):
            raise LabelStudioFormatError(f"{attr} must be a string", path)
        if _XML_INVALID.search(value):
            raise LabelStudioFormatError(f"{attr} contains a control character XML cannot carry", path)
    if spec.colour and not _HEX_COLOUR.fullmatch(spec.colour):
        raise LabelStudioFormatError(f"colour must be a hex colour like #1f77b4, not {spec.colour!r}", path)
    if spec.shortcut:
        if len(spec.shortcut) != 1 or spec.shortcut.isspace() or not spec.shortcut.isprintable():
            raise LabelStudioFormatError(f"shortcut must be one printable key, not {spec.shortcut!r}", path)
        if spec.shortcut in _SHORTCUT_FORBIDDEN:
            raise LabelStudioFormatError(f"Label Studio cannot bind {spec.shortcut!r} as a hotkey", path)
    return spec


def _label_specs(labels: Iterable[LabelSpec | Mapping[str, Any]]) -> list[LabelSpec]:
    if isinstance(labels, str | bytes | Mapping) or not isinstance(labels, Iterable):
        raise LabelStudioFormatError("labels must be a list of labels")
    specs = [_label_spec(label, index) for index, label in enumerate(labels)]
    if not specs:
        raise LabelStudioFormatError("a label schema needs at least one label")
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise LabelStudioFormatError(f"label names must be unique: {duplicates}")
    keys = [spec.shortcut.lower() for spec in specs if spec.shortcut]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise LabelStudioFormatError(f"shortcuts must be unique (case does not count): {duplicates}")
    return specs


def label_config(task_type: str, media: str, labels: Iterable[LabelSpec | Mapping[str, Any]]) -> str:
    """The Label Studio labelling config (XML) for a label schema. `labels` are `LabelSpec`s or
    mappings with name / colour / shortcut. Every value is XML-escaped."""
    _check_choice(task_type, TASK_TYPES, "task_type")
    _check_choice(media, MEDIA, "media")
    if task_type == "span" and media != "text":
        raise LabelStudioFormatError("span labelling needs text items")
    specs = _label_specs(labels)

    view = ET.Element("View")
    obj_tag = "Image" if media == "image" else "Text"
    if task_type == "span":
        control = ET.SubElement(view, "Labels", {"name": CONTROL_NAME, "toName": media})
        for spec in specs:
            attrs = {"value": spec.name}
            if spec.colour:
                attrs["background"] = spec.colour
            if spec.shortcut:
                attrs["hotkey"] = spec.shortcut
            ET.SubElement(control, "Label", attrs)
        ET.SubElement(view, obj_tag, {"name": media, "value": f"${media}"})
    else:
        ET.SubElement(view, obj_tag, {"name": media, "value": f"${media}"})
        control = ET.SubElement(
            view,
            "Choices",
            {
                "name": CONTROL_NAME,
                "toName": media,
                "choice": "single" if task_type == "single" else "multiple",
                "showInline": "true",
            },
        )
        for spec in specs:
            attrs = {"value": spec.name}
            # `color` is Choice's own colour attribute (LS draws it in Taxonomy only).
            if spec.colour:
                attrs["color"] = spec.colour
            if spec.shortcut:
                attrs["hotkey"] = spec.shortcut
            ET.SubElement(control, "Choice", attrs)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def parse_label_config(config: str) -> LabelSchema:
    """Reads a label schema back from an LS config that has one Choices or Labels control on one
    Image or Text object (ours, or a simple hand-written one)."""
    if not isinstance(config, str):
        raise LabelStudioFormatError("a labelling config must be a string")
    if "<!DOCTYPE" in config.upper() or "<!ENTITY" in config.upper():
        raise LabelStudioFormatError("labelling configs with DOCTYPE or ENTITY declarations are refused")
    try:
        root = ET.fromstring(config)
    except ET.ParseError as exc:
        raise LabelStudioFormatError(f"the labelling config is not valid XML ({exc})") from None
    controls = [el for el in root.iter() if el.tag in ("Choices", "Labels")]
    if len(controls) != 1:
        raise LabelStudioFormatError(f"expected one Choices or Labels tag, found {len(controls)}")
    control = controls[0]
    target = control.get("toName", "")
    objects = [el for el in root.iter() if el.tag in ("Image", "Text") and el.get("name") == target]
    if not objects:
        raise LabelStudioFormatError(f"no Image or Text tag is named {target!r} (the control's toName)")
    media = objects[0].tag.lower()
    if control.tag == "Labels":
        task_type = "span"
        if media != "text":
            raise LabelStudioFormatError("span labels must point at a Text tag")
    else:
        task_type = "multi" if control.get("choice") == "multiple" else "single"
    labels = []
    for child in control:
        if child.tag not in ("Choice", "Label"):
            continue
        # A hand-written config may use colour names or chorded hotkeys ("ctrl+1"), which our
        # schema cannot hold: those read as "no colour" / "no shortcut" rather than failing.
        colour = child.get("background") or child.get("color") or ""
        shortcut = child.get("hotkey") or ""
        labels.append(LabelSpec(
            name=child.get("value", ""),
            colour=colour if _HEX_COLOUR.fullmatch(colour) else "",
            shortcut=shortcut if len(shortcut) == 1 and shortcut not in _SHORTCUT_FORBIDDEN else "",
        ))
    return LabelSchema(task_type=task_type, media=media, labels=tuple(_label_specs(labels)))


# --- tasks and export ----------------------------------------------------------------------


def task_payload(item: ItemRecord, *, media: str) -> dict:
    """One LS task (`{"data": {...}}`) for an item, carrying our item key in `data`."""
    _check_choice(media, MEDIA, "media")
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
        if not _is_int(start) or not _is_int(end) or not isinstance(label, str):
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
    _check_choice(task_type, TASK_TYPES, "task_type")
    _check_choice(media, MEDIA, "media")
    _check_choice(offsets, OFFSET_UNITS, "offsets")
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
        if record.lead_time is not None and not _is_number(record.lead_time):
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


# --- parsing an export ---------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
    if _is_number(value):  # LS before 1.0 wrote epoch seconds
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
    if _is_int(value):
        return value, None
    if isinstance(value, str):  # CSV-style exports name the annotator by email
        return None, value or None
    if isinstance(value, Mapping):
        user_id, email = value.get("id"), value.get("email")
        if user_id is not None and not _is_int(user_id):
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
        if task_id is not None and not _is_int(task_id):
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
            if not _is_int(offset):
                raise LabelStudioFormatError(f"expected an integer, got {_describe(offset)}", f"{path}.{name}")
        if quoted is not None and not isinstance(quoted, str):
            raise LabelStudioFormatError(f"expected a string, got {_describe(quoted)}", f"{path}.text")
        unit = self.offsets
        if unit == "auto":
            unit = "codepoints"
            if quoted is not None and not _all_bmp(text):
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
    _check_choice(task_type, TASK_TYPES, "task_type")
    _check_choice(offsets, ("auto", *OFFSET_UNITS), "offsets")
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
            if annotation_id is not None and not _is_int(annotation_id):
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
            if lead_time is not None and not (_is_number(lead_time) and lead_time >= 0):
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
