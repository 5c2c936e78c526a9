"""The access policy itself (projects/policy.py): its table, how it answers, and that a request
reads a user's role once. Which route asks it what is the permission matrices' business; that every
action is reached by them is checked at the end of a whole run (tests/policy_coverage.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects import policy, services
from projects.models import DeliverableState, Role

pytestmark = pytest.mark.django_db

LEAD, ENGINEER, ANNOTATOR, VIEWER = Role.LEAD, Role.ENGINEER, Role.ANNOTATOR, Role.VIEWER

# The role table as the design states it: who may do what, by action.
TABLE = {
    "edit_charter": {LEAD, ENGINEER},
    "edit_deliverable": {LEAD, ENGINEER},
    "submit_deliverable": {LEAD, ENGINEER},
    "review_deliverable": {LEAD},
    "manage_project": {LEAD},
    "launch_jobs": {LEAD, ENGINEER},
    "see_member_emails": {LEAD},
    "see_storage": {LEAD, ENGINEER},
    "unlock_member_sign_in": {LEAD},
    "manage_campaigns": {LEAD, ENGINEER},
    "adjudicate": {LEAD},
    "request_evaluation": {LEAD, ENGINEER},
    "decide_evaluation": {LEAD},
    "view_runs": {LEAD, ENGINEER, VIEWER},
    "log_runs": {LEAD, ENGINEER},
    "view_deployments": {LEAD, ENGINEER, VIEWER},
    "manage_deployments": {LEAD, ENGINEER},
    "promote_deployments": {LEAD},
    "view_predictions": {LEAD, ENGINEER},
    "predict": {LEAD, ENGINEER},
}


def test_the_policy_knows_exactly_the_actions_of_the_table_with_their_roles():
    assert {name: set(action) for name, action in policy.ACTIONS.items()} == TABLE
    assert [name for name, action in policy.ACTIONS.items() if action.public] == ["view_runs", "view_deployments"]


def test_each_role_gets_what_the_table_gives_it(project, private_project, users):
    for name, action in policy.ACTIONS.items():
        for role_name, user in users.items():
            role = None if user is None else Role(role_name) if role_name in Role.values else None
            who = user or AnonymousUser()
            for shown in (project, private_project):
                expected = role in action or (action.public and shown.visibility == "public")
                assert policy.can(user=who, project=shown, action=action) is expected, (name, role_name, shown.slug)


def test_require_names_what_was_refused_and_staff_pass_everything(project, annotator, outsider):
    with pytest.raises(PermissionDenied, match="does not allow you to launch jobs"):
        policy.require(user=annotator, project=project, action=policy.LAUNCH_JOBS, what="launch jobs")
    outsider.is_superuser = True
    for action in policy.ACTIONS.values():
        policy.require(user=outsider, project=project, action=action, what="anything")


def test_the_buttons_of_a_deliverable_follow_the_transition_table(project, lead, engineer, annotator):
    allowed = policy.deliverable_transitions_allowed
    assert allowed(user=engineer, project=project, state=DeliverableState.DRAFT) == {"submit"}
    assert allowed(user=engineer, project=project, state=DeliverableState.SUBMITTED) == set()
    assert allowed(user=lead, project=project, state=DeliverableState.SUBMITTED) == {"approve", "request_changes"}
    assert allowed(user=lead, project=project, state=DeliverableState.APPROVED) == {"reopen"}
    assert allowed(user=annotator, project=project, state=DeliverableState.DRAFT) == set()
    assert policy.can_edit_deliverable(user=engineer, project=project, state=DeliverableState.CHANGES_REQUESTED)
    assert not policy.can_edit_deliverable(user=lead, project=project, state=DeliverableState.SUBMITTED)


def test_the_matrices_record_the_actions_a_request_asks_about(client, project, engineer):
    client.force_login(engineer)
    with policy.recording_checks() as checked:
        assert client.get(f"/projects/{project.slug}/").status_code == 200
    assert {"edit_charter", "manage_project", "launch_jobs"} <= checked
    assert policy.can(user=engineer, project=project, action=policy.ADJUDICATE) is False
    assert "adjudicate" not in checked  # outside the block nothing is recorded


def test_a_request_reads_the_role_once_and_a_membership_change_is_seen_at_once(project, lead, viewer, rf):
    from prakriya.request_memo import RequestMemoMiddleware

    def view(request):
        with CaptureQueriesContext(connection) as queries:
            for _ in range(3):
                policy.can(user=viewer, project=project, action=policy.VIEW_RUNS)
                policy.can(user=viewer, project=project, action=policy.LAUNCH_JOBS)
        assert len([q for q in queries if "projects_membership" in q["sql"]]) == 1
        assert not policy.can(user=viewer, project=project, action=policy.LAUNCH_JOBS)
        services.membership_set(project=project, actor=lead, user=viewer, role=Role.ENGINEER)
        assert policy.can(user=viewer, project=project, action=policy.LAUNCH_JOBS)
        return "done"

    assert RequestMemoMiddleware(view)(rf.get("/")) == "done"
