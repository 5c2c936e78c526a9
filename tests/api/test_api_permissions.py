"""The API permission matrix: every route × every role, on a public and on a private project.
One test per setup (the state the routes need) and visibility checks every route that needs it,
for every role (see tests/matrix.py).

The rules, in one place:
- reading a project's routes needs only to see the project: public → everyone, private →
  members; anyone else gets 404, as if the project did not exist;
- writing needs a signed-in user (anonymous → 401), who can see the project (else 404) and whose
  role allows the action (else 403): lead and engineer edit the charter, targets, value
  estimates and deliverables, submit and launch jobs; only the lead manages members and the
  settings and reviews;
- jobs are members-only machinery whatever the project's visibility, and each kind is read by
  the roles that read its page: an export (the job these routes use) by the lead and engineers
  only, for whom alone it exists (tests/api/test_jobs_api.py covers the other kinds).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from projects import services
from projects.literature import services as literature_services
from tests.api import add_primary_target, client_for, fast_password_hashing  # noqa: F401
from tests.conftest import ROLES
from tests.factories import UserFactory
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

MEMBERS = frozenset({"viewer", "annotator", "engineer", "lead"})
WRITERS = frozenset({"engineer", "lead"})
LEADS = frozenset({"lead"})
SLUGS = {"public": "digits", "private": "secret-forms"}


# --- Setups: put the project in the state a route needs; return the URL's placeholders --------


def _nothing(project, lead) -> dict[str, Any]:
    return {}


def _extra_member(project, lead) -> dict[str, Any]:
    extra = UserFactory(username="extra")
    membership = services.membership_set(project=project, actor=lead, user=extra, role="viewer")
    return {"member": membership.pk}


def _newcomer(project, lead) -> dict[str, Any]:
    UserFactory(username="newcomer")
    return {}


def _target(project, lead) -> dict[str, Any]:
    return {"target": add_primary_target(project, lead).pk}


def _estimate(project, lead) -> dict[str, Any]:
    estimate = services.value_estimate_save(project=project, actor=lead, quantity="minutes", current=4, expected=1)
    return {"estimate": estimate.pk}


@functools.cache  # one setup per state: the matrix builds one world per setup (SETUPS below)
def _survey_deliverable(state: str) -> Callable[[Any, Any], dict[str, Any]]:
    def setup(project, lead) -> dict[str, Any]:
        document = project.deliverables.get(kind="literature_survey")
        services.deliverable_save_body(deliverable=document, actor=lead, body="Collected from forms.")
        # The survey is submitted with its entries; one is what it needs.
        literature_services.literature_entry_create(project=project, actor=lead, title="LeNet-5", year=1998)
        steps = {"draft": [], "submitted": ["submit"], "approved": ["submit", "approve"]}[state]
        for action in steps:
            services.deliverable_transition(deliverable=document, actor=lead, action=action)
        return {}

    setup.__name__ = f"_survey_{state}"
    return setup


def _job(project, lead) -> dict[str, Any]:
    return {"job": services.project_export_start(project=project, actor=lead).pk}


def _dataset(project, lead) -> dict[str, Any]:
    from datasets import services as dataset_services

    dataset_services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    return {"ds": "forms"}


def _dataset_version(project, lead, number: int = 1) -> dict[str, Any]:
    # Recorded in the database only: the routes below never read the version's files.
    from datasets.models import Dataset, DatasetVersion, Item

    dataset = Dataset.objects.filter(project=project, slug="forms").first()
    if dataset is None:
        _dataset(project, lead)
        dataset = Dataset.objects.get(project=project, slug="forms")
    version = DatasetVersion.objects.create(dataset=dataset, number=number, state="ready", git_tag=f"forms-v{number}",
                                            item_count=30, labelled_count=30, columns=["height"])
    Item.objects.bulk_create(
        Item(version=version, key=f"r{i:06d}", label=["cat", "dog", "owl"][i % 3], content_hash=f"{i:064x}",
             row={"height": i})
        for i in range(30)
    )
    return {"ds": "forms", "key": "r000001"}


def _dataset_profiled(project, lead) -> dict[str, Any]:
    from datasets.models import DatasetVersion, Profile

    placeholders = _dataset_version(project, lead)
    Profile.objects.create(version=DatasetVersion.objects.get(dataset__project=project), report={"items": 30})
    return placeholders


def _dataset_split(project, lead) -> dict[str, Any]:
    from datasets import services as dataset_services
    from datasets.models import DatasetVersion

    placeholders = _dataset_version(project, lead)
    dataset_services.split_create(version=DatasetVersion.objects.get(dataset__project=project), actor=lead, seed=3)
    return placeholders


def _dataset_two_versions(project, lead) -> dict[str, Any]:
    _dataset_version(project, lead)
    return _dataset_version(project, lead, number=2)


DATA_DOCUMENT = {"version": 1, "collection_mode": "collected", "semantics": "Box sizes."}


def _dataset_document(project, lead) -> dict[str, Any]:
    from datasets import services as dataset_services
    from datasets.models import DatasetVersion

    placeholders = _dataset_version(project, lead)
    version = DatasetVersion.objects.get(dataset__project=project)
    fields = {k: v for k, v in DATA_DOCUMENT.items() if k != "version"}
    dataset_services.data_document_save(dataset=version.dataset, actor=lead, version=version, **fields)
    return placeholders


# --- The routes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # "read": anyone who sees the project; a frozenset: the roles allowed to write;
    # "job" / "job-write": members only, then writers for job-write.
    access: Any
    ok: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[Any, Any], dict[str, Any]] = _nothing
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{' ' + self.label if self.label else ''}"


P = "/api/projects/{slug}"
D = P + "/datasets"
ROUTES = [
    Route("GET", P + "/", "read"),
    Route("PATCH", P + "/", WRITERS, body={"summary": "Changed"}),
    Route("PATCH", P + "/", LEADS, body={"tags": ["vision"]}, label="(settings)"),
    Route("GET", P + "/members/", "read"),
    Route("POST", P + "/members/", LEADS, 201, {"username": "newcomer", "role": "viewer"}, _newcomer),
    Route("PATCH", P + "/members/{member}/", LEADS, body={"role": "annotator"}, setup=_extra_member),
    Route("DELETE", P + "/members/{member}/", LEADS, 204, setup=_extra_member),
    Route("GET", P + "/targets/", "read"),
    Route("GET", P + "/targets/{target}/", "read", setup=_target),
    Route("POST", P + "/targets/", WRITERS, 201, {"metric": "f1", "comparator": ">=", "threshold": 0.8}),
    Route("PUT", P + "/targets/{target}/", WRITERS, 200,
          {"metric": "f1", "comparator": ">=", "threshold": 0.8}, _target),
    Route("PATCH", P + "/targets/{target}/", WRITERS, body={"threshold": 0.95}, setup=_target),
    Route("DELETE", P + "/targets/{target}/", WRITERS, 204, setup=_target),
    Route("GET", P + "/value-estimates/", "read"),
    Route("GET", P + "/value-estimates/{estimate}/", "read", setup=_estimate),
    Route("POST", P + "/value-estimates/", WRITERS, 201, {"quantity": "errors", "current": 5, "expected": 1}),
    Route("PUT", P + "/value-estimates/{estimate}/", WRITERS, 200,
          {"quantity": "errors", "current": 5, "expected": 1}, _estimate),
    Route("PATCH", P + "/value-estimates/{estimate}/", WRITERS, body={"expected": 2}, setup=_estimate),
    Route("DELETE", P + "/value-estimates/{estimate}/", WRITERS, 204, setup=_estimate),
    Route("GET", P + "/deliverables/", "read"),
    Route("GET", P + "/deliverables/literature_survey/", "read"),
    Route("PATCH", P + "/deliverables/literature_survey/", WRITERS, body={"body": "Collected from forms."}),
    Route("POST", P + "/deliverables/literature_survey/submit/", WRITERS, setup=_survey_deliverable("draft")),
    Route("POST", P + "/deliverables/literature_survey/approve/", LEADS, setup=_survey_deliverable("submitted")),
    Route("POST", P + "/deliverables/literature_survey/request-changes/", LEADS,
          body={"comment": "More detail"}, setup=_survey_deliverable("submitted")),
    Route("POST", P + "/deliverables/literature_survey/reopen/", LEADS,
          body={"comment": "New data"}, setup=_survey_deliverable("approved")),
    # An approval as frozen: read by whoever reads the project (tests/projects/test_snapshots.py).
    Route("GET", P + "/deliverables/literature_survey/approvals/1/", "read", setup=_survey_deliverable("approved")),
    # No runs chosen is a valid choice: the matrix is about who may choose
    # (tests/experiments/test_deliverable_evidence.py chooses real runs).
    Route("PUT", P + "/deliverables/model_improvement/runs/", WRITERS, body={"runs": []}),
    Route("GET", P + "/timeline/", "read"),
    Route("GET", P + "/revisions/", "read"),
    Route("GET", P + "/revisions/1/", "read"),
    Route("POST", P + "/exports/", WRITERS, 202),
    Route("GET", "/api/jobs/{job}/", "job", setup=_job),
    Route("POST", "/api/jobs/{job}/cancel/", "job-write", setup=_job),
    # Datasets. Upload and derive bodies that pass the role check fail validation (no file, an
    # unknown key): a 400 shows the role was let through without writing a DVC version per case.
    Route("GET", D + "/", "read"),
    Route("POST", D + "/", WRITERS, 201, {"slug": "forms", "name": "Forms", "kind": "tabular"}),
    Route("GET", D + "/{ds}/", "read", setup=_dataset),
    Route("GET", D + "/{ds}/document/", "read", setup=_dataset_document),
    Route("PUT", D + "/{ds}/document/", WRITERS, 201, DATA_DOCUMENT, _dataset_version),
    Route("PATCH", D + "/{ds}/document/", WRITERS, body={"known_issues": "Blur."}, setup=_dataset_document),
    Route("GET", D + "/{ds}/versions/", "read", setup=_dataset_version),
    Route("GET", D + "/{ds}/versions/1/", "read", setup=_dataset_version),
    Route("POST", D + "/{ds}/versions/upload/", WRITERS, 400, setup=_dataset, label="(no file)"),
    Route("POST", D + "/{ds}/versions/import/", WRITERS, 202, {"name": "iris"}, _dataset),
    Route("POST", D + "/{ds}/versions/1/derive/", WRITERS, 400, {"remove_keys": ["r999999"]}, _dataset_version,
          label="(unknown key)"),
    Route("GET", D + "/{ds}/versions/1/profile/", "read", setup=_dataset_profiled),
    Route("POST", D + "/{ds}/versions/1/profile/", WRITERS, 202, setup=_dataset_version),
    Route("GET", D + "/{ds}/versions/1/split/", "read", setup=_dataset_split),
    Route("POST", D + "/{ds}/versions/1/split/", WRITERS, 201, {"seed": 3}, _dataset_version),
    Route("GET", D + "/{ds}/versions/1/diff/2/", "read", setup=_dataset_two_versions),
    Route("GET", D + "/{ds}/versions/1/items/", "read", setup=_dataset_version),
    Route("GET", D + "/{ds}/versions/1/items/{key}/", "read", setup=_dataset_version),
]


def expected_status(route: Route, role: str, visibility: str) -> int:
    sees_project = visibility == "public" or role in MEMBERS
    if route.access == "read":
        return route.ok if sees_project else 404
    if role == "anonymous":
        return 401
    if route.access in ("job", "job-write"):
        if role not in WRITERS:
            return 404
        allowed = WRITERS
    else:
        if not sees_project:
            return 404
        allowed = route.access
    return route.ok if role in allowed else 403


# The routes by the setup they need, in the order of ROUTES: the routes that need the same setup
# share one world, built once per visibility.
SETUPS: dict[Callable[[Any, Any], dict[str, Any]], list[Route]] = {}
for _route in ROUTES:
    SETUPS.setdefault(_route.setup, []).append(_route)


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("setup", SETUPS, ids=lambda setup: setup.__name__.lstrip("_"))
def test_api_permission_matrix(request, users, setup, visibility):
    # The world of a setup is built once for all its routes; each role's request runs in a
    # savepoint rolled back after it, so every route sees the world as built.
    project = request.getfixturevalue("project" if visibility == "public" else "private_project")
    placeholders = setup(project, users["lead"])
    check_routes({
        route.id: functools.partial(_check_route, route=route, visibility=visibility, users=users,
                                    path=route.path.format(slug=SLUGS[visibility], **placeholders))
        for route in SETUPS[setup]
    })


def _check_route(*, route, visibility, users, path):
    def send(role):
        client = signed_in(users[role], api=True)
        return client.generic(route.method, path, data=json.dumps(route.body), content_type="application/json")

    check_matrix(route=route.id, visibility=visibility, send=send,
                 expected={role: expected_status(route, role, visibility) for role in ROLES})


# --- Routes outside a project -------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_private_projects_never_appear_in_outsider_or_anonymous_lists(request, users, role):
    request.getfixturevalue("project")
    request.getfixturevalue("private_project")
    response = client_for(users[role]).get("/api/projects/")
    assert response.status_code == 200
    slugs = {item["slug"] for item in response.json()["results"]}
    assert "digits" in slugs
    assert ("secret-forms" in slugs) == (role in MEMBERS)
    searched = client_for(users[role]).get("/api/projects/", {"q": "Secret"}).json()["results"]
    assert bool(searched) == (role in MEMBERS)


@pytest.mark.parametrize("role", ROLES)
def test_anyone_signed_in_may_create_a_project(users, role):
    response = client_for(users[role]).post("/api/projects/", {"slug": f"new-{role}", "title": "New"})
    assert response.status_code == (401 if role == "anonymous" else 201)


@pytest.mark.parametrize("role", ROLES)
def test_job_list_shows_only_the_jobs_ones_role_may_read(request, users, role):
    project = request.getfixturevalue("project")
    private_project = request.getfixturevalue("private_project")
    jobs = {_job(project, users["lead"])["job"], _job(private_project, users["lead"])["job"]}
    response = client_for(users[role]).get("/api/jobs/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    listed = {job["id"] for job in response.json()["results"]}
    assert listed == (jobs if role in WRITERS else set())
