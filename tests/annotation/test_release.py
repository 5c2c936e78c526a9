"""Releasing a campaign's labels as a dataset version: how labels are decided and written, and
the release end to end with a real Celery worker writing a real DVC version."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from datasets import services as dataset_services
from datasets import storage
from datasets.annotation import release, services
from datasets.annotation.models import CampaignItem, LabelRelease
from datasets.models import DatasetVersion, Item, VersionState
from prakriya.jobs.models import Job, JobState
from tests.fixtures_worker import wait_for

JOB_TIMEOUT = 120.0


def vote(campaign, person, key: str, value) -> None:
    item = CampaignItem.objects.select_related("item").get(campaign=campaign, item__key=key)
    services.annotation_submit(campaign=campaign, annotator=person, campaign_item=item, value=value)


# --- Deciding and encoding labels (database only) ---------------------------------------------------


@pytest.mark.django_db
def test_labels_are_gold_else_strict_majority_and_the_summary_counts_them(campaign, lead, engineer, annotator):
    vote(campaign, annotator, "reviews-000000", "positive")
    vote(campaign, engineer, "reviews-000000", "positive")  # agreed: majority
    vote(campaign, annotator, "reviews-000001", "positive")
    vote(campaign, engineer, "reviews-000001", "negative")  # split: undecided...
    vote(campaign, annotator, "reviews-000002", "neutral")
    vote(campaign, engineer, "reviews-000002", "negative")
    item = CampaignItem.objects.get(campaign=campaign, item__key="reviews-000002")
    services.gold_set(campaign=campaign, actor=lead, campaign_item=item, value="negative")  # ...unless adjudicated
    vote(campaign, annotator, "reviews-000003", "neutral")  # one vote is a strict majority of one
    values, summary = release.decided_labels(campaign)
    assert values == {"reviews-000000": "positive", "reviews-000002": "negative", "reviews-000003": "neutral"}
    assert summary == {
        "gold": 1, "majority": 2, "undecided": 12 - 3, "items": 12,
        "annotators": {"annotator": 4, "engineer": 3}, "method": "gold label if adjudicated, else strict majority",
        "task_type": "single",
    }


@pytest.mark.django_db
def test_multi_labels_are_sorted_and_joined_and_too_long_ones_are_refused(campaign, text_version, lead):
    assert release.dataset_label("multi", ["late", "damaged"]) == "damaged|late"
    assert release.dataset_label("multi", []) is None  # agreed that no label applies: unlabelled
    assert release.dataset_label("single", "positive") == "positive"
    names = [f"{'x' * 90}{i}" for i in range(3)]
    multi = services.campaign_create(version=text_version, actor=lead, name="Long", task_type="multi",
                                     labels=[{"name": n} for n in names])
    with pytest.raises(ValidationError, match="longer than 200 characters"):
        release.relabel_map(multi, {"reviews-000000": names})
    piped = services.campaign_create(version=text_version, actor=lead, name="Piped", task_type="multi",
                                     labels=[{"name": "a|b"}, {"name": "c"}])
    with pytest.raises(ValidationError, match="contains “|”"):
        release.relabel_map(piped, {"reviews-000000": ["a|b", "c"]})
    assert release.relabel_map(piped, {"reviews-000000": ["c"]}) == {"reviews-000000": "c"}


@pytest.mark.django_db
def test_nothing_decided_and_the_wrong_roles_release_nothing(campaign, annotator, viewer, lead):
    with pytest.raises(PermissionDenied):
        release.release_start(campaign=campaign, actor=annotator)
    with pytest.raises(PermissionDenied):
        release.release_start(campaign=campaign, actor=viewer)
    with pytest.raises(ValidationError, match="No item has a decided label yet"):
        release.release_start(campaign=campaign, actor=lead)
    assert not LabelRelease.objects.exists()


# --- End to end: a real worker, a real DVC repository ---------------------------------------------------


REVIEWS = [
    ("The parcel arrived late and damaged.", "negative"),
    ("Great service, thank you!", "positive"),
    ("राम ने दिल्ली में किताब पढ़ी।", None),
    ("Loved it 😀 will order again", "negative"),  # wrong in the upload: the campaign fixes it
    ("Okay I guess.", "neutral"),
    ("یہ کراچی میں ایک جملہ ہے۔", None),
]


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps({"text": t, "label": label}, ensure_ascii=False) + "\n" for t, label in rows),
                    encoding="utf-8")


def wait_for_job(job: Job, workers) -> Job:
    def finished():
        job.refresh_from_db()
        return job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.DEAD)

    wait_for(finished, timeout=JOB_TIMEOUT, what=f"job {job.pk} ({job.kind})", workers=workers, interval=0.3)
    assert job.state == JobState.SUCCEEDED, (job.message, job.log[-3000:])
    return job


def committed_labels(project, dataset, tag: str, tmp_path) -> dict[str, str | None]:
    """The labels as committed to the DVC repository under the tag (not as the database says)."""
    dest = tmp_path / f"check-{tag}"
    storage.materialize_version(project_slug=project.slug, dataset_slug=dataset.slug, tag=tag, dest=dest)
    try:
        lines = (dest / "texts.jsonl").read_text(encoding="utf-8").splitlines()
        return {row["_item"]: row["label"] for row in map(json.loads, lines)}
    finally:
        shutil.rmtree(dest, ignore_errors=True)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_release_writes_a_new_version_with_the_decided_labels(start_worker, project, lead, engineer, annotator,
                                                              tmp_path):
    worker = start_worker()
    dataset = dataset_services.dataset_create(project=project, actor=engineer, slug="reviews", name="Reviews",
                                              kind="text")
    upload = tmp_path / "reviews.jsonl"
    write_jsonl(upload, REVIEWS)
    first = dataset_services.version_start_from_upload(dataset=dataset, actor=engineer, path=upload,
                                                       original_name="reviews.jsonl")
    wait_for_job(first, [worker])
    v1 = DatasetVersion.objects.get(dataset=dataset, number=1)
    keys = {item.text: item.key for item in v1.items.all()}
    key = [keys[text] for text, _ in REVIEWS]

    campaign = services.campaign_create(
        version=v1, actor=lead, name="Sentiment", task_type="single", overlap=2, annotators=[annotator, engineer],
        labels=[{"name": "positive"}, {"name": "negative"}, {"name": "neutral"}],
    )
    vote(campaign, annotator, key[0], "negative")
    vote(campaign, engineer, key[0], "negative")  # agrees with the upload
    vote(campaign, annotator, key[2], "neutral")
    vote(campaign, engineer, key[2], "neutral")  # labels an unlabelled item
    vote(campaign, annotator, key[3], "positive")
    vote(campaign, engineer, key[3], "negative")
    gold = CampaignItem.objects.get(campaign=campaign, item__key=key[3])
    services.gold_set(campaign=campaign, actor=lead, campaign_item=gold, value="positive")  # fixes the upload
    vote(campaign, annotator, key[4], "positive")
    vote(campaign, engineer, key[4], "negative")  # split and not adjudicated: keeps "neutral"
    services.campaign_close(campaign=campaign, actor=lead)

    released = release.release_start(campaign=campaign, actor=lead)
    assert released.job is not None and released.guideline_version.number == 1
    assert released.summary["gold"] == 1 and released.summary["majority"] == 2
    assert released.summary["undecided"] == 3
    assert released.summary["annotators"] == {"annotator": 4, "engineer": 4}
    wait_for_job(released.job, [worker])

    v2 = release.release_version(released)
    assert v2 is not None and v2.number == 2 and v2.parent_id == v1.pk
    wait_for(lambda: DatasetVersion.objects.get(pk=v2.pk).state == VersionState.READY, timeout=JOB_TIMEOUT,
             what="v2 ready", workers=[worker])
    v2.refresh_from_db()
    assert v2.git_tag == "reviews-v2" and len(v2.git_commit) == 40
    assert "Labels of campaign “Sentiment”: 1 gold, 2 majority" in v2.message
    expected = {
        key[0]: "negative", key[1]: "positive", key[2]: "neutral", key[3]: "positive", key[4]: "neutral",
        key[5]: None,
    }
    assert dict(Item.objects.filter(version=v2).values_list("key", "label")) == expected
    assert committed_labels(project, dataset, "reviews-v2", tmp_path) == expected
    # v1 never changes.
    assert Item.objects.get(version=v1, key=key[3]).label == "negative"
    assert committed_labels(project, dataset, "reviews-v1", tmp_path)[key[3]] == "negative"
    assert [(r.pk, v.pk) for r, v in release.release_list(campaign=campaign)] == [(released.pk, v2.pk)]

    # A multi-label campaign over the same version: label sets are written sorted and joined with "|".
    topics = services.campaign_create(
        version=v1, actor=lead, name="Topics", task_type="multi", overlap=1, annotators=[annotator],
        labels=[{"name": "service"}, {"name": "delivery"}],
    )
    vote(topics, annotator, key[0], ["service", "delivery"])
    vote(topics, annotator, key[1], ["service"])
    second = release.release_start(campaign=topics, actor=engineer)
    wait_for_job(second.job, [worker])
    v3 = release.release_version(second)
    assert v3.number == 3 and v3.git_tag == "reviews-v3"
    labels = committed_labels(project, dataset, "reviews-v3", tmp_path)
    assert labels[key[0]] == "delivery|service" and labels[key[1]] == "service"
    assert labels[key[4]] == "neutral"  # nobody said anything about it


def spans_of(text: str, *found: tuple[str, str]) -> list[dict]:
    """The spans of each (words, label), offsets in code points (what Python indexes a str by)."""
    spans = []
    for words, label in found:
        start = text.index(words)
        spans.append({"start": start, "end": start + len(words), "label": label})
    return sorted(spans, key=lambda s: (s["start"], s["end"]))


NER = [
    "Ravi flew to Delhi.",
    "Meena met Arjun in Pune.",
    "राम ने दिल्ली में किताब पढ़ी।",
    "Nothing happened.",
    "Kamala works in Chennai.",
    "علی کراچی میں رہتا ہے",
]


def committed_texts(project, dataset, tag: str) -> dict[str, dict]:
    """texts.jsonl at the tag, read through DVC's own API (not as the database says)."""
    import dvc.api

    raw = dvc.api.read(f"datasets/{dataset.slug}/data/texts.jsonl", repo=str(storage.repo_path(project.slug)),
                       rev=tag, mode="r", encoding="utf-8")
    return {row["_item"]: row for row in map(json.loads, raw.splitlines())}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_closing_a_span_campaign_writes_its_decided_spans_as_a_new_version(start_worker, client, project, lead,
                                                                           engineer, annotator, tmp_path):
    worker = start_worker()
    dataset = dataset_services.dataset_create(project=project, actor=engineer, slug="ner", name="NER", kind="text")
    pre = {  # pre-annotated in the upload
        0: spans_of(NER[0], ("Ravi", "PER")),
        1: spans_of(NER[1], ("Meena", "PER")),
        4: spans_of(NER[4], ("Kamala", "PER")),
    }
    upload = tmp_path / "ner.jsonl"
    upload.write_text("".join(
        json.dumps({"text": text, "label": "news" if i % 2 else None, **({"spans": pre[i]} if i in pre else {})},
                   ensure_ascii=False) + "\n"
        for i, text in enumerate(NER)
    ), encoding="utf-8")
    first = dataset_services.version_start_from_upload(dataset=dataset, actor=engineer, path=upload,
                                                       original_name="ner.jsonl")
    wait_for_job(first, [worker])
    v1 = DatasetVersion.objects.get(dataset=dataset, number=1)
    key = [v1.items.get(text=text).key for text in NER]
    assert {k: spans for k, spans in v1.items.values_list("key", "spans")} == {
        key[i]: pre.get(i) for i in range(len(NER))
    }

    campaign = services.campaign_create(
        version=v1, actor=lead, name="Entities", task_type="span", overlap=2, annotators=[annotator, engineer],
        labels=[{"name": "PER"}, {"name": "LOC"}],
    )
    full = {
        0: spans_of(NER[0], ("Ravi", "PER"), ("Delhi", "LOC")),
        2: spans_of(NER[2], ("राम", "PER"), ("दिल्ली", "LOC")),
        5: spans_of(NER[5], ("علی", "PER"), ("کراچی", "LOC")),
    }
    for person in (annotator, engineer):
        vote(campaign, person, key[0], full[0])  # majority: completes the upload's spans
        vote(campaign, person, key[3], [])  # agreed: no entity in it
        vote(campaign, person, key[5], full[5])  # majority, right to left
    vote(campaign, annotator, key[1], spans_of(NER[1], ("Meena", "PER"), ("Arjun", "PER"), ("Pune", "LOC")))
    vote(campaign, engineer, key[1], spans_of(NER[1], ("Meena", "PER")))  # split: keeps the upload's
    vote(campaign, annotator, key[2], spans_of(NER[2], ("राम", "PER")))
    vote(campaign, engineer, key[2], full[2])
    gold = CampaignItem.objects.get(campaign=campaign, item__key=key[2])
    services.gold_set(campaign=campaign, actor=lead, campaign_item=gold, value=full[2])
    # key[4]: nobody labelled it; it keeps the upload's spans.

    client.force_login(lead)
    response = client.post(reverse("annotation:close", args=[project.slug, campaign.slug]))
    assert response.status_code == 302 and response.url.startswith("/jobs/"), response
    page = client.get(response.url).content.decode()
    assert "“Entities” is closed. Its spans are being written as a new version." in page
    released = LabelRelease.objects.get(campaign=campaign)
    assert released.job is not None and "spans" not in released.summary
    assert (released.summary["gold"], released.summary["majority"], released.summary["undecided"]) == (1, 3, 2)
    wait_for_job(released.job, [worker])

    v2 = release.release_version(released)
    wait_for(lambda: DatasetVersion.objects.get(pk=v2.pk).state == VersionState.READY, timeout=JOB_TIMEOUT,
             what="v2 ready", workers=[worker])
    v2.refresh_from_db()
    assert (v2.number, v2.parent_id, v2.git_tag) == (2, v1.pk, "ner-v2")
    assert "Spans of campaign “Entities”: 1 gold, 3 majority, 2 unchanged" in v2.message
    expected = {key[0]: full[0], key[1]: pre[1], key[2]: full[2], key[3]: [], key[4]: pre[4], key[5]: full[5]}
    assert dict(Item.objects.filter(version=v2).values_list("key", "spans")) == expected
    committed = committed_texts(project, dataset, "ner-v2")
    assert {k: row.get("spans") for k, row in committed.items()} == expected
    assert committed[key[5]]["spans"] == [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 9, "label": "LOC"}]
    # Labels and texts are untouched; so is v1.
    assert dict(Item.objects.filter(version=v2).values_list("key", "label")) == dict(
        v1.items.values_list("key", "label"))
    assert {k: row["text"] for k, row in committed.items()} == dict(zip(key, NER, strict=True))
    assert {k: row.get("spans") for k, row in committed_texts(project, dataset, "ner-v1").items()} == {
        key[i]: pre.get(i) for i in range(len(NER))
    }
    assert "spans" not in committed_texts(project, dataset, "ner-v1")[key[2]]  # no field without spans
    assert [(r.pk, v.pk) for r, v in release.release_list(campaign=campaign)] == [(released.pk, v2.pk)]
