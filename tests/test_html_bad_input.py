"""Bad input through the HTML forms: a form error or a 404, never a 500, and nothing lost or half-saved."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from prakriya.jobs.models import Job
from projects import services
from projects.literature import services as literature_services
from projects.models import (
    DeliverableKind,
    DeliverableState,
    Membership,
    Project,
    Role,
    Target,
    ValueEstimate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _charter_data(project: Project, **changes) -> dict:
    data = {field: getattr(project, field) for field in services.CHARTER_FIELDS}
    data["summary_of_change"] = ""
    data.update(changes)
    return data


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _snapshot(project: Project) -> dict:
    project.refresh_from_db()
    return {field: getattr(project, field) for field in services.CHARTER_FIELDS}


# --- The charter -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["problem_statement", "current_process", "ml_role", "value_notes",
                                   "feasibility_data_notes"])
def test_oversize_markdown_on_the_charter_is_a_form_error_and_changes_nothing(client, project, engineer, field):
    before = _snapshot(project)
    revisions = project.revisions.count()
    client.force_login(engineer)
    oversize = "x" * (django_settings.PRAKRIYA_MAX_MARKDOWN_CHARS + 1)
    response = client.post(reverse("projects:charter_edit", args=[project.slug]),
                           _charter_data(project, **{field: oversize, "title": "A new title"}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert b"has-error" in response.content
    assert _snapshot(project) == before
    assert project.revisions.count() == revisions


def test_markdown_at_the_limit_is_accepted(client, project, engineer):
    client.force_login(engineer)
    text = "y" * django_settings.PRAKRIYA_MAX_MARKDOWN_CHARS
    response = client.post(reverse("projects:charter_edit", args=[project.slug]),
                           _charter_data(project, problem_statement=text))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.problem_statement == text


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"summary": "s" * 301}, "summary"),
    ({"feasibility_data": "7"}, "feasibility_data"),
    ({"feasibility_team": "high"}, "feasibility_team"),
    ({"problem_statement": "null \x00 byte"}, "problem_statement"),
    ({"summary_of_change": "c" * 201}, "summary_of_change"),
])
def test_invalid_charter_values_are_form_errors(client, project, engineer, changes, field):
    before = _snapshot(project)
    client.force_login(engineer)
    response = client.post(reverse("projects:charter_edit", args=[project.slug]), _charter_data(project, **changes))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert _snapshot(project) == before


def test_a_failed_charter_save_keeps_what_was_typed_in_the_form(client, project, engineer):
    client.force_login(engineer)
    response = client.post(reverse("projects:charter_edit", args=[project.slug]),
                           _charter_data(project, title="", ml_role="My careful new paragraph."))
    assert response.status_code == 200
    assert b"My careful new paragraph." in response.content


# --- Targets and value estimates --------------------------------------------------------------


def _target_post(**overrides) -> dict:
    data = {"form": "target", "target-metric": "accuracy", "target-comparator": ">=", "target-threshold": "0.9",
            "target-unit": "", "target-condition": "", "target-notes": ""}
    data.update({f"target-{k}": v for k, v in overrides.items()})
    return data


@pytest.mark.parametrize("threshold", ["abc", "", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "0x10"])
def test_bad_threshold_is_a_form_error(client, project, engineer, threshold):
    client.force_login(engineer)
    response = client.post(reverse("projects:expectations", args=[project.slug]), _target_post(threshold=threshold))
    assert response.status_code == 200
    assert response.context["target_form"].errors["threshold"]
    assert not Target.objects.filter(project=project).exists()


def test_unknown_comparator_is_a_form_error(client, project, engineer):
    client.force_login(engineer)
    response = client.post(reverse("projects:expectations", args=[project.slug]), _target_post(comparator="=="))
    assert response.status_code == 200
    assert response.context["target_form"].errors["comparator"]
    assert not Target.objects.filter(project=project).exists()


def test_duplicate_target_metric_is_a_form_error(client, project, engineer):
    services.target_save(project=project, actor=engineer, metric="accuracy", comparator=">=", threshold=0.9)
    client.force_login(engineer)
    response = client.post(reverse("projects:expectations", args=[project.slug]), _target_post(threshold="0.95"))
    assert response.status_code == 200
    assert response.context["target_form"].errors
    assert list(project.targets.values_list("threshold", flat=True)) == [0.9]


@pytest.mark.parametrize(("current", "expected"), [("nan", "1"), ("1", "inf"), ("abc", "1"), ("", "")])
def test_bad_value_estimate_is_a_form_error(client, project, engineer, current, expected):
    client.force_login(engineer)
    response = client.post(reverse("projects:expectations", args=[project.slug]), {
        "form": "value", "value-quantity": "Minutes", "value-current": current, "value-expected": expected,
        "value-unit": "min",
    })
    assert response.status_code == 200
    assert response.context["value_form"].errors
    assert not ValueEstimate.objects.filter(project=project).exists()


@pytest.mark.parametrize("query", ["?target=abc", "?target=-1", "?target=1%00"])
def test_malformed_target_parameter_shows_the_add_form(client, project, engineer, query):
    client.force_login(engineer)
    response = client.get(reverse("projects:expectations", args=[project.slug]) + query)
    assert response.status_code == 200
    assert response.context["editing"] is None


def test_unknown_target_id_is_404(client, project, engineer):
    client.force_login(engineer)
    assert client.get(reverse("projects:expectations", args=[project.slug]) + "?target=999999").status_code == 404
    assert client.post(reverse("projects:target_delete", args=[project.slug, 999999])).status_code == 404
    assert client.post(reverse("projects:value_delete", args=[project.slug, 999999])).status_code == 404


def test_a_target_of_another_project_cannot_be_deleted_through_this_one(client, project, private_project, engineer):
    other = services.target_save(project=private_project, actor=engineer, metric="f1", comparator=">=", threshold=0.5)
    client.force_login(engineer)
    assert client.post(reverse("projects:target_delete", args=[project.slug, other.pk])).status_code == 404
    assert Target.objects.filter(pk=other.pk).exists()


def test_unknown_form_name_is_an_error_message(client, project, engineer):
    client.force_login(engineer)
    response = client.post(reverse("projects:expectations", args=[project.slug]), {"form": "nope"})
    assert response.status_code == 200
    assert "Unknown form." in _messages(response)


# --- Creating a project and its settings ---------------------------------------------------------


@pytest.mark.parametrize("tags", ["has space", "bad/slash", "émoji-😀", "x" * 41, "<script>"])
def test_invalid_tag_is_a_form_error(client, project, lead, tags):
    client.force_login(lead)
    response = client.post(reverse("projects:settings", args=[project.slug]),
                           {"form": "settings", "visibility": "public", "tags": tags})
    assert response.status_code == 200
    assert response.context["settings_form"].errors["tags"]
    assert not project.tags.exists()


def test_invalid_tag_on_create_is_a_form_error(client, lead):
    client.force_login(lead)
    response = client.post(reverse("projects:create"), {
        "title": "Tagged", "slug": "tagged", "summary": "", "visibility": "public", "tags": "ok, not ok",
    })
    assert response.status_code == 200
    assert response.context["form"].errors["tags"]
    assert not Project.objects.filter(slug="tagged").exists()


def test_unknown_visibility_is_a_form_error(client, project, lead):
    client.force_login(lead)
    response = client.post(reverse("projects:settings", args=[project.slug]),
                           {"form": "settings", "visibility": "secret", "tags": ""})
    assert response.status_code == 200
    assert response.context["settings_form"].errors["visibility"]
    project.refresh_from_db()
    assert project.visibility == "public"


def test_duplicate_project_slug_is_a_form_error(client, project, outsider):
    client.force_login(outsider)
    response = client.post(reverse("projects:create"), {
        "title": "Another digits", "slug": "digits", "summary": "", "visibility": "public", "tags": "",
    })
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]
    assert Project.objects.filter(slug="digits").count() == 1
    project.refresh_from_db()
    assert project.title == "Digits"


@pytest.mark.parametrize("slug", ["has space", "../etc", "ünïcode", "", "s" * 81])
def test_invalid_project_slug_is_a_form_error(client, outsider, slug):
    client.force_login(outsider)
    response = client.post(reverse("projects:create"), {
        "title": "Bad slug", "slug": slug, "summary": "", "visibility": "public", "tags": "",
    })
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]
    assert not Project.objects.filter(title="Bad slug").exists()


def test_unknown_username_in_the_member_form_is_a_form_error(client, project, lead):
    members = set(project.memberships.values_list("user__username", "role"))
    client.force_login(lead)
    response = client.post(reverse("projects:settings", args=[project.slug]),
                           {"form": "member", "username": "nobody-by-that-name", "role": "viewer"})
    assert response.status_code == 200
    assert response.context["member_form"].errors["username"] == ["No user with that username."]
    assert set(project.memberships.values_list("user__username", "role")) == members


def test_unknown_role_in_the_member_form_is_a_form_error(client, project, lead, outsider):
    client.force_login(lead)
    response = client.post(reverse("projects:settings", args=[project.slug]),
                           {"form": "member", "username": "outsider", "role": "owner"})
    assert response.status_code == 200
    assert response.context["member_form"].errors["role"]
    assert not project.memberships.filter(user=outsider).exists()


def test_removing_the_last_lead_is_refused_and_the_membership_kept(client, project, lead):
    membership = project.memberships.get(user=lead)
    client.force_login(lead)
    response = client.post(reverse("projects:member_remove", args=[project.slug, membership.pk]), follow=True)
    assert response.status_code == 200
    assert any("at least one lead" in m for m in _messages(response))
    assert Membership.objects.filter(pk=membership.pk, role=Role.LEAD).exists()


def test_demoting_the_last_lead_is_a_form_error_and_the_role_kept(client, project, lead):
    client.force_login(lead)
    response = client.post(reverse("projects:settings", args=[project.slug]),
                           {"form": "member", "username": "lead", "role": "viewer"})
    assert response.status_code == 200
    assert "at least one lead" in " ".join(response.context["member_form"].non_field_errors())
    assert project.memberships.get(user=lead).role == Role.LEAD


def test_removing_a_membership_of_another_project_is_404(client, project, private_project, lead):
    other = private_project.memberships.get(user__username="viewer")
    client.force_login(lead)
    assert client.post(reverse("projects:member_remove", args=[project.slug, other.pk])).status_code == 404
    assert Membership.objects.filter(pk=other.pk).exists()


# --- Deliverables -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nonsense", "project-page", "DATA_DOCUMENT", "complete"])
def test_unknown_deliverable_kind_is_404(client, project, lead, kind):
    client.force_login(lead)
    assert client.get(reverse("projects:deliverable", args=[project.slug, kind])).status_code == 404
    assert client.post(reverse("projects:deliverable", args=[project.slug, kind]), {"body": "x"}).status_code == 404
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, kind]), {"action": "submit"})
    assert response.status_code == 404


def test_approving_a_draft_is_an_error_message_and_the_state_unchanged(client, project, lead, engineer):
    deliverable = project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)
    services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="Some data.")
    client.force_login(lead)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "literature_survey"]),
                           {"action": "approve"}, follow=True)
    assert response.status_code == 200
    assert any("Cannot approve a deliverable that is draft" in m for m in _messages(response))
    deliverable.refresh_from_db()
    assert deliverable.state == DeliverableState.DRAFT
    project.refresh_from_db()
    assert project.stage == DeliverableKind.PROJECT_PAGE


def _submitted(project, engineer):
    deliverable = project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)
    services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="Some data.")
    # The survey is submitted with its entries; one is what it needs.
    literature_services.literature_entry_create(project=project, actor=engineer, title="LeNet-5", year=1998)
    services.deliverable_transition(deliverable=deliverable, actor=engineer, action="submit")
    return deliverable


@pytest.mark.parametrize("comment", ["", "   \n  "])
def test_requesting_changes_without_a_comment_is_an_error(client, project, lead, engineer, comment):
    deliverable = _submitted(project, engineer)
    client.force_login(lead)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "literature_survey"]),
                           {"action": "request_changes", "comment": comment}, follow=True)
    assert response.status_code == 200
    assert any("a comment is required" in m for m in _messages(response))
    deliverable.refresh_from_db()
    assert deliverable.state == DeliverableState.SUBMITTED


@pytest.mark.parametrize("data", [{}, {"action": "delete"}, {"action": ""}, {"action": "approve", "comment": "c" * 5001}])
def test_invalid_transition_form_is_an_error_message(client, project, lead, engineer, data):
    deliverable = _submitted(project, engineer)
    client.force_login(lead)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "literature_survey"]), data,
                           follow=True)
    assert response.status_code == 200
    assert "Choose a valid action." in _messages(response)
    deliverable.refresh_from_db()
    assert deliverable.state == DeliverableState.SUBMITTED


def test_submitting_an_empty_deliverable_is_an_error(client, project, engineer):
    # The deployment deliverable has no structured submit check: its body is what counts (the
    # experience report has one: tests/deployments/test_experience_report.py).
    deliverable = project.deliverables.get(kind="deployment")
    services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="  ")
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "deployment"]),
                           {"action": "submit"}, follow=True)
    assert any("Write the deliverable" in m for m in _messages(response))
    assert project.deliverables.get(kind="deployment").state == DeliverableState.DRAFT


def test_submitting_the_project_page_without_a_primary_target_is_an_error(client, project, engineer):
    services.project_update_charter(project=project, actor=engineer, summary="Now a draft")
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "project_page"]),
                           {"action": "submit"}, follow=True)
    assert any("exactly one primary metric" in m for m in _messages(response))
    assert project.deliverables.get(kind="project_page").state == DeliverableState.DRAFT


def test_submitting_a_deliverable_that_was_never_started_is_an_error(client, project, engineer):
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "baselines"]),
                           {"action": "submit"}, follow=True)
    assert any("Cannot submit a deliverable that is not started" in m for m in _messages(response))
    assert project.deliverables.get(kind="baselines").state == DeliverableState.NOT_STARTED


def test_oversize_deliverable_body_is_a_form_error_and_keeps_the_old_body(client, project, engineer):
    deliverable = project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)
    services.deliverable_save_body(deliverable=deliverable, actor=engineer, body="The old body.")
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable", args=[project.slug, "literature_survey"]),
                           {"body": "z" * (django_settings.PRAKRIYA_MAX_MARKDOWN_CHARS + 1)})
    assert response.status_code == 200
    assert response.context["form"].errors["body"]
    deliverable.refresh_from_db()
    assert deliverable.body == "The old body."


def test_editing_a_submitted_deliverable_is_refused_and_keeps_the_body(client, project, engineer):
    deliverable = _submitted(project, engineer)
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable", args=[project.slug, "literature_survey"]),
                           {"body": "Sneaky edit"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    deliverable.refresh_from_db()
    assert deliverable.body == "Some data."
    assert deliverable.state == DeliverableState.SUBMITTED


# --- Query strings, ids and numbers ----------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "?stage=nonsense&tag=nope&page=abc",
    "?page=-1", "?page=0", "?page=99999", "?page=1e3", "?page=%00",
    "?q=%00", "?q=" + "a" * 5000, "?tag=%F0%9F%98%80", "?stage=&tag=&q=",
    "?stage=project_page&stage=complete", "?tag[]=x", "?q=%27%22%3C",
])
def test_malformed_directory_query_strings_do_not_crash(client, project, query):
    response = client.get(reverse("projects:directory") + query)
    assert response.status_code == 200


def test_directory_with_an_unknown_stage_says_so(client, project):
    response = client.get(reverse("projects:directory") + "?stage=nonsense")
    assert response.status_code == 200
    assert b"Some filters were not understood" in response.content


@pytest.mark.parametrize("query", ["?page=abc", "?page=-5", "?page=100000"])
def test_malformed_timeline_page_does_not_crash(client, project, query):
    assert client.get(reverse("projects:timeline", args=[project.slug]) + query).status_code == 200


def test_unknown_revision_is_404(client, project):
    assert client.get(reverse("projects:revision", args=[project.slug, 999])).status_code == 404
    assert client.get(f"/projects/{project.slug}/history/0/").status_code == 404


@pytest.mark.parametrize("route", ["job", "job_status", "job_download"])
def test_job_pages_for_nonexistent_ids_are_404(client, lead, project, route):
    client.force_login(lead)
    assert client.get(reverse(f"projects:{route}", args=[987654])).status_code == 404
    assert client.get(f"/jobs/{2**63}/").status_code == 404


def test_cancelling_a_nonexistent_job_is_404(client, lead, project):
    client.force_login(lead)
    assert client.post(reverse("projects:job_cancel", args=[987654])).status_code == 404


def test_downloading_a_job_without_a_file_is_404(client, lead, project):
    job = Job.objects.create(kind="project_export", project=project, created_by=lead, state="succeeded",
                             result={"path": "/etc/passwd"})
    client.force_login(lead)
    assert client.get(reverse("projects:job_download", args=[job.pk])).status_code == 404


@pytest.mark.parametrize("pause", ["abc", "nan", "-1", "1e9"])
def test_export_with_a_bad_pause_starts_a_plain_export(client, project, engineer, pause):
    client.force_login(engineer)
    response = client.post(reverse("projects:export", args=[project.slug]), {"pause_seconds": pause})
    assert response.status_code == 302
    job = Job.objects.get(project=project)
    assert response.url == reverse("projects:job", args=[job.pk])
    assert job.params == {"pause_seconds": 0.0}


@pytest.mark.parametrize("path", [
    "/projects/UPPER_case!/", "/projects/%00/", "/projects/digits/deliverables/%00/", "/jobs/abc/",
    "/projects/digits/history/abc/", "/accounts/profile/tokens/%00/revoke/",
])
def test_malformed_paths_are_404(client, lead, project, path):
    client.force_login(lead)
    assert client.get(path).status_code in (404, 405)


# --- Accounts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("expiry", ["abc", "0", "-3", "3651", "1.5", "nan"])
def test_bad_token_expiry_is_an_error_message_and_creates_nothing(client, engineer, expiry):
    from knox.models import AuthToken

    from tests.factories import PASSWORD

    client.force_login(engineer)
    response = client.post(reverse("token_create"), {"expiry_days": expiry, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert any("Expiry must be" in m for m in _messages(response))
    assert not AuthToken.objects.filter(user=engineer).exists()
    assert b'data-testid="new-token"' not in response.content


def test_sign_up_with_a_taken_username_creates_nobody_and_says_so_only_by_mail(client, engineer):
    from django.contrib.auth import get_user_model
    from django.core import mail

    response = client.post(reverse("sign_up"), {"username": "engineer", "email": "x@example.org", "display_name": ""})
    assert response.status_code == 302  # the page answers as for a free name (tests/test_accounts.py)
    assert get_user_model().objects.filter(username="engineer").count() == 1
    [message] = mail.outbox
    assert message.to == ["x@example.org"] and "already in use" in message.body


@pytest.mark.parametrize(("field", "value"), [("display_name", "d" * 121), ("languages", "l" * 301),
                                              ("expertise", "e" * 2001), ("affiliation", "a\x00b")])
def test_bad_profile_values_are_form_errors(client, engineer, field, value):
    client.force_login(engineer)
    data = {"display_name": "Engineer", "affiliation": "", "languages": "", "expertise": "", field: value}
    response = client.post(reverse("profile"), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    engineer.profile.refresh_from_db()
    assert getattr(engineer.profile, field) != value
