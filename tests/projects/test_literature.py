"""The literature survey (deliverable 4): entries written by leads and engineers through the
services, the pages and the API; read by whoever sees the project; required to submit."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from projects import services as project_services
from projects.literature import services
from projects.models import DeliverableKind, DeliverableState, LiteratureEntry, TimelineEvent
from tests.api import client_for, fast_password_hashing  # noqa: F401
from tests.conftest import ROLES
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

PAPER = {
    "title": "Gradient-based learning applied to document recognition",
    "authors": "LeCun, Bottou, Bengio, Haffner",
    "year": 1998,
    "link": "https://example.org/lecun98.pdf",
    "approach": "LeNet-5 convolutional network",
    "reported_result": "0.95% test error",
    "benchmark": "MNIST",
    "compute_needed": "Trains on a CPU in hours",
    "feasibility": 3,
    "notes": "Close to our forms; **digits only**.",
}


def _survey(project):
    return project.deliverables.get(kind=DeliverableKind.LITERATURE_SURVEY)


def _add(project, actor, **fields):
    return services.literature_entry_create(project=project, actor=actor, **{**PAPER, **fields})


# --- Services -------------------------------------------------------------------------------


def test_engineer_adds_an_entry_which_starts_the_survey_and_is_on_the_timeline(project, engineer):
    entry = _add(project, engineer)
    assert entry.created_by == engineer and entry.feasibility == 3
    assert _survey(project).state == DeliverableState.DRAFT
    assert TimelineEvent.objects.filter(project=project, verb="literature_added", text__contains="Gradient").exists()


def test_entries_are_numbered_in_the_order_they_were_added(project, engineer):
    first, second = _add(project, engineer, title="A"), _add(project, engineer, title="B")
    assert second.position > first.position


@pytest.mark.parametrize("role", ["viewer", "annotator", "outsider"])
def test_roles_that_do_not_edit_deliverables_cannot_add_entries(project, users, role):
    with pytest.raises(PermissionDenied):
        _add(project, users[role])
    assert not LiteratureEntry.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"year": 1850}, "year"),
        ({"year": timezone.now().year + 2}, "year"),
        ({"link": "ftp://example.org/paper.pdf"}, "link"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"title": ""}, "title"),
        ({"feasibility": 7}, "feasibility"),
        ({"approach": "x" * 5001}, "approach"),
    ],
)
def test_bad_entries_are_refused_with_the_field_named(project, engineer, fields, field):
    with pytest.raises(ValidationError) as caught:
        _add(project, engineer, **fields)
    assert field in caught.value.message_dict
    assert not LiteratureEntry.objects.exists()


def test_next_year_is_a_valid_year(project, engineer):
    assert _add(project, engineer, year=timezone.now().year + 1).pk


def test_update_and_delete_go_through_the_service(project, lead, engineer):
    entry = _add(project, engineer)
    services.literature_entry_update(entry=entry, actor=lead, feasibility=1, year=None)
    entry.refresh_from_db()
    assert entry.feasibility == 1 and entry.year is None
    services.literature_entry_delete(entry=entry, actor=engineer)
    assert not LiteratureEntry.objects.exists()
    assert TimelineEvent.objects.filter(project=project, verb="literature_removed").exists()


def test_entries_are_frozen_while_the_survey_is_under_review(project, lead, engineer):
    entry = _add(project, engineer)
    project_services.deliverable_transition(deliverable=_survey(project), actor=engineer, action="submit")
    with pytest.raises(ValidationError, match="submitted"):
        services.literature_entry_update(entry=entry, actor=engineer, title="Changed")
    with pytest.raises(ValidationError, match="submitted"):
        services.literature_entry_delete(entry=entry, actor=lead)
    entry.refresh_from_db()
    assert entry.title == PAPER["title"]
    project_services.deliverable_transition(
        deliverable=_survey(project), actor=lead, action="request_changes", comment="Add transformers."
    )
    _add(project, engineer, title="Attention is all you need", year=2017)
    assert _survey(project).state == DeliverableState.DRAFT


# --- Submit check ---------------------------------------------------------------------------


def test_the_survey_cannot_be_submitted_without_an_entry(project, engineer):
    project_services.deliverable_save_body(deliverable=_survey(project), actor=engineer, body="Prior work.")
    with pytest.raises(ValidationError, match="at least one entry"):
        project_services.deliverable_transition(deliverable=_survey(project), actor=engineer, action="submit")
    assert _survey(project).state == DeliverableState.DRAFT


def test_the_survey_with_an_entry_is_submitted_and_approved(project, lead, engineer):
    _add(project, engineer)
    project_services.deliverable_transition(deliverable=_survey(project), actor=engineer, action="submit")
    project_services.deliverable_transition(deliverable=_survey(project), actor=lead, action="approve")
    assert _survey(project).state == DeliverableState.APPROVED


# --- Pages ----------------------------------------------------------------------------------


def _form(**fields) -> dict[str, Any]:
    data = {**PAPER, **fields}
    return {k: ("" if v is None else v) for k, v in data.items()}


def test_page_crud_as_an_engineer(client, project, engineer):
    client.force_login(engineer)
    response = client.post(reverse("projects:literature_add", args=[project.slug]), _form())
    assert response.status_code == 302
    entry = LiteratureEntry.objects.get()

    page = client.get(reverse("projects:literature", args=[project.slug])).content.decode()
    assert "Gradient-based learning" in page and "<strong>digits only</strong>" in page and "MNIST" in page

    url = reverse("projects:literature_edit", args=[project.slug, entry.pk])
    assert PAPER["title"] in client.get(url).content.decode()
    assert client.post(url, _form(feasibility=1, title="LeNet")).status_code == 302
    entry.refresh_from_db()
    assert (entry.title, entry.feasibility) == ("LeNet", 1)

    response = client.post(reverse("projects:literature_delete", args=[project.slug, entry.pk]))
    assert response.status_code == 302
    assert not LiteratureEntry.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"year": "1700"}, "between 1900"),
        ({"year": "nineteen"}, "Enter a whole number"),
        ({"link": "ftp://example.org/x"}, "http or https"),
        ({"link": "not a url at all"}, "Enter a valid URL"),
        ({"title": ""}, "This field is required"),
        ({"feasibility": "9"}, "Select a valid choice"),
    ],
)
def test_bad_input_in_the_form_is_a_form_error_not_a_save(client, project, engineer, fields, message):
    client.force_login(engineer)
    response = client.post(reverse("projects:literature_add", args=[project.slug]), _form(**fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LiteratureEntry.objects.exists()


def test_the_table_sorts_by_year_and_feasibility(client, project, engineer):
    _add(project, engineer, title="Middle", year=2005, feasibility=2)
    _add(project, engineer, title="Oldest", year=1990, feasibility=3)
    _add(project, engineer, title="Undated", year=None, feasibility=1)
    url = reverse("projects:literature", args=[project.slug])

    def order(sort: str) -> list[str]:
        page = client.get(url, {"sort": sort}).content.decode()
        return sorted(["Middle", "Oldest", "Undated"], key=page.index)

    assert order("year") == ["Oldest", "Middle", "Undated"]
    assert order("-year") == ["Middle", "Oldest", "Undated"]
    assert order("feasibility") == ["Undated", "Middle", "Oldest"]
    assert order("-feasibility") == ["Oldest", "Middle", "Undated"]
    assert order("nonsense") == ["Middle", "Oldest", "Undated"]


def test_the_deliverable_page_shows_the_survey_table(client, project, engineer, viewer):
    _add(project, engineer)
    client.force_login(viewer)
    page = client.get(reverse("projects:deliverable", args=[project.slug, "literature_survey"])).content.decode()
    assert 'data-testid="literature-panel"' in page and "Gradient-based learning" in page
    assert "Add an entry" not in page  # a viewer reads the survey, and only reads it


def test_submitting_an_empty_survey_from_the_page_says_what_is_missing(client, project, engineer):
    project_services.deliverable_save_body(deliverable=_survey(project), actor=engineer, body="Prior work.")
    client.force_login(engineer)
    response = client.post(reverse("projects:deliverable_transition", args=[project.slug, "literature_survey"]),
                           {"action": "submit"}, follow=True)
    assert "Add at least one entry" in response.content.decode()
    assert _survey(project).state == DeliverableState.DRAFT


def test_a_frozen_survey_shows_no_edit_links_and_refuses_a_delete(client, project, engineer):
    entry = _add(project, engineer)
    project_services.deliverable_transition(deliverable=_survey(project), actor=engineer, action="submit")
    client.force_login(engineer)
    page = client.get(reverse("projects:literature", args=[project.slug])).content.decode()
    assert "under review or approved" in page and "literature_edit" not in page and "/edit/" not in page
    response = client.post(reverse("projects:literature_delete", args=[project.slug, entry.pk]), follow=True)
    assert "can be edited again" in response.content.decode()
    assert LiteratureEntry.objects.filter(pk=entry.pk).exists()


def test_an_entry_of_another_project_is_a_404(client, project, private_project, lead, engineer):
    other = _add(private_project, lead)
    client.force_login(engineer)
    url = reverse("projects:literature_edit", args=[project.slug, other.pk])
    assert client.get(url).status_code == 404
    assert client.post(reverse("projects:literature_delete", args=[project.slug, other.pk])).status_code == 404
    assert LiteratureEntry.objects.filter(pk=other.pk).exists()


# --- API ------------------------------------------------------------------------------------


def _api(project) -> str:
    return f"/api/projects/{project.slug}/literature/"


def test_api_crud_as_an_engineer(project, engineer):
    client = client_for(engineer)
    response = client.post(_api(project), PAPER, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["feasibility"] == 3 and body["feasibility_label"] == "High" and body["created_by"] == "engineer"
    url = f"{_api(project)}{body['id']}/"

    listed = client.get(_api(project)).json()
    assert [e["title"] for e in listed["results"]] == [PAPER["title"]]
    assert client.patch(url, {"year": 1999}, format="json").json()["year"] == 1999
    assert client.put(url, {"title": "LeNet"}, format="json").json()["title"] == "LeNet"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "X", "year": 1850}, "year"),
        ({"title": "X", "link": "ftp://example.org/x"}, "link"),
        ({"title": "X", "link": "javascript:alert(1)"}, "link"),
        ({"title": "X", "feasibility": 9}, "feasibility"),
        ({"title": 5}, "title"),
        ({"title": "X", "doi": "10.1/x"}, "doi"),
        ({}, "title"),
    ],
)
def test_api_refuses_bad_entries_with_a_400_naming_the_field(project, engineer, body, field):
    response = client_for(engineer).post(_api(project), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not LiteratureEntry.objects.exists()


def test_api_submit_needs_an_entry(project, engineer):
    client = client_for(engineer)
    base = f"/api/projects/{project.slug}/deliverables/literature_survey/"
    client.patch(base, {"body": "Prior work."}, format="json")
    response = client.post(base + "submit/")
    assert response.status_code == 400 and "at least one entry" in str(response.json()["errors"])
    client.post(_api(project), {"title": "LeNet"}, format="json")
    assert client.post(base + "submit/").json()["state"] == "submitted"


def test_the_literature_api_is_in_the_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/projects/{project_slug}/literature/" in schema["paths"]
    assert "/api/projects/{project_slug}/literature/{id}/" in schema["paths"]


# --- Permission matrices --------------------------------------------------------------------

LOGIN, R = "login", "302"


def row(*cells) -> dict[str, Any]:
    return dict(zip(ROLES, cells, strict=True))


PUBLIC_READ, PRIVATE_READ = row(200, 200, 200, 200, 200, 200), row(404, 404, 200, 200, 200, 200)
PUBLIC_PAGE, PRIVATE_PAGE = row(LOGIN, 403, 403, 403, 200, 200), row(404, 404, 403, 403, 200, 200)
PUBLIC_ACTION, PRIVATE_ACTION = row(LOGIN, 403, 403, 403, R, R), row(404, 404, 403, 403, R, R)

HTML_ROUTES = [
    ("literature", "GET", PUBLIC_READ, PRIVATE_READ),
    ("literature_add", "GET", PUBLIC_PAGE, PRIVATE_PAGE),
    ("literature_add", "POST", PUBLIC_ACTION, PRIVATE_ACTION),
    ("literature_edit", "GET", PUBLIC_PAGE, PRIVATE_PAGE),
    ("literature_edit", "POST", PUBLIC_ACTION, PRIVATE_ACTION),
    ("literature_delete", "POST", PUBLIC_ACTION, PRIVATE_ACTION),
]


def _html_outcome(response) -> Any:
    if response.status_code == 302:
        return LOGIN if reverse("login") in response["Location"] else R
    return response.status_code


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_literature_pages_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    entry = _add(target, users["lead"], title="Matrix paper")
    check_routes({
        f"{route} {method}": functools.partial(
            _check_page, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, target=target, entry=entry,
        )
        for route, method, public, private in HTML_ROUTES
    })


def _check_page(*, route, method, expected, visibility, users, target, entry):
    args = [target.slug] if route in ("literature", "literature_add") else [target.slug, entry.pk]
    url = reverse(f"projects:{route}", args=args)

    def send(role):
        client = signed_in(users[role])
        return client.post(url, _form(title="Posted")) if method == "POST" else client.get(url)

    def also(role, response, want):
        if want == 200 and route == "literature" and b"Matrix paper" not in response.content:
            return "the table does not list the entry"
        if want in (403, 404, LOGIN) and method == "POST":
            if list(LiteratureEntry.objects.filter(project=target).values_list("title", flat=True)) != ["Matrix paper"]:
                return "a refused request changed the survey"
        return None

    check_matrix(route=f"{route} {method}", visibility=visibility, send=send, status_of=_html_outcome,
                 expected=expected, also=also)


API_READ = "read"
API_ROUTES = [
    ("GET", "", API_READ, 200, None),
    ("GET", "{entry}/", API_READ, 200, None),
    ("POST", "", "write", 201, {"title": "Posted", "year": 2020}),
    ("PUT", "{entry}/", "write", 200, {"title": "Replaced"}),
    ("PATCH", "{entry}/", "write", 200, {"feasibility": 1}),
    ("DELETE", "{entry}/", "write", 204, None),
]


def _api_expected(access: str, ok: int, role: str, visibility: str) -> int:
    sees = visibility == "public" or role in ("viewer", "annotator", "engineer", "lead")
    if access == API_READ:
        return ok if sees else 404
    if role == "anonymous":
        return 401
    if not sees:
        return 404
    return ok if role in ("engineer", "lead") else 403


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_literature_api_answers_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    entry = _add(target, users["lead"], title="Matrix paper")
    check_routes({
        f"{method} {suffix or 'list'}": functools.partial(
            _check_api, method=method, suffix=suffix, access=access, ok=ok, body=body, visibility=visibility,
            users=users, target=target, entry=entry,
        )
        for method, suffix, access, ok, body in API_ROUTES
    })


def _check_api(*, method, suffix, access, ok, body, visibility, users, target, entry):
    path = _api(target) + suffix.format(entry=entry.pk)

    def send(role):
        client = signed_in(users[role], api=True)
        return client.generic(method, path, data=json.dumps(body or {}), content_type="application/json")

    def also(role, response, want):
        if want in (401, 403, 404) and method != "GET":
            titles = list(LiteratureEntry.objects.filter(project=target).values_list("title", "feasibility"))
            if titles != [("Matrix paper", 3)]:
                return "a refused request changed the survey"
        return None

    check_matrix(route=f"{method} /api/projects/<slug>/literature/{suffix}", visibility=visibility, send=send,
                 expected={role: _api_expected(access, ok, role, visibility) for role in ROLES}, also=also)
