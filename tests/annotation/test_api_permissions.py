"""The campaign API's permission matrix: every route × every role, on a public and on a private
project. One test per visibility checks every route for every role, over one world (see
tests/matrix.py).

The rules, in one place:
- the campaign list is a project route: whoever sees the project may read it (what it lists is
  scoped, see test_api.py); anyone else gets 404;
- a campaign is seen by the project's lead and engineers, and by the annotators assigned to it;
  for anyone else (an outsider, a viewer, an annotator of the project who is not assigned) it
  does not exist: 404, whatever they ask of it;
- writing needs a signed-in user (anonymous → 401) before anything else;
- among those who see the campaign: the lead and engineers manage it (settings, close and
  reopen, the guideline) and read the queue, the adjudication queue, the label set, the gold
  sample and the human baseline (an assigned annotator → 403); only the lead sets gold labels
  and draws the gold sample; only assigned annotators label; an annotation is edited by its
  author only, and read by its author and the managers.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from datasets.annotation import services
from datasets.annotation.models import CampaignItem
from projects.models import Membership, Role
from tests.api import fast_password_hashing  # noqa: F401
from tests.factories import UserFactory
from tests.fixtures_annotation import make_version
from tests.matrix import check_matrix, check_routes, signed_in

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "viewer", "idle_annotator", "annotator", "engineer", "lead")
PROJECT_MEMBERS = frozenset({"viewer", "idle_annotator", "annotator", "engineer", "lead"})
# The campaign is seen by its managers and its assigned annotators (`annotator`; the lead and the
# engineer are assigned too, so that labelling routes answer them as annotators).
CAMPAIGN_SEERS = frozenset({"annotator", "engineer", "lead"})
MANAGERS = frozenset({"engineer", "lead"})
LEADS = frozenset({"lead"})
ASSIGNED = frozenset({"annotator", "engineer", "lead"})
AUTHOR = frozenset({"annotator"})  # the annotation in the setup is the annotator's
SLUGS = {"public": "digits", "private": "secret-forms"}


@pytest.fixture
def idle_annotator(project, private_project):
    """A member with the annotator role in both projects, assigned to no campaign."""
    user = UserFactory(username="idle")
    for p in (project, private_project):
        Membership.objects.create(project=p, user=user, role=Role.ANNOTATOR)
    return user


def _campaign(project, lead, annotator, engineer) -> dict[str, Any]:
    version = make_version(project, slug="reviews")
    campaign = services.campaign_create(
        version=version, actor=lead, name="Sentiment", task_type="single",
        labels=[{"name": "positive"}, {"name": "negative"}], overlap=2, seed=1,
        annotators=[annotator, engineer, lead],
    )
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("position"))
    annotation = services.annotation_submit(
        campaign=campaign, annotator=annotator, campaign_item=items[0], value="positive"
    )
    # A second label on the item, so that a gold sample has an item to draw.
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=items[0], value="negative")
    return {"annotation": annotation.pk, "item": items[0].pk, "free_item": items[1].pk}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # "list": anyone who sees the project; "see": anyone who sees the campaign; a frozenset: the
    # roles allowed among those who see the campaign (the rest of them get 403).
    access: Any
    ok: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{' ' + self.label if self.label else ''}"

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


P = "/api/projects/{slug}/campaigns"
C = P + "/sentiment"
NEW_CAMPAIGN = {"dataset": "reviews", "version": 1, "name": "Topics", "task_type": "multi",
                "labels": [{"name": "billing"}, {"name": "delivery"}]}
ROUTES = [
    Route("GET", P + "/", "list"),
    Route("POST", P + "/", MANAGERS, 201, NEW_CAMPAIGN),
    Route("GET", C + "/", "see"),
    Route("PATCH", C + "/", MANAGERS, body={"name": "Sentiment (v2)"}),
    Route("POST", C + "/close/", MANAGERS),
    Route("POST", C + "/reopen/", MANAGERS),
    Route("GET", C + "/guideline/", "see"),
    Route("GET", C + "/guideline/versions/", "see"),
    Route("POST", C + "/guideline/versions/", MANAGERS, 201, {"change_note": "Sarcasm is negative."}),
    Route("GET", C + "/progress/", "see"),
    Route("GET", C + "/disagreements/", MANAGERS),
    Route("GET", C + "/labels/", MANAGERS),
    Route("GET", C + "/human-baseline/", MANAGERS),
    Route("GET", C + "/gold-sample/", MANAGERS),
    Route("POST", C + "/gold-sample/", LEADS, 201, {"size": 1, "seed": 4}),
    Route("GET", C + "/items/", MANAGERS),
    Route("GET", C + "/items/{item}/", MANAGERS),
    Route("PUT", C + "/items/{item}/gold/", LEADS, body={"value": "negative", "note": "Sarcasm"}),
    Route("GET", C + "/annotations/", "see"),
    Route("POST", C + "/annotations/", ASSIGNED, 201, {"campaign_item": "{free_item}", "value": "negative"}),
    Route("GET", C + "/annotations/{annotation}/", AUTHOR | MANAGERS),
    Route("PATCH", C + "/annotations/{annotation}/", AUTHOR, body={"value": "negative", "revision": 1}),
]


def expected_status(route: Route, role: str, visibility: str) -> int:
    sees_project = visibility == "public" or role in PROJECT_MEMBERS
    if route.writes and role == "anonymous":
        return 401
    if not sees_project:
        return 404
    if route.access == "list":
        return route.ok
    if route.path.startswith(P + "/sentiment") and role not in CAMPAIGN_SEERS:
        return 404
    if route.access == "see":
        return route.ok
    return route.ok if role in route.access else 403


def _fill(value: Any, placeholders: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return placeholders[value[1:-1]]
    return value


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_campaign_api_permission_matrix(request, users, idle_annotator, visibility):
    # One world for every route: each role's request runs in a savepoint rolled back after it, so
    # every route sees the world as built.
    project = request.getfixturevalue("project" if visibility == "public" else "private_project")
    placeholders = _campaign(project, users["lead"], users["annotator"], users["engineer"])
    everyone = {**users, "idle_annotator": idle_annotator}
    check_routes({
        route.id: functools.partial(_check_route, route=route, visibility=visibility, everyone=everyone,
                                    placeholders=placeholders)
        for route in ROUTES
    })


def _check_route(*, route, visibility, everyone, placeholders):
    path = route.path.format(slug=SLUGS[visibility], **placeholders)
    body = {key: _fill(value, placeholders) for key, value in route.body.items()}

    def send(role):
        client = signed_in(everyone[role], api=True)
        return client.generic(route.method, path, data=json.dumps(body), content_type="application/json")

    def also(role, response, expected):
        if expected >= 400 and "detail" not in response.json():
            return "the error has no detail"
        return None

    check_matrix(route=route.id, visibility=visibility, send=send, also=also,
                 expected={role: expected_status(route, role, visibility) for role in ROLES})


def test_every_campaign_route_is_in_the_matrix():
    """A route added to this router without a row here would go untested for permissions. (The
    labelling routes, tasks/…, have their own tests in test_labelling_api.py.)"""
    from datasets.annotation import api_urls

    covered = {
        "campaign-list", "campaign-detail", "campaign-close", "campaign-reopen", "campaign-guideline",
        "campaign-guideline-versions", "campaign-progress", "campaign-disagreements", "campaign-labels",
        "campaign-human-baseline", "campaign-gold-sample", "campaign-item-list", "campaign-item-detail",
        "campaign-item-gold", "campaign-annotation-list", "campaign-annotation-detail",
    }
    assert {p.name for p in api_urls.router.urls} == covered
