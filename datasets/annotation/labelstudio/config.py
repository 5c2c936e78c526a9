"""The Label Studio labelling config (XML) of a campaign's label schema, and reading one back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from datasets.annotation.labelstudio.records import (
    CONTROL_NAME,
    MEDIA,
    TASK_TYPES,
    LabelSchema,
    LabelSpec,
    LabelStudioFormatError,
    check_choice,
)

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Characters XML 1.0 cannot carry at all, even escaped: ElementTree would write them raw and the
# config would not parse again.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# hotkeys-js (LS's hotkey library) reads "+" as a modifier joiner and "," as a list separator.
_SHORTCUT_FORBIDDEN = {"+", ","}


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
    check_choice(task_type, TASK_TYPES, "task_type")
    check_choice(media, MEDIA, "media")
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

