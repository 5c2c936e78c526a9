"""Every write to a project goes through here: views and the API only parse, authorise and call."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.crypto import get_random_string

from prakriya.accounts import services as account_services
from projects import evidence, hooks, policy
from projects.charter import CHARTER_FIELDS, charter_snapshot
from projects.kinds import MAX_PAUSE_SECONDS, PROJECT_EXPORT
from projects.models import (
    DELIVERABLE_ORDER,
    STAGE_COMPLETE,
    Deliverable,
    DeliverableKind,
    DeliverableState,
    DeliverableTransition,
    Membership,
    Project,
    ProjectRevision,
    Role,
    Tag,
    Target,
    TimelineEvent,
    ValueEstimate,
    Visibility,
)


def timeline_record(
    *, project: Project, actor: AbstractBaseUser | None, verb: str, text: str, data: dict | None = None
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        project=project,
        actor=actor if actor and actor.is_authenticated else None,
        verb=verb,
        text=text[:300],
        data=data or {},
    )


# --- Projects ---------------------------------------------------------------------------------


def _record_revision(
    *, project: Project, author: AbstractBaseUser | None, summary: str
) -> ProjectRevision | None:
    snapshot = charter_snapshot(project)
    last = project.revisions.order_by("-number").first()
    if last is not None and last.snapshot == snapshot:
        return None
    number = (project.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    return ProjectRevision.objects.create(
        project=project, number=number, author=author, snapshot=snapshot, summary=summary[:200]
    )


def _set_tags(project: Project, tag_names: list[str]) -> None:
    tags = [Tag.objects.get_or_create(name=name)[0] for name in dict.fromkeys(tag_names)]
    project.tags.set(tags)


# Addresses the platform's own pages use (/projects/new/).
RESERVED_SLUGS = frozenset({"new"})
SLUG_UNAVAILABLE = "This address is not available; choose another."
_SLUG_ENDING_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _available_slug(requested: str, *, random_ending: bool) -> str:
    """The slug a new project gets. Slugs are unique across all projects, private ones included,
    so asking for one is a question about projects you may not see. A private project made on a
    page or through the API gets a random ending (`ocr-k3x9q2mb`): nobody guesses its address, and
    asking for a plain slug never runs into it. A plain slug that is in use (by a project you see
    or a private one made otherwise, e.g. public at first) or reserved gets one answer for all."""
    if random_ending:
        base = requested[: 80 - 9]
        while True:
            candidate = f"{base}-{get_random_string(8, _SLUG_ENDING_CHARS)}"
            if not Project.objects.filter(slug__iexact=candidate).exists():
                return candidate
    # Addresses differ by more than case: /projects/Digits/ and /projects/digits/ are one project.
    if requested.lower() in RESERVED_SLUGS or Project.objects.filter(slug__iexact=requested).exists():
        raise ValidationError({"slug": [SLUG_UNAVAILABLE]})
    return requested


@transaction.atomic
def project_create(
    *,
    creator: AbstractBaseUser,
    slug: str,
    title: str,
    summary: str = "",
    visibility: str = "public",
    tags: list[str] | None = None,
    by_operator: bool = False,
    unguessable_private_slug: bool = False,
    **charter: Any,
) -> Project:
    """A new project led by `creator`, who must be allowed to create projects
    (PRAKRIYA_PROJECT_CREATORS), unless an operator's command creates it for them (seed_demo).
    With `unguessable_private_slug` (the pages and the API), a private project's slug gets a
    random ending (_available_slug)."""
    if not by_operator:
        policy.require_create_projects(creator)
    unknown = set(charter) - set(CHARTER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown charter fields: {', '.join(sorted(unknown))}")
    slug = _available_slug(slug, random_ending=unguessable_private_slug and visibility == Visibility.PRIVATE)
    project = Project(slug=slug, title=title, summary=summary, visibility=visibility, **charter)
    project.full_clean()
    project.save()
    _set_tags(project, tags or [])
    Membership.objects.create(project=project, user=creator, role=Role.LEAD)
    policy.roles_changed()
    Deliverable.objects.bulk_create(Deliverable(project=project, kind=kind) for kind in DELIVERABLE_ORDER)
    _record_revision(project=project, author=creator, summary="Project created")
    timeline_record(project=project, actor=creator, verb="created", text=f"Project “{title}” created")
    if any(str(value).strip() for value in charter.values()):
        # A charter written at creation is the project page's first draft.
        _start_deliverable(project, DeliverableKind.PROJECT_PAGE, creator)
    return project


@transaction.atomic
def project_update_charter(
    *, project: Project, actor: AbstractBaseUser, summary_of_change: str = "", **fields: Any
) -> ProjectRevision | None:
    policy.require(user=actor, project=project, action=policy.EDIT_CHARTER, what="edit the project page")
    unknown = set(fields) - set(CHARTER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown charter fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(project, name, value)
    project.full_clean()
    project.save()
    revision = _record_revision(project=project, author=actor, summary=summary_of_change or "Charter edited")
    if revision is not None:
        timeline_record(
            project=project,
            actor=actor,
            verb="charter_edited",
            text=f"Project page edited (revision {revision.number})",
            data={"revision": revision.number},
        )
        _start_deliverable(project, DeliverableKind.PROJECT_PAGE, actor)
    return revision


@transaction.atomic
def project_update_settings(
    *, project: Project, actor: AbstractBaseUser, visibility: str | None = None, tags: list[str] | None = None,
    prediction_inputs: str | None = None,
) -> Project:
    policy.require(user=actor, project=project, action=policy.MANAGE_PROJECT, what="change the project's settings")
    if prediction_inputs is not None and prediction_inputs != project.prediction_inputs:
        project.prediction_inputs = prediction_inputs
        project.full_clean()
        project.save(update_fields=["prediction_inputs", "updated_at"])
        timeline_record(project=project, actor=actor, verb="prediction_inputs",
                        text=f"Prediction logs now {project.get_prediction_inputs_display().lower()}")
    if visibility is not None and visibility != project.visibility:
        project.visibility = visibility
        project.full_clean()
        project.save(update_fields=["visibility", "updated_at"])
        timeline_record(project=project, actor=actor, verb="visibility", text=f"Project made {visibility}")
    if tags is not None:
        _set_tags(project, tags)
    return project


# --- Membership -------------------------------------------------------------------------------


@transaction.atomic
def membership_set(
    *, project: Project, actor: AbstractBaseUser, user: AbstractBaseUser, role: str
) -> Membership:
    policy.require(user=actor, project=project, action=policy.MANAGE_PROJECT, what="manage members")
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is not None and membership.role == Role.LEAD and role != Role.LEAD:
        _ensure_another_lead(project, user)
    if membership is None:
        membership = Membership.objects.create(project=project, user=user, role=role)
        timeline_record(project=project, actor=actor, verb="member_added", text=f"{user} joined as {role}")
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
        timeline_record(project=project, actor=actor, verb="member_role", text=f"{user} is now {role}")
    policy.roles_changed()
    return membership


def _ensure_another_lead(project: Project, user: AbstractBaseUser) -> None:
    if not project.memberships.filter(role=Role.LEAD).exclude(user=user).exists():
        raise ValidationError("A project needs at least one lead; appoint another lead first.")


@transaction.atomic
def membership_remove(*, project: Project, actor: AbstractBaseUser, membership: Membership) -> None:
    policy.require(user=actor, project=project, action=policy.MANAGE_PROJECT, what="manage members")
    if membership.role == Role.LEAD:
        _ensure_another_lead(project, membership.user)
    user = membership.user
    membership.delete()
    policy.roles_changed()
    timeline_record(project=project, actor=actor, verb="member_removed", text=f"{user} left the project")


@transaction.atomic
def member_lockout_lift(*, project: Project, actor: AbstractBaseUser, membership: Membership) -> int:
    """Lifts the sign-in lock-out of a member's account at the request of the project's lead."""
    policy.require(user=actor, project=project, action=policy.UNLOCK_MEMBER_SIGN_IN, what="lift a member's sign-in lock-out")
    if membership.project_id != project.pk:
        raise ValidationError("Not a member of this project.")
    return account_services.lockout_lift_for_member(actor=actor, user=membership.user, project_slug=project.slug)


# --- Targets and value estimates --------------------------------------------------------------


def _clear_other_primaries(project: Project, keep: Target | None) -> None:
    others = project.targets.filter(is_primary=True)
    if keep is not None and keep.pk:
        others = others.exclude(pk=keep.pk)
    others.update(is_primary=False)


@transaction.atomic
def target_save(
    *, project: Project, actor: AbstractBaseUser, target: Target | None = None, **fields: Any
) -> Target:
    """Create or update a target. Marking one primary unmarks the others: a project has exactly
    one primary metric, and that is enforced by a constraint too."""
    policy.require(user=actor, project=project, action=policy.EDIT_CHARTER, what="edit targets")
    creating = target is None
    target = target or Target(project=project, position=project.targets.count())
    for name, value in fields.items():
        setattr(target, name, value)
    if target.is_primary:
        _clear_other_primaries(project, target)
    elif not project.targets.filter(is_primary=True).exclude(pk=target.pk).exists():
        # The first target becomes primary; a project is never left without one.
        target.is_primary = True
    target.full_clean()
    target.save()
    _record_revision(
        project=project, author=actor, summary=f"Target {'added' if creating else 'changed'}: {target}"
    )
    timeline_record(
        project=project,
        actor=actor,
        verb="target_saved",
        text=f"Target {'added' if creating else 'updated'}: {target}",
    )
    return target


@transaction.atomic
def target_delete(*, project: Project, actor: AbstractBaseUser, target: Target) -> None:
    policy.require(user=actor, project=project, action=policy.EDIT_CHARTER, what="edit targets")
    was_primary, text = target.is_primary, str(target)
    target.delete()
    if was_primary:
        successor = project.targets.order_by("position", "id").first()
        if successor is not None:
            successor.is_primary = True
            successor.save(update_fields=["is_primary"])
    _record_revision(project=project, author=actor, summary=f"Target removed: {text}")
    timeline_record(project=project, actor=actor, verb="target_deleted", text=f"Target removed: {text}")


@transaction.atomic
def value_estimate_save(
    *, project: Project, actor: AbstractBaseUser, estimate: ValueEstimate | None = None, **fields: Any
) -> ValueEstimate:
    policy.require(user=actor, project=project, action=policy.EDIT_CHARTER, what="edit value estimates")
    estimate = estimate or ValueEstimate(project=project, position=project.value_estimates.count())
    for name, value in fields.items():
        setattr(estimate, name, value)
    estimate.full_clean()
    estimate.save()
    _record_revision(project=project, author=actor, summary=f"Value estimate: {estimate}")
    return estimate


@transaction.atomic
def value_estimate_delete(*, project: Project, actor: AbstractBaseUser, estimate: ValueEstimate) -> None:
    policy.require(user=actor, project=project, action=policy.EDIT_CHARTER, what="edit value estimates")
    estimate.delete()
    _record_revision(project=project, author=actor, summary="Value estimate removed")


# --- Deliverables and their review ------------------------------------------------------------

# The transitions, their source states and who may take them: policy.DELIVERABLE_TRANSITIONS.


def _project_stage(project: Project) -> str:
    approved = set(
        project.deliverables.filter(state=DeliverableState.APPROVED).values_list("kind", flat=True)
    )
    for kind in DELIVERABLE_ORDER:
        if kind not in approved:
            return kind
    return STAGE_COMPLETE


def deliverable_move(
    *, deliverable: Deliverable, to_state: str, actor: AbstractBaseUser, comment: str = ""
) -> None:
    """Records a transition and applies it; the caller has locked the deliverable's row."""
    DeliverableTransition.objects.create(
        deliverable=deliverable, from_state=deliverable.state, to_state=to_state, actor=actor, comment=comment
    )
    deliverable.state = to_state
    deliverable.save(update_fields=["state", "updated_at"])


def _start_deliverable(project: Project, kind: str, actor: AbstractBaseUser) -> None:
    deliverable = project.deliverables.select_for_update().get(kind=kind)
    if deliverable.state == DeliverableState.NOT_STARTED:
        deliverable_move(deliverable=deliverable, to_state=DeliverableState.DRAFT, actor=actor)


def _check_ready_to_submit(deliverable: Deliverable) -> None:
    project = deliverable.project
    if deliverable.kind == DeliverableKind.PROJECT_PAGE:
        missing = [
            label
            for field, label in (
                ("problem_statement", "problem statement"),
                ("current_process", "current process"),
                ("ml_role", "role of ML"),
            )
            if not getattr(project, field).strip()
        ]
        if missing:
            raise ValidationError(
                f"The project page needs a {', '.join(missing)} before it can be submitted."
            )
        if project.targets.filter(is_primary=True).count() != 1:
            raise ValidationError("The project page needs targets with exactly one primary metric.")
    elif hooks.submit_checks(deliverable.kind):
        # The stage's app knows what its structured deliverable needs (e.g. a datasheet).
        for check in hooks.submit_checks(deliverable.kind):
            check(deliverable)
    elif not deliverable.body.strip():
        raise ValidationError("Write the deliverable before submitting it.")


def deliverable_lock_editable(*, deliverable: Deliverable, actor: AbstractBaseUser) -> Deliverable:
    """The deliverable's row, locked, for a change by an editor; refused while it is under review or
    approved. The caller holds a transaction (its body, its chosen runs: experiments.services)."""
    policy.require(user=actor, project=deliverable.project, action=policy.EDIT_DELIVERABLE, what="edit deliverables")
    deliverable = Deliverable.objects.select_for_update().get(pk=deliverable.pk)
    if deliverable.state not in policy.EDITABLE_STATES:
        raise ValidationError(
            f"The {deliverable.get_kind_display().lower()} is {deliverable.get_state_display().lower()}; "
            "it can be edited again once a lead requests changes or reopens it."
        )
    return deliverable


@transaction.atomic
def deliverable_save_body(*, deliverable: Deliverable, actor: AbstractBaseUser, body: str) -> Deliverable:
    project = deliverable.project
    deliverable = deliverable_lock_editable(deliverable=deliverable, actor=actor)
    deliverable.body = body
    deliverable.full_clean()
    deliverable.save(update_fields=["body", "updated_at"])
    if deliverable.state != DeliverableState.DRAFT:
        deliverable_move(deliverable=deliverable, to_state=DeliverableState.DRAFT, actor=actor)
    timeline_record(
        project=project,
        actor=actor,
        verb="deliverable_edited",
        text=f"{deliverable.get_kind_display()} edited",
        data={"kind": deliverable.kind},
    )
    return deliverable


@transaction.atomic
def deliverable_transition(
    *, deliverable: Deliverable, actor: AbstractBaseUser, action: str, comment: str = ""
) -> Deliverable:
    """Move a deliverable through review. Raises PermissionDenied for a role that may not take
    the action (403) and ValidationError for an action that does not apply now (400)."""
    transition = policy.DELIVERABLE_TRANSITIONS.get(action)
    if transition is None:
        raise ValidationError(
            f"Unknown action {action!r}; use one of {', '.join(policy.DELIVERABLE_TRANSITIONS)}."
        )
    project = deliverable.project
    policy.require(
        user=actor, project=project, action=transition.action, what=action.replace("_", " ") + " deliverables"
    )
    deliverable = Deliverable.objects.select_for_update().select_related("project").get(pk=deliverable.pk)
    if deliverable.state not in transition.sources:
        raise ValidationError(
            f"Cannot {action.replace('_', ' ')} a deliverable that is {deliverable.get_state_display().lower()}."
        )
    comment = comment.strip()
    if transition.needs_comment and not comment:
        raise ValidationError("Say what needs to change: a comment is required.")
    if action == "submit":
        _check_ready_to_submit(deliverable)
    deliverable_move(deliverable=deliverable, to_state=transition.target, actor=actor, comment=comment)
    if action == "approve":
        # What the lead approved, frozen with the versions behind it: the page shows this from now
        # on, whatever the runs, labels or charter do next.
        evidence.snapshot_freeze(deliverable=deliverable, actor=actor)
    label = deliverable.get_kind_display()
    texts = {
        "submit": f"{label} submitted for review",
        "approve": f"{label} approved",
        "request_changes": f"Changes requested on the {label.lower()}",
        "reopen": f"{label} reopened",
    }
    timeline_record(
        project=project,
        actor=actor,
        verb=f"deliverable_{action}",
        text=texts[action],
        data={"kind": deliverable.kind, "comment": comment},
    )
    new_stage = _project_stage(project)
    if new_stage != project.stage:
        Project.objects.filter(pk=project.pk).update(stage=new_stage)
        project.stage = new_stage
        stage_label = dict(Project._meta.get_field("stage").choices)[new_stage]
        timeline_record(
            project=project, actor=actor, verb="stage", text=f"Project stage is now: {stage_label}"
        )
    return deliverable


# --- Jobs launched from a project ---------------------------------------------------------


def project_export_start(*, project: Project, actor: AbstractBaseUser, pause_seconds: float = 0.0):
    from prakriya.jobs.services import job_enqueue

    policy.require(user=actor, project=project, action=policy.LAUNCH_JOBS, what="launch jobs")
    if not 0 <= pause_seconds <= MAX_PAUSE_SECONDS:
        raise ValidationError(f"pause_seconds must be between 0 and {MAX_PAUSE_SECONDS:g}.")
    return job_enqueue(
        kind=PROJECT_EXPORT, project=project, created_by=actor, params={"pause_seconds": pause_seconds}
    )
