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
    before = older.snapshot if older is not None else {}
    diffs = []
    for field in newer.snapshot:
        old_text, new_text = _as_text(before.get(field)), _as_text(newer.snapshot.get(field))
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
