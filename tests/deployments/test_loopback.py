"""The loop back to labelling: logged production inputs become a new dataset version and a
labelling campaign over it, lowest confidence first or the drifted slice; refused where the
privacy setting kept no inputs; who gets what from its routes."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from datasets.annotation.models import Campaign, CampaignItem
from datasets.models import Dataset
from deployments.drift.stored import image_png
from deployments.loopback import selectors
from deployments.loopback.services import loopback_campaign_create
from deployments.models import Loopback, Prediction
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import Project, TimelineEvent
from tests.deployments.drift_helpers import deployment, drift_report, log_predictions
from tests.experiments.test_pages_permissions import LOGIN, R, _outcome, row
from tests.matrix import check_matrix, check_routes, signed_in


def _storing(project) -> Project:
    Project.objects.filter(pk=project.pk).update(prediction_inputs="store")
    project.refresh_from_db()
    return project


def _images(count: int, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, 64).astype(float).tolist() for _ in range(count)]


def _run_queued_jobs() -> None:
    """What a worker would do: every queued job, in order, in this process (the version write,
    then the profile it starts)."""
    while job := Job.objects.filter(state=JobState.QUEUED).order_by("id").first():
        assert job_execute(job.pk) == JobState.SUCCEEDED, job.message


@pytest.mark.django_db(transaction=True)
def test_the_lowest_confidence_production_inputs_become_the_campaigns_items_in_order(project, lead, annotator):
    live = deployment(_storing(project))
    scores = [0.91, 0.42, 0.77, 0.35, 0.99, 0.58, 0.35, 0.66]
    logged = log_predictions(live, _images(len(scores)), ["3"] * len(scores), scores, kept="store")
    # An unstored input (logged before the setting changed) is never sampled.
    log_predictions(live, _images(1, seed=9), ["3"], [0.01], kept="hash")
    expected = [p.pk for p in sorted(logged, key=lambda p: (p.score, p.pk))[:4]]

    loopback = loopback_campaign_create(deployment=live, actor=lead, strategy="lowest_confidence", size=4)

    assert loopback.predictions == expected and loopback.campaign is None  # the version is being written
    _run_queued_jobs()
    loopback.refresh_from_db()
    campaign = loopback.campaign
    assert campaign is not None and loopback.failure == ""
    assert campaign.version == loopback.version and loopback.version.dataset.kind == "image"
    queue = CampaignItem.objects.filter(campaign=campaign).select_related("item").order_by("position")
    items = [entry.item for entry in queue]
    assert [item.original_name for item in items] == [f"{n:05d}-prediction-{pk}.png" for n, pk in enumerate(expected, 1)]
    # Each item is exactly the stored input, as the PNG of the model's image size; none labelled.
    schema = live.stable.input_schema
    for item, pk in zip(items, expected, strict=True):
        png = image_png(schema, np.asarray(Prediction.objects.get(pk=pk).input))
        assert item.content_hash == hashlib.sha256(png).hexdigest() and item.label is None
    assert [c.name for c in campaign.labels.order_by("position")] == [str(d) for d in range(10)]
    assert list(campaign.annotators.all()) == [annotator]
    event = TimelineEvent.objects.get(project=project, verb="loopback_created")
    assert "Digits live" in event.text and event.data["version"] == loopback.version.number

    # The next loop back takes the next least sure inputs, into the next version of the same dataset.
    again = loopback_campaign_create(deployment=live, actor=lead, strategy="lowest_confidence", size=2)
    _run_queued_jobs()
    again.refresh_from_db()
    assert again.predictions == [p.pk for p in sorted(logged, key=lambda p: (p.score, p.pk))[4:6]]
    assert again.dataset == loopback.dataset and again.version.number == 2 and again.campaign is not None


@pytest.mark.django_db
@pytest.mark.parametrize("setting", ["hash", "drop"])
def test_the_loop_back_is_refused_where_the_privacy_setting_kept_no_inputs(project, lead, setting):
    Project.objects.filter(pk=project.pk).update(prediction_inputs=setting)
    project.refresh_from_db()
    live = deployment(project)
    log_predictions(live, _images(3), ["1"] * 3, [0.2, 0.3, 0.4], kept=setting)

    with pytest.raises(ValidationError, match=f"privacy setting “{setting}”"):
        loopback_campaign_create(deployment=live, actor=lead, strategy="lowest_confidence", size=3)

    assert not Loopback.objects.exists() and not Dataset.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_bad_requests_are_refused_with_a_reason(project, lead, viewer, settings):
    live = deployment(_storing(project))
    settings.PRAKRIYA_LOOPBACK_MAX_ITEMS = 10
    with pytest.raises(ValidationError, match="between 1 and 10"):
        loopback_campaign_create(deployment=live, actor=lead, strategy="lowest_confidence", size=11)
    with pytest.raises(ValidationError, match="Unknown strategy"):
        loopback_campaign_create(deployment=live, actor=lead, strategy="newest", size=1)
    with pytest.raises(ValidationError, match="has a stored input left"):
        loopback_campaign_create(deployment=live, actor=lead, strategy="lowest_confidence", size=1)
    with pytest.raises(ValidationError, match="no drift check yet"):
        loopback_campaign_create(deployment=live, actor=lead, strategy="drifted", size=1)
    with pytest.raises(PermissionDenied):
        loopback_campaign_create(deployment=live, actor=viewer, strategy="lowest_confidence", size=1)


@pytest.mark.django_db
def test_the_drifted_slice_is_the_latest_checks_worst_feature_outside_its_training_bins(project):
    live = deployment(_storing(project))
    # Image means 10, 22, 27, 40, 55 and 31: outside the training bins [20, 30] are 10, 40, 55, 31.
    rows = [[m] * 64 for m in (10.0, 22.0, 27.0, 40.0, 55.0, 31.0)]
    logged = log_predictions(live, rows, ["1"] * 6, [0.5, 0.1, 0.2, 0.9, 0.8, 0.3], kept="store")
    drift_report(live, drifted=True, psi=0.9, feature="mean", edges=[20.0, 25.0, 30.0])

    sample, feature = selectors.drifted_slice(deployment=live, size=3)

    assert feature == "mean"
    # The farthest outside first: 55 (25 past the top edge), 40 (10), 10 (10 under; less sure first).
    assert [p.pk for p in sample] == [logged[4].pk, logged[0].pk, logged[3].pk]


# --- Who gets what -----------------------------------------------------------------------------

PAGE_PUBLIC = row(LOGIN, 403, 403, 403, 200, 200)
PAGE_PRIVATE = row(404, 404, 403, 403, 200, 200)
PAGE_PUBLIC_SEND = row(LOGIN, 403, 403, 403, R, R)
PAGE_PRIVATE_SEND = row(404, 404, 403, 403, R, R)
API_PUBLIC_READ = row(403, 403, 403, 403, 200, 200)
API_PRIVATE_READ = row(404, 404, 403, 403, 200, 200)
API_PUBLIC_SEND = row(401, 403, 403, 403, 202, 202)
API_PRIVATE_SEND = row(401, 404, 403, 403, 202, 202)
ROUTES = [
    ("page", "GET", PAGE_PUBLIC, PAGE_PRIVATE),
    ("page", "POST", PAGE_PUBLIC_SEND, PAGE_PRIVATE_SEND),
    ("api", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api", "POST", API_PUBLIC_SEND, API_PRIVATE_SEND),
]


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_loopback_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project):
    # One world for every route: each role's request is rolled back, so each route sees it as built.
    target = _storing(project if visibility == "public" else private_project)
    live = deployment(target)
    log_predictions(live, _images(3), ["1"] * 3, [0.2, 0.3, 0.4], kept="store")
    check_routes({
        f"{method} {route}": functools.partial(
            _check_route, route=route, method=method, expected=public if visibility == "public" else private,
            visibility=visibility, users=users, target=target, live=live,
        )
        for route, method, public, private in ROUTES
    })


def _check_route(*, route, method, expected, visibility, users, target, live):
    url = (reverse("deployments:loopback", args=[target.slug, live.slug]) if route == "page"
           else f"/api/projects/{target.slug}/deployments/{live.slug}/loopback/")
    data = {"strategy": "lowest_confidence", "size": 2}

    def send(role):
        client = signed_in(users[role], api=route == "api")
        if method == "GET":
            return client.get(url)
        return client.post(url, data, format="json") if route == "api" else client.post(url, data)

    def also(role, response, expected):
        if method == "GET" and expected == 200 and route == "page" and b'data-testid="loopback-form"' not in response.content:
            return "no loop-back form"
        sent = Loopback.objects.count()
        if method == "POST" and sent != (1 if expected in (R, 202) else 0):
            return f"{sent} loop backs made"
        return None

    check_matrix(route=f"{method} loopback {route}", visibility=visibility, send=send, status_of=_outcome, also=also,
                 expected=expected)


@pytest.mark.django_db
def test_a_refused_loop_back_shows_its_reason_on_the_form_and_in_the_api(project, lead):
    live = deployment(project)  # the default privacy setting: hashed
    page = signed_in(lead).post(reverse("deployments:loopback", args=[project.slug, live.slug]),
                                {"strategy": "lowest_confidence", "size": 5})
    api = signed_in(lead, api=True).post(f"/api/projects/{project.slug}/deployments/{live.slug}/loopback/",
                                         {"strategy": "lowest_confidence", "size": 0}, format="json")
    api_hashed = signed_in(lead, api=True).post(f"/api/projects/{project.slug}/deployments/{live.slug}/loopback/",
                                                {"size": 5}, format="json")

    assert page.status_code == 400 and "privacy setting" in page.content.decode()
    assert api.status_code == 400 and "size" in api.json()["errors"]
    assert api_hashed.status_code == 400 and "privacy setting" in str(api_hashed.json())
    assert not Campaign.objects.exists()
