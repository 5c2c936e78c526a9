"""Who gets what from the runs pages: every route × role × visibility.

Runs of a public project are public; a private project's runs are for its lead, engineers and
viewers (an annotator is a member who sees no experiments: 403), and the project itself is
invisible (404) to anyone else, anonymous visitors included. Launching training is for leads and
engineers; an anonymous visitor is sent to log in first where the project is visible.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prakriya.jobs.models import Job
from tests.conftest import ROLES
from tests.experiments.runs_helpers import logged_run, split_version
from tests.matrix import recorded

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
@pytest.mark.parametrize(("route", "method", "public", "private"), ROUTES, ids=[f"{r[0]}-{r[1]}" for r in ROUTES])
def test_runs_routes_answer_each_role_as_the_table_says(
    route, method, public, private, visibility, users, project, private_project
):
    target = project if visibility == "public" else private_project
    expected = public if visibility == "public" else private
    run = logged_run(target, name="matrix run", train=[1.0, 0.5], val=[1.0, 0.6])
    version = split_version(target)
    slug = target.slug
    if route in ("run", "run_curves"):
        url, data = reverse(f"experiments:{route}", args=[slug, run.mlflow_run_id]), None
    elif route == "compare":
        url, data = reverse("experiments:compare", args=[slug]), {"run": run.mlflow_run_id}
    elif method == "POST":
        url, data = reverse("experiments:runs", args=[slug]), {"version": version.pk, "trainer": "majority"}
    else:
        url, data = reverse("experiments:runs", args=[slug]), None

    got = {}
    for role in ROLES:
        client = Client()
        if users[role] is not None:
            client.force_login(users[role])
        with recorded():
            response = client.post(url, data) if method == "POST" else client.get(url, data)
        got[role] = _outcome(response)
        if got[role] == 200 and route != "run_curves":
            assert b"matrix run" in response.content or route == "runs" and b"Runs" in response.content, role

    assert got == expected
    if method == "POST":
        # Only the allowed roles queued a job, one each.
        assert Job.objects.filter(kind="experiments_train").count() == 2


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
