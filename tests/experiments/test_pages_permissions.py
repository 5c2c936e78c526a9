"""Who gets what from the runs pages: every route × role × visibility.

Runs of a public project are public; a private project's runs are for its lead, engineers and
viewers (an annotator is a member who sees no experiments: 403), and the project itself is
invisible (404) to anyone else, anonymous visitors included. Launching training is for leads and
engineers; an anonymous visitor is sent to log in first where the project is visible.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prakriya.jobs.models import Job
from tests.conftest import ROLES
from tests.experiments.runs_helpers import logged_run, split_version
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

LOGIN = "login"
R = "302"


def row(*cells) -> dict[str, Any]:
    return dict(zip(ROLES, cells, strict=True))


PUBLIC_READ = row(200, 200, 200, 200, 200, 200)
PRIVATE_READ = row(404, 404, 200, 403, 200, 200)
PUBLIC_LAUNCH = row(LOGIN, 403, 403, 403, R, R)
PRIVATE_LAUNCH = row(404, 404, 403, 403, R, R)

# (route, method, expected on the public project, expected on the private one)
ROUTES = [
    ("runs", "GET", PUBLIC_READ, PRIVATE_READ),
    ("runs", "POST", PUBLIC_LAUNCH, PRIVATE_LAUNCH),
    ("run", "GET", PUBLIC_READ, PRIVATE_READ),
    ("run_curves", "GET", PUBLIC_READ, PRIVATE_READ),
    ("compare", "GET", PUBLIC_READ, PRIVATE_READ),
]


def _outcome(response) -> Any:
    if response.status_code == 302:
        return LOGIN if reverse("login") in response["Location"] else R
    return response.status_code


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_runs_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world per visibility; each route's and role's request runs in a savepoint rolled back
    # after it (tests/matrix.py), so every route sees the world as built.
    target = project if visibility == "public" else private_project
    run = logged_run(target, name="matrix run", train=[1.0, 0.5], val=[1.0, 0.6])
    version = split_version(target)
    check_routes({
        f"{route}-{method}": functools.partial(
            _check_route, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, slug=target.slug, run=run, version=version,
        )
        for route, method, public, private in ROUTES
    })


def _check_route(*, route, method, expected, visibility, users, slug, run, version):
    if route in ("run", "run_curves"):
        url, data = reverse(f"experiments:{route}", args=[slug, run.mlflow_run_id]), None
    elif route == "compare":
        url, data = reverse("experiments:compare", args=[slug]), {"run": run.mlflow_run_id}
    elif method == "POST":
        url, data = reverse("experiments:runs", args=[slug]), {"version": version.pk, "trainer": "majority"}
    else:
        url, data = reverse("experiments:runs", args=[slug]), None

    def send(role):
        client = signed_in(users[role])
        return client.post(url, data) if method == "POST" else client.get(url, data)

    def also(role, response, want):
        if want == 200 and route != "run_curves" and not (
            b"matrix run" in response.content or route == "runs" and b"Runs" in response.content
        ):
            return "the page names neither the run nor the runs"
        if method == "POST":
            # Each allowed role queued one job; a refused one none (its savepoint holds only its own).
            queued = Job.objects.filter(kind="experiments_train").count()
            if queued != (1 if want == R else 0):
                return f"{queued} training jobs queued"
        return None

    check_matrix(route=f"{route} {method}", visibility=visibility, expected=expected, send=send,
                 status_of=_outcome, also=also)


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_the_project_navigation_links_runs_for_those_who_may_see_them(visibility, users, project, private_project):
    target = project if visibility == "public" else private_project
    runs_url = reverse("experiments:runs", args=[target.slug])
    for role in ("viewer", "annotator", "engineer", "lead"):
        client = Client()
        client.force_login(users[role])
        page = client.get(reverse("projects:detail", args=[target.slug])).content.decode()
        shown = runs_url in page
        assert shown == (visibility == "public" or role != "annotator"), (visibility, role)
