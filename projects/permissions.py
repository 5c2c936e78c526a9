"""Who may do what in a project, by role. One table, used by the HTML views and the API alike."""

from __future__ import annotations

from django.conf import settings

from projects.models import Role

# Seeing a private project needs any membership; seeing a public one needs nothing.
EDIT_CHARTER = frozenset({Role.LEAD, Role.ENGINEER})
EDIT_DELIVERABLE = frozenset({Role.LEAD, Role.ENGINEER})
SUBMIT_DELIVERABLE = frozenset({Role.LEAD, Role.ENGINEER})
REVIEW_DELIVERABLE = frozenset({Role.LEAD})
MANAGE_PROJECT = frozenset({Role.LEAD})  # settings, visibility, members
LAUNCH_JOBS = frozenset({Role.LEAD, Role.ENGINEER})
SEE_MEMBER_EMAILS = frozenset({Role.LEAD})
# Where the platform keeps a project's data on its server (the repository's path, the commands
# that clone it): those who work with the data there, never the public.
SEE_STORAGE = frozenset({Role.LEAD, Role.ENGINEER})
# Lifting a member's sign-in lock-out (not a staff account's, and once a day per account:
# prakriya.accounts.services.lockout_lift_for_member); staff lift any lock-out.
UNLOCK_MEMBER_SIGN_IN = frozenset({Role.LEAD})
# Labelling campaigns: engineers and the lead set them up; only the lead adjudicates. Annotating
# also needs an assignment to the campaign (checked by the annotation services).
MANAGE_CAMPAIGNS = frozenset({Role.LEAD, Role.ENGINEER})
ADJUDICATE = frozenset({Role.LEAD})


def allows(role: str | None, action: frozenset) -> bool:
    return role is not None and role in action


# Who may create projects, the one project action no role answers: anyone signed in (the default:
# a community platform where anyone may start a project, the caps and rate limits keeping one
# person from starving the others), or staff only (settings.PRAKRIYA_PROJECT_CREATORS).
STAFF_ONLY_PROJECTS = "On this platform only staff may create projects: ask an administrator to create yours."


def can_create_projects(user) -> bool:
    if not user.is_authenticated:
        return False
    if settings.PRAKRIYA_PROJECT_CREATORS == "staff":
        return user.is_staff or user.is_superuser
    return True
