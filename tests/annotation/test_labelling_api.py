"""The labelling page's JSON endpoints: claim the next task, submit, skip; their 409s when a
claim was lost, and bad bodies answered 400 (never 500) with nothing written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from datasets.annotation import services
from datasets.annotation.models import Annotation, CampaignItem, Claim, Skip
from tests.fixtures_annotation import make_version, more_annotators

pytestmark = [pytest.mark.django_db]


def tasks(campaign) -> str:
    return f"/api/projects/{campaign.project.slug}/campaigns/{campaign.slug}/tasks/"


def post(client, path: str, body=None, *, raw: str | None = None, content_type: str = "application/json"):
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return client.post(path, data, content_type=content_type)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def claim(client, campaign) -> dict:
    response = post(client, tasks(campaign) + "next/")
    assert response.status_code == 200, response.content
    return response.json()


# --- Next ---------------------------------------------------------------------------------------


def test_next_claims_a_task_and_returns_it_with_the_progress(campaign, annotator):
    client = signed_in(annotator)
    body = claim(client, campaign)
    held = Claim.objects.get(campaign=campaign, annotator=annotator)
    item = held.campaign_item.item
    assert body["task"] == {
        "id": held.campaign_item_id, "key": item.key, "media": "text", "text": item.text, "image_url": None,
        "others": [], "guideline_version": 1,
    }
    assert body["progress"] == {"mine": 0, "left_for_me": 12, "annotations": 0, "target": 24, "items": 12,
                                "complete_items": 0, "percent": 0.0}
    assert claim(client, campaign)["task"]["id"] == held.campaign_item_id  # asking again: the same task


def test_next_is_null_when_nothing_is_left(campaign, annotator):
    client = signed_in(annotator)
    for _ in range(campaign.items.count()):
        task = claim(client, campaign)["task"]
        assert post(client, f"{tasks(campaign)}{task['id']}/annotation/", {"value": "positive"}).status_code == 201
    body = claim(client, campaign)
    assert body["task"] is None
    assert body["progress"]["mine"] == 12 and body["progress"]["left_for_me"] == 0


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("outsider", 404), ("viewer", 404)])
def test_next_is_refused_to_those_who_may_not_see_the_campaign(campaign, users, role, status):
    client = signed_in(users[role]) if users[role] else Client()
    assert post(client, tasks(campaign) + "next/").status_code == status
    assert not Claim.objects.exists()


def test_next_is_403_for_a_manager_not_assigned_and_400_once_closed(text_version, lead, engineer, annotator):
    campaign = services.campaign_create(version=text_version, actor=lead, name="Solo", task_type="single",
                                        labels=[{"name": "a"}], annotators=[annotator])
    assert post(signed_in(engineer), tasks(campaign) + "next/").status_code == 403
    services.campaign_close(campaign=campaign, actor=lead)
    response = post(signed_in(annotator), tasks(campaign) + "next/")
    assert response.status_code == 400 and "closed" in json.dumps(response.json())
    assert not Claim.objects.exists()


def test_next_refuses_get_and_needs_the_csrf_token_with_a_session(campaign, annotator):
    client = signed_in(annotator)
    assert client.get(tasks(campaign) + "next/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(annotator)
    assert post(strict, tasks(campaign) + "next/").status_code == 403
    assert not Claim.objects.exists()


# --- Submit -------------------------------------------------------------------------------------


def test_submit_records_the_annotation_from_the_page(campaign, annotator):
    client = signed_in(annotator)
    task = claim(client, campaign)["task"]
    response = post(client, f"{tasks(campaign)}{task['id']}/annotation/", {"value": "negative", "seconds_spent": 4.25})
    assert response.status_code == 201
    body = response.json()
    annotation = Annotation.objects.get(annotator=annotator)
    assert body["id"] == annotation.pk and body["value"] == "negative" and body["revision"] == 1
    assert body["campaign_item"] == task["id"] and body["guideline_version"] == 1 and body["tool"] == "platform"
    assert {"created_at", "updated_at", "seconds_spent"} <= set(body)
    assert annotation.value == "negative" and annotation.tool == "platform" and annotation.seconds_spent == 4.25
    assert not Claim.objects.exists()
    assert claim(client, campaign)["task"]["id"] != task["id"]


def test_a_token_client_is_recorded_as_the_api_tool(campaign, annotator):
    _, token = AuthToken.objects.create(user=annotator)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    task = claim(client, campaign)["task"]
    assert post(client, f"{tasks(campaign)}{task['id']}/annotation/", {"value": "positive"}).status_code == 201
    assert Annotation.objects.get().tool == "api"


def test_submitting_twice_is_a_409(campaign, annotator):
    client = signed_in(annotator)
    task = claim(client, campaign)["task"]
    path = f"{tasks(campaign)}{task['id']}/annotation/"
    assert post(client, path, {"value": "positive"}).status_code == 201
    response = post(client, path, {"value": "negative"})
    assert response.status_code == 409 and "already labelled" in response.json()["detail"]
    assert Annotation.objects.get().value == "positive"


def test_submit_after_the_claim_expired_and_the_slot_was_taken_is_a_409(campaign, project, annotator, engineer):
    only = CampaignItem.objects.filter(campaign=campaign).order_by("position").first()
    CampaignItem.objects.filter(campaign=campaign).exclude(pk=only.pk).delete()
    (third,) = more_annotators(project, 1)
    services.campaign_update(campaign=campaign, actor=campaign.created_by, annotators=[annotator, engineer, third])
    mine = signed_in(annotator)
    task = claim(mine, campaign)["task"]
    claim(signed_in(engineer), campaign)
    Claim.objects.filter(annotator=annotator).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert claim(signed_in(third), campaign)["task"]["id"] == task["id"]  # the expired slot went to them
    response = post(mine, f"{tasks(campaign)}{task['id']}/annotation/", {"value": "positive"})
    assert response.status_code == 409 and "all the annotators it needs" in response.json()["detail"]
    assert not Annotation.objects.exists()


@pytest.fixture
def span_campaign(project, lead, annotator):
    version = make_version(project, slug="ner")
    return services.campaign_create(version=version, actor=lead, name="NER", task_type="span",
                                    labels=[{"name": "PLACE"}, {"name": "THING"}], annotators=[annotator])


def test_span_offsets_are_code_points_even_after_an_emoji(span_campaign, annotator):
    item = CampaignItem.objects.select_related("item").get(campaign=span_campaign, item__text__startswith="Loved")
    text = item.item.text
    start = text.index("order")
    assert len(text[:start].encode("utf-16-le")) // 2 == start + 1  # the emoji is two UTF-16 units
    response = post(signed_in(annotator), f"{tasks(span_campaign)}{item.pk}/annotation/",
                    {"value": [{"start": start, "end": start + 5, "label": "THING"}]})
    assert response.status_code == 201
    assert Annotation.objects.get().value == [{"start": start, "end": start + 5, "label": "THING"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"seconds_spent": 3}, "value"),
        ({"value": 3}, "non_field_errors"),
        ({"value": ["positive"]}, "non_field_errors"),
        ({"value": None}, "value"),
        ({"value": "happy"}, "non_field_errors"),
        ({"value": "positive", "seconds_spent": "soon"}, "seconds_spent"),
        ({"value": "positive", "seconds_spent": -1}, "seconds_spent"),
        ({"value": "positive", "seconds_spent": 10**9}, "seconds_spent"),
        ({"value": "positive", "tool": "labelstudio"}, "tool"),
    ],
)
def test_bad_bodies_are_400_and_write_nothing(campaign, annotator, body, field):
    client = signed_in(annotator)
    task = claim(client, campaign)["task"]
    response = post(client, f"{tasks(campaign)}{task['id']}/annotation/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Annotation.objects.exists()
    assert Claim.objects.filter(annotator=annotator).exists()  # the task is still theirs


@pytest.mark.parametrize(
    "raw",
    ["{not json", "", "[]", '"positive"', '{"value": NaN}', "\x00", '{"value": "' + "a" * 300 + '"}'],
)
def test_malformed_bodies_are_400(campaign, annotator, raw):
    client = signed_in(annotator)
    task = claim(client, campaign)["task"]
    response = post(client, f"{tasks(campaign)}{task['id']}/annotation/", raw=raw)
    assert response.status_code == 400, response.content
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    "value",
    [
        [{"start": 0, "end": 500, "label": "PLACE"}],
        [{"start": -1, "end": 2, "label": "PLACE"}],
        [{"start": 3, "end": 3, "label": "PLACE"}],
        [{"start": 0, "end": 2, "label": "PERSON"}],
        [{"start": "0", "end": 2, "label": "PLACE"}],
        [{"start": True, "end": 2, "label": "PLACE"}],
        [{"start": 0, "end": 4, "label": "PLACE"}, {"start": 2, "end": 6, "label": "THING"}],
        [[0, 2, "PLACE"]],
        {"start": 0, "end": 2, "label": "PLACE"},
        "PLACE",
    ],
)
def test_bad_spans_are_400(span_campaign, annotator, value):
    client = signed_in(annotator)
    task = claim(client, span_campaign)["task"]
    response = post(client, f"{tasks(span_campaign)}{task['id']}/annotation/", {"value": value})
    assert response.status_code == 400, response.content
    assert not Annotation.objects.exists()


def test_a_task_of_another_campaign_or_none_is_404(campaign, span_campaign, annotator):
    other = span_campaign.items.first()
    client = signed_in(annotator)
    for task_id in (other.pk, 2**40, 0):
        assert post(client, f"{tasks(campaign)}{task_id}/annotation/", {"value": "positive"}).status_code == 404
        assert post(client, f"{tasks(campaign)}{task_id}/skip/").status_code == 404
    assert post(client, tasks(campaign) + "-1/skip/").status_code == 404
    assert not Annotation.objects.exists() and not Skip.objects.exists()


# --- Skip ----------------------------------------------------------------------------------------


def test_skip_passes_the_task_on(campaign, annotator):
    client = signed_in(annotator)
    task = claim(client, campaign)["task"]
    response = post(client, f"{tasks(campaign)}{task['id']}/skip/")
    assert response.status_code == 204 and response.content == b""
    assert Skip.objects.filter(campaign_item_id=task["id"], annotator=annotator).exists()
    assert CampaignItem.objects.get(pk=task["id"]).taken == 0
    assert claim(client, campaign)["task"]["id"] != task["id"]


def test_skipping_a_task_that_is_not_yours_is_a_409(campaign, annotator):
    client = signed_in(annotator)
    task = claim(client, campaign)["task"]
    path = f"{tasks(campaign)}{task['id']}/skip/"
    assert post(client, path).status_code == 204
    response = post(client, path)
    assert response.status_code == 409 and "not yours to skip" in response.json()["detail"]
    unclaimed = CampaignItem.objects.filter(campaign=campaign).exclude(pk=task["id"]).exclude(
        pk__in=Claim.objects.values("campaign_item_id")).first()
    assert post(client, f"{tasks(campaign)}{unclaimed.pk}/skip/").status_code == 409
    assert Skip.objects.count() == 1


def test_skip_and_submit_are_refused_to_viewers_and_anonymous(campaign, annotator, viewer):
    task = claim(signed_in(annotator), campaign)["task"]
    for client, status in ((signed_in(viewer), 404), (Client(), 401)):
        assert post(client, f"{tasks(campaign)}{task['id']}/skip/").status_code == status
        assert post(client, f"{tasks(campaign)}{task['id']}/annotation/", {"value": "positive"}).status_code == status
    assert not Annotation.objects.exists() and not Skip.objects.exists()
