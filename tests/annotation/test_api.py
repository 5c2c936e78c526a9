"""The campaign REST API: setting campaigns up, the guideline and its change log, annotating
without a claim, editing with optimistic revisions, the queue, gold labels and what each role
sees. Permissions by route and role are in test_api_permissions.py; malformed input in
test_api_bad_input.py."""

from __future__ import annotations

import json

import pytest

from datasets.annotation import services
from datasets.annotation.models import Annotation, Campaign, CampaignItem, GuidelineVersion, Tool
from datasets.models import SealedItem
from tests.api import client_for, fast_password_hashing  # noqa: F401
from tests.fixtures_annotation import TEXTS, make_version, more_annotators

pytestmark = pytest.mark.django_db

P = "/api/projects/digits/campaigns/"
C = P + "sentiment/"


def items_of(campaign) -> list[CampaignItem]:
    return list(CampaignItem.objects.filter(campaign=campaign).select_related("item").order_by("position"))


# --- Creating and changing campaigns ----------------------------------------------------------


def test_engineer_creates_a_campaign_with_its_queue_and_first_guideline(text_version, engineer, annotator, lead):
    body = {
        "dataset": "reviews", "version": 1, "name": "Topics", "task_type": "multi",
        "labels": [{"name": "billing", "colour": "#AA0000", "shortcut": "B"}, {"name": "delivery"}],
        "overlap": 3, "blind": False, "order": "sequential", "seed": 11, "lock_ttl_seconds": 120,
        "annotators": ["annotator", "lead"], "introduction": "Tag what the message is about.",
        "definitions": {"billing": "Money, invoices, refunds."},
    }
    response = client_for(engineer).post(P, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert response["Location"].endswith("/api/projects/digits/campaigns/topics/")
    assert data["slug"] == "topics" and data["dataset"] == "reviews" and data["version"] == 1
    assert data["media"] == "text" and data["state"] == "open" and data["created_by"] == "engineer"
    assert data["labels"] == [
        {"name": "billing", "colour": "#aa0000", "shortcut": "b", "position": 0},
        {"name": "delivery", "colour": data["labels"][1]["colour"], "shortcut": "", "position": 1},
    ]
    assert sorted(data["annotators"]) == ["annotator", "lead"]
    assert (data["overlap"], data["blind"], data["order"], data["lock_ttl_seconds"]) == (3, False, "sequential", 120)
    campaign = Campaign.objects.get(slug="topics")
    assert campaign.items.count() == text_version.item_count
    assert list(campaign.items.order_by("item_id").values_list("position", flat=True)) == list(
        range(text_version.item_count)
    )

    guideline = client_for(annotator).get(P + "topics/guideline/").json()
    assert guideline["number"] == 1
    assert guideline["introduction"] == "Tag what the message is about."
    assert guideline["definitions"] == {"billing": "Money, invoices, refunds.", "delivery": ""}
    assert guideline["examples"] == []


def test_the_slug_comes_from_the_name_and_is_unique_per_project(text_version, lead):
    body = {"dataset": "reviews", "version": 1, "name": "Spam or not", "task_type": "single",
            "labels": [{"name": "spam"}, {"name": "ham"}]}
    first = client_for(lead).post(P, body, format="json")
    assert first.status_code == 201 and first.json()["slug"] == "spam-or-not"
    again = client_for(lead).post(P, body, format="json")
    assert again.status_code == 400
    assert "already has a campaign" in json.dumps(again.json())
    assert Campaign.objects.filter(slug="spam-or-not").count() == 1


def test_sealed_items_stay_out_of_the_campaign_and_their_labels_out_of_every_answer(project, lead, annotator):
    labels = [f"SECRET-{i}" for i in range(len(TEXTS))]
    version = make_version(project, slug="reviews", labels=labels)
    SealedItem.objects.create(dataset=version.dataset, key="reviews-000004")
    body = {"dataset": "reviews", "version": 1, "name": "Sentiment", "task_type": "single",
            "labels": [{"name": "positive"}, {"name": "negative"}], "overlap": 1, "annotators": ["annotator"]}
    assert client_for(lead).post(P, body, format="json").status_code == 201
    campaign = Campaign.objects.get(slug="sentiment")
    item = items_of(campaign)[0]
    client_for(annotator).post(C + "annotations/", {"campaign_item": item.pk, "value": "positive"}, format="json")
    services.gold_set(campaign=campaign, actor=lead, campaign_item=item, value="positive")
    answers = [
        client_for(lead).get(C + path) for path in (
            "", "guideline/", "guideline/versions/", "progress/", "disagreements/", "labels/", "human-baseline/",
            "items/?page_size=200", f"items/{item.pk}/", "annotations/",
        )
    ]
    keys = [row["key"] for row in answers[7].json()["results"]]
    assert "reviews-000004" not in keys and len(keys) == len(TEXTS) - 1
    for answer in answers:
        assert answer.status_code == 200
        assert b"SECRET" not in answer.content


def test_lead_renames_reassigns_and_unblinds(campaign, lead, project):
    extra = more_annotators(project, 1)[0]
    response = client_for(lead).patch(
        C, {"name": "Sentiment (v2)", "annotators": [extra.username, "annotator"], "blind": False,
            "lock_ttl_seconds": 900}, format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["name"] == "Sentiment (v2)" and data["slug"] == "sentiment"
    assert sorted(data["annotators"]) == sorted([extra.username, "annotator"])
    assert data["blind"] is False and data["lock_ttl_seconds"] == 900


def test_only_members_who_may_label_can_be_assigned(campaign, lead, viewer):
    response = client_for(lead).patch(C, {"annotators": ["viewer"]}, format="json")
    assert response.status_code == 400
    assert "viewer" in json.dumps(response.json())
    assert not campaign.annotators.filter(pk=viewer.pk).exists()


def test_campaign_list_is_scoped_to_what_each_role_sees(campaign, text_version, lead, engineer, annotator, viewer):
    services.campaign_create(version=text_version, actor=lead, name="Other", task_type="single",
                             labels=[{"name": "a"}], annotators=[engineer])
    assert {c["slug"] for c in client_for(engineer).get(P).json()["results"]} == {"sentiment", "other"}
    assert [c["slug"] for c in client_for(annotator).get(P).json()["results"]] == ["sentiment"]
    assert client_for(viewer).get(P).json()["results"] == []
    assert client_for(None).get(P).json()["results"] == []
    assert client_for(annotator).get(P + "other/").status_code == 404


def test_close_and_reopen(campaign, engineer, annotator):
    task = services.task_claim(campaign=campaign, annotator=annotator)
    closed = client_for(engineer).post(C + "close/")
    assert closed.status_code == 200 and closed.json()["state"] == "closed" and closed.json()["closed_at"]
    assert client_for(engineer).get(P, {"state": "closed"}).json()["count"] == 1
    assert client_for(engineer).get(P, {"state": "open"}).json()["count"] == 0
    refused = client_for(annotator).post(C + "annotations/", {"campaign_item": task.pk, "value": "positive"},
                                         format="json")
    assert refused.status_code == 400 and "closed" in json.dumps(refused.json())
    reopened = client_for(engineer).post(C + "reopen/")
    assert reopened.json()["state"] == "open" and reopened.json()["closed_at"] is None
    accepted = client_for(annotator).post(C + "annotations/", {"campaign_item": task.pk, "value": "positive"},
                                          format="json")
    assert accepted.status_code == 201


# --- The guideline ----------------------------------------------------------------------------


def test_publishing_a_guideline_version_keeps_what_is_left_out_and_logs_the_cause(campaign, engineer, annotator):
    disputed = items_of(campaign)[2]
    response = client_for(engineer).post(C + "guideline/versions/", {
        "change_note": "Sarcasm counts as negative.",
        "definitions": {"negative": "The writer is displeased, sarcastically or not."},
        "caused_by": [disputed.pk],
        "examples": [{"label": "negative", "campaign_item": disputed.pk, "note": "Sarcastic praise"}],
    }, format="json")
    assert response.status_code == 201, response.content
    published = response.json()
    assert published["number"] == 2 and published["caused_by"] == [disputed.pk]
    assert published["definitions"] == {
        "positive": "The writer is pleased.",  # carried over from v1
        "negative": "The writer is displeased, sarcastically or not.",
        "neutral": "",
    }
    assert published["examples"] == [{
        "label": "negative", "campaign_item": disputed.pk, "key": disputed.item.key, "text": disputed.item.text,
        "positive": True, "note": "Sarcastic praise",
    }]

    current = client_for(annotator).get(C + "guideline/").json()
    assert current["number"] == 2 and current["examples"][0]["text"] == disputed.item.text
    log = client_for(annotator).get(C + "guideline/versions/").json()
    assert [(v["number"], v["caused_by"]) for v in log["results"]] == [(2, [disputed.pk]), (1, [])]
    assert log["results"][0]["change_note"] == "Sarcasm counts as negative."
    assert log["results"][0]["created_by"] == "engineer"


def test_the_next_version_carries_examples_and_introduction_over(campaign, engineer):
    item = items_of(campaign)[0]
    client_for(engineer).post(C + "guideline/versions/", {
        "change_note": "Example", "introduction": "Read the whole message.",
        "examples": [{"label": "positive", "campaign_item": item.pk, "positive": False, "note": "Not praise"}],
    }, format="json")
    response = client_for(engineer).post(C + "guideline/versions/", {"change_note": "Typo"}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["number"] == 3 and data["introduction"] == "Read the whole message."
    assert [(e["label"], e["positive"]) for e in data["examples"]] == [("positive", False)]
    assert GuidelineVersion.objects.filter(campaign=campaign).count() == 3


# --- Annotations ------------------------------------------------------------------------------


def test_annotating_through_the_api_takes_a_free_slot(campaign, annotator):
    item = items_of(campaign)[0]
    response = client_for(annotator).post(
        C + "annotations/", {"campaign_item": item.pk, "value": "neutral", "seconds_spent": 4.5}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["campaign_item"] == item.pk and data["key"] == item.item.key
    assert (data["annotator"], data["value"], data["tool"], data["revision"]) == ("annotator", "neutral", "api", 1)
    assert data["seconds_spent"] == 4.5 and data["guideline_version"] == 1
    item.refresh_from_db()
    assert (item.taken, item.annotation_count) == (1, 1)
    assert Annotation.objects.get(pk=data["id"]).tool == Tool.API


def test_labelling_an_item_twice_is_a_409(campaign, annotator):
    item = items_of(campaign)[0]
    client = client_for(annotator)
    assert client.post(C + "annotations/", {"campaign_item": item.pk, "value": "positive"}, format="json").status_code == 201
    again = client.post(C + "annotations/", {"campaign_item": item.pk, "value": "negative"}, format="json")
    assert again.status_code == 409
    assert "already labelled" in again.json()["detail"]
    assert Annotation.objects.get(campaign_item=item, annotator__username="annotator").value == "positive"


def test_a_full_item_is_a_409(campaign, annotator, engineer, lead):
    item = items_of(campaign)[0]  # overlap 2
    for user in (engineer, lead):
        assert client_for(user).post(C + "annotations/", {"campaign_item": item.pk, "value": "positive"},
                                     format="json").status_code == 201
    full = client_for(annotator).post(C + "annotations/", {"campaign_item": item.pk, "value": "positive"},
                                      format="json")
    assert full.status_code == 409 and "all the annotators it needs" in full.json()["detail"]
    item.refresh_from_db()
    assert (item.taken, item.annotation_count) == (2, 2)


def test_an_item_held_by_live_claims_is_a_409(campaign, annotator, engineer, lead):
    first = services.task_claim(campaign=campaign, annotator=engineer)
    second = services.task_claim(campaign=campaign, annotator=lead)
    assert first.pk == second.pk  # overlap 2: both claims hold the first item of the queue
    response = client_for(annotator).post(C + "annotations/", {"campaign_item": first.pk, "value": "positive"},
                                          format="json")
    assert response.status_code == 409
    assert not Annotation.objects.filter(campaign_item=first).exists()


def test_annotators_see_only_their_own_annotations_blind_or_not(campaign, annotator, engineer, lead):
    first, second = items_of(campaign)[:2]
    mine = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=first, value="positive")
    theirs = services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=first, value="negative")
    services.annotation_submit(campaign=campaign, annotator=lead, campaign_item=second, value="neutral")
    for blind in (True, False):
        Campaign.objects.filter(pk=campaign.pk).update(blind=blind)
        client = client_for(annotator)
        listed = client.get(C + "annotations/").json()["results"]
        assert [a["id"] for a in listed] == [mine.pk]
        assert client.get(C + "annotations/", {"annotator": "engineer"}).json()["results"] == []
        assert client.get(C + "annotations/", {"item": first.pk}).json()["results"][0]["id"] == mine.pk
        assert client.get(C + f"annotations/{theirs.pk}/").status_code == 404
        assert client.get(C + f"annotations/{mine.pk}/").json()["value"] == "positive"
        # Nor through any other route.
        for path in ("items/", f"items/{first.pk}/", "disagreements/", "labels/", "human-baseline/"):
            assert client.get(C + path).status_code == 403, path
        assert client.get(C + "progress/").json()["annotators"] is None


def test_managers_see_every_annotation_and_filter_them(campaign, annotator, engineer, lead):
    first, second = items_of(campaign)[:2]
    a = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=first, value="positive")
    b = services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=first, value="negative")
    c = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=second, value="neutral")
    client = client_for(engineer)
    assert [x["id"] for x in client.get(C + "annotations/").json()["results"]] == [a.pk, b.pk, c.pk]
    assert [x["id"] for x in client.get(C + "annotations/", {"annotator": "annotator"}).json()["results"]] == [a.pk, c.pk]
    assert [x["id"] for x in client.get(C + "annotations/", {"item": first.pk}).json()["results"]] == [a.pk, b.pk]
    assert client.get(C + f"annotations/{a.pk}/").json()["annotator"] == "annotator"


def test_editing_an_annotation_bumps_its_revision_and_a_stale_edit_is_a_409(campaign, annotator):
    item = items_of(campaign)[0]
    created = client_for(annotator).post(C + "annotations/", {"campaign_item": item.pk, "value": "positive"},
                                         format="json").json()
    url = C + f"annotations/{created['id']}/"
    edited = client_for(annotator).patch(url, {"value": "negative", "revision": 1, "seconds_spent": 2}, format="json")
    assert edited.status_code == 200, edited.content
    assert (edited.json()["value"], edited.json()["revision"]) == ("negative", 2)
    stale = client_for(annotator).patch(url, {"value": "neutral", "revision": 1}, format="json")
    assert stale.status_code == 409
    assert set(stale.json()) == {"detail"} and "changed since" in stale.json()["detail"]
    annotation = Annotation.objects.get(pk=created["id"])
    assert (annotation.value, annotation.revision) == ("negative", 2)


def test_nobody_edits_someone_elses_annotation(campaign, annotator, lead):
    item = items_of(campaign)[0]
    annotation = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=item, value="positive")
    response = client_for(lead).patch(C + f"annotations/{annotation.pk}/", {"value": "negative", "revision": 1},
                                      format="json")
    assert response.status_code == 403
    annotation.refresh_from_db()
    assert annotation.value == "positive"


def test_span_annotations_count_unicode_code_points(project, lead, annotator):
    version = make_version(project, slug="ner")
    campaign = services.campaign_create(
        version=version, actor=lead, name="Places", slug="places", task_type="span",
        labels=[{"name": "PLACE"}, {"name": "PERSON"}], annotators=[annotator],
    )
    item = CampaignItem.objects.select_related("item").get(campaign=campaign, item__key="ner-000002")
    text = item.item.text  # "राम ने दिल्ली में किताब पढ़ी।"
    start = text.index("दिल्ली")
    spans = [{"start": 0, "end": 3, "label": "PERSON"}, {"start": start, "end": start + len("दिल्ली"), "label": "PLACE"}]
    url = P + "places/annotations/"
    response = client_for(annotator).post(url, {"campaign_item": item.pk, "value": spans}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["value"] == spans
    assert text[spans[1]["start"]:spans[1]["end"]] == "दिल्ली"
    other = CampaignItem.objects.get(campaign=campaign, item__key="ner-000003")
    overlapping = [{"start": 0, "end": 4, "label": "PLACE"}, {"start": 2, "end": 6, "label": "PLACE"}]
    refused = client_for(annotator).post(url, {"campaign_item": other.pk, "value": overlapping}, format="json")
    assert refused.status_code == 400 and "overlap" in json.dumps(refused.json())
    outside = [{"start": 0, "end": 10_000, "label": "PLACE"}]
    refused = client_for(annotator).post(url, {"campaign_item": other.pk, "value": outside}, format="json")
    assert refused.status_code == 400 and "outside the text" in json.dumps(refused.json())


# --- The queue, adjudication, labels ----------------------------------------------------------


def test_queue_rows_are_paged_in_queue_order(campaign, engineer):
    response = client_for(engineer).get(C + "items/", {"page_size": 5})
    data = response.json()
    assert data["count"] == campaign.items.count()
    rows = data["results"]
    assert [r["position"] for r in rows] == [0, 1, 2, 3, 4]
    assert set(rows[0]) == {"id", "key", "text", "position", "capacity", "taken", "annotation_count", "uncertainty",
                            "gold", "gold_by", "gold_at", "gold_note"}
    second = client_for(engineer).get(data["next"]).json()["results"]
    assert [r["position"] for r in second] == [5, 6, 7, 8, 9]


def test_lead_sets_and_clears_a_gold_label(campaign, lead, engineer):
    item = items_of(campaign)[0]
    url = C + f"items/{item.pk}/gold/"
    assert client_for(engineer).put(url, {"value": "negative"}, format="json").status_code == 403
    response = client_for(lead).put(url, {"value": "negative", "note": "Sarcasm"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["gold"], data["gold_by"], data["gold_note"]) == ("negative", "lead", "Sarcasm") and data["gold_at"]
    wrong = client_for(lead).put(url, {"value": "furious"}, format="json")
    assert wrong.status_code == 400
    cleared = client_for(lead).put(url, {"value": None}, format="json").json()
    assert cleared["gold"] is None and cleared["gold_by"] is None
    item.refresh_from_db()
    assert item.gold is None


def test_disagreements_labels_and_human_baseline(campaign, annotator, engineer, lead):
    agreed, disputed, alone = items_of(campaign)[:3]
    for user, item, value in [
        (annotator, agreed, "positive"), (engineer, agreed, "positive"),
        (annotator, disputed, "positive"), (engineer, disputed, "negative"),
        (lead, alone, "neutral"),
    ]:
        services.annotation_submit(campaign=campaign, annotator=user, campaign_item=item, value=value)
    client = client_for(engineer)
    queue = client.get(C + "disagreements/").json()
    assert queue["count"] == 1
    assert queue["results"] == [{"campaign_item": disputed.pk, "key": disputed.item.key, "votes": 2, "distinct": 2,
                                 "agreement": 0.5, "resolved": False}]

    labels = {row["campaign_item"]: row for row in client.get(C + "labels/").json()["results"]}
    assert labels[agreed.pk]["value"] == "positive" and labels[agreed.pk]["source"] == "majority"
    assert labels[disputed.pk]["value"] is None and labels[disputed.pk]["source"] == "undecided"
    assert labels[alone.pk]["value"] == "neutral"

    client_for(lead).put(C + f"items/{disputed.pk}/gold/", {"value": "negative"}, format="json")
    assert client.get(C + "disagreements/").json()["count"] == 0
    resolved = client.get(C + "disagreements/", {"include_resolved": "true"}).json()["results"]
    assert [(r["campaign_item"], r["resolved"]) for r in resolved] == [(disputed.pk, True)]
    labels = {row["campaign_item"]: row for row in client.get(C + "labels/").json()["results"]}
    assert (labels[disputed.pk]["value"], labels[disputed.pk]["source"]) == ("negative", "gold")

    # No gold sample: the adjudicated disagreement is not used; the estimate from agreement (one of
    # the two overlapped items agreed on, three labels) is shown as too few to compare.
    baseline = client.get(C + "human-baseline/").json()
    assert (baseline["method"], baseline["items"], baseline["annotators"]) == ("agreement", 2, [])
    assert baseline["agreement"] == 0.5 and baseline["mean_accuracy"] == pytest.approx(2 / 3)
    assert baseline["ci_low"] < baseline["mean_accuracy"] < baseline["ci_high"]
    assert baseline["too_few"] and not baseline["comparable"] and baseline["sample_items"] == 0


def test_progress_shows_the_campaign_and_the_callers_share(campaign, annotator, engineer):
    first, second = items_of(campaign)[:2]
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=first, value="positive")
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=first, value="positive")
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=second, value="positive")
    n = campaign.items.count()
    mine = client_for(annotator).get(C + "progress/").json()
    assert (mine["items"], mine["target"], mine["annotations"], mine["complete_items"]) == (n, 2 * n, 3, 1)
    assert (mine["mine"], mine["left_for_me"], mine["state"]) == (1, n - 1, "open")
    assert mine["percent"] == pytest.approx(100 * 3 / (2 * n))
    managed = client_for(engineer).get(C + "progress/").json()
    assert managed["mine"] == 2
    assert {row["annotator"]: row["annotations"] for row in managed["annotators"]} == {
        "annotator": 1, "engineer": 2, "lead": 0,
    }


def test_token_clients_use_the_api_like_sessions(campaign, annotator):
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    _, token = AuthToken.objects.create(user=annotator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    item = items_of(campaign)[0]
    response = client.post(C + "annotations/", {"campaign_item": item.pk, "value": "positive"}, format="json")
    assert response.status_code == 201
    assert client.get(C + "annotations/").json()["count"] == 1
