"""The human baseline on synthetic annotators of known accuracy: measured on a gold sample drawn at
random from the overlapped items (adjudicated whether the annotators agreed or not), or estimated
from their agreement when there is no such sample; never from the adjudicated disagreements alone.
Also: drawing the sample (service, page, API), its bounds, and what the pages show."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from datasets.annotation import human_accuracy, selectors, services
from datasets.annotation.models import Annotation, CampaignItem, GoldSample
from projects import services as project_services
from tests.fixtures_annotation import bulk_annotations, make_version, more_annotators

pytestmark = pytest.mark.django_db

LABELS = [f"class-{k}" for k in range(10)]


def synthetic(project, lead, *, items: int, accuracies: tuple[float, ...], seed: int = 0, slug: str = "synthetic",
              task_type: str = "single"):
    """A campaign whose annotators are right with the given probabilities and, when wrong, choose
    any other label uniformly (the symmetric noise the agreement estimate assumes). Written in bulk:
    the queue's services are tested elsewhere. Returns the campaign, its annotators and the truth."""
    version = make_version(project, slug=slug, count=items)
    people = more_annotators(project, len(accuracies))
    campaign = services.campaign_create(
        version=version, actor=lead, name=slug.title(), task_type=task_type, labels=[{"name": n} for n in LABELS],
        overlap=len(accuracies), seed=1, annotators=people,
    )
    rng = random.Random(seed)
    truth, rows = {}, []
    for campaign_item in campaign.items.order_by("pk"):
        true = rng.randrange(len(LABELS))
        truth[campaign_item.pk] = LABELS[true]
        for person, accuracy in zip(people, accuracies, strict=True):
            said = true if rng.random() < accuracy else rng.choice([k for k in range(len(LABELS)) if k != true])
            rows.append((campaign_item, person, LABELS[said] if task_type == "single" else [LABELS[said]]))
    bulk_annotations(campaign, rows)
    if task_type != "single":
        truth = {pk: [value] for pk, value in truth.items()}
    return campaign, people, truth


def adjudicate(campaign, truth, pks) -> None:
    """The lead's gold labels: the truth (written in bulk; gold_set is tested in test_queue.py)."""
    for pk in pks:
        CampaignItem.objects.filter(campaign=campaign, pk=pk).update(gold=truth[pk])


def sample_pks(campaign) -> list[int]:
    return list(CampaignItem.objects.filter(campaign=campaign, gold_sample__isnull=False).values_list("pk", flat=True))


def votes_agree(campaign, pk) -> bool:
    return len({selectors.value_key(v) for v in Annotation.objects.filter(campaign_item_id=pk)
                .values_list("value", flat=True)}) == 1


# --- The statistics -----------------------------------------------------------------------------


def test_wilson_interval_matches_its_textbook_values():
    # Newcombe (1998), table I: 81 of 263 → [0.2553, 0.3662]; 0 of 10 → [0, 0.2775]; 10 of 10 → [0.7225, 1].
    low, high = human_accuracy.wilson_interval(81 / 263, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert [round(x, 4) for x in human_accuracy.wilson_interval(0.0, 10)] == [0.0, 0.2775]
    assert [round(x, 4) for x in human_accuracy.wilson_interval(1.0, 10)] == [0.7225, 1.0]
    with pytest.raises(ValueError):
        human_accuracy.wilson_interval(0.5, 0)


@pytest.mark.parametrize("labels", [2, 3, 10, 60])
def test_accuracy_from_agreement_inverts_the_symmetric_error_model(labels):
    for accuracy in (1 / labels, 0.3, 0.5, 0.7, 0.85, 0.99, 1.0):
        if accuracy < 1 / labels:
            continue
        p = human_accuracy.agreement_from_accuracy(accuracy, labels)
        assert human_accuracy.accuracy_from_agreement(p, labels) == pytest.approx(accuracy, abs=1e-9)
    # Agreement at or below chance: no better than guessing.
    assert human_accuracy.accuracy_from_agreement(0.0, labels) == pytest.approx(1 / labels)
    with pytest.raises(ValueError):
        human_accuracy.accuracy_from_agreement(0.5, 1)


def test_the_mean_share_interval_widens_for_items_that_are_hard_for_everyone():
    # The same 60 right of 100 judgements: spread evenly over items, or all-or-nothing per item.
    spread = [1.0] * 20 + [0.5] * 20 + [0.0] * 10  # 50 items, 2 judgements each
    clumped = [1.0] * 30 + [0.0] * 20
    mean, low_spread, high_spread = human_accuracy.mean_share_interval(spread, 100)
    assert mean == 0.6
    mean, low_clumped, high_clumped = human_accuracy.mean_share_interval(clumped, 100)
    assert mean == 0.6
    assert high_clumped - low_clumped > high_spread - low_spread
    # All-or-nothing items are worth one judgement each: the Wilson interval at the item count.
    assert (low_clumped, high_clumped) == pytest.approx(human_accuracy.wilson_interval(0.6, 50))


# --- On a gold sample ---------------------------------------------------------------------------


def test_a_gold_sample_recovers_known_annotator_accuracies_within_their_intervals(project, lead):
    campaign, (good, fair), truth = synthetic(project, lead, items=600, accuracies=(0.9, 0.7), seed=11)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=200, seed=5)
    drawn = sample_pks(campaign)
    assert len(drawn) == 200
    # The sample holds items the annotators agreed on as well as disagreements, about as often as
    # the campaign does (0.9·0.7 + 0.1·0.3/9 ≈ 0.63 agree).
    agreed = sum(votes_agree(campaign, pk) for pk in drawn)
    assert 0.5 < agreed / 200 < 0.76
    adjudicate(campaign, truth, drawn)

    baseline = selectors.human_baseline(campaign=campaign)
    assert baseline.method == selectors.GOLD_SAMPLE and baseline.method_name == "gold sample"
    assert baseline.items == 200 and baseline.comparable and not baseline.too_few
    assert (baseline.sample_items, baseline.sample_adjudicated, baseline.sample_pending) == (200, 200, 0)
    by_name = {a.annotator: a for a in baseline.annotators}
    for person, true in ((good, 0.9), (fair, 0.7)):
        found = by_name[person.username]
        assert found.items == 200
        assert found.low <= true <= found.high, (person.username, found)
        assert found.high - found.low < 0.15
    assert baseline.low <= 0.8 <= baseline.high
    assert baseline.accuracy == pytest.approx(sum(a.accuracy for a in baseline.annotators) / 2)
    assert baseline.high - baseline.low < 0.12
    assert "drawn at random" in baseline.method_note


def test_gold_labels_outside_the_sample_are_never_used(project, lead):
    campaign, _, truth = synthetic(project, lead, items=300, accuracies=(0.9, 0.7), seed=3)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=60, seed=1)
    drawn = set(sample_pks(campaign))
    adjudicate(campaign, truth, drawn)
    before = selectors.human_baseline(campaign=campaign)
    # The lead also settles every disagreement outside the sample, wrongly even: nothing changes.
    outside = [row["campaign_item_id"] for row in selectors.disagreements(campaign=campaign)
               if row["campaign_item_id"] not in drawn]
    assert outside
    for pk in outside:
        CampaignItem.objects.filter(pk=pk).update(gold=LABELS[0])
    assert selectors.human_baseline(campaign=campaign) == before


# --- Without a gold sample: from agreement ------------------------------------------------------


@pytest.mark.parametrize(("accuracies", "seed"), [((0.8, 0.8), 2), ((0.9, 0.7), 4), ((0.85, 0.85, 0.85), 6)])
def test_without_a_gold_sample_the_agreement_estimate_recovers_the_accuracy(project, lead, accuracies, seed):
    campaign, _, _ = synthetic(project, lead, items=500, accuracies=accuracies, seed=seed)
    baseline = selectors.human_baseline(campaign=campaign)
    assert baseline.method == selectors.FROM_AGREEMENT and baseline.method_name == "estimated from agreement"
    assert baseline.items == 500 and baseline.comparable and baseline.labels == 10
    assert baseline.annotators == []  # two annotators' agreement cannot tell who is right
    mean = sum(accuracies) / len(accuracies)
    assert baseline.low <= mean <= baseline.high, baseline
    assert baseline.high - baseline.low < 0.1
    # The agreement behind it is the share of agreeing pairs, carried through the stated model.
    assert baseline.accuracy == pytest.approx(human_accuracy.accuracy_from_agreement(baseline.agreement, 10))
    assert "a² + (1 − a)²/(K − 1)" in baseline.method_note and "other 9 labels" in baseline.method_note


def test_annotators_who_never_disagree_have_a_baseline_with_and_without_a_sample(project, lead):
    """Without disagreements the old baseline had nothing to stand on (no item to adjudicate)."""
    campaign, _, truth = synthetic(project, lead, items=120, accuracies=(1.0, 1.0), seed=8)
    assert selectors.disagreements(campaign=campaign) == []
    estimate = selectors.human_baseline(campaign=campaign)
    assert (estimate.method, estimate.accuracy, estimate.high) == (selectors.FROM_AGREEMENT, 1.0, 1.0)
    assert 0.9 < estimate.low < 1.0  # 120 agreeing pairs do not prove perfection

    services.gold_sample_draw(campaign=campaign, actor=lead, size=50, seed=0)
    adjudicate(campaign, truth, sample_pks(campaign))
    measured = selectors.human_baseline(campaign=campaign)
    assert (measured.method, measured.items, measured.accuracy) == (selectors.GOLD_SAMPLE, 50, 1.0)
    assert 0.9 < measured.low < 1.0 and measured.high == 1.0
    assert all((a.correct, a.items) == (50, 50) for a in measured.annotators)


def test_adjudicated_disagreements_alone_no_longer_make_a_baseline_of_one_half(project, lead):
    """The old bias: only the disagreements adjudicated, where at most one of two annotators can be
    right, so their mean accuracy there is at most 0.5 whatever their skill."""
    campaign, _, truth = synthetic(project, lead, items=400, accuracies=(0.9, 0.8), seed=21)
    disputed = [row["campaign_item_id"] for row in selectors.disagreements(campaign=campaign)]
    adjudicate(campaign, truth, disputed)
    hits = [selectors.value_key(v) == selectors.value_key(truth[pk])
            for pk, v in Annotation.objects.filter(campaign_item_id__in=disputed)
            .values_list("campaign_item_id", "value")]
    assert sum(hits) / len(hits) <= 0.5  # what the old selector reported

    baseline = selectors.human_baseline(campaign=campaign)
    assert baseline.method == selectors.FROM_AGREEMENT and baseline.comparable
    assert baseline.low <= 0.85 <= baseline.high and baseline.accuracy > 0.8
    assert baseline.sample_items == 0


# --- Too small, and the fallbacks ----------------------------------------------------------------


def test_a_small_sample_is_flagged_too_few_to_compare(project, lead):
    campaign, _, truth = synthetic(project, lead, items=20, accuracies=(0.9, 0.7), seed=1)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=8, seed=0)
    adjudicate(campaign, truth, sample_pks(campaign))
    baseline = selectors.human_baseline(campaign=campaign)
    # Agreement over 20 items is too few as well: the gold sample is shown, flagged.
    assert baseline.method == selectors.GOLD_SAMPLE and baseline.items == 8
    assert baseline.too_few and not baseline.comparable
    assert baseline.accuracy is not None and baseline.low < baseline.accuracy < baseline.high
    assert selectors.MIN_BASELINE_ITEMS == 30


def test_a_sample_still_being_adjudicated_gives_way_to_the_agreement_estimate(project, lead):
    campaign, _, truth = synthetic(project, lead, items=300, accuracies=(0.9, 0.7), seed=9)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=100, seed=0)
    adjudicate(campaign, truth, sample_pks(campaign)[:10])
    baseline = selectors.human_baseline(campaign=campaign)
    assert baseline.method == selectors.FROM_AGREEMENT and baseline.comparable
    assert (baseline.sample_items, baseline.sample_adjudicated, baseline.sample_pending) == (100, 10, 90)
    adjudicate(campaign, truth, sample_pks(campaign)[10:40])
    assert selectors.human_baseline(campaign=campaign).method == selectors.GOLD_SAMPLE


def test_multi_label_campaigns_need_a_gold_sample(project, lead):
    campaign, _, truth = synthetic(project, lead, items=60, accuracies=(0.9, 0.7), seed=4, task_type="multi")
    nothing = selectors.human_baseline(campaign=campaign)
    assert nothing.method is None and nothing.accuracy is None and not nothing.too_few
    assert selectors.human_baselines(project=project) == []
    services.gold_sample_draw(campaign=campaign, actor=lead, size=40, seed=0)
    adjudicate(campaign, truth, sample_pks(campaign))
    baseline = selectors.human_baseline(campaign=campaign)
    assert baseline.method == selectors.GOLD_SAMPLE and baseline.items == 40 and baseline.comparable
    assert [c for c, _ in selectors.human_baselines(project=project)] == [campaign]


# --- Drawing the sample -------------------------------------------------------------------------


def test_the_draw_is_seeded_over_the_overlapped_items_and_later_draws_only_add(project, lead):
    campaign, _, _ = synthetic(project, lead, items=50, accuracies=(0.9, 0.7), seed=1)
    CampaignItem.objects.filter(campaign=campaign, position__lt=10).update(annotation_count=1)  # not overlapped
    eligible = list(CampaignItem.objects.filter(campaign=campaign, annotation_count__gte=2)
                    .order_by("pk").values_list("pk", flat=True))
    first = services.gold_sample_draw(campaign=campaign, actor=lead, size=15, seed=42)
    assert sorted(sample_pks(campaign)) == sorted(random.Random(42).sample(eligible, 15))
    assert (first.seed, first.size, first.drawn, first.population, first.drawn_by) == (42, 15, 15, 40, lead)
    before = set(sample_pks(campaign))
    second = services.gold_sample_draw(campaign=campaign, actor=lead, size=100, seed=42)
    assert (second.drawn, second.population) == (25, 25)  # all that were left
    assert before < set(sample_pks(campaign)) == set(eligible)
    with pytest.raises(ValidationError, match="No item is left"):
        services.gold_sample_draw(campaign=campaign, actor=lead, size=1, seed=0)
    state = selectors.gold_sample_state(campaign=campaign)
    assert (state.items, state.adjudicated, [d.pk for d in state.draws]) == (40, 0, [first.pk, second.pk])


@pytest.mark.parametrize(("size", "seed", "message"), [
    (0, 0, "at least one"), (-3, 0, "at least one"), (True, 0, "at least one"), ("5", 0, "at least one"),
    (5, -1, "whole number"), (5, 2**31, "whole number"), (services.GOLD_SAMPLE_MAX + 1, 0, "at most"),
])
def test_bad_draws_are_refused_and_draw_nothing(project, lead, size, seed, message):
    campaign, _, _ = synthetic(project, lead, items=12, accuracies=(0.9, 0.7), seed=1)
    with pytest.raises(ValidationError, match=message):
        services.gold_sample_draw(campaign=campaign, actor=lead, size=size, seed=seed)
    assert not GoldSample.objects.exists() and sample_pks(campaign) == []


def test_the_sample_is_bounded_over_all_draws(project, lead, monkeypatch):
    campaign, _, _ = synthetic(project, lead, items=12, accuracies=(0.9, 0.7), seed=1)
    monkeypatch.setattr("datasets.annotation.services.adjudication.GOLD_SAMPLE_MAX", 5)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=3, seed=0)
    with pytest.raises(ValidationError, match="draw at most 2 more"):
        services.gold_sample_draw(campaign=campaign, actor=lead, size=3, seed=0)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=2, seed=0)
    with pytest.raises(ValidationError, match="the most it may hold"):
        services.gold_sample_draw(campaign=campaign, actor=lead, size=1, seed=0)


def test_only_the_lead_draws_and_only_from_overlapped_items(campaign, lead, engineer):
    with pytest.raises(PermissionDenied):
        services.gold_sample_draw(campaign=campaign, actor=engineer, size=5, seed=0)
    with pytest.raises(ValidationError, match="No item has been labelled by two annotators"):
        services.gold_sample_draw(campaign=campaign, actor=lead, size=5, seed=0)


# --- The adjudication page ----------------------------------------------------------------------


def _page(campaign) -> str:
    return reverse("annotation:adjudicate", args=[campaign.project.slug, campaign.slug])


def _draw_url(campaign) -> str:
    return reverse("annotation:gold_sample", args=[campaign.project.slug, campaign.slug])


def test_the_page_draws_a_sample_and_lists_its_items_agreed_or_not(client, project, lead):
    campaign, (good, _), truth = synthetic(project, lead, items=80, accuracies=(0.9, 0.7), seed=3)
    client.force_login(lead)
    page = client.get(_page(campaign)).content.decode()
    assert 'data-testid="gold-sample-form"' in page and "Draw a gold sample" in page
    assert "estimated from agreement" in page  # no sample yet

    response = client.post(_draw_url(campaign), {"size": "40", "seed": "9"}, follow=True)
    html = response.content.decode()
    assert "40 items drawn into the gold sample" in html
    drawn = sample_pks(campaign)
    assert html.count("<tr data-sample-item=") == 40
    assert any(votes_agree(campaign, pk) for pk in drawn) and not all(votes_agree(campaign, pk) for pk in drawn)
    assert GoldSample.objects.get(campaign=campaign).seed == 9

    adjudicate(campaign, truth, drawn[:35])
    html = client.get(_page(campaign)).content.decode()
    assert html.count("<tr data-sample-item=") == 5
    baseline = selectors.human_baseline(campaign=campaign)
    facts = html[html.index('data-testid="human-baseline-facts"'):]
    assert f"{baseline.low:.3f}–{baseline.high:.3f}" in facts and "35 items" in facts and "gold sample" in facts
    assert f">{baseline.accuracy:.3f}<" in html and good.username in html
    assert 'data-plotly-for="baseline-chart"' in html and "human-baseline-too-few" not in html


def test_the_page_says_plainly_when_the_sample_is_too_small(client, project, lead):
    campaign, _, truth = synthetic(project, lead, items=20, accuracies=(0.9, 0.7), seed=3)
    services.gold_sample_draw(campaign=campaign, actor=lead, size=10, seed=0)
    adjudicate(campaign, truth, sample_pks(campaign))
    client.force_login(lead)
    html = client.get(_page(campaign)).content.decode()
    assert "Too few items to compare with models: 10, fewer than 30." in html


@pytest.mark.parametrize("data", [{}, {"size": "0"}, {"size": "abc"}, {"size": "2001"}, {"size": "5", "seed": "-1"},
                                  {"size": "5", "seed": "x"}, {"size": "9" * 40}])
def test_bad_draws_on_the_page_are_400s_with_the_reason(client, project, lead, data):
    campaign, _, _ = synthetic(project, lead, items=12, accuracies=(0.9, 0.7), seed=1)
    client.force_login(lead)
    response = client.post(_draw_url(campaign), data)
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode() or 'class="form-errors"' in response.content.decode()
    assert not GoldSample.objects.exists()


def test_a_draw_with_nothing_to_draw_is_a_400_with_the_reason(client, campaign, lead):
    client.force_login(lead)
    response = client.post(_draw_url(campaign), {"size": "5", "seed": "0"})
    assert response.status_code == 400
    assert "No item has been labelled by two annotators yet" in response.content.decode()


def test_drawing_refuses_get(client, campaign, lead):
    client.force_login(lead)
    assert client.get(_draw_url(campaign)).status_code == 405


# --- The API ------------------------------------------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_draws_the_sample_and_reports_the_baseline_with_its_interval(project, lead, engineer):
    campaign, _, truth = synthetic(project, lead, items=100, accuracies=(0.9, 0.7), seed=5)
    base = f"/api/projects/{project.slug}/campaigns/{campaign.slug}/"
    estimate = _api(engineer).get(base + "human-baseline/").json()
    assert estimate["method"] == "agreement" and estimate["items"] == 100 and estimate["comparable"]
    assert estimate["ci_low"] < estimate["mean_accuracy"] < estimate["ci_high"] and estimate["annotators"] == []
    assert estimate["min_items"] == 30 and "a² + (1 − a)²" in estimate["method_note"]

    assert _api(engineer).post(base + "gold-sample/", {"size": 40}, format="json").status_code == 403
    response = _api(lead).post(base + "gold-sample/", {"size": 40, "seed": 3}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["items"], body["adjudicated"], body["max_items"]) == (40, 0, services.GOLD_SAMPLE_MAX)
    assert [(d["seed"], d["size"], d["drawn"], d["population"], d["drawn_by"]) for d in body["draws"]] == [
        (3, 40, 40, 100, "lead")]
    adjudicate(campaign, truth, sample_pks(campaign))
    assert _api(engineer).get(base + "gold-sample/").json()["adjudicated"] == 40

    measured = _api(engineer).get(base + "human-baseline/").json()
    assert measured["method"] == "gold_sample" and measured["items"] == 40 and not measured["too_few"]
    assert (measured["sample_items"], measured["sample_adjudicated"]) == (40, 40)
    assert {a["items"] for a in measured["annotators"]} == {40}
    for a in measured["annotators"]:
        assert a["ci_low"] <= a["accuracy"] <= a["ci_high"]
        assert a["accuracy"] == pytest.approx(a["correct"] / 40)


@pytest.mark.parametrize("body", [{}, {"size": 0}, {"size": "five"}, {"size": 5.5}, {"size": True},
                                  {"size": 5, "seed": -1}, {"size": 5, "seed": 2**31}, {"size": 2001},
                                  {"size": 5, "extra": 1}, {"size": 10**30}])
def test_bad_api_draws_are_400s(project, lead, body):
    campaign, _, _ = synthetic(project, lead, items=12, accuracies=(0.9, 0.7), seed=1)
    response = _api(lead).post(f"/api/projects/{project.slug}/campaigns/{campaign.slug}/gold-sample/", body,
                               format="json")
    assert response.status_code == 400, response.content
    assert not GoldSample.objects.exists()


# --- The baselines deliverable ------------------------------------------------------------------


def test_the_baselines_page_shows_interval_size_method_and_the_too_few_notice(client, project, lead, viewer):
    project_services.target_save(project=project, actor=lead, metric="accuracy", comparator=">=", threshold=0.5,
                                 is_primary=True)
    big, _, _ = synthetic(project, lead, items=200, accuracies=(0.9, 0.7), seed=2, slug="big")
    small, _, _ = synthetic(project, lead, items=15, accuracies=(0.9, 0.7), seed=2, slug="small")
    client.force_login(viewer)
    page = client.get(reverse("projects:deliverable", args=[project.slug, "baselines"])).content.decode()
    panel = page[page.index('id="human-baseline-heading"'):]
    estimate = selectors.human_baseline(campaign=big)
    assert f"95% interval {estimate.low:.3f}–{estimate.high:.3f} · 200 items · estimated from agreement" in panel
    assert "Too few items to compare with models: 15, fewer than 30." in panel
    runs = page[page.index('data-testid="baseline-runs"'):]
    assert "Human (Big)" in runs and "Human (Small)" in runs
    small_row = runs[runs.index("Human (Small)"):]
    small_row = small_row[:small_row.index("</tr>")]
    assert "too few items to compare with models" in small_row
    assert "meets" not in small_row and "misses" not in small_row
    big_row = runs[runs.index("Human (Big)"):]
    assert f"{estimate.accuracy:.4f} meets" in big_row[:big_row.index("</tr>")]
