"""Diffs between revisions of a project page."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from projects.models import ProjectRevision


@dataclass
class FieldDiff:
    field: str
    lines: list[tuple[str, str]]  # (kind, text) where kind is "add", "del", "ctx" or "hunk"


def _as_text(value) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def revision_diff(older: ProjectRevision | None, newer: ProjectRevision) -> list[FieldDiff]:
    return dict_diff(older.snapshot if older is not None else {}, newer.snapshot)


def dict_diff(before: dict, after: dict) -> list[FieldDiff]:
    """Line diffs of the fields whose text differs, in the order of `after` (then the fields only
    `before` has)."""
    diffs = []
    for field in [*after, *(f for f in before if f not in after)]:
        old_text, new_text = _as_text(before.get(field)), _as_text(after.get(field))
        if old_text == new_text:
            continue
        lines = []
        for line in difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), lineterm="", n=2):
            if line.startswith(("---", "+++")):
                continue
            kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
            lines.append((kind, line[1:] if kind in ("add", "del") else line))
        diffs.append(FieldDiff(field=field.replace("_", " "), lines=lines))
    return diffs
