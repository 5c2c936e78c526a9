"""The labelling queue: claims, submissions, skips, edits, expiry and overlap k."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from datasets.annotation import selectors, services
from datasets.annotation.models import Annotation, CampaignItem, Claim, Skip
from datasets.models import SealedItem
from tests.fixtures_annotation import make_version, more_annotators

pytestmark = pytest.mark.django_db


def label_all(campaign, user, value="positive") -> int:
    done = 0
    while (task := services.task_claim(campaign=campaign, annotator=user)) is not None:
        services.annotation_submit(campaign=campaign, annotator=user, campaign_item=task, value=value)
        done += 1
    return done


def test_queue_holds_every_item_once_in_seeded_order(campaign, text_version, lead):
    positions = list(CampaignItem.objects.filter(campaign=campaign).order_by("item_id").values_list("position", flat=True))
    assert sorted(positions) == list(range(text_version.item_count))
    assert positions != sorted(positions)  # random order, not the upload's
    again = services.campaign_create(
        version=text_version, actor=lead, name="Again", task_type="single", labels=[{"name": "a"}], seed=7,
    )
    assert positions == list(
        CampaignItem.objects.filter(campaign=again).order_by("item_id").values_list("position", flat=True)
    )


def test_sealed_items_are_not_in_the_queue(project, lead):
    version = make_version(project, slug="sealed-ds")
    SealedItem.objects.create(dataset=version.dataset, key="sealed-ds-000003")
    campaign = services.campaign_create(version=version, actor=lead, name="S", task_type="single",
                                        labels=[{"name": "a"}])
    keys = set(CampaignItem.objects.filter(campaign=campaign).values_list("item__key", flat=True))
    assert "sealed-ds-000003" not in keys and len(keys) == version.item_count - 1


def test_claim_returns_the_same_item_until_submitted(campaign, annotator):
    first = services.task_claim(campaign=campaign, annotator=annotator)
    assert services.task_claim(campaign=campaign, annotator=annotator).pk == first.pk
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=first, value="negative")
    second = services.task_claim(campaign=campaign, annotator=annotator)
    assert second.pk != first.pk
    annotation = Annotation.objects.get(campaign_item=first, annotator=annotator)
    assert annotation.value == "negative" and annotation.tool == "platform"
    assert annotation.guideline_version.number == 1


def test_overlap_k_is_never_exceeded(campaign, project):
    people = more_annotators(project, 4)
    services.campaign_update(campaign=campaign, actor=campaign.created_by, annotators=people)
    for user in people:
        label_all(campaign, user)
    counts = list(CampaignItem.objects.filter(campaign=campaign).values_list("annotation_count", "taken"))
    assert all(n == 2 and t == 2 for n, t in counts)
    assert Annotation.objects.filter(campaign=campaign).count() == 2 * campaign.items.count()


def test_an_annotator_never_gets_an_item_twice(campaign, annotator):
    done = label_all(campaign, annotator)
    assert done == campaign.items.count()
    assert Annotation.objects.filter(campaign=campaign, annotator=annotator).values("campaign_item").distinct().count() == done


def test_skip_passes_the_item_on_and_never_offers_it_again(campaign, annotator, engineer):
    task = services.task_claim(campaign=campaign, annotator=annotator)
    services.task_skip(campaign=campaign, annotator=annotator, campaign_item=task)
    assert Skip.objects.filter(campaign_item=task, annotator=annotator).exists()
    task.refresh_from_db()
    assert task.taken == 0
    seen = set()
    while (t := services.task_claim(campaign=campaign, annotator=annotator)) is not None:
        seen.add(t.pk)
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=t, value="neutral")
    assert task.pk not in seen
    # someone else still gets it
    assert services.task_claim(campaign=campaign, annotator=engineer) is not None


def test_skipped_items_can_be_put_back_and_labelled_later(client, campaign, annotator, project):
    skipped = services.task_claim(campaign=campaign, annotator=annotator)
    services.task_skip(campaign=campaign, annotator=annotator, campaign_item=skipped)
    while (t := services.task_claim(campaign=campaign, annotator=annotator)) is not None:
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=t, value="neutral")
    client.force_login(annotator)
    label_url = reverse("annotation:label", args=[project.slug, campaign.slug])

    empty = client.get(label_url).content.decode()
    assert "You skipped 1 item that still needs a label." in empty

    back = client.post(reverse("annotation:skips_return", args=[project.slug, campaign.slug]), follow=True)

    assert back.redirect_chain == [(label_url, 302)]
    assert "1 skipped item back in your queue." in back.content.decode()
    assert "You skipped" not in back.content.decode()
    # The page claimed it for the annotator on the way back: the skipped item is theirs to label now.
    assert Claim.objects.get(annotator=annotator, campaign_item__campaign=campaign).campaign_item_id == skipped.pk


def test_expired_claims_return_to_the_queue(campaign, project):
    services.campaign_update(campaign=campaign, actor=campaign.created_by, annotators=more_annotators(project, 3))
    a, b, c = campaign.annotators.all()[:3]
    services.campaign_update(campaign=campaign, actor=campaign.created_by, annotators=[a, b, c])
    CampaignItem.objects.filter(campaign=campaign).exclude(position=0).delete()
    only = services.task_claim(campaign=campaign, annotator=a)
    services.task_claim(campaign=campaign, annotator=b)
    assert services.task_claim(campaign=campaign, annotator=c) is None  # two claims fill overlap 2
    Claim.objects.filter(annotator=a).update(expires_at=timezone.now() - timedelta(seconds=1))
    got = services.task_claim(campaign=campaign, annotator=c)
    assert got is not None and got.pk == only.pk
    only.refresh_from_db()
    assert only.taken == 2


def test_a_late_submit_after_expiry_and_release_is_refused_when_full(campaign, project):
    a, b, c = more_annotators(project, 3)
    services.campaign_update(campaign=campaign, actor=campaign.created_by, annotators=[a, b, c])
    CampaignItem.objects.filter(campaign=campaign).exclude(position=0).delete()
    item = services.task_claim(campaign=campaign, annotator=a)
    services.task_claim(campaign=campaign, annotator=b)
    Claim.objects.filter(annotator=a).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.task_claim(campaign=campaign, annotator=c)  # takes a's released slot
    with pytest.raises(services.Conflict):
        services.annotation_submit(campaign=campaign, annotator=a, campaign_item=item, value="positive")
    item.refresh_from_db()
    assert item.taken == 2 and item.annotation_count == 0


def test_editing_with_a_stale_revision_is_a_conflict(campaign, annotator):
    task = services.task_claim(campaign=campaign, annotator=annotator)
    annotation = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="positive")
    services.annotation_update(annotation=annotation, annotator=annotator, value="negative", revision=1)
    with pytest.raises(services.Conflict):
        services.annotation_update(annotation=annotation, annotator=annotator, value="neutral", revision=1)
    annotation.refresh_from_db()
    assert annotation.value == "negative" and annotation.revision == 2


def test_only_assigned_annotators_claim(campaign, viewer, outsider):
    for user in (viewer, outsider):
        with pytest.raises(PermissionDenied):
            services.task_claim(campaign=campaign, annotator=user)


def test_values_are_checked_against_the_schema(campaign, annotator):
    task = services.task_claim(campaign=campaign, annotator=annotator)
    for bad in ("happy", ["positive"], None, 3):
        with pytest.raises(ValidationError):
            services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value=bad)
    assert not Annotation.objects.exists()


def test_span_offsets_are_code_points_and_checked(project, lead, annotator):
    version = make_version(project, slug="ner")
    campaign = services.campaign_create(
        version=version, actor=lead, name="NER", task_type="span", labels=[{"name": "PLACE"}, {"name": "PERSON"}],
        annotators=[annotator], order="sequential",
    )
    item = CampaignItem.objects.get(campaign=campaign, item__text__startswith="राम")
    text = item.item.text
    start = text.index("दिल्ली")
    span = {"start": start, "end": start + len("दिल्ली"), "label": "PLACE"}
    annotation = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=item,
                                            value=[span, {"start": 0, "end": 3, "label": "PERSON"}])
    assert annotation.value[1] == span and text[span["start"]:span["end"]] == "दिल्ली"
    other = CampaignItem.objects.get(campaign=campaign, item__text__startswith="Loved")
    with pytest.raises(ValidationError):
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=other,
                                   value=[{"start": 0, "end": 500, "label": "PLACE"}])
    with pytest.raises(ValidationError):
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=other,
                                   value=[{"start": 0, "end": 5, "label": "PLACE"}, {"start": 3, "end": 8, "label": "PERSON"}])


def test_campaign_closes_and_releases_claims(campaign, annotator, lead):
    services.task_claim(campaign=campaign, annotator=annotator)
    services.campaign_close(campaign=campaign, actor=lead)
    assert not Claim.objects.filter(campaign=campaign).exists()
    assert not CampaignItem.objects.filter(campaign=campaign, taken__gt=0).exists()
    with pytest.raises(ValidationError):
        services.task_claim(campaign=campaign, annotator=annotator)


def test_majority_gold_and_human_baseline(campaign, project, lead):
    a, b, c = more_annotators(project, 3)
    services.campaign_update(campaign=campaign, actor=lead, annotators=[a, b, c])
    campaign.overlap = 3
    campaign.save()
    CampaignItem.objects.filter(campaign=campaign).update(capacity=3)
    first = CampaignItem.objects.filter(campaign=campaign).order_by("position")[0]
    for user, value in ((a, "positive"), (b, "positive"), (c, "negative")):
        services.annotation_submit(campaign=campaign, annotator=user, campaign_item=first, value=value, tool="api")
    labels = selectors.label_set(campaign=campaign)
    assert labels[first.pk] == {"value": "positive", "source": "majority", "votes": 3}
    queue = selectors.disagreements(campaign=campaign)
    assert [q["campaign_item_id"] for q in queue] == [first.pk]
    services.gold_set(campaign=campaign, actor=lead, campaign_item=first, value="negative")
    assert selectors.label_set(campaign=campaign)[first.pk]["source"] == "gold"
    assert selectors.disagreements(campaign=campaign) == []
    # The adjudicated disagreement says nothing of the annotators (it is hard by construction):
    # with no gold sample the baseline is estimated from agreement, here on too few items.
    baseline = selectors.human_baseline(campaign=campaign)
    assert (baseline.method, baseline.items, baseline.annotators) == (selectors.FROM_AGREEMENT, 1, [])
    assert baseline.too_few and not baseline.comparable


def test_only_the_lead_adjudicates(campaign, engineer):
    item = campaign.items.first()
    with pytest.raises(PermissionDenied):
        services.gold_set(campaign=campaign, actor=engineer, campaign_item=item, value="positive")


def test_guideline_versions_tie_changes_to_disagreements(campaign, lead, annotator):
    item = campaign.items.first()
    v2 = services.guideline_publish(
        campaign=campaign, actor=lead, introduction="Read the whole text.",
        definitions={"neutral": "Neither pleased nor displeased."}, change_note="Neutral was unclear.",
        caused_by=[item.pk], examples=[{"label": "neutral", "campaign_item": item.pk, "positive": True}],
    )
    assert v2.number == 2 and list(v2.caused_by.all()) == [item]
    v3 = services.guideline_add_example(campaign=campaign, actor=lead, campaign_item=item, label="positive",
                                       positive=False)
    assert {(e.label, e.positive) for e in v3.examples.all()} == {("neutral", True), ("positive", False)}
    task = services.task_claim(campaign=campaign, annotator=annotator)
    annotation = services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="neutral")
    assert annotation.guideline_version == v3
