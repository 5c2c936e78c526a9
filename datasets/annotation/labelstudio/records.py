"""The records Label Studio interop exchanges (plain dataclasses, no Django): what a campaign's
label schema, items and annotations look like on their way to Label Studio, and what parsing an LS
export gives back; the names and checks the config, writer and reader share.

Every malformed input becomes a `LabelStudioFormatError` (a ValueError) naming where it is, e.g.
`task[3].annotations[0].result[1].value.start: expected an integer, got 'x'`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TASK_TYPES = ("single", "multi", "span")
MEDIA = ("image", "text")
# The task data key that carries our item key, so annotations made in LS find their item again.
ITEM_KEY_FIELD = "prakriya_item"
CONTROL_NAME = "label"  # the `name` of the Choices / Labels tag in configs we generate
OFFSET_UNITS = ("codepoints", "utf16")

SpanValue = dict  # {"start": int, "end": int, "label": str}, offsets in code points
Value = str | list[str] | list[SpanValue]


class LabelStudioFormatError(ValueError):
    """Input that is not what Label Studio (or we) would produce; `path` says where."""

    def __init__(self, message: str, path: str = ""):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise LabelStudioFormatError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def is_int(value: Any) -> bool:
    # JSON's true/false arrive as bool, which Python counts as int: never an offset or an id.
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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

