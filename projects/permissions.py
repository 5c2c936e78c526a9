"""Who may do what in a project, by role. One table, used by the HTML views and the API alike."""

from __future__ import annotations

from projects.models import Role

# Seeing a private project needs any membership; seeing a public one needs nothing.
EDIT_CHARTER = frozenset({Role.LEAD, Role.ENGINEER})
EDIT_DELIVERABLE = frozenset({Role.LEAD, Role.ENGINEER})
SUBMIT_DELIVERABLE = frozenset({Role.LEAD, Role.ENGINEER})
REVIEW_DELIVERABLE = frozenset({Role.LEAD})
MANAGE_PROJECT = frozenset({Role.LEAD})  # settings, visibility, members
LAUNCH_JOBS = frozenset({Role.LEAD, Role.ENGINEER})
SEE_MEMBER_EMAILS = frozenset({Role.LEAD})
# Lifting a member's sign-in lock-out (not a staff account's, and once a day per account:
# prakriya.accounts.services.lockout_lift_for_member); staff lift any lock-out.
UNLOCK_MEMBER_SIGN_IN = frozenset({Role.LEAD})
# Labelling campaigns: engineers and the lead set them up; only the lead adjudicates. Annotating
# also needs an assignment to the campaign (checked by the annotation services).
MANAGE_CAMPAIGNS = frozenset({Role.LEAD, Role.ENGINEER})
ADJUDICATE = frozenset({Role.LEAD})


def allows(role: str | None, action: frozenset) -> bool:
    return role is not None and role in action
