"""Projects through the API: listing and filtering, creating, editing the charter and settings,
members, targets, value estimates, the timeline and the page's revisions."""

from __future__ import annotations

import pytest
from rest_framework.pagination import PageNumberPagination

from projects import services
from projects.models import DELIVERABLE_ORDER, Membership, Project, Role, Target
from tests.api import add_primary_target, client_for, fast_password_hashing  # noqa: F401
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db


def _slugs(response) -> list[str]:
    return [item["slug"] for item in response.json()["results"]]


# --- Listing --------------------------------------------------------------------------------


def test_anonymous_lists_only_public_projects(project, private_project):
    response = client_for(None).get("/api/projects/")
    assert response.status_code == 200
    assert _slugs(response) == ["digits"]


def test_member_sees_private_project_in_list(project, private_project, viewer):
    response = client_for(viewer).get("/api/projects/")
    assert sorted(_slugs(response)) == ["digits", "secret-forms"]


def test_project_list_is_paginated(lead, monkeypatch):
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    for n in range(3):
        make_project(lead=lead, slug=f"p{n}")
    first = client_for(lead).get("/api/projects/").json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert first["next"]
    second = client_for(lead).get(first["next"]).json()
    assert len(second["results"]) == 1


def test_project_list_filters_by_stage(lead, project):
    make_project(lead=lead, slug="finished")
    Project.objects.filter(slug="finished").update(stage="complete")
    response = client_for(None).get("/api/projects/", {"stage": "complete"})
    assert _slugs(response) == ["finished"]


def test_project_list_filters_by_tag(lead, project):
    other = make_project(lead=lead, slug="speech")
    services.project_update_settings(project=other, actor=lead, tags=["audio"])
    response = client_for(None).get("/api/projects/", {"tag": "audio"})
    assert _slugs(response) == ["speech"]


@pytest.mark.parametrize(
    "field, text",
    [("title", "Receipts"), ("summary", "scanned receipts"), ("problem_statement", "extract totals from receipts")],
)
def test_project_search_matches_title_summary_and_problem_statement(lead, project, field, text):
    make_project(lead=lead, slug="receipts", **{"title": "Other", field: text})
    response = client_for(None).get("/api/projects/", {"q": "receipts"})
    assert _slugs(response) == ["receipts"]


def test_search_does_not_reveal_private_projects(project, private_project, outsider):
    response = client_for(outsider).get("/api/projects/", {"q": "secret"})
    assert _slugs(response) == []


def test_unknown_stage_filter_is_a_400(project):
    response = client_for(None).get("/api/projects/", {"stage": "nonsense"})
    assert response.status_code == 400
    assert "stage" in response.json()["errors"]


# --- Reading one project --------------------------------------------------------------------


def test_project_detail_shows_charter_targets_and_my_role(project, lead, engineer):
    add_primary_target(project, lead)
    data = client_for(engineer).get("/api/projects/digits/").json()
    assert data["problem_statement"] == "Recognise handwritten digits on forms."
    assert data["targets"][0]["metric"] == "accuracy"
    assert data["targets"][0]["is_primary"] is True
    assert data["my_role"] == "engineer"
    assert data["stage"] == "project_page"


def test_outsider_gets_404_on_private_project(private_project, outsider):
    response = client_for(outsider).get("/api/projects/secret-forms/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_anonymous_gets_404_on_private_project(private_project):
    assert client_for(None).get("/api/projects/secret-forms/").status_code == 404


def test_unknown_project_is_404(db):
    assert client_for(None).get("/api/projects/nope/").status_code == 404


def test_projects_cannot_be_replaced_or_deleted(project, lead):
    client = client_for(lead)
    assert client.put("/api/projects/digits/", {"title": "X"}).status_code == 405
    assert client.delete("/api/projects/digits/").status_code == 405


# --- Creating -------------------------------------------------------------------------------


def test_signed_in_user_creates_project_and_becomes_lead(outsider):
    response = client_for(outsider).post(
        "/api/projects/",
        {"slug": "forms", "title": "Form reader", "summary": "Reads forms", "tags": ["ocr", "forms"],
         "visibility": "private", "problem_statement": "Typing forms is slow."},
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["slug"].startswith("forms-")  # a private project's slug gets a random ending
    assert data["my_role"] == "lead"
    assert data["visibility"] == "private"
    assert sorted(data["tags"]) == ["forms", "ocr"]
    project = Project.objects.get(slug=data["slug"])
    assert Membership.objects.get(project=project, user=outsider).role == Role.LEAD
    assert sorted(project.deliverables.values_list("kind", flat=True)) == sorted(DELIVERABLE_ORDER)


def test_anonymous_cannot_create_a_project(db):
    response = client_for(None).post("/api/projects/", {"slug": "x", "title": "X"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_duplicate_slug_is_a_400_not_an_integrity_error(project, outsider):
    response = client_for(outsider).post("/api/projects/", {"slug": "digits", "title": "Again"})
    assert response.status_code == 400
    assert "not available" in response.json()["errors"]["slug"][0]


def test_duplicate_of_a_private_slug_is_also_a_400(private_project, outsider):
    response = client_for(outsider).post("/api/projects/", {"slug": "secret-forms", "title": "Again"})
    assert response.status_code == 400


@pytest.mark.parametrize("slug", ["Has Spaces", "UPPER", "-leading", "semi;colon", "", "x" * 81, "ünïcode"])
def test_invalid_slug_is_a_400(outsider, slug):
    response = client_for(outsider).post("/api/projects/", {"slug": slug, "title": "Title"})
    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


def test_create_requires_a_title(outsider):
    response = client_for(outsider).post("/api/projects/", {"slug": "untitled"})
    assert response.status_code == 400
    assert response.json()["errors"]["title"] == ["This field is required."]


def test_unknown_visibility_is_a_400(outsider):
    response = client_for(outsider).post("/api/projects/", {"slug": "v", "title": "V", "visibility": "secret"})
    assert response.status_code == 400
    assert "visibility" in response.json()["errors"]


# --- Editing the charter and the settings ---------------------------------------------------


def test_engineer_edits_charter_and_a_revision_is_recorded(project, engineer):
    response = client_for(engineer).patch(
        "/api/projects/digits/",
        {"ml_role": "Read the digits; clerks check the uncertain ones.", "feasibility_data": 3,
         "summary_of_change": "Sharper role"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["ml_role"].startswith("Read the digits")
    assert response.json()["feasibility_data"] == 3
    revisions = client_for(engineer).get("/api/projects/digits/revisions/").json()["results"]
    assert revisions[0]["summary"] == "Sharper role"
    assert revisions[0]["author"] == "engineer"
    assert revisions[0]["snapshot"]["ml_role"].startswith("Read the digits")


def test_charter_edit_starts_the_project_page_deliverable(project, engineer):
    client_for(engineer).patch("/api/projects/digits/", {"value_notes": "Saves clerks hours."})
    page = client_for(engineer).get("/api/projects/digits/deliverables/project_page/").json()
    assert page["state"] == "draft"


def test_viewer_cannot_edit_the_charter(project, viewer):
    response = client_for(viewer).patch("/api/projects/digits/", {"summary": "Mine now"})
    assert response.status_code == 403
    assert "role" in response.json()["detail"]


def test_engineer_cannot_change_visibility_and_nothing_is_saved(project, engineer):
    response = client_for(engineer).patch("/api/projects/digits/", {"summary": "Changed", "visibility": "private"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.summary == "A project used by the tests"
    assert project.visibility == "public"


def test_lead_changes_visibility_and_tags(project, lead, outsider):
    response = client_for(lead).patch("/api/projects/digits/", {"visibility": "private", "tags": ["vision", "ocr"]})
    assert response.status_code == 200
    assert response.json()["visibility"] == "private"
    assert sorted(response.json()["tags"]) == ["ocr", "vision"]
    assert client_for(outsider).get("/api/projects/digits/").status_code == 404


def test_blank_title_is_a_400(project, lead):
    response = client_for(lead).patch("/api/projects/digits/", {"title": "  "})
    assert response.status_code == 400
    assert "title" in response.json()["errors"]


def test_unknown_feasibility_rating_is_a_400(project, lead):
    response = client_for(lead).patch("/api/projects/digits/", {"feasibility_team": 7})
    assert response.status_code == 400
    assert "feasibility_team" in response.json()["errors"]


def test_too_many_tags_is_a_400(project, lead):
    response = client_for(lead).patch("/api/projects/digits/", {"tags": [f"t{n}" for n in range(21)]})
    assert response.status_code == 400
    assert "tags" in response.json()["errors"]


# --- Members --------------------------------------------------------------------------------


def test_anyone_who_sees_the_project_lists_its_members(project):
    response = client_for(None).get("/api/projects/digits/members/")
    assert response.status_code == 200
    roles = {m["username"]: m["role"] for m in response.json()["results"]}
    assert roles == {"lead": "lead", "engineer": "engineer", "annotator": "annotator", "viewer": "viewer"}


def test_member_emails_are_shown_to_leads_only(project, lead, engineer):
    as_engineer = client_for(engineer).get("/api/projects/digits/members/").json()["results"]
    assert {m["email"] for m in as_engineer} == {None}
    as_lead = client_for(lead).get("/api/projects/digits/members/").json()["results"]
    assert "engineer@example.org" in {m["email"] for m in as_lead}


def test_lead_adds_a_member_by_username(project, lead):
    UserFactory(username="newcomer")
    response = client_for(lead).post("/api/projects/digits/members/", {"username": "newcomer", "role": "annotator"})
    assert response.status_code == 201
    assert response.json()["role"] == "annotator"
    assert project.memberships.get(user__username="newcomer").role == "annotator"


def test_adding_an_existing_member_changes_their_role(project, lead):
    response = client_for(lead).post("/api/projects/digits/members/", {"username": "viewer", "role": "engineer"})
    assert response.status_code == 200
    assert project.memberships.get(user__username="viewer").role == "engineer"


def test_adding_an_unknown_user_is_a_400(project, lead):
    response = client_for(lead).post("/api/projects/digits/members/", {"username": "ghost", "role": "viewer"})
    assert response.status_code == 400
    assert "ghost" in response.json()["errors"]["username"][0]


def test_unknown_role_is_a_400(project, lead, outsider):
    response = client_for(lead).post("/api/projects/digits/members/", {"username": "outsider", "role": "boss"})
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_engineer_cannot_manage_members(project, engineer, outsider):
    response = client_for(engineer).post("/api/projects/digits/members/", {"username": "outsider", "role": "lead"})
    assert response.status_code == 403
    assert not project.memberships.filter(user=outsider).exists()


def test_lead_changes_and_removes_a_member(project, lead, viewer):
    membership = project.memberships.get(user=viewer)
    client = client_for(lead)
    response = client.patch(f"/api/projects/digits/members/{membership.pk}/", {"role": "annotator"})
    assert response.status_code == 200
    assert response.json()["role"] == "annotator"
    assert client.delete(f"/api/projects/digits/members/{membership.pk}/").status_code == 204
    assert not project.memberships.filter(user=viewer).exists()


def test_the_last_lead_cannot_be_removed_or_demoted(project, lead):
    membership = project.memberships.get(user=lead)
    client = client_for(lead)
    response = client.delete(f"/api/projects/digits/members/{membership.pk}/")
    assert response.status_code == 400
    assert "lead" in str(response.json()["errors"])
    assert client.patch(f"/api/projects/digits/members/{membership.pk}/", {"role": "viewer"}).status_code == 400


def test_membership_of_another_project_is_404(project, private_project, lead):
    other = private_project.memberships.get(user=lead)
    response = client_for(lead).patch(f"/api/projects/digits/members/{other.pk}/", {"role": "viewer"})
    assert response.status_code == 404


# --- Targets --------------------------------------------------------------------------------


def test_engineer_adds_targets_and_the_first_becomes_primary(project, engineer):
    client = client_for(engineer)
    first = client.post("/api/projects/digits/targets/",
                        {"metric": "accuracy", "comparator": ">=", "threshold": 0.95})
    assert first.status_code == 201, first.json()
    assert first.json()["is_primary"] is True
    second = client.post("/api/projects/digits/targets/",
                         {"metric": "latency_p95", "comparator": "<=", "threshold": 50, "unit": "ms"})
    assert second.json()["is_primary"] is False
    assert second.json()["display"] == "latency_p95 ≤ 50 ms"
    listed = client.get("/api/projects/digits/targets/").json()
    assert [t["metric"] for t in listed["results"]] == ["accuracy", "latency_p95"]


def test_marking_a_target_primary_unmarks_the_other(project, lead):
    first = add_primary_target(project, lead)
    second = services.target_save(project=project, actor=lead, metric="latency", comparator="<", threshold=9)
    response = client_for(lead).patch(f"/api/projects/digits/targets/{second.pk}/", {"is_primary": True})
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.is_primary is False


def test_put_replaces_a_target_and_needs_every_required_field(project, lead):
    target = add_primary_target(project, lead)
    client = client_for(lead)
    incomplete = client.put(f"/api/projects/digits/targets/{target.pk}/", {"metric": "f1"})
    assert incomplete.status_code == 400
    assert set(incomplete.json()["errors"]) == {"comparator", "threshold"}
    complete = client.put(f"/api/projects/digits/targets/{target.pk}/",
                          {"metric": "f1", "comparator": ">", "threshold": 0.8})
    assert complete.status_code == 200
    assert complete.json()["metric"] == "f1"


def test_bad_comparator_is_a_400(project, lead):
    response = client_for(lead).post("/api/projects/digits/targets/",
                                     {"metric": "accuracy", "comparator": "=<", "threshold": 1})
    assert response.status_code == 400
    assert "comparator" in response.json()["errors"]


def test_duplicate_target_metric_is_a_400(project, lead):
    add_primary_target(project, lead)
    response = client_for(lead).post("/api/projects/digits/targets/",
                                     {"metric": "accuracy", "comparator": ">=", "threshold": 0.5})
    assert response.status_code == 400
    assert Target.objects.filter(project=project).count() == 1


def test_deleting_the_primary_target_promotes_the_next(project, lead):
    first = add_primary_target(project, lead)
    second = services.target_save(project=project, actor=lead, metric="latency", comparator="<", threshold=9)
    assert client_for(lead).delete(f"/api/projects/digits/targets/{first.pk}/").status_code == 204
    second.refresh_from_db()
    assert second.is_primary is True


def test_annotator_reads_targets_but_cannot_write_them(project, lead, annotator):
    target = add_primary_target(project, lead)
    client = client_for(annotator)
    assert client.get(f"/api/projects/digits/targets/{target.pk}/").status_code == 200
    assert client.patch(f"/api/projects/digits/targets/{target.pk}/", {"threshold": 0.1}).status_code == 403
    assert client.delete(f"/api/projects/digits/targets/{target.pk}/").status_code == 403


def test_target_of_another_project_is_404(project, lead):
    other = make_project(lead=lead, slug="other")
    target = add_primary_target(other, lead)
    assert client_for(lead).get(f"/api/projects/digits/targets/{target.pk}/").status_code == 404


# --- Value estimates ------------------------------------------------------------------------


def test_value_estimates_crud(project, engineer):
    client = client_for(engineer)
    created = client.post("/api/projects/digits/value-estimates/",
                          {"quantity": "minutes per form", "current": 4, "expected": 1, "unit": "min"})
    assert created.status_code == 201, created.json()
    assert created.json()["change_percent"] == -75.0
    pk = created.json()["id"]
    changed = client.patch(f"/api/projects/digits/value-estimates/{pk}/", {"expected": 2})
    assert changed.json()["change_percent"] == -50.0
    assert client.get("/api/projects/digits/value-estimates/").json()["count"] == 1
    assert client.delete(f"/api/projects/digits/value-estimates/{pk}/").status_code == 204
    assert client.get("/api/projects/digits/value-estimates/").json()["count"] == 0


def test_value_estimate_change_is_null_when_current_is_zero(project, lead):
    response = client_for(lead).post("/api/projects/digits/value-estimates/",
                                     {"quantity": "errors", "current": 0, "expected": 3})
    assert response.json()["change_percent"] is None


def test_viewer_cannot_add_value_estimates(project, viewer):
    response = client_for(viewer).post("/api/projects/digits/value-estimates/",
                                       {"quantity": "x", "current": 1, "expected": 2})
    assert response.status_code == 403


# --- Timeline and revisions -----------------------------------------------------------------


def test_timeline_is_paginated_newest_first(project, lead, monkeypatch):
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    add_primary_target(project, lead)
    data = client_for(None).get("/api/projects/digits/timeline/").json()
    assert data["count"] == project.timeline.count()
    assert len(data["results"]) == 2
    assert data["results"][0]["verb"] == "target_saved"
    assert data["results"][0]["actor"] == "lead"
    assert data["next"]


def test_revisions_list_and_detail(project, lead):
    services.project_update_charter(project=project, actor=lead, summary="Second", summary_of_change="Edited")
    client = client_for(None)
    listed = client.get("/api/projects/digits/revisions/").json()
    assert [r["number"] for r in listed["results"]] == [2, 1]
    first = client.get("/api/projects/digits/revisions/1/").json()
    assert first["summary"] == "Project created"
    assert first["snapshot"]["summary"] == "A project used by the tests"
    assert client.get("/api/projects/digits/revisions/99/").status_code == 404
