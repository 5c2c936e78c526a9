"""Who may do what in Prakriya: the one access policy, used by the pages, the REST API, the MLflow
tracking server at /mlflow/ and the jobs alike.

Every rule is an `Action`: the project roles it is open to and, for the few reads a public project
shows everyone, whether seeing the project is enough. `can()` answers, `require()` raises, and
`role_of()` reads a user's role once per request (prakriya.request_memo). Seeing a project at all
is answered by projects.selectors.project_get_visible (a project you cannot see is a 404), and
the HTML and API layers only turn these answers into responses (projects/access.py for pages,
PermissionDenied → 403 for the API).

What is not a role rule stays with the object it concerns: whether a user is an assigned
annotator of an open campaign (datasets.annotation.services, read in the same query as the
campaign's state) and the sealed split (the evaluation alone reads sealed labels).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from prakriya.request_memo import forget_all, remembered
from projects.models import DeliverableState, Membership, Project, Role, Visibility

AnyUser = AbstractBaseUser | AnonymousUser


class Action(frozenset):
    """An action: the set of project roles it is open to (so `role in action` reads as it says),
    with a name and, for reads a public project shows to everyone, `public=True`."""

    name: str
    public: bool

    def __new__(cls, name: str, roles: set[str], *, public: bool = False) -> Action:
        action = super().__new__(cls, roles)
        action.name = name
        action.public = public
        return action

    def __repr__(self) -> str:
        return f"Action({self.name})"

    # Actions are compared by name: two actions open to the same roles are still two rules.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Action) and other.name == self.name

    def __ne__(self, other: object) -> bool:  # frozenset's own would compare the roles
        return not self == other

    def __hash__(self) -> int:
        return hash(self.name)


ACTIONS: dict[str, Action] = {}


def _declare(name: str, roles: set[str], *, public: bool = False) -> Action:
    action = Action(name, roles, public=public)
    ACTIONS[name] = action
    return action


# Seeing a private project needs any membership; seeing a public one needs nothing (selectors).
EDIT_CHARTER = _declare("edit_charter", {Role.LEAD, Role.ENGINEER})
EDIT_DELIVERABLE = _declare("edit_deliverable", {Role.LEAD, Role.ENGINEER})
SUBMIT_DELIVERABLE = _declare("submit_deliverable", {Role.LEAD, Role.ENGINEER})
REVIEW_DELIVERABLE = _declare("review_deliverable", {Role.LEAD})
MANAGE_PROJECT = _declare("manage_project", {Role.LEAD})  # settings, visibility, members
LAUNCH_JOBS = _declare("launch_jobs", {Role.LEAD, Role.ENGINEER})
SEE_MEMBER_EMAILS = _declare("see_member_emails", {Role.LEAD})
# Where the platform keeps a project's data on its server (the repository's path, the commands
# that clone it): those who work with the data there, never the public.
SEE_STORAGE = _declare("see_storage", {Role.LEAD, Role.ENGINEER})
# Lifting a member's sign-in lock-out (not a staff account's, and once a day per account:
# prakriya.accounts.services.lockout_lift_for_member); staff lift any lock-out.
UNLOCK_MEMBER_SIGN_IN = _declare("unlock_member_sign_in", {Role.LEAD})
# Labelling campaigns: engineers and the lead set them up; only the lead adjudicates. Annotating
# also needs an assignment to the campaign (checked by the annotation services).
MANAGE_CAMPAIGNS = _declare("manage_campaigns", {Role.LEAD, Role.ENGINEER})
ADJUDICATE = _declare("adjudicate", {Role.LEAD})
# The sealed test set: engineers and the lead ask for an evaluation, the lead decides (unseals).
REQUEST_EVALUATION = _declare("request_evaluation", set(LAUNCH_JOBS))
DECIDE_EVALUATION = _declare("decide_evaluation", {Role.LEAD})
# Runs of a public project are public (its loss curves are on its page). Those of a private
# project are for the members who work on or follow the model: annotators label data and see
# no experiments.
VIEW_RUNS = _declare("view_runs", {Role.LEAD, Role.ENGINEER, Role.VIEWER}, public=True)
# Logging runs (and creating the project's experiment) is launching work, as a training job is.
LOG_RUNS = _declare("log_runs", set(LAUNCH_JOBS))
# Deployment (stage 7). What the project serves — its exports, benchmarks, model cards and the
# rollout of each deployment — is read like its runs. Engineers and the lead export, benchmark,
# deploy, start and widen a canary, roll back and hold keys; only the lead takes a version to 100%
# (and may override the benchmark gate, with a reason on the record).
VIEW_DEPLOYMENTS = _declare("view_deployments", set(VIEW_RUNS), public=True)
MANAGE_DEPLOYMENTS = _declare("manage_deployments", set(LAUNCH_JOBS))
PROMOTE_DEPLOYMENTS = _declare("promote_deployments", {Role.LEAD})
# The prediction log holds production inputs (stored, hashed or dropped by the project's privacy
# setting) and the drift report is read from it: the team that runs the service only. Calling a
# deployment with a personal token is for the same people; anyone else calls with a deployment key.
VIEW_PREDICTIONS = _declare("view_predictions", set(LAUNCH_JOBS))
PREDICT = _declare("predict", set(LAUNCH_JOBS))


class ProjectReader(AnonymousUser):
    """A reader with the viewer role in whatever project it reads: how an approved deliverable's
    evidence is rendered for its frozen snapshot (projects.evidence), so the snapshot holds what
    every reader of the deliverable may see and nothing of its approver's wider rights (the
    annotators' names, edit forms). Never signed in: it exists only inside that rendering."""

    @property
    def is_authenticated(self) -> bool:
        return True


def role_of(*, user: AnyUser, project: Project) -> str | None:
    """The user's role in the project (None for anonymous visitors and outsiders), read once per
    request."""
    if isinstance(user, ProjectReader):
        return Role.VIEWER
    if not user.is_authenticated:
        return None
    return remembered(
        ("role", user.pk, project.pk),
        lambda: Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first(),
    )


def roles_changed() -> None:
    """Called by the services that change memberships: the rest of the request reads roles afresh."""
    forget_all()


# The names of the actions checked inside `recording_checks()`: how the permission matrices prove
# that every action here is reached by a route they test (tests/matrix.py).
_checks: ContextVar[set[str] | None] = ContextVar("prakriya_policy_checks", default=None)


@contextmanager
def recording_checks() -> Iterator[set[str]]:
    """Collects the name of every action checked in this thread inside the block."""
    seen: set[str] = set()
    token = _checks.set(seen)
    try:
        yield seen
    finally:
        _checks.reset(token)


def can(*, user: AnyUser, project: Project, action: Action) -> bool:
    if (seen := _checks.get()) is not None:
        seen.add(action.name)
    if user.is_authenticated and user.is_superuser:
        return True
    if action.public and project.visibility == Visibility.PUBLIC:
        return True
    return role_of(user=user, project=project) in action


def require(*, user: AnyUser, project: Project, action: Action, what: str) -> None:
    """Raises PermissionDenied unless the user may take the action in the project; `what` ends the
    message ("Your role in this project does not allow you to <what>.")."""
    if not can(user=user, project=project, action=action):
        raise PermissionDenied(f"Your role in this project does not allow you to {what}.")


# --- Creating projects --------------------------------------------------------------------------

# The one project action no role answers: anyone signed in (the default: a community platform
# where anyone may start a project, the caps and rate limits keeping one person from starving the
# others), or staff only (settings.PRAKRIYA_PROJECT_CREATORS).
STAFF_ONLY_PROJECTS = "On this platform only staff may create projects: ask an administrator to create yours."


def can_create_projects(user: AnyUser) -> bool:
    if not user.is_authenticated:
        return False
    if settings.PRAKRIYA_PROJECT_CREATORS == "staff":
        return user.is_staff or user.is_superuser
    return True


def require_create_projects(user: AnyUser) -> None:
    if not can_create_projects(user):
        raise PermissionDenied(STAFF_ONLY_PROJECTS)


# --- Deliverables: the review's transitions -----------------------------------------------------


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    action: Action
    needs_comment: bool = False


DELIVERABLE_TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(
        frozenset({DeliverableState.DRAFT, DeliverableState.CHANGES_REQUESTED}),
        DeliverableState.SUBMITTED,
        SUBMIT_DELIVERABLE,
    ),
    "approve": Transition(frozenset({DeliverableState.SUBMITTED}), DeliverableState.APPROVED, REVIEW_DELIVERABLE),
    "request_changes": Transition(
        frozenset({DeliverableState.SUBMITTED}),
        DeliverableState.CHANGES_REQUESTED,
        REVIEW_DELIVERABLE,
        needs_comment=True,
    ),
    "reopen": Transition(
        frozenset({DeliverableState.APPROVED}), DeliverableState.DRAFT, REVIEW_DELIVERABLE, needs_comment=True
    ),
}
# A deliverable's narrative is edited while in draft (or sent back); a submitted or approved one is
# frozen until reviewed or reopened.
EDITABLE_STATES = frozenset(
    {DeliverableState.NOT_STARTED, DeliverableState.DRAFT, DeliverableState.CHANGES_REQUESTED}
)


def deliverable_transitions_allowed(*, user: AnyUser, project: Project, state: str) -> set[str]:
    """The review transitions the user may take now on a deliverable in `state` (for the buttons a
    page shows; the services check the same table)."""
    return {
        name
        for name, transition in DELIVERABLE_TRANSITIONS.items()
        if state in transition.sources and can(user=user, project=project, action=transition.action)
    }


def deliverable_frozen(state: str) -> bool:
    """Whether a deliverable in `state` is closed to edits: its narrative and what it is built from
    (the data document, the literature survey) wait for the review, or stand approved."""
    return state not in EDITABLE_STATES


def can_edit_deliverable(*, user: AnyUser, project: Project, state: str) -> bool:
    return not deliverable_frozen(state) and can(user=user, project=project, action=EDIT_DELIVERABLE)
