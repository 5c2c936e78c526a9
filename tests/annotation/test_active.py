"""Active labelling: the quick baseline, the uncertainty scores, and the queue it reorders."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from datasets.annotation import active, services
from datasets.annotation.models import CampaignItem
from datasets.models import Dataset, DatasetVersion, Item, VersionState
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute

pytestmark = pytest.mark.django_db

GOOD = ["great lovely excellent service", "lovely great product", "excellent lovely parcel", "great great lovely"]
BAD = ["terrible awful broken parcel", "awful broken terrible app", "broken terrible awful service",
       "awful awful broken"]
# To score: clearly good, clearly bad, and one that says both in equal measure.
POOL = ["lovely excellent great", "terrible broken awful", "great awful lovely broken", "excellent terrible"]


def version_of(project, texts: list[str], *, kind: str = "text", slug: str = "tone") -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, slug=slug, name=slug.title(), kind=kind)
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY,
                                            git_tag=f"{slug}-v1", git_commit="0" * 40, item_count=len(texts))
    Item.objects.bulk_create(
        Item(version=version, key=f"{slug}-{i:06d}", text=text if kind == "text" else "", content_hash=f"{i:064d}",
             file_path=f"images/{i:06d}.png" if kind == "image" else "")
        for i, text in enumerate(texts)
    )
    return version


def labelled_campaign(project, lead, annotator, texts, labels_by_index: dict[int, str], *, kind="text",
                      task_type="single"):
    version = version_of(project, texts, kind=kind)
    campaign = services.campaign_create(
        version=version, actor=lead, name="Tone", task_type=task_type, overlap=1, order="sequential",
        labels=[{"name": "good"}, {"name": "bad"}], annotators=[annotator],
    )
    by_key = {ci.item.key: ci for ci in campaign.items.select_related("item")}
    for index, label in labels_by_index.items():
        value = [label] if task_type == "multi" else label
        services.annotation_submit(campaign=campaign, annotator=annotator,
                                   campaign_item=by_key[f"tone-{index:06d}"], value=value)
    return campaign


@pytest.fixture
def tone(project, lead, annotator):
    texts = [*GOOD, *BAD, *POOL]
    labels = {i: "good" for i in range(4)} | {i: "bad" for i in range(4, 8)}
    return labelled_campaign(project, lead, annotator, texts, labels)


def keys_by_score(outcome) -> list[str]:
    keys = dict(CampaignItem.objects.filter(pk__in=list(outcome.scores)).values_list("pk", "item__key"))
    return [keys[pk] for pk, _ in sorted(outcome.scores.items(), key=lambda kv: -kv[1])]


@pytest.mark.parametrize("method", ["entropy", "margin"])
def test_the_mixed_items_come_before_the_clear_ones(tone, method):
    outcome = active.score(tone, method=method)
    assert outcome.trained_on == 8 and outcome.classes == ["bad", "good"]
    assert set(outcome.scores) == set(CampaignItem.objects.filter(campaign=tone, annotation_count=0)
                                      .values_list("pk", flat=True))
    ranked = keys_by_score(outcome)
    assert set(ranked[:2]) == {"tone-000010", "tone-000011"}  # good and bad words together
    assert set(ranked[2:]) == {"tone-000008", "tone-000009"}


# The runner closes stale connections, as a worker does: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_the_job_reorders_the_queue_so_the_next_claim_is_the_most_uncertain(tone, annotator, lead):
    job = active.active_start(campaign=tone, actor=lead, method="entropy")
    assert job_execute(job.pk) == JobState.SUCCEEDED
    job.refresh_from_db()
    assert job.result["trained_on"] == 8 and job.result["scored"] == 4
    assert "trained on 8 items" in job.log
    tone.refresh_from_db()
    assert tone.order == "uncertainty"
    queue = list(CampaignItem.objects.filter(campaign=tone).order_by("position")
                 .values_list("item__key", "uncertainty"))
    assert {key for key, _ in queue[:2]} == {"tone-000010", "tone-000011"}
    assert all(score is None for _, score in queue[4:])  # labelled items go last, unscored
    scores = [score for _, score in queue[:4]]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] < scores[0] <= 1
    claimed = services.task_claim(campaign=tone, annotator=annotator)
    assert claimed.item.key in {"tone-000010", "tone-000011"}


def test_a_multi_label_campaign_is_scored_by_its_label_sets(project, lead, annotator):
    texts = [*GOOD, *BAD, *POOL]
    labels = {i: "good" for i in range(4)} | {i: "bad" for i in range(4, 8)}
    campaign = labelled_campaign(project, lead, annotator, texts, labels, task_type="multi")
    ranked = keys_by_score(active.score(campaign))
    assert set(ranked[:2]) == {"tone-000010", "tone-000011"}


def test_too_few_labels_is_a_clear_refusal(project, lead, annotator):
    campaign = labelled_campaign(project, lead, annotator, [*GOOD, *BAD], {0: "good", 1: "good", 4: "bad"})
    with pytest.raises(ValidationError, match="at least 2 labels with 2 or more decided examples each"):
        active.active_start(campaign=campaign, actor=lead)
    assert not Job.objects.exists()
    with pytest.raises(ValidationError, match="so far: good: 2, bad: 1"):
        active.score(campaign)


# The runner closes stale connections, as a worker does: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_job_started_when_labels_sufficed_fails_clearly_if_they_no_longer_do(tone, lead):
    job = active.active_start(campaign=tone, actor=lead)
    tone.annotations.all().delete()
    assert job_execute(job.pk) == JobState.FAILED
    job.refresh_from_db()
    assert job.message.startswith("Active labelling needs at least 2 labels")


def test_span_campaigns_and_unknown_measures_are_refused(project, text_version, lead, annotator, tone):
    spans = services.campaign_create(version=text_version, actor=lead, name="Spans", task_type="span",
                                     labels=[{"name": "PLACE"}], annotators=[annotator])
    with pytest.raises(ValidationError, match="span campaign has no class per item"):
        active.active_start(campaign=spans, actor=lead)
    with pytest.raises(ValidationError, match="Unknown uncertainty measure"):
        active.active_start(campaign=tone, actor=lead, method="vibes")


def test_only_managers_start_it(tone, annotator):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        active.active_start(campaign=tone, actor=annotator)


def test_uncertainty_is_zero_when_sure_and_one_when_guessing():
    proba = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.4, 0.0]])
    entropy = active.uncertainty(proba, "entropy")
    margin = active.uncertainty(proba, "margin")
    assert entropy[0] == pytest.approx(0) and entropy[1] == pytest.approx(1)
    assert margin[0] == pytest.approx(0) and margin[1] == pytest.approx(1) and margin[2] == pytest.approx(0.8)


def png(grey: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (28, 20), (grey, grey, grey)).save(out, format="PNG")
    return out.getvalue()


def test_image_baseline_learns_from_16x16_grey_pixels(project, lead, annotator):
    shades = [10, 20, 30, 40, 220, 230, 240, 250, 15, 245, 128]  # 8 labelled, then dark, bright, mid-grey
    campaign = labelled_campaign(project, lead, annotator, [""] * len(shades),
                                 {i: "bad" for i in range(4)} | {i: "good" for i in range(4, 8)}, kind="image")
    files = {f"images/{i:06d}.png": png(shade) for i, shade in enumerate(shades)}
    files["images/000009.png"] = b"not an image"  # read as blank, not a crash
    outcome = active.score(campaign, read_image=lambda item: files[item.file_path])
    ranked = keys_by_score(outcome)
    assert ranked[0] == "tone-000010"  # the mid-grey one
    vector = active.image_vector(png(255))
    assert vector.shape == (256,) and vector.min() == pytest.approx(1.0)
    assert not active.image_vector(b"junk").any()
