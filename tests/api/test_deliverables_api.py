"""Deliverables and their review through the API: writing, submitting, approving, requesting
changes, reopening, and the project stage that follows from approvals."""

from __future__ import annotations

import pytest

from projects import services
from projects.literature import services as literature_services
from projects.models import DELIVERABLE_ORDER
from tests.api import add_primary_target, client_for, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.django_db

BASE = "/api/projects/digits/deliverables"


def _state(client, kind: str) -> str:
    return client.get(f"{BASE}/{kind}/").json()["state"]


def _stage(client) -> str:
    return client.get("/api/projects/digits/").json()["stage"]


def _add_survey_entry(project, actor) -> None:
    # The literature survey is submitted with its entries: one is what it needs to be reviewed.
    literature_services.literature_entry_create(project=project, actor=actor, title="LeNet-5", year=1998)


def test_deliverables_are_listed_in_process_order_unpaginated(project):
    response = client_for(None).get(f"{BASE}/")
    assert response.status_code == 200
    data = response.json()
    assert [d["kind"] for d in data] == DELIVERABLE_ORDER
    assert data[0]["label"] == "Project page"
    # The factory writes a charter at creation: that is the project page's first draft.
    assert data[0]["state"] == "draft"
    assert [t["to_state"] for t in data[0]["transitions"]] == ["draft"]
    assert {d["state"] for d in data[1:]} == {"not_started"}


def test_project_page_review_workflow_advances_the_stage(project, lead, engineer):
    as_engineer, as_lead = client_for(engineer), client_for(lead)
    # The charter is filled in by the factory; a primary target is what the page still lacks.
    assert as_engineer.post(f"{BASE}/project_page/submit/").status_code == 400
    assert as_engineer.post("/api/projects/digits/targets/",
                            {"metric": "accuracy", "comparator": ">=", "threshold": 0.98}).status_code == 201
    assert as_engineer.patch("/api/projects/digits/", {"value_notes": "Hours saved"}).status_code == 200
    assert _state(as_engineer, "project_page") == "draft"

    submitted = as_engineer.post(f"{BASE}/project_page/submit/", {"comment": "Ready for review"})
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["state"] == "submitted"

    assert as_engineer.post(f"{BASE}/project_page/approve/").status_code == 403
    no_comment = as_lead.post(f"{BASE}/project_page/request-changes/")
    assert no_comment.status_code == 400
    assert "comment is required" in str(no_comment.json()["errors"])

    changes = as_lead.post(f"{BASE}/project_page/request-changes/", {"comment": "Name the metric's slice."})
    assert changes.status_code == 200
    assert changes.json()["state"] == "changes_requested"
    assert changes.json()["transitions"][0]["comment"] == "Name the metric's slice."
    assert changes.json()["transitions"][0]["actor"] == "lead"

    assert as_engineer.post(f"{BASE}/project_page/submit/").json()["state"] == "submitted"
    assert _stage(as_lead) == "project_page"
    approved = as_lead.post(f"{BASE}/project_page/approve/", {"comment": "Clear and measurable."})
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    assert _stage(as_lead) == "data_document"

    history = [(t["from_state"], t["to_state"]) for t in approved.json()["transitions"]]
    assert history == [
        ("submitted", "approved"),
        ("changes_requested", "submitted"),
        ("submitted", "changes_requested"),
        ("draft", "submitted"),
        ("not_started", "draft"),
    ]
    verbs = [e["verb"] for e in as_lead.get("/api/projects/digits/timeline/").json()["results"]]
    assert verbs[:2] == ["stage", "deliverable_approve"]


def test_reopening_needs_a_comment_and_moves_the_stage_back(project, lead):
    add_primary_target(project, lead)
    page = project.deliverables.get(kind="project_page")
    services.project_update_charter(project=project, actor=lead, value_notes="Hours saved")
    services.deliverable_transition(deliverable=page, actor=lead, action="submit")
    services.deliverable_transition(deliverable=page, actor=lead, action="approve")
    client = client_for(lead)
    assert _stage(client) == "data_document"
    assert client.post(f"{BASE}/project_page/reopen/", {"comment": "  "}).status_code == 400
    reopened = client.post(f"{BASE}/project_page/reopen/", {"comment": "The targets changed."})
    assert reopened.status_code == 200
    assert reopened.json()["state"] == "draft"
    assert _stage(client) == "project_page"


def test_engineer_writes_a_deliverable_body(project, engineer):
    response = client_for(engineer).patch(f"{BASE}/literature_survey/", {"body": "# Data\nCollected from forms."})
    assert response.status_code == 200
    assert response.json()["body"] == "# Data\nCollected from forms."
    assert response.json()["state"] == "draft"


def test_submitted_deliverable_cannot_be_edited(project, engineer):
    client = client_for(engineer)
    client.patch(f"{BASE}/literature_survey/", {"body": "Collected from forms."})
    _add_survey_entry(project, engineer)
    assert client.post(f"{BASE}/literature_survey/submit/").status_code == 200
    response = client.patch(f"{BASE}/literature_survey/", {"body": "Sneaky edit"})
    assert response.status_code == 400
    assert "submitted" in str(response.json()["errors"])


def test_empty_deliverable_cannot_be_submitted(project, engineer):
    # The deployment deliverable has no structured submit check: its body is what counts (model
    # improvement and error analysis need their runs and a body: tests/experiments/test_deliverable_evidence.py).
    client = client_for(engineer)
    client.patch(f"{BASE}/deployment/", {"body": "   "})
    response = client.post(f"{BASE}/deployment/submit/")
    assert response.status_code == 400
    assert "Write the deliverable" in str(response.json()["errors"])


@pytest.mark.parametrize("action", ["approve", "request-changes", "reopen"])
def test_review_actions_on_a_draft_are_invalid_transitions(project, lead, action):
    client = client_for(lead)
    client.patch(f"{BASE}/literature_survey/", {"body": "Collected from forms."})
    response = client.post(f"{BASE}/literature_survey/{action}/", {"comment": "Because"})
    assert response.status_code == 400
    assert "Cannot" in str(response.json()["errors"])


def test_not_started_deliverable_cannot_be_submitted(project, lead):
    response = client_for(lead).post(f"{BASE}/baselines/submit/")
    assert response.status_code == 400
    assert "not started" in str(response.json()["errors"])


def test_approving_twice_is_a_400(project, lead):
    client = client_for(lead)
    client.patch(f"{BASE}/literature_survey/", {"body": "Collected from forms."})
    _add_survey_entry(project, lead)
    client.post(f"{BASE}/literature_survey/submit/")
    assert client.post(f"{BASE}/literature_survey/approve/").status_code == 200
    assert client.post(f"{BASE}/literature_survey/approve/").status_code == 400


@pytest.mark.parametrize("role", ["engineer", "annotator", "viewer"])
def test_only_a_lead_approves(project, lead, users, role):
    client_for(lead).patch(f"{BASE}/literature_survey/", {"body": "Collected from forms."})
    _add_survey_entry(project, lead)
    assert client_for(lead).post(f"{BASE}/literature_survey/submit/").status_code == 200
    response = client_for(users[role]).post(f"{BASE}/literature_survey/approve/")
    assert response.status_code == 403
    assert _state(client_for(lead), "literature_survey") == "submitted"


def test_annotator_cannot_write_or_submit(project, annotator):
    client = client_for(annotator)
    assert client.patch(f"{BASE}/literature_survey/", {"body": "x"}).status_code == 403
    assert client.post(f"{BASE}/literature_survey/submit/").status_code == 403


def test_unknown_deliverable_kind_is_404(project, lead):
    assert client_for(lead).get(f"{BASE}/nonsense/").status_code == 404
    assert client_for(lead).post(f"{BASE}/nonsense/submit/").status_code == 404


def test_unknown_review_action_is_404(project, lead):
    assert client_for(lead).post(f"{BASE}/literature_survey/publish/").status_code == 404


def test_review_actions_reject_unknown_fields(project, lead):
    response = client_for(lead).post(f"{BASE}/literature_survey/submit/", {"coment": "typo"})
    assert response.status_code == 400
    assert "coment" in response.json()["errors"]


def test_outsider_gets_404_on_private_project_deliverables(private_project, outsider):
    response = client_for(outsider).get("/api/projects/secret-forms/deliverables/")
    assert response.status_code == 404
