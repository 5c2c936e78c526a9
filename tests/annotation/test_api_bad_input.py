"""Malformed and hostile requests to the campaign API end in a 4xx with the API's error shape
(`detail`, and per-field `errors` for invalid input), never in a 500, and change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datasets.annotation.models import Annotation, Campaign, CampaignItem, GuidelineVersion
from tests.api import client_for, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.django_db

P = "/api/projects/digits/campaigns/"
C = P + "sentiment/"
HUGE = 2**40

GOOD_CAMPAIGN = {
    "dataset": "reviews", "version": 1, "name": "Topics", "task_type": "multi",
    "labels": [{"name": "billing"}, {"name": "delivery"}],
}


def _invalid(response, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, response.content[:300]
    data = response.json()
    assert data["detail"] == "Invalid input."
    if field is not None:
        assert field in data["errors"], data
    return data


def _first_item(campaign) -> CampaignItem:
    return CampaignItem.objects.filter(campaign=campaign).order_by("position").first()


# --- Creating a campaign ----------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"name": 5}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "nul\x00byte"}, "name"),
    ({"slug": "Bad Slug!"}, "slug"),
    ({"slug": "x" * 61}, "slug"),
    ({"slug": 7}, "slug"),
    ({"dataset": "../etc"}, "dataset"),
    ({"dataset": "nope"}, "dataset"),
    ({"dataset": ["reviews"]}, "dataset"),
    ({"version": 0}, "version"),
    ({"version": -1}, "version"),
    ({"version": 2}, "version"),
    ({"version": HUGE}, "version"),
    ({"version": "one"}, "version"),
    ({"version": True}, "version"),
    ({"task_type": "boxes"}, "task_type"),
    ({"task_type": ["single"]}, "task_type"),
    ({"labels": []}, "labels"),
    ({"labels": "billing"}, "labels"),
    ({"labels": [5]}, "labels"),
    ({"labels": [{}]}, "labels"),
    ({"labels": [{"name": 5}]}, "labels"),
    ({"labels": [{"name": "   "}]}, "labels"),
    ({"labels": [{"name": "x" * 101}]}, "labels"),
    ({"labels": [{"name": "a", "colour": "red"}]}, "labels"),
    ({"labels": [{"name": "a", "shortcut": "ab"}]}, "labels"),
    ({"labels": [{"name": "a", "size": 3}]}, "labels"),
    ({"labels": [{"name": f"l{i}"} for i in range(61)]}, "labels"),
    ({"overlap": 0}, "overlap"),
    ({"overlap": 99}, "overlap"),
    ({"overlap": -3}, "overlap"),
    ({"overlap": "many"}, "overlap"),
    ({"overlap": 1.5}, "overlap"),
    ({"overlap": True}, "overlap"),
    ({"blind": [1]}, "blind"),
    ({"blind": {"a": 1}}, "blind"),
    ({"blind": "perhaps"}, "blind"),
    ({"order": "alphabetical"}, "order"),
    ({"seed": -1}, "seed"),
    ({"seed": HUGE}, "seed"),
    ({"lock_ttl_seconds": 5}, "lock_ttl_seconds"),
    ({"lock_ttl_seconds": 10**6}, "lock_ttl_seconds"),
    ({"annotators": "lead"}, "annotators"),
    ({"annotators": ["ghost", "lead"]}, "annotators"),
    ({"annotators": [5]}, "annotators"),
    ({"annotators": ["le\x00ad"]}, "annotators"),
    ({"annotators": [{"username": "lead"}]}, "annotators"),
    ({"definitions": ["billing"]}, "definitions"),
    ({"definitions": {"ghost": "Not a label"}}, "definitions"),
    ({"definitions": {"billing": 5}}, "definitions"),
    ({"introduction": 5}, "introduction"),
    ({"colour": "#000000"}, "colour"),  # unknown field, named
])
def test_bad_campaign_fields_are_400s_that_name_the_field(text_version, engineer, change, field):
    response = client_for(engineer).post(P, {**GOOD_CAMPAIGN, **change}, format="json")
    _invalid(response, field)
    assert not Campaign.objects.exists()


def test_a_lone_surrogate_is_a_400(text_version, engineer):
    # Valid JSON, but not storable as UTF-8; sent raw because the test client cannot encode it.
    body = json.dumps({**GOOD_CAMPAIGN, "name": "\ud800"})
    _invalid(client_for(engineer).generic("POST", P, body, content_type="application/json"), "name")
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("missing", ["dataset", "version", "name", "task_type", "labels"])
def test_missing_required_fields_are_named(text_version, engineer, missing):
    body = {k: v for k, v in GOOD_CAMPAIGN.items() if k != missing}
    data = _invalid(client_for(engineer).post(P, body, format="json"), missing)
    assert "required" in json.dumps(data["errors"][missing])


@pytest.mark.parametrize(("labels", "message"), [
    ([{"name": "a"}, {"name": "A"}], "listed twice"),
    ([{"name": "O"}], "reserved"),
    ([{"name": "a", "shortcut": "x"}, {"name": "b", "shortcut": "X"}], "used twice"),
    ([{"name": "a", "shortcut": "?"}], "one letter or digit"),
])
def test_label_sets_the_service_refuses_are_400s(text_version, engineer, labels, message):
    data = _invalid(client_for(engineer).post(P, {**GOOD_CAMPAIGN, "labels": labels}, format="json"))
    assert message in json.dumps(data["errors"])
    assert not Campaign.objects.exists()


def test_a_name_without_letters_for_a_slug_is_a_400(text_version, engineer):
    data = _invalid(client_for(engineer).post(P, {**GOOD_CAMPAIGN, "name": "राम"}, format="json"))
    assert "letters or digits" in json.dumps(data["errors"])


def test_a_version_that_is_not_ready_is_a_400(text_version, engineer):
    text_version.state = "failed"
    text_version.save()
    data = _invalid(client_for(engineer).post(P, GOOD_CAMPAIGN, format="json"))
    assert "ready" in json.dumps(data["errors"])


def test_span_campaign_over_images_is_a_400(project, engineer):
    from tests.fixtures_annotation import make_version

    make_version(project, kind="image", slug="photos", count=3)
    body = {**GOOD_CAMPAIGN, "dataset": "photos", "task_type": "span"}
    _invalid(client_for(engineer).post(P, body, format="json"))


@pytest.mark.parametrize("body", ['{"name": ', "{'name': 'x'}", "not json", "\x00\x01", '{"overlap": NaN}'])
def test_malformed_json_is_a_400_that_says_so(text_version, engineer, body):
    response = client_for(engineer).generic("POST", P, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed request body")


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null"])
def test_a_body_that_is_not_an_object_is_a_400(text_version, engineer, body):
    _invalid(client_for(engineer).generic("POST", P, body, content_type="application/json"))


def test_deeply_nested_json_is_a_400(campaign, annotator):
    body = '{"campaign_item": 1, "value": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client_for(annotator).generic("POST", C + "annotations/", body, content_type="application/json")
    assert response.status_code == 400


def test_body_over_the_size_cap_is_a_413_and_creates_nothing(text_version, engineer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({**GOOD_CAMPAIGN, "introduction": "x" * 10_000})
    response = client_for(engineer).generic("POST", P, body, content_type="application/json")
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]
    assert not Campaign.objects.exists()


def test_unsupported_media_type_is_a_415(text_version, engineer):
    response = client_for(engineer).generic("POST", P, "name=x", content_type="text/plain")
    assert response.status_code == 415


def test_markdown_over_the_cap_is_a_400(text_version, engineer, settings):
    settings.PRAKRIYA_MAX_MARKDOWN_CHARS = 100
    _invalid(client_for(engineer).post(P, {**GOOD_CAMPAIGN, "introduction": "x" * 101}, format="json"), "introduction")


# --- Changing a campaign ----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"overlap": 3}, "overlap"),  # fixed once the queue exists: an unknown field here
    ({"task_type": "multi"}, "task_type"),
    ({"lock_ttl_seconds": -1}, "lock_ttl_seconds"),
    ({"lock_ttl_seconds": "soon"}, "lock_ttl_seconds"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"annotators": ["ghost"]}, "annotators"),
    ({"annotators": None}, "annotators"),
    ({"blind": "maybe"}, "blind"),
])
def test_bad_campaign_changes_are_400s(campaign, lead, body, field):
    _invalid(client_for(lead).patch(C, body, format="json"), field)
    campaign.refresh_from_db()
    assert (campaign.name, campaign.lock_ttl_seconds, campaign.blind) == ("Sentiment", 600, True)
    assert campaign.annotators.count() == 3


# --- Annotations ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"campaign_item": "x", "value": "positive"}, "campaign_item"),
    ({"campaign_item": -1, "value": "positive"}, "campaign_item"),
    ({"campaign_item": 0, "value": "positive"}, "campaign_item"),
    ({"campaign_item": HUGE, "value": "positive"}, "campaign_item"),
    ({"campaign_item": 999_999, "value": "positive"}, "campaign_item"),
    ({"campaign_item": None, "value": "positive"}, "campaign_item"),
    ({"value": "positive"}, "campaign_item"),
    ({"campaign_item": "{item}"}, "value"),
    ({"campaign_item": "{item}", "value": None}, "value"),
    ({"campaign_item": "{item}", "value": "positive", "seconds_spent": -1}, "seconds_spent"),
    ({"campaign_item": "{item}", "value": "positive", "seconds_spent": 1e9}, "seconds_spent"),
    ({"campaign_item": "{item}", "value": "positive", "seconds_spent": "long"}, "seconds_spent"),
    ({"campaign_item": "{item}", "value": "positive", "seconds_spent": True}, "seconds_spent"),
    ({"campaign_item": "{item}", "value": "positive", "tool": "platform"}, "tool"),
])
def test_bad_annotation_fields_are_400s_that_name_the_field(campaign, annotator, body, field):
    item = _first_item(campaign)
    body = {k: (item.pk if v == "{item}" else v) for k, v in body.items()}
    _invalid(client_for(annotator).post(C + "annotations/", body, format="json"), field)
    assert not Annotation.objects.exists()
    item.refresh_from_db()
    assert item.taken == 0


@pytest.mark.parametrize("value", [5, "furious", ["positive"], {"label": "positive"}, "", True])
def test_values_outside_the_label_set_are_400s(campaign, annotator, value):
    item = _first_item(campaign)
    data = _invalid(client_for(annotator).post(C + "annotations/", {"campaign_item": item.pk, "value": value},
                                               format="json"))
    assert "Choose one of the campaign's labels" in json.dumps(data["errors"])
    item.refresh_from_db()
    assert item.taken == 0 and not Annotation.objects.exists()


def test_an_item_of_another_campaign_is_a_400(campaign, text_version, lead, annotator):
    from datasets.annotation import services

    other = services.campaign_create(version=text_version, actor=lead, name="Other", task_type="single",
                                     labels=[{"name": "positive"}], annotators=[annotator])
    foreign = _first_item(other)
    _invalid(client_for(annotator).post(C + "annotations/", {"campaign_item": foreign.pk, "value": "positive"},
                                        format="json"), "campaign_item")


def test_nan_seconds_from_a_form_post_is_a_400(campaign, annotator):
    item = _first_item(campaign)
    response = client_for(annotator).generic(
        "POST", C + "annotations/", f"campaign_item={item.pk}&value=positive&seconds_spent=nan",
        content_type="application/x-www-form-urlencoded",
    )
    _invalid(response, "seconds_spent")


def test_a_form_post_carries_the_value_as_json(campaign, annotator):
    item = _first_item(campaign)
    bare = client_for(annotator).generic(
        "POST", C + "annotations/", f"campaign_item={item.pk}&value=positive",
        content_type="application/x-www-form-urlencoded",
    )
    _invalid(bare, "value")
    quoted = client_for(annotator).generic(
        "POST", C + "annotations/", f"campaign_item={item.pk}&value=%22positive%22",
        content_type="application/x-www-form-urlencoded",
    )
    assert quoted.status_code == 201, quoted.content


@pytest.mark.parametrize(("body", "field"), [
    ({"value": "negative"}, "revision"),
    ({"value": "negative", "revision": 0}, "revision"),
    ({"value": "negative", "revision": -1}, "revision"),
    ({"value": "negative", "revision": "latest"}, "revision"),
    ({"value": "negative", "revision": HUGE}, "revision"),
    ({"revision": 1}, "value"),
    ({"value": "negative", "revision": 1, "annotator": "lead"}, "annotator"),
])
def test_bad_annotation_edits_are_400s(campaign, annotator, body, field):
    from datasets.annotation import services

    annotation = services.annotation_submit(campaign=campaign, annotator=annotator,
                                            campaign_item=_first_item(campaign), value="positive")
    _invalid(client_for(annotator).patch(C + f"annotations/{annotation.pk}/", body, format="json"), field)
    annotation.refresh_from_db()
    assert (annotation.value, annotation.revision) == ("positive", 1)


def test_an_edit_to_an_unknown_label_is_a_400(campaign, annotator):
    from datasets.annotation import services

    annotation = services.annotation_submit(campaign=campaign, annotator=annotator,
                                            campaign_item=_first_item(campaign), value="positive")
    _invalid(client_for(annotator).patch(C + f"annotations/{annotation.pk}/", {"value": "x", "revision": 1},
                                         format="json"))


@pytest.mark.parametrize("value", [
    "positive",
    [{"start": 0, "end": 3}],
    [{"start": "0", "end": 3, "label": "PLACE"}],
    [{"start": True, "end": 3, "label": "PLACE"}],
    [{"start": 3, "end": 3, "label": "PLACE"}],
    [{"start": -1, "end": 3, "label": "PLACE"}],
    [{"start": 0, "end": 3, "label": "ANIMAL"}],
    [[0, 3, "PLACE"]],
])
def test_bad_spans_are_400s(project, lead, annotator, value):
    from datasets.annotation import services
    from tests.fixtures_annotation import make_version

    version = make_version(project, slug="ner")
    campaign = services.campaign_create(version=version, actor=lead, name="Places", slug="places", task_type="span",
                                        labels=[{"name": "PLACE"}], annotators=[annotator])
    response = client_for(annotator).post(
        P + "places/annotations/", {"campaign_item": _first_item(campaign).pk, "value": value}, format="json"
    )
    _invalid(response)
    assert not Annotation.objects.exists()


# --- Path and query parameters ----------------------------------------------------------------


@pytest.mark.parametrize("path", [
    C + "annotations/99999999999999999999/",
    C + "annotations/0/",
    C + "annotations/abc/",
    C + "items/99999999999999999999/",
    C + "items/123456/",
    P + "no-such-campaign/",
    P + "x" * 500 + "/",
    P + "bad%20slug/",
    P + "sentiment/agreement/",
    "/api/projects/no-such-project/campaigns/",
])
def test_unknown_or_malformed_paths_are_404s(campaign, lead, path):
    assert client_for(lead).get(path).status_code == 404
    assert client_for(lead).patch(path, {"value": "positive"}, format="json").status_code in (404, 405)


@pytest.mark.parametrize("item", ["99999999999999999999", "0", "123456"])
def test_gold_for_an_unknown_item_is_a_404(campaign, lead, item):
    response = client_for(lead).put(C + f"items/{item}/gold/", {"value": "positive"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("query", [
    {"item": "abc"}, {"item": -1}, {"item": HUGE}, {"item": "1.5"}, {"annotator": "nul\x00"},
])
def test_bad_annotation_filters_are_400s(campaign, lead, query):
    response = client_for(lead).get(C + "annotations/", query)
    assert response.status_code == 400
    assert set(query) <= set(response.json()["errors"])


def test_bad_query_values_are_4xx(campaign, lead):
    client = client_for(lead)
    assert client.get(C + "disagreements/", {"include_resolved": "maybe"}).status_code == 400
    assert client.get(C + "items/", {"page": "abc"}).status_code == 404
    assert client.get(C + "items/", {"page": HUGE}).status_code == 404
    assert client.get(C + "items/", {"page_size": "abc"}).status_code == 200
    assert client.get(C + "items/", {"page_size": HUGE}).json()["results"]  # capped, not a 500
    assert client.get(P, {"state": "frozen"}).status_code == 400


# --- Guideline and gold -----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({}, "change_note"),
    ({"change_note": ""}, "change_note"),
    ({"change_note": "   "}, "change_note"),
    ({"change_note": "x", "caused_by": ["a"]}, "caused_by"),
    ({"change_note": "x", "caused_by": [-1]}, "caused_by"),
    ({"change_note": "x", "caused_by": 5}, "caused_by"),
    ({"change_note": "x", "caused_by": [HUGE]}, "caused_by"),
    ({"change_note": "x", "definitions": {"positive": None}}, "definitions"),
    ({"change_note": "x", "examples": [{"label": "positive"}]}, "examples"),
    ({"change_note": "x", "examples": "positive"}, "examples"),
    ({"change_note": "x", "examples": [{"label": "positive", "campaign_item": 1, "weight": 2}]}, "examples"),
    ({"change_note": "x", "number": 7}, "number"),
])
def test_bad_guideline_fields_are_400s(campaign, engineer, body, field):
    _invalid(client_for(engineer).post(C + "guideline/versions/", body, format="json"), field)
    assert GuidelineVersion.objects.filter(campaign=campaign).count() == 1


@pytest.mark.parametrize(("body", "message"), [
    ({"change_note": "x", "caused_by": [999_999]}, "not items of this campaign"),
    ({"change_note": "x", "definitions": {"ghost": "Boo"}}, "Unknown labels"),
    ({"change_note": "x", "examples": [{"label": "ghost", "campaign_item": "{item}"}]}, "Unknown label"),
    ({"change_note": "x", "examples": [{"label": "positive", "campaign_item": 999_999}]}, "item of this campaign"),
])
def test_guideline_references_the_service_refuses_are_400s(campaign, engineer, body, message):
    item = _first_item(campaign)
    if "examples" in body:
        body["examples"] = [{k: (item.pk if v == "{item}" else v) for k, v in e.items()} for e in body["examples"]]
    data = _invalid(client_for(engineer).post(C + "guideline/versions/", body, format="json"))
    assert message in json.dumps(data["errors"])
    assert GuidelineVersion.objects.filter(campaign=campaign).count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({}, "value"),
    ({"note": "x"}, "value"),
    ({"value": "positive", "note": "x" * 301}, "note"),
    ({"value": "positive", "note": 5}, "note"),
    ({"value": "positive", "by": "lead"}, "by"),
])
def test_bad_gold_fields_are_400s(campaign, lead, body, field):
    item = _first_item(campaign)
    _invalid(client_for(lead).put(C + f"items/{item.pk}/gold/", body, format="json"), field)
    item.refresh_from_db()
    assert item.gold is None


@pytest.mark.parametrize("value", ["furious", ["positive"], 5, {"label": "positive"}])
def test_gold_outside_the_label_set_is_a_400(campaign, lead, value):
    item = _first_item(campaign)
    _invalid(client_for(lead).put(C + f"items/{item.pk}/gold/", {"value": value}, format="json"))
    item.refresh_from_db()
    assert item.gold is None


def test_the_browsable_api_renders_every_route(campaign, lead, annotator):
    """The HTML renderer builds edit forms from the objects: they must render for every role."""
    from datasets.annotation import services

    item = _first_item(campaign)
    annotation = services.annotation_submit(campaign=campaign, annotator=lead, campaign_item=item, value="positive")
    paths = ["", "guideline/", "guideline/versions/", "progress/", "disagreements/", "labels/", "human-baseline/",
             "gold-sample/", "items/", f"items/{item.pk}/", f"items/{item.pk}/gold/", "annotations/", f"annotations/{annotation.pk}/",
             "close/"]
    for user in (lead, annotator, None):
        for path in [P, *(C + p for p in paths)]:
            response = client_for(user).get(path, HTTP_ACCEPT="text/html")
            assert response.status_code in (200, 403, 404, 405), (user, path, response.status_code)
