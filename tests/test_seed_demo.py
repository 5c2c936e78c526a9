"""The demo seed: a realistic starting point, safe to run any number of times."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from projects import selectors
from projects.models import DeliverableKind, DeliverableState, Project, Role, Visibility

pytestmark = pytest.mark.django_db

DEMO_USERNAMES = ["annotator1", "annotator2", "engineer", "lead"]


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    # Every model of the project's own apps, plus users: nothing may be added twice.
    labels = ("auth", "accounts", "jobs", "projects", "datasets", "experiments", "deployments")
    return {
        model._meta.label: model.objects.count()
        for label in labels
        for model in apps.get_app_config(label).get_models()
    }


def test_running_seed_twice_changes_no_row_counts():
    _seed()
    first = _row_counts()
    output = _seed()
    assert _row_counts() == first
    assert "left as it is" in output


def test_second_run_leaves_what_people_changed_alone():
    _seed()
    project = Project.objects.get(slug="handwritten-digits")
    Project.objects.filter(pk=project.pk).update(summary="Edited by the team")
    _seed()
    assert Project.objects.get(pk=project.pk).summary == "Edited by the team"


def test_demo_users_log_in_with_the_printed_password_and_have_profiles():
    output = _seed()
    assert "prakriya-demo" in output
    User = get_user_model()
    assert sorted(User.objects.filter(username__in=DEMO_USERNAMES).values_list("username", flat=True)) \
        == DEMO_USERNAMES
    for username in DEMO_USERNAMES:
        assert authenticate(username=username, password="prakriya-demo") is not None
        profile = User.objects.get(username=username).profile
        assert profile.display_name and profile.affiliation and profile.expertise
        assert profile.language_list


def test_digits_project_has_reached_the_data_document_stage():
    _seed()
    project = Project.objects.get(slug="handwritten-digits")
    assert project.title == "Handwritten digit recognition"
    assert project.visibility == Visibility.PUBLIC
    assert project.stage == DeliverableKind.DATA_DOCUMENT
    states = dict(project.deliverables.values_list("kind", "state"))
    assert states[DeliverableKind.PROJECT_PAGE] == DeliverableState.APPROVED
    assert states[DeliverableKind.DATA_DOCUMENT] == DeliverableState.DRAFT
    approval = project.deliverables.get(kind=DeliverableKind.PROJECT_PAGE).transitions.get(
        to_state=DeliverableState.APPROVED
    )
    assert approval.actor.username == "lead"
    assert sorted(t.name for t in project.tags.all()) == ["demo", "digits", "vision"]


def test_digits_project_charter_targets_and_value_are_filled():
    _seed()
    project = Project.objects.get(slug="handwritten-digits")
    for field in ("problem_statement", "current_process", "ml_role", "value_notes",
                  "feasibility_data_notes", "feasibility_prior_work_notes", "feasibility_team_notes"):
        assert len(getattr(project, field)) > 100, field
    assert project.feasibility_data and project.feasibility_prior_work and project.feasibility_team

    primary = project.primary_target
    assert (primary.metric, primary.comparator, primary.threshold) == ("accuracy", ">=", 0.97)
    targets = {(t.metric, t.comparator, t.threshold, t.unit, t.condition) for t in project.targets.all()}
    assert targets == {
        ("accuracy", ">=", 0.97, "", ""),
        ("latency_p95", "<=", 50.0, "ms", ""),
        ("model_size", "<=", 20.0, "MB", ""),
        ("precision", ">=", 0.99, "", "at 20% coverage"),
    }
    assert project.targets.filter(is_primary=True).count() == 1
    assert project.value_estimates.count() >= 2


def test_digits_project_members_have_their_roles():
    _seed()
    project = Project.objects.get(slug="handwritten-digits")
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {"lead": Role.LEAD, "engineer": Role.ENGINEER,
                     "annotator1": Role.ANNOTATOR, "annotator2": Role.ANNOTATOR}


def test_private_project_is_seen_only_by_its_lead_and_engineer():
    _seed()
    project = Project.objects.get(slug="private-invoices")
    assert project.title == "Invoice field extraction"
    assert project.visibility == Visibility.PRIVATE
    assert dict(project.memberships.values_list("user__username", "role")) == {
        "lead": Role.LEAD, "engineer": Role.ENGINEER,
    }
    User = get_user_model()
    visible_to = {
        username for username in DEMO_USERNAMES
        if selectors.project_list_visible(user=User.objects.get(username=username))
        .filter(slug="private-invoices").exists()
    }
    assert visible_to == {"lead", "engineer"}


def test_serve_offers_only_logins_that_still_work():
    from projects.management.commands.seed_demo import demo_logins

    _seed()
    assert [username for username, _, _ in demo_logins()] == ["lead", "engineer", "annotator1", "annotator2"]
    user = get_user_model().objects.get(username="annotator2")
    user.set_password("changed-by-its-owner")
    user.save()
    assert "annotator2" not in [username for username, _, _ in demo_logins()]
