from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from prakriya.accounts import selectors as account_selectors
from prakriya.jobs.models import Job
from prakriya.jobs.selectors import job_list_for_roles
from projects import policy
from projects.models import (
    DELIVERABLE_ORDER,
    Deliverable,
    DeliverableSnapshot,
    DeliverableState,
    DeliverableTransition,
    Membership,
    Project,
    ProjectRevision,
    Role,
    TimelineEvent,
    Visibility,
)
from projects.policy import AnyUser


def project_list_visible(*, user: AnyUser) -> QuerySet[Project]:
    """Public projects, plus private ones the user is a member of. Outsiders never learn that a
    private project exists."""
    qs = Project.objects.all()
    if isinstance(user, policy.ProjectReader):
        # Only ever made to render the evidence of a project its caller may already read.
        return qs
    if user.is_authenticated:
        if user.is_superuser:
            return qs
        return qs.filter(Q(visibility=Visibility.PUBLIC) | Q(memberships__user=user)).distinct()
    return qs.filter(visibility=Visibility.PUBLIC)


def project_is_visible(*, user: AnyUser, project: Project) -> bool:
    return project_list_visible(user=user).filter(pk=project.pk).exists()


def project_get_visible(*, user: AnyUser, slug: str) -> Project:
    project = project_list_visible(user=user).filter(slug=slug).prefetch_related("tags").first()
    if project is None:
        raise Http404("No such project")
    return project


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user", "user__profile").order_by("role", "user__username")


def membership_list_for_lead(*, project: Project) -> list[Membership]:
    """The members, each with `sign_in_locked_until` (None unless their sign-in is locked out now):
    for the project's leads, who may lift those lock-outs (services.member_lockout_lift)."""
    members = list(membership_list(project=project))
    locked: dict[str, datetime] = account_selectors.locked_usernames(
        usernames=[m.user.get_username() for m in members]
    )
    for membership in members:
        membership.sign_in_locked_until = locked.get(membership.user.get_username())
    return members


def deliverable_list(*, project: Project) -> list[Deliverable]:
    transitions = DeliverableTransition.objects.select_related("actor__profile").order_by("-created_at", "-id")
    deliverables = list(
        project.deliverables.prefetch_related(
            Prefetch("transitions", queryset=transitions, to_attr="history"),
            Prefetch("snapshots", queryset=DeliverableSnapshot.objects.select_related("approved_by")),
        )
    )
    return sorted(deliverables, key=lambda d: DELIVERABLE_ORDER.index(d.kind))



def deliverable_state(*, project: Project, kind: str) -> str:
    """The state of the project's deliverable of this kind (not started if it has no row yet)."""
    state = project.deliverables.filter(kind=kind).values_list("state", flat=True).first()
    return state or DeliverableState.NOT_STARTED


def deliverable_get(*, project: Project, kind: str) -> Deliverable:
    deliverable = project.deliverables.filter(kind=kind).first()
    if deliverable is None:
        raise Http404("No such deliverable")
    return deliverable


def snapshot_list(*, deliverable: Deliverable) -> QuerySet[DeliverableSnapshot]:
    return deliverable.snapshots.select_related("approved_by__profile").order_by("-number")


def snapshot_get(*, deliverable: Deliverable, number: int) -> DeliverableSnapshot:
    snapshot = snapshot_list(deliverable=deliverable).filter(number=number).first()
    if snapshot is None:
        raise Http404("No such approval")
    return snapshot


def timeline_list(*, project: Project) -> QuerySet[TimelineEvent]:
    return project.timeline.select_related("actor__profile").order_by("-created_at", "-id")


def revision_list(*, project: Project) -> QuerySet[ProjectRevision]:
    return project.revisions.select_related("author__profile").order_by("-number")


def project_list_member(*, user: AnyUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def project_list_allowing(*, user: AnyUser, action: policy.Action) -> QuerySet[Project]:
    """The projects where the user's role allows `action` (by membership: a superuser acts on any
    project by exception, and is not shown every project's work as theirs)."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user, memberships__role__in=list(action))


def job_list_visible(*, user: AnyUser) -> QuerySet[Job]:
    """Jobs are the team's working machinery (parameters, results, logs): a member sees the jobs
    of their projects whose kind their role may read (JobKind.readers: the people who may read
    what the job produces, on its own page; by default those who may launch jobs), whatever the
    project's visibility. The public sees only the results pages publish."""
    if not user.is_authenticated:
        return Job.objects.none()
    if user.is_superuser:
        projects_by_role = {role: Project.objects.all() for role in Role.values}
    else:
        projects_by_role = {
            role: Project.objects.filter(memberships__user=user, memberships__role=role) for role in Role.values
        }
    return job_list_for_roles(projects_by_role=projects_by_role, default_readers=policy.LAUNCH_JOBS)


def job_get_visible(*, user: AnyUser, job_id: int) -> Job:
    job = job_list_visible(user=user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job")
    return job
