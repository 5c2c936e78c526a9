"""The labelling issue end to end, in Chromium: an annotator logs in, labels ten items with the
keyboard and reads the guideline; the lead runs agreement, adjudicates a disagreement it points
at, and closes the campaign into a new dataset version holding the adjudicated label.

Everything is real: the first dataset version is uploaded through the datasets services and
written by a Celery worker process, which also runs the agreement job and writes the release.
The other annotator's labels are made through the services beforehand, so that there is
something to disagree about."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Page, expect

from datasets import services as dataset_services
from datasets.annotation import services
from datasets.annotation.models import AgreementReport, Annotation, CampaignItem
from datasets.models import DatasetVersion, Item, VersionState
from prakriya.jobs.models import JobState
from tests.e2e.conftest import VERSION_PAGE, back_to, follow_job, login

# The worker is another process: it only sees committed rows.
pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 90_000
LAPTOP = {"width": 1366, "height": 768}
KEY_OF = {"positive": "p", "negative": "n", "neutral": "u"}
# Eleven reviews and what they say: the annotator labels ten of them, the eleventh is left.
TRUTH = {
    "The parcel arrived late and damaged.": "negative",
    "Great service, thank you!": "positive",
    "राम ने दिल्ली में किताब पढ़ी।": "neutral",
    "Loved it 😀 will order again": "positive",
    "Okay I guess.": "neutral",
    "یہ کراچی میں ایک جملہ ہے۔": "neutral",
    "Refund still not processed after 3 weeks.": "negative",
    "আমি ঢাকায় থাকি।": "neutral",
    "The app crashes on start.": "negative",
    "யாழ்ப்பாணம் ஒரு அழகான நகரம்.": "neutral",
    "Where is my order?": "negative",
}
SECOND_OPINION = {"positive": "neutral", "neutral": "negative", "negative": "positive"}
DISPUTED_POSITIONS = (1, 4)  # in the queue: both among the annotator's first ten items


def wait_for_job(job, worker):
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            break
        time.sleep(0.3)
    assert job.state == JobState.SUCCEEDED, (job.message, job.log, worker.describe())


def first_version(project, engineer, tmp_path, worker) -> DatasetVersion:
    dataset = dataset_services.dataset_create(project=project, actor=engineer, slug="reviews", name="Reviews",
                                              kind="text")
    upload = tmp_path / "reviews.jsonl"
    upload.write_text("".join(json.dumps({"text": text, "label": None}, ensure_ascii=False) + "\n"
                              for text in TRUTH), encoding="utf-8")
    wait_for_job(dataset_services.version_start_from_upload(dataset=dataset, actor=engineer, path=upload,
                                                            original_name="reviews.jsonl"), worker)
    return DatasetVersion.objects.get(dataset=dataset, number=1)


def test_annotator_labels_lead_measures_agreement_adjudicates_and_releases(new_page, project, lead, engineer,
                                                                          annotator, start_worker, tmp_path):
    worker = start_worker()
    v1 = first_version(project, engineer, tmp_path, worker)
    campaign = services.campaign_create(
        version=v1, actor=lead, name="Sentiment", task_type="single", overlap=2, order="sequential",
        labels=[{"name": "positive", "shortcut": "p"}, {"name": "negative", "shortcut": "n"},
                {"name": "neutral", "shortcut": "u"}],
        annotators=[annotator, engineer], introduction="How does the **writer** feel?",
        definitions={"positive": "The writer is pleased."},
    )
    # The engineer's labels: the truth, except on two items early in the queue.
    queue = list(CampaignItem.objects.filter(campaign=campaign).select_related("item").order_by("position"))
    for ci in queue:
        truth = TRUTH[ci.item.text]
        value = SECOND_OPINION[truth] if ci.position in DISPUTED_POSITIONS else truth
        services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=ci, value=value)
    disputed = queue[DISPUTED_POSITIONS[0]].item.text

    # --- The annotator: ten items with the keyboard only, then the guideline, one key away.
    page: Page = new_page(viewport=LAPTOP)
    campaign_path = f"/projects/{project.slug}/campaigns/{campaign.slug}/"
    login(page, "annotator", next_path=campaign_path)
    page.get_by_role("link", name="Label", exact=True).click()
    page.wait_for_load_state()  # the page's script listens for keys once loaded
    text = page.locator('#labelling [data-role="text"]')
    mine = page.locator('#labelling [data-role="mine"]')
    expect(text).to_be_visible()
    for done in range(1, 11):
        shown = text.inner_text().strip()
        label = TRUTH[shown]
        page.keyboard.press(KEY_OF[label])
        expect(page.locator(f'.label-button[data-label="{label}"]')).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("Enter")
        expect(mine).to_have_text(str(done))
        expect(text).not_to_have_text(shown)
    panel = page.locator("#guideline-panel")
    page.keyboard.press("g")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("How does the writer feel?")
    expect(panel.locator('.guideline-label[data-label="positive"] .definition')).to_have_text("The writer is pleased.")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    made = Annotation.objects.filter(campaign=campaign, annotator=annotator).select_related("campaign_item__item")
    assert made.count() == 10 and all(a.value == TRUTH[a.campaign_item.item.text] for a in made)
    page.get_by_role("button", name="Log out").click()

    # --- The lead: agreement, computed by a job whose bar runs to the end.
    login(page, "lead", next_path=campaign_path)
    page.get_by_role("link", name="Agreement", exact=True).click()
    expect(page.get_by_test_id("no-report")).to_have_text("No agreement computed yet.")
    # The job page as the server sent it: a fast job may send the page on to the report before
    # the message could be read off the screen.
    with page.expect_response(lambda r: re.search(r"/jobs/\d+/$", r.url) is not None
                              and r.request.method == "GET") as job_page:
        page.get_by_role("button", name="Run agreement").click()
    assert "Computing the agreement of “Sentiment”." in job_page.value.text()
    # Once computed, the job's page goes to the agreement report by itself.
    back_to(page, follow_job(page, f"**{campaign_path}agreement/", timeout=JOB_TIMEOUT_MS))
    expect(page.locator("#job [data-role=state]")).to_have_text("Succeeded")
    expect(page.locator("#job progress[data-role=bar]")).to_have_js_property("value", 100)

    page.goto(f"{campaign_path}agreement/")
    for chart in ("pairwise-kappa", "label-confusion", "per-label-alpha"):
        expect(page.locator(f"#agreement-{chart}.js-plotly-plot")).to_be_visible()
    # Everything was labelled within the hour: one point in time, said rather than charted.
    expect(page.get_by_test_id("timeline-single")).to_contain_text("within the same hour")
    report = AgreementReport.objects.get(campaign=campaign)
    stats = report.result["stats"]
    assert report.annotation_count == 21 and stats["units_with_pairs"] == 10
    alpha = stats["krippendorff_alpha"]["nominal"]
    expect(page.get_by_test_id("alpha")).to_have_text(f"{alpha['value']:.3f}")
    expect(page.locator('[data-statistic="alpha"]')).to_contain_text("95% CI")
    assert alpha["value"] < 1
    most_disagreed = page.get_by_test_id("most-disagreed")
    expect(most_disagreed.locator("tbody tr")).to_have_count(2)

    # --- From the most disagreed items to adjudication: the annotator had it right.
    most_disagreed.locator("tbody tr", has_text=disputed).get_by_role("link", name="Adjudicate").click()
    expect(page.get_by_test_id("adjudicated-item")).to_contain_text(disputed)
    page.get_by_label(TRUTH[disputed], exact=True).check()
    page.get_by_role("button", name="Save the gold label").click()
    expect(page.locator("ul.messages .message")).to_have_text(["Gold label saved."])
    assert CampaignItem.objects.get(pk=queue[DISPUTED_POSITIONS[0]].pk).gold == TRUTH[disputed]

    # --- Closing writes the labels as a new version, by a job followed to its end.
    page.get_by_role("link", name="Sentiment", exact=True).click()
    page.get_by_role("button", name="Close the campaign").click()
    follow_job(page, VERSION_PAGE, timeout=JOB_TIMEOUT_MS)
    page.goto(campaign_path)
    expect(page.get_by_test_id("campaign-state")).to_have_text("Closed")
    page.get_by_test_id("releases").get_by_role("link", name="Reviews v2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviews v2")
    page.get_by_role("link", name="Browse items").click()
    row = page.get_by_test_id("items").locator("tbody tr", has_text=disputed)
    expect(row.locator(".item-label")).to_have_text(TRUTH[disputed])

    v2 = DatasetVersion.objects.get(dataset=v1.dataset, number=2)
    assert v2.state == VersionState.READY and v2.parent_id == v1.pk
    labels = {item.text: item.label for item in Item.objects.filter(version=v2)}
    assert labels[disputed] == TRUTH[disputed]  # the lead's gold label
    other_dispute = queue[DISPUTED_POSITIONS[1]].item.text
    assert labels[other_dispute] is None  # undecided: keeps the first version's (absent) label
    agreed = [ci.item.text for ci in queue[:10] if ci.position not in DISPUTED_POSITIONS]
    assert all(labels[text] == TRUTH[text] for text in agreed)  # the two annotators' majority
