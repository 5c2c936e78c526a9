"""The fields of a project's charter, the project page's narrative: what the charter form edits,
what a revision snapshots and what an export carries."""

from __future__ import annotations

from typing import Any

CHARTER_FIELDS = (
    "title",
    "summary",
    "problem_statement",
    "current_process",
    "ml_role",
    "value_notes",
    "feasibility_data",
    "feasibility_data_notes",
    "feasibility_prior_work",
    "feasibility_prior_work_notes",
    "feasibility_team",
    "feasibility_team_notes",
)


def charter_snapshot(project) -> dict[str, Any]:
    """The charter as plain values: a revision's snapshot and the project page's frozen evidence."""
    snapshot = {field: getattr(project, field) for field in CHARTER_FIELDS}
    snapshot["targets"] = [str(t) + (" (primary)" if t.is_primary else "") for t in project.targets.all()]
    snapshot["value_estimates"] = [str(v) for v in project.value_estimates.all()]
    return snapshot
