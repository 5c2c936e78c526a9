"""The lead runs a labelling campaign in the browser: creates it from a dataset version, decides a
disagreement and adds it to the guideline as an example, draws a gold sample for the human
baseline, closes the campaign and watches its labels become a new dataset version. The annotations themselves are made through the services (the
labelling page has its own browser test); a real Celery worker process writes the versions."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Page, expect

from datasets import services as dataset_services
from datasets.annotation import services
from datasets.annotation.models import Campaign, GuidelineExample
from datasets.models import DatasetVersion, Item, VersionState
from prakriya.jobs.models import Job, JobState
from tests.e2e.conftest import VERSION_PAGE, back_to, follow_job, login

# The worker is another process: it only sees committed rows.
pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 90_000
REVIEWS = [
    ("The parcel arrived late and damaged.", "negative"),
    ("Great service, thank you!", "positive"),
    ("राम ने दिल्ली में किताब पढ़ी।", None),
    ("Loved it 😀 will order again", None),
    ("Okay I guess.", None),
    ("یہ کراچی میں ایک جملہ ہے۔", None),
]
DISPUTED = "Loved it 😀 will order again"


def _first_version(project, engineer, tmp_path, worker) -> DatasetVersion:
    dataset = dataset_services.dataset_create(project=project, actor=engineer, slug="reviews", name="Reviews",
                                              kind="text")
    upload = tmp_path / "reviews.jsonl"
    upload.write_text("".join(json.dumps({"text": t, "label": label}, ensure_ascii=False) + "\n"
                              for t, label in REVIEWS), encoding="utf-8")
    job = dataset_services.version_start_from_upload(dataset=dataset, actor=engineer, path=upload,
                                                     original_name="reviews.jsonl")
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.DEAD):
            break
        time.sleep(0.3)
    assert job.state == JobState.SUCCEEDED, (job.message, job.log, worker.describe())
    return DatasetVersion.objects.get(dataset=dataset, number=1)


def _annotate(campaign: Campaign, annotator, engineer) -> None:
    """Both annotators label every item; they agree except on the disputed review."""
    for person in (annotator, engineer):
        while (task := services.task_claim(campaign=campaign, annotator=person)) is not None:
            text = task.item.text
            if text == DISPUTED:
                value = "positive" if person == annotator else "negative"
            else:
                value = "negative" if "late" in text else ("positive" if "Great" in text else "neutral")
            services.annotation_submit(campaign=campaign, annotator=person, campaign_item=task, value=value)


def test_lead_creates_adjudicates_closes_and_gets_a_labelled_version(new_page, project, lead, engineer, annotator,
                                                                     start_worker, tmp_path):
    worker = start_worker()
    v1 = _first_version(project, engineer, tmp_path, worker)

    page: Page = new_page()
    login(page, "lead", next_path=f"/projects/{project.slug}/")
    page.locator("nav.project-nav").get_by_role("link", name="Labelling").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Labelling")
    expect(page.get_by_text("No campaigns yet.")).to_be_visible()

    # The campaign, from the version.
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Dataset version").select_option(label="Reviews v1 (text classification, 6 items)")
    page.get_by_label("Name").fill("Sentiment")
    page.get_by_label("Task").select_option(label="Single label")
    page.get_by_role("textbox", name="Labels").fill("positive, #2ca02c, p\nnegative, #d62728, n\nneutral, u")
    page.get_by_label("Overlap (annotators per item)").fill("2")
    page.get_by_label("annotator (annotator)").check()
    page.get_by_label("engineer (engineer)").check()
    page.get_by_label("Guideline introduction").fill("How does the **writer** feel?")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url(f"**/projects/{project.slug}/campaigns/sentiment/")
    expect(page.locator("ul.messages .message")).to_have_text(["Campaign “Sentiment” created with 6 items."])
    expect(page.get_by_test_id("campaign-state")).to_have_text("Open")
    campaign = Campaign.objects.get(project=project, slug="sentiment")
    assert campaign.version_id == v1.pk and campaign.overlap == 2
    assert set(campaign.annotators.all()) == {annotator, engineer}

    # The annotators label; the page shows their progress.
    _annotate(campaign, annotator, engineer)
    page.reload()
    expect(page.get_by_test_id("campaign-progress")).to_contain_text("100%")
    expect(page.locator("#annotators-chart.js-plotly-plot")).to_be_visible()

    # One disagreement: the lead decides it and adds it to the guideline.
    page.get_by_role("link", name="Adjudicate (1)").click()
    queue = page.get_by_test_id("disagreements")
    expect(queue.locator("tbody tr")).to_have_count(1)
    expect(queue).to_contain_text(DISPUTED)
    expect(queue).to_contain_text("positive: annotator")
    expect(queue).to_contain_text("negative: engineer")
    queue.get_by_role("link", name="Decide").click()
    expect(page.get_by_test_id("adjudicated-item")).to_contain_text(DISPUTED)
    page.get_by_label("positive", exact=True).check()
    page.get_by_label("Note:", exact=True).fill("The emoji and “order again” say it all.")
    page.get_by_label("Add this item to the guideline as an example of the chosen label").check()
    page.get_by_label("Note for the example").fill("Pleased, even without the word “good”.")
    page.get_by_role("button", name="Save the gold label").click()
    expect(page.locator("ul.messages .message")).to_have_text(
        ["Gold label saved. Added to the guideline as an example of “positive” (v2)."]
    )
    expect(page.get_by_text("No disagreements left to decide.")).to_be_visible()
    # A decided disagreement says nothing of the annotators (it is hard by construction): the
    # baseline is estimated from their agreement (5 of 6 items, three labels), on too few items.
    baseline = page.get_by_test_id("human-baseline")
    expect(baseline.get_by_test_id("human-baseline-method")).to_have_text("estimated from agreement")
    expect(baseline.get_by_test_id("human-baseline-mean")).to_have_text("0.911")
    expect(baseline.get_by_test_id("human-baseline-too-few")).to_be_visible()

    # A gold sample, drawn among the items both labelled, lists what is left to decide, agreed or not.
    draw = page.get_by_test_id("gold-sample-form")
    draw.get_by_label("Items").fill("6")
    draw.get_by_role("button", name="Draw").click()
    expect(page.locator("ul.messages .message")).to_have_text(
        ["6 items drawn into the gold sample: adjudicate them below, whether their annotators agreed or not."]
    )
    sample = page.get_by_test_id("sample-queue")
    expect(sample.locator("tbody tr")).to_have_count(5)  # the disputed review is decided already
    expect(sample).not_to_contain_text(DISPUTED)
    example = GuidelineExample.objects.get(guideline__campaign=campaign, guideline__number=2)
    assert example.label == "positive" and example.campaign_item.item.text == DISPUTED

    # Closing writes the labels as a new version; the job's bar runs to the end.
    page.get_by_role("link", name="Sentiment", exact=True).click()
    page.get_by_role("button", name="Close the campaign").click()
    page.wait_for_url("**/jobs/*/")
    expect(page.locator("ul.messages .message")).to_have_text(
        ["“Sentiment” is closed. Its labels are being written as a new version."]
    )
    # Once written, the job's page goes to the new version by itself.
    back_to(page, follow_job(page, VERSION_PAGE, timeout=JOB_TIMEOUT_MS))
    expect(page.locator("#job [data-role=state]")).to_have_text("Succeeded")
    expect(page.locator("#job progress[data-role=bar]")).to_have_js_property("value", 100)

    # The campaign page links the new version, which holds the decided labels.
    page.goto(f"/projects/{project.slug}/campaigns/sentiment/")
    expect(page.get_by_test_id("campaign-state")).to_have_text("Closed")
    releases = page.get_by_test_id("releases")
    expect(releases.locator("tbody tr")).to_have_count(1)
    expect(releases.get_by_test_id("version-state")).to_have_text("Ready")
    releases.get_by_role("link", name="Reviews v2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviews v2")
    v2 = DatasetVersion.objects.get(dataset=v1.dataset, number=2)
    assert v2.state == VersionState.READY and v2.parent_id == v1.pk and v2.git_tag == "reviews-v2"
    labels = {item.text: item.label for item in Item.objects.filter(version=v2)}
    assert labels[DISPUTED] == "positive"  # the lead's gold label
    assert labels["Okay I guess."] == "neutral"  # the annotators' majority
    assert labels["The parcel arrived late and damaged."] == "negative"
    assert Job.objects.filter(kind="dataset_version_write", state=JobState.SUCCEEDED).count() == 2
