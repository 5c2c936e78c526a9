"""Writes to the literature survey. Leads and engineers edit it while its deliverable is open
(not submitted or approved), as they edit the deliverable's text; the first entry starts it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from projects import policy
from projects.models import DeliverableKind, DeliverableState, LiteratureEntry, Project
from projects.services import deliverable_move, timeline_record

APPROACH_MAX_CHARS = 5000
ENTRY_FIELDS = (
    "title",
    "authors",
    "year",
    "link",
    "approach",
    "reported_result",
    "benchmark",
    "compute_needed",
    "feasibility",
    "notes",
)


def _open_survey(project: Project, actor: AbstractBaseUser) -> None:
    """Locks the survey's deliverable; refuses a change once it is under review or approved (the
    lead reviewed these entries), and moves it back to draft otherwise."""
    deliverable = project.deliverables.select_for_update().get(kind=DeliverableKind.LITERATURE_SURVEY)
    if policy.deliverable_frozen(deliverable.state):
        raise ValidationError(
            f"The literature survey is {deliverable.get_state_display().lower()}; its entries can be "
            "edited again once a lead requests changes or reopens it."
        )
    if deliverable.state != DeliverableState.DRAFT:
        deliverable_move(deliverable=deliverable, to_state=DeliverableState.DRAFT, actor=actor)


def _apply(entry: LiteratureEntry, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(ENTRY_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown literature entry fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(entry, name, value)
    # A TextField's max_length binds only forms; the API and other callers are held to it here.
    for name, cap in (("approach", APPROACH_MAX_CHARS), ("notes", settings.PRAKRIYA_MAX_MARKDOWN_CHARS)):
        if len(getattr(entry, name) or "") > cap:
            raise ValidationError({name: [f"At most {cap} characters."]})
    entry.full_clean(exclude=["project", "created_by"])


@transaction.atomic
def literature_entry_create(*, project: Project, actor: AbstractBaseUser, **fields: Any) -> LiteratureEntry:
    policy.require(user=actor, project=project, action=policy.EDIT_DELIVERABLE, what="edit the literature survey")
    _open_survey(project, actor)
    position = (project.literature.aggregate(n=Max("position"))["n"] or 0) + 1
    entry = LiteratureEntry(project=project, created_by=actor, position=position)
    _apply(entry, fields)
    entry.save()
    timeline_record(
        project=project, actor=actor, verb="literature_added", text=f"Literature survey: added “{entry.title}”",
        data={"entry": entry.pk},
    )
    return entry


@transaction.atomic
def literature_entry_update(
    *, entry: LiteratureEntry, actor: AbstractBaseUser, **fields: Any
) -> LiteratureEntry:
    project = entry.project
    policy.require(user=actor, project=project, action=policy.EDIT_DELIVERABLE, what="edit the literature survey")
    _open_survey(project, actor)
    entry = LiteratureEntry.objects.select_for_update().get(pk=entry.pk)
    _apply(entry, fields)
    entry.save()
    return entry


@transaction.atomic
def literature_entry_delete(*, entry: LiteratureEntry, actor: AbstractBaseUser) -> None:
    project = entry.project
    policy.require(user=actor, project=project, action=policy.EDIT_DELIVERABLE, what="edit the literature survey")
    _open_survey(project, actor)
    title = entry.title
    entry.delete()
    timeline_record(
        project=project, actor=actor, verb="literature_removed", text=f"Literature survey: removed “{title}”"
    )


def literature_ready_check(deliverable) -> None:
    """Submit check of the literature survey deliverable: it is its entries."""
    if not deliverable.project.literature.exists():
        raise ValidationError("Add at least one entry to the literature survey before submitting it.")
