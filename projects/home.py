"""A signed-in person's home page: what waits for them, across their projects.

Each section says what waits and links to where it is done. This app's own: deliverables waiting
for the person's review (a lead), deliverables that came back with changes requested (whoever may
edit them), their jobs, their projects. The apps of later stages add theirs through
projects.hooks.register_home_section (labelling queues, evaluations to approve). `waiting` counts
the things that wait on the person (not everything listed): the header shows their sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from prakriya.jobs import registry
from prakriya.jobs.models import TERMINAL_STATES
from projects import hooks, policy, selectors
from projects.models import Deliverable, DeliverableState, Membership
from projects.policy import AnyUser

RECENT_JOBS = 5


@dataclass(frozen=True)
class HomeItem:
    text: str
    url: str
    detail: str = ""


@dataclass(frozen=True)
class HomeSection:
    key: str  # a stable name, for the page's anchors and the tests
    title: str
    items: list[HomeItem] = field(default_factory=list)
    waiting: int = 0  # how many of the items wait on this person
    empty: str = ""  # said when there are no items; a section without it is left out when empty
    order: int = 50  # waiting work first, then what the person is doing, then where they belong


def _deliverable_item(deliverable: Deliverable, detail: str) -> HomeItem:
    project = deliverable.project
    return HomeItem(
        text=f"{deliverable.get_kind_display()} — {project.title}",
        url=reverse("projects:deliverable", args=[project.slug, deliverable.kind]),
        detail=detail,
    )


def reviews_waiting(user: AnyUser) -> HomeSection | None:
    projects = selectors.project_list_allowing(user=user, action=policy.REVIEW_DELIVERABLE)
    found = list(
        Deliverable.objects.filter(project__in=projects, state=DeliverableState.SUBMITTED)
        .select_related("project").order_by("updated_at")
    )
    if not found and not projects.exists():
        return None
    return HomeSection(
        key="reviews", title="Waiting for your review", order=10, waiting=len(found),
        items=[_deliverable_item(d, f"submitted {d.updated_at:%Y-%m-%d}") for d in found],
        empty="No deliverable waits for your review.",
    )


def changes_requested(user: AnyUser) -> HomeSection | None:
    projects = selectors.project_list_allowing(user=user, action=policy.EDIT_DELIVERABLE)
    found = list(
        Deliverable.objects.filter(project__in=projects, state=DeliverableState.CHANGES_REQUESTED)
        .select_related("project").order_by("updated_at")
    )
    if not found:
        return None
    return HomeSection(
        key="changes", title="Returned to you with changes requested", order=20, waiting=len(found),
        items=[_deliverable_item(d, "a lead asked for changes") for d in found],
    )


def _kind_label(name: str) -> str:
    try:
        return registry.get(name).label
    except LookupError:  # a kind no installed app registers any more
        return name


def my_jobs(user: AnyUser) -> HomeSection | None:
    jobs = selectors.job_list_visible(user=user).filter(created_by=user).select_related("project")
    active = list(jobs.exclude(state__in=TERMINAL_STATES).order_by("created_at", "id"))
    recent = list(jobs.filter(state__in=TERMINAL_STATES).order_by("-finished_at", "-id")[:RECENT_JOBS])
    if not active and not recent:
        return None
    items = [
        HomeItem(text=f"{_kind_label(job.kind)} — {job.project.title if job.project else 'platform'}",
                 url=reverse("projects:job", args=[job.pk]),
                 detail=f"{job.get_state_display().lower()}" + (f", {job.progress:.0f}%" if job.progress else ""))
        for job in [*active, *recent]
    ]
    return HomeSection(key="jobs", title="Your jobs", order=60, items=items)


def my_projects(user: AnyUser) -> HomeSection | None:
    memberships = list(
        Membership.objects.filter(user=user).select_related("project").order_by("-project__updated_at")
    )
    return HomeSection(
        key="projects", title="Your projects", order=90,
        items=[HomeItem(text=m.project.title, url=reverse("projects:detail", args=[m.project.slug]),
                        detail=m.get_role_display().lower()) for m in memberships],
        empty="You are not a member of any project yet: browse the projects, or start one.",
    )


def _waiting_sources() -> list:
    return [reviews_waiting, changes_requested, *hooks.home_sections()]


def home_for(*, user: AnyUser) -> list[HomeSection]:
    """The sections of the user's home page, waiting work first."""
    sections = [section for source in [*_waiting_sources(), my_jobs, my_projects]
                if (section := source(user)) is not None]
    return sorted((s for s in sections if s.items or s.empty), key=lambda s: s.order)


def waiting_count(*, user: AnyUser) -> int:
    """What the header counts: the things that wait on the user (their jobs and projects do not)."""
    if not user.is_authenticated:
        return 0
    return sum(section.waiting for source in _waiting_sources() if (section := source(user)) is not None)
