"""Project export to JSON: the charter, targets, deliverables with their review history, members'
roles and the timeline, as one portable document."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from projects.charter import CHARTER_FIELDS
from projects.models import Project

EXPORT_FORMAT = "prakriya.project-export/1"


def _charter(project: Project) -> dict[str, Any]:
    data = {field: getattr(project, field) for field in CHARTER_FIELDS}
    data.update(
        slug=project.slug,
        visibility=project.visibility,
        stage=project.stage,
        tags=[t.name for t in project.tags.all()],
    )
    return data


def _targets(project: Project) -> list[dict[str, Any]]:
    return [
        {
            "metric": t.metric,
            "comparator": t.comparator,
            "threshold": t.threshold,
            "unit": t.unit,
            "condition": t.condition,
            "is_primary": t.is_primary,
            "notes": t.notes,
        }
        for t in project.targets.all()
    ]


def _value(project: Project) -> list[dict[str, Any]]:
    return [
        {"quantity": v.quantity, "current": v.current, "expected": v.expected, "unit": v.unit}
        for v in project.value_estimates.all()
    ]


def _deliverables(project: Project) -> list[dict[str, Any]]:
    out = []
    for d in project.deliverables.prefetch_related("transitions__actor"):
        out.append(
            {
                "kind": d.kind,
                "state": d.state,
                "body": d.body,
                "transitions": [
                    {
                        "from": t.from_state,
                        "to": t.to_state,
                        "by": t.actor.username if t.actor else None,
                        "comment": t.comment,
                        "at": t.created_at.isoformat(),
                    }
                    for t in d.transitions.all()
                ],
            }
        )
    return out


def _members(project: Project) -> list[dict[str, Any]]:
    return [{"username": m.user.username, "role": m.role} for m in project.memberships.select_related("user")]


def _timeline(project: Project) -> list[dict[str, Any]]:
    return [
        {
            "verb": e.verb,
            "text": e.text,
            "by": e.actor.username if e.actor else None,
            "at": e.created_at.isoformat(),
        }
        for e in project.timeline.select_related("actor")
    ]


SECTIONS = [
    ("charter", _charter),
    ("targets", _targets),
    ("value_estimates", _value),
    ("deliverables", _deliverables),
    ("members", _members),
    ("timeline", _timeline),
]


def export_path(project_slug: str, job_id: int) -> Path:
    return Path(settings.PRAKRIYA_EXPORT_DIR) / project_slug / f"export-{job_id}.json"


def build_project_export(
    project: Project, *, job_id: int, report=None, pause_seconds: float = 0.0
) -> dict[str, Any]:
    """Writes the export file for this job. Safe to run again after a crash: the file for a
    job id is replaced atomically, never appended to."""
    document: dict[str, Any] = {"format": EXPORT_FORMAT, "exported_at": timezone.now().isoformat()}
    for index, (name, build) in enumerate(SECTIONS):
        document[name] = build(project)
        if report is not None:
            report(100.0 * (index + 1) / (len(SECTIONS) + 1), f"Exported {name.replace('_', ' ')}")
        if pause_seconds:
            time.sleep(pause_seconds)
    path = export_path(project.slug, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
    os.replace(tmp, path)
    # The file's name only: the download finds it by job id (export_path); no server path is shown.
    return {"file": path.name, "bytes": path.stat().st_size, "sections": [name for name, _ in SECTIONS]}
