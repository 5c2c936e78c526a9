"""The test evaluation pages and API: who gets what (every route × role × visibility), the request
and decision forms, bad input, and results as the pages show them."""

from __future__ import annotations

import functools

import pytest
from django.test import Client
from django.urls import reverse

from experiments.evaluation.services import evaluation_request
from experiments.models import EvaluationState, TestEvaluation
from prakriya.jobs.models import Job
from projects.models import Target
from tests.experiments.evaluation.test_evaluation import approve_gate, evaluable_run
from tests.experiments.runs_helpers import split_version

# The runs pages' table conventions: the evaluations are read by whoever reads the runs.
from tests.experiments.test_pages_permissions import LOGIN, PRIVATE_READ, PUBLIC_READ, R, _outcome, row
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

PUBLIC_REQUEST = row(LOGIN, 403, 403, 403, R, R)
PRIVATE_REQUEST = row(404, 404, 403, 403, R, R)
PUBLIC_DECIDE = row(LOGIN, 403, 403, 403, 403, R)
PRIVATE_DECIDE = row(404, 404, 403, 403, 403, R)

API_PUBLIC_READ = PUBLIC_READ
API_PRIVATE_READ = PRIVATE_READ
# Writes authenticate first (anonymous: 401, as every API write), then resolve the project.
API_PUBLIC_REQUEST = row(401, 403, 403, 403, 201, 201)
API_PRIVATE_REQUEST = row(401, 404, 403, 403, 201, 201)
API_PUBLIC_DECIDE = row(401, 403, 403, 403, 403, 200)
API_PRIVATE_DECIDE = row(401, 404, 403, 403, 403, 200)

# (route, method, public, private): HTML routes by name, API routes by "api:" + action.
ROUTES = [
    ("evaluations", "GET", PUBLIC_READ, PRIVATE_READ),
    ("evaluations", "POST", PUBLIC_REQUEST, PRIVATE_REQUEST),
    ("evaluation", "GET", PUBLIC_READ, PRIVATE_READ),
    ("evaluation_approve", "POST", PUBLIC_DECIDE, PRIVATE_DECIDE),
    ("evaluation_reject", "POST", PUBLIC_DECIDE, PRIVATE_DECIDE),
    ("api:list", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api:create", "POST", API_PUBLIC_REQUEST, API_PRIVATE_REQUEST),
    ("api:detail", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api:approve", "POST", API_PUBLIC_DECIDE, API_PRIVATE_DECIDE),
    ("api:reject", "POST", API_PUBLIC_DECIDE, API_PRIVATE_DECIDE),
]


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_evaluation_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project, engineer):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = project if visibility == "public" else private_project
    split_version(target)
    approve_gate(target)
    waiting = evaluation_request(run=evaluable_run(target, name="waiting run"), actor=engineer, reason="matrix")
    fresh = evaluable_run(target, name="fresh run")
    check_routes({
        f"{method} {route}": functools.partial(
            _check_route, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, slug=target.slug, pk=waiting.pk, fresh=fresh,
        )
        for route, method, public, private in ROUTES
    })


def _check_route(*, route, method, expected, visibility, users, slug, pk, fresh):
    api_base = f"/api/projects/{slug}/evaluations/"
    if route == "evaluations":
        url, data = reverse("experiments:evaluations", args=[slug]), {"run": fresh.mlflow_run_id, "reason": "go"}
    elif route.startswith("api:"):
        name = route.removeprefix("api:")
        url = {"list": api_base, "create": api_base, "detail": f"{api_base}{pk}/"}.get(name, f"{api_base}{pk}/{name}/")
        data = {"run_id": fresh.mlflow_run_id, "reason": "go"} if name == "create" else {"comment": "ok"}
    else:
        url, data = reverse(f"experiments:{route}", args=[slug, pk]), {"comment": "ok"}

    def send(role):
        client = signed_in(users[role], api=route.startswith("api:"))
        if method == "GET":
            return client.get(url)
        return client.post(url, data, format="json") if route.startswith("api:") else client.post(url, data)

    def also(role, response, expected):
        if method == "GET" and expected == 200 and b"waiting run" not in response.content:
            return "the evaluation is not listed"
        if method == "POST" and expected not in (R, 200, 201) and TestEvaluation.objects.filter(
                run=fresh).exists() | TestEvaluation.objects.exclude(state=EvaluationState.REQUESTED).exists():
            return "a refused request changed something"
        return None

    check_matrix(route=f"{method} {route}", visibility=visibility, send=send, status_of=_outcome, also=also,
                 expected=expected)


def test_an_engineer_requests_from_the_run_page_form_and_lands_on_the_evaluation(client, project, engineer):
    split_version(project)
    approve_gate(project)
    run = evaluable_run(project)
    client.force_login(engineer)
    page = client.get(reverse("experiments:run", args=[project.slug, run.mlflow_run_id]))
    assert b"Request a test evaluation" in page.content

    response = client.post(reverse("experiments:evaluations", args=[project.slug]),
                           {"run": run.mlflow_run_id, "reason": "beats the majority baseline on validation"})

    evaluation = TestEvaluation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "experiments:evaluation", args=[project.slug, evaluation.pk])
    assert evaluation.requested_by == engineer and evaluation.state == EvaluationState.REQUESTED
    listing = client.get(reverse("experiments:evaluations", args=[project.slug]))
    assert b"0</strong> of 3 used" in listing.content and b"Requested" in listing.content


def test_a_refused_request_is_a_400_that_says_why_and_keeps_the_reason(client, project, engineer):
    split_version(project)
    run = evaluable_run(project)
    client.force_login(engineer)
    response = client.post(reverse("experiments:evaluations", args=[project.slug]),
                           {"run": run.mlflow_run_id, "reason": "my careful reasoning"})
    assert response.status_code == 400
    assert b"data document" in response.content and b"my careful reasoning" in response.content
    empty = client.post(reverse("experiments:evaluations", args=[project.slug]), {"run": run.mlflow_run_id})
    assert empty.status_code == 400
    unknown = client.post(reverse("experiments:evaluations", args=[project.slug]), {"run": "nope", "reason": "x"})
    assert unknown.status_code == 404
    assert not TestEvaluation.objects.exists()


def test_the_api_refuses_bad_bodies_with_400(project, engineer, lead):
    split_version(project)
    approve_gate(project)
    base = f"/api/projects/{project.slug}/evaluations/"
    client = signed_in(engineer, api=True)
    assert client.post(base, {"run_id": "missing", "reason": "x"}, format="json").status_code == 400
    assert client.post(base, {"reason": "x"}, format="json").status_code == 400
    assert client.post(base, {"run_id": "a", "reason": "x", "extra": 1}, format="json").status_code == 400
    evaluation = evaluation_request(run=evaluable_run(project), actor=engineer, reason="x")
    lead_client = signed_in(lead, api=True)
    assert lead_client.post(f"{base}{evaluation.pk}/reject/", {"comment": ["x"]}, format="json").status_code == 400
    assert lead_client.post(f"{base}{evaluation.pk}/reject/", {}, format="json").status_code == 200
    again = lead_client.post(f"{base}{evaluation.pk}/approve/", {}, format="json")
    assert again.status_code == 400 and "already rejected" in again.content.decode()
    assert lead_client.get(f"{base}999999/").status_code == 404


def test_the_lead_approves_on_the_page_and_a_spent_budget_is_a_400(client, project, engineer, lead, settings):
    settings.PRAKRIYA_EVALUATION_BUDGET = 1
    split_version(project)
    approve_gate(project)
    first = evaluation_request(run=evaluable_run(project, name="one"), actor=engineer, reason="one")
    second = evaluation_request(run=evaluable_run(project, name="two"), actor=engineer, reason="two")
    client.force_login(lead)
    page = client.get(reverse("experiments:evaluation", args=[project.slug, first.pk]))
    assert b"Approve and run" in page.content

    approved = client.post(reverse("experiments:evaluation_approve", args=[project.slug, first.pk]), {"comment": "go"})
    refused = client.post(reverse("experiments:evaluation_approve", args=[project.slug, second.pk]), {})

    assert approved.status_code == 302
    first.refresh_from_db()
    assert first.state == EvaluationState.APPROVED and first.decision_comment == "go" and first.job is not None
    assert refused.status_code == 400 and b"used all 1" in refused.content
    second.refresh_from_db()
    assert second.state == EvaluationState.REQUESTED
    assert Job.objects.filter(kind="experiments_test_evaluation").count() == 1


def test_results_targets_and_the_confusion_heatmap_show_on_the_pages(client, project, engineer, viewer):
    split_version(project)
    approve_gate(project)
    evaluation = evaluation_request(run=evaluable_run(project, name="best run"), actor=engineer, reason="x")
    target = Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.9,
                                   is_primary=True)
    TestEvaluation.objects.filter(pk=evaluation.pk).update(state=EvaluationState.DONE, results={
        "items": 4, "accuracy": 0.75, "macro_f1": 0.7, "macro_precision": 0.8, "macro_recall": 0.7,
        "class_names": ["cat", "dog"], "per_class": [
            {"class": "cat", "precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2},
            {"class": "dog", "precision": 0.667, "recall": 1.0, "f1": 0.8, "support": 2}],
        "unseen_items": 0, "confusion": [[1, 1], [0, 2]],
        "targets": [{"target": str(target), "metric": "accuracy", "primary": True, "value": 0.75, "met": False}],
    })
    client.force_login(viewer)
    detail = client.get(reverse("experiments:evaluation", args=[project.slug, evaluation.pk])).content.decode()
    assert "0.7500" in detail and "Missed" in detail and 'data-plotly-for="confusion-chart"' in detail
    assert "Approve and run" not in detail
    home = Client().get(reverse("projects:detail", args=[project.slug])).content.decode()
    assert 'data-testid="latest-test-evaluation"' in home and "Missed" in home and "accuracy ≥ 0.9" in home
    api = signed_in(None, api=True).get(f"/api/projects/{project.slug}/evaluations/{evaluation.pk}/").json()
    assert api["state"] == "done" and api["results"]["accuracy"] == 0.75


def test_a_private_projects_latest_evaluation_is_not_on_its_page_for_an_annotator(client, private_project,
                                                                                 engineer, annotator):
    split_version(private_project)
    approve_gate(private_project)
    evaluation = evaluation_request(run=evaluable_run(private_project), actor=engineer, reason="x")
    TestEvaluation.objects.filter(pk=evaluation.pk).update(state=EvaluationState.DONE, results={
        "items": 1, "accuracy": 1.0, "targets": []})
    client.force_login(annotator)
    home = client.get(reverse("projects:detail", args=[private_project.slug]))
    assert home.status_code == 200 and b"latest-test-evaluation" not in home.content
