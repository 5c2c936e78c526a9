"""The agreement job: run by a real Celery worker over a campaign's annotations, its report holds
exactly what `compute_agreement` gives on the same annotations (and what scikit-learn's Cohen's
kappa gives for a pair), with annotators named and the most disagreed units pointing at the
campaign items the adjudication page takes. A campaign without two labels on any item fails
with a sentence, not a traceback."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from sklearn.metrics import cohen_kappa_score

from datasets.annotation import agreement, services
from datasets.annotation import kinds as annotation_kinds
from datasets.annotation.agreement.jobs import agreement_start, timeline_bucket
from datasets.annotation.models import AgreementReport, Annotation, CampaignItem
from datasets.models import Dataset, DatasetVersion, Item, VersionState
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from prakriya.jobs.services import job_enqueue
from tests.fixtures_annotation import make_version

JOB_TIMEOUT = 60.0
LABELS = ["low", "medium", "high"]
# Twelve items: what the annotator and the engineer said about each. They disagree on items
# 2, 5, 7 and 10 (two of them a near miss, two a distant one); the lead labels only items 0–4.
ANNOTATOR = ["low", "low", "medium", "high", "high", "low", "medium", "medium", "high", "low", "high", "medium"]
ENGINEER = ["low", "low", "high", "high", "high", "high", "medium", "low", "high", "low", "medium", "medium"]
LEAD = ["low", "medium", "medium", "high", "high"]


def scored_campaign(project, lead, engineer, annotator, *, slug="scores"):
    version = make_version(project, slug=slug, count=len(ANNOTATOR))
    campaign = services.campaign_create(
        version=version, actor=lead, name="Severity", task_type="single", overlap=3, order="sequential",
        labels=[{"name": name} for name in LABELS], annotators=[annotator, engineer, lead],
    )
    queue = {ci.item.key: ci for ci in campaign.items.select_related("item")}
    for person, values in ((annotator, ANNOTATOR), (engineer, ENGINEER), (lead, LEAD)):
        for index, value in enumerate(values):
            services.annotation_submit(campaign=campaign, annotator=person, campaign_item=queue[f"{slug}-{index:06d}"],
                                       value=value)
    return campaign


def expected_stats(campaign, *, ordered=False) -> dict:
    """compute_agreement on the campaign's annotations, loaded here as the job's docstring says:
    (item, annotator, value, updated_at) in the order they were made."""
    rows = [(a.campaign_item.item_id, a.annotator_id, a.value, a.updated_at)
            for a in Annotation.objects.filter(campaign=campaign).select_related("campaign_item").order_by("id")]
    data = agreement.code_annotations(campaign.task_type, rows, LABELS)
    return agreement.compute_agreement(data, ordered=ordered, top=20, resamples=1000, seed=0)


def wait_until_finished(job: Job, worker) -> Job:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job.pk} did not finish: {job.state} {job.message}\n{worker.describe()}")


# The worker is another process: it only sees committed rows.
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_computes_the_report_the_statistics_give_and_names_people_and_items(
        project, lead, engineer, annotator, start_worker):
    campaign = scored_campaign(project, lead, engineer, annotator)
    # The first two items were labelled three days ago: the timeline spans days.
    early = Annotation.objects.filter(campaign=campaign, campaign_item__position__lt=2)
    early.update(updated_at=early.first().updated_at - timedelta(days=3))
    # A campaign where nobody's labels meet: its job fails. agreement_start refuses it at once
    # (below); the job is enqueued directly, as a run started before labels went away would be.
    lonely = services.campaign_create(
        version=make_version(project, slug="lonely", count=3), actor=lead, name="Lonely", task_type="single",
        overlap=2, labels=[{"name": "a"}, {"name": "b"}], annotators=[annotator, engineer],
    )
    for ci in lonely.items.all():
        services.annotation_submit(campaign=lonely, annotator=annotator, campaign_item=ci, value="a")
    with pytest.raises(ValidationError, match="no item has labels from two annotators"):
        agreement_start(campaign=lonely, actor=lead)
    doomed = job_enqueue(kind=annotation_kinds.AGREEMENT, project=project, target=lonely, created_by=lead,
                         params={"ordered": False})
    job = agreement_start(campaign=campaign, actor=engineer)
    assert agreement_start(campaign=campaign, actor=lead) == job  # not computed twice

    worker = start_worker()
    job = wait_until_finished(job, worker)
    assert job.state == JobState.SUCCEEDED, (job.message, job.log, worker.describe())
    report = AgreementReport.objects.get(job=job)
    assert report.campaign == campaign and report.annotation_count == 12 + 12 + 5
    stats, timeline = report.result["stats"], report.result["timeline"]
    assert report.result["ordered"] is False
    # The job row keeps a summary and the way to the report, not a second copy of it.
    assert "stats" not in job.result and job.result["report_id"] == report.pk
    assert job.result["krippendorff_alpha"] == stats["krippendorff_alpha"]["nominal"]["value"]
    assert job.progress == 100.0 and "nominal alpha" in job.log

    # The same numbers as the statistics package on the same data, intervals included.
    expected = expected_stats(campaign)
    for key in ("units", "units_labelled", "units_with_pairs", "annotations", "pairs", "labels", "ratings_per_unit",
                "percent_agreement", "unanimous_units", "fleiss_kappa", "krippendorff_alpha", "per_label",
                "confusion", "bootstrap"):
        assert stats[key] == expected[key], key
    assert stats["krippendorff_alpha"]["nominal"]["ci"] is not None
    assert stats["krippendorff_alpha"]["ordinal"] is None  # not asked for
    # Missing annotations: the lead labelled five items only.
    assert stats["ratings_per_unit"] == [{"ratings": 2, "units": 7}, {"ratings": 3, "units": 5}]

    # Annotators by username; their ids kept alongside.
    ids = {annotator.pk: "annotator", engineer.pk: "engineer", lead.pk: "lead"}
    assert stats["annotators"] == [ids[pk] for pk in expected["annotators"]]
    assert stats["annotator_ids"] == expected["annotators"]
    per_annotator = {row["name"]: row for row in stats["per_annotator"]}
    assert per_annotator["lead"]["annotations"] == 5 and per_annotator["lead"]["annotator_id"] == lead.pk
    pairs = {frozenset((stats["annotators"][p["a"]], stats["annotators"][p["b"]])): p for p in stats["pairwise_cohen"]}
    assert pairs[frozenset(("annotator", "engineer"))]["kappa"] == pytest.approx(
        cohen_kappa_score(ANNOTATOR, ENGINEER), abs=1e-9)
    assert pairs[frozenset(("annotator", "lead"))]["units"] == 5
    assert pairs[frozenset(("annotator", "lead"))]["kappa"] == pytest.approx(
        cohen_kappa_score(ANNOTATOR[:5], LEAD), abs=1e-9)

    # The most disagreed items: campaign item ids the adjudication page takes, and their keys.
    queue = {ci.pk: ci.item.key for ci in CampaignItem.objects.filter(campaign=campaign).select_related("item")}
    disputed = {f"scores-{i:06d}" for i, (a, e) in enumerate(zip(ANNOTATOR, ENGINEER, strict=False)) if a != e}
    disputed.add("scores-000001")  # the lead said medium where both others said low
    listed = stats["most_disagreed"]
    assert {row["key"] for row in listed} == disputed
    assert all(queue[row["campaign_item"]] == row["key"] and "item" not in row for row in listed)
    assert [row["disagreement"] for row in listed] == [e["disagreement"] for e in expected["most_disagreed"]]

    # Over time: one point per day, each unit once, on the day of its last label.
    assert report.result["timeline_bucket"] == "day"
    assert [point["units"] for point in timeline] == [2, 10]

    # The campaign with nothing to compare: a sentence for whoever follows the job.
    doomed = wait_until_finished(doomed, worker)
    assert doomed.state == JobState.FAILED
    assert doomed.message.startswith("Agreement compares annotators on the same items, and no item has labels "
                                     "from two annotators yet (3 annotations on 3 items)")
    assert "Traceback" not in doomed.message
    assert not AgreementReport.objects.filter(campaign=lonely).exists()


# The runner closes stale connections, as a worker does: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_ordered_labels_add_ordinal_and_interval_alpha(project, lead, engineer, annotator):
    campaign = scored_campaign(project, lead, engineer, annotator)
    job = agreement_start(campaign=campaign, actor=lead, ordered=True)
    assert job_execute(job.pk) == JobState.SUCCEEDED
    stats = AgreementReport.objects.get(job=job).result["stats"]
    expected = expected_stats(campaign, ordered=True)
    assert stats["krippendorff_alpha"] == expected["krippendorff_alpha"]
    alpha = stats["krippendorff_alpha"]
    # Two of the four disagreements are near misses (low/medium, medium/high): ordinal alpha
    # forgives them more than nominal alpha does.
    assert alpha["ordinal"]["value"] > alpha["nominal"]["value"]
    assert alpha["interval"]["value"] is not None


@pytest.mark.django_db(transaction=True)
def test_a_span_campaign_names_the_disputed_token(project, lead, engineer, annotator):
    dataset = Dataset.objects.create(project=project, slug="places", name="Places", kind="text")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY,
                                            git_tag="places-v1", git_commit="0" * 40, item_count=1)
    text = "राम ने दिल्ली में किताब पढ़ी।"
    Item.objects.create(version=version, key="t0", content_hash="0" * 64, size_bytes=len(text.encode()), text=text)
    campaign = services.campaign_create(
        version=version, actor=lead, name="Places", task_type="span", overlap=2,
        labels=[{"name": "PERSON"}, {"name": "PLACE"}], annotators=[annotator, engineer],
    )
    ci = campaign.items.get()
    delhi = text.index("दिल्ली")
    place = {"start": delhi, "end": delhi + len("दिल्ली"), "label": "PLACE"}
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=ci,
                               value=[{"start": 0, "end": 3, "label": "PERSON"}, place])
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=ci,
                               value=[{**place, "label": "PERSON"}])
    job = agreement_start(campaign=campaign, actor=lead)
    assert job_execute(job.pk) == JobState.SUCCEEDED, Job.objects.get(pk=job.pk).message
    stats = AgreementReport.objects.get(job=job).result["stats"]
    assert stats["labels"] == ["O", "PERSON", "PLACE"]
    tokens = {row["token"]: row for row in stats["most_disagreed"]}
    assert set(tokens) == {"राम", "दिल्ली"}
    assert tokens["दिल्ली"]["counts"] == {"PERSON": 1, "PLACE": 1}
    assert all(row["campaign_item"] == ci.pk and row["key"] == "t0" for row in tokens.values())


@pytest.mark.django_db(transaction=True)
def test_a_multi_label_campaign_asks_one_question_per_label(project, lead, engineer, annotator):
    version = make_version(project, slug="issues", count=3)
    campaign = services.campaign_create(
        version=version, actor=lead, name="Issues", task_type="multi", overlap=2,
        labels=[{"name": "late"}, {"name": "damaged"}], annotators=[annotator, engineer],
    )
    items = list(campaign.items.order_by("position"))
    for ci, (mine, theirs) in zip(items, [(["late"], ["late"]), (["late", "damaged"], ["late"]), ([], [])],
                                  strict=True):
        services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=ci, value=mine)
        services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=ci, value=theirs)
    job = agreement_start(campaign=campaign, actor=engineer)
    assert job_execute(job.pk) == JobState.SUCCEEDED, Job.objects.get(pk=job.pk).message
    stats = AgreementReport.objects.get(job=job).result["stats"]
    assert stats["per_label_basis"] == "label units"
    [row] = stats["most_disagreed"]
    assert row["label"] == "damaged" and row["campaign_item"] == items[1].pk
    assert stats["percent_agreement"]["value"] == pytest.approx(5 / 6)


def test_starting_it_is_for_managers_and_ordered_labels_for_single_label_campaigns(project, campaign, lead,
                                                                                    annotator):
    with pytest.raises(PermissionDenied):
        agreement_start(campaign=campaign, actor=annotator)
    multi = services.campaign_create(version=campaign.version, actor=lead, name="Multi", task_type="multi",
                                     labels=[{"name": "a"}, {"name": "b"}])
    with pytest.raises(ValidationError) as refused:
        agreement_start(campaign=multi, actor=lead, ordered=True)
    assert "single-label" in str(refused.value)
    assert not Job.objects.filter(kind=annotation_kinds.AGREEMENT).exists()


@pytest.mark.parametrize(("hours", "bucket"), [(0, "hour"), (59, "hour"), (61, "day"), (24 * 59, "day"),
                                               (24 * 61, "week"), (24 * 7 * 61, "4 weeks")])
def test_the_timeline_uses_the_narrowest_readable_bucket(hours, bucket):
    assert timeline_bucket([0.0, hours * 3600.0, float("nan")])[0] == bucket
