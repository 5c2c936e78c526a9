"""The lead moves a campaign's labels between Prakriya and Label Studio in the browser: imports an
LS export and reads what happened to every annotation, downloads the campaign's export, and syncs
with a real Label Studio server (tests/fixtures_labelstudio.py) through a real Celery worker,
following the job's progress bar."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from datasets.annotation.models import Annotation, LabelStudioTask
from prakriya.jobs.models import Job
from tests.annotation.labelstudio.test_interop import hand_written_export
from tests.e2e.conftest import login
from tests.fixtures_labelstudio import label_studio_server  # noqa: F401 - the real server, for the sync

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 120_000


def test_lead_imports_an_export_reads_the_result_and_downloads_the_campaign(page: Page, campaign, settings,
                                                                           tmp_path):
    settings.PRAKRIYA_LABEL_STUDIO_URL = ""
    login(page, "lead", next_path=f"/projects/{campaign.project.slug}/campaigns/{campaign.slug}/")
    panel = page.get_by_test_id("labelstudio-panel")
    expect(panel).to_be_visible()
    panel.get_by_role("link", name="Import and sync").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Label Studio · Sentiment")
    expect(page.get_by_test_id("sync-not-configured")).to_be_visible()

    export = tmp_path / "project-7-at-2026.json"
    export.write_text(json.dumps(hand_written_export(), ensure_ascii=False), encoding="utf-8")
    page.get_by_label("Export file").set_input_files(str(export))
    page.get_by_label("Span offsets").select_option("auto")
    page.get_by_role("button", name="Import").click()

    result = page.get_by_test_id("import-result")
    expect(result.get_by_test_id("created")).to_have_text("4")
    expect(result.get_by_test_id("skipped")).to_have_text("7")
    expect(page.get_by_test_id("unknown-annotators")).to_contain_text("nobody@example.org")
    expect(page.get_by_test_id("unknown-items")).to_contain_text("task 3: no item of this campaign")
    expect(page.get_by_test_id("skipped-reasons")).to_contain_text(
        "by lead@example.org: This item already has all the annotators it needs.")
    assert Annotation.objects.filter(campaign=campaign, tool="labelstudio").count() == 4

    # A file that is not an LS export: the reason on the form, nothing written.
    broken = tmp_path / "notes.json"
    broken.write_text('{"not": "a list"}')
    page.get_by_label("Export file").set_input_files(str(broken))
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".field.has-error .error")).to_contain_text(
        "This is not a Label Studio JSON export of this campaign: a Label Studio JSON export is a list of tasks")
    assert Annotation.objects.filter(campaign=campaign).count() == 4

    with page.expect_download() as download_info:
        page.get_by_test_id("export-link").click()
    download = download_info.value
    assert download.suggested_filename == "digits-sentiment-labelstudio.json"
    saved = tmp_path / "download.json"
    download.save_as(saved)
    tasks = json.loads(saved.read_text(encoding="utf-8"))
    assert len(tasks) == 12
    emails = sorted(a["completed_by"]["email"] for t in tasks for a in t["annotations"])
    assert emails == ["annotator@example.org", "annotator@example.org", "engineer@example.org",
                      "engineer@example.org"]


@pytest.mark.worker
@pytest.mark.timeout(1200)  # the first session on a machine installs Label Studio
def test_lead_syncs_with_label_studio_and_follows_the_job(page: Page, campaign, settings, start_worker,
                                                           label_studio_server):  # noqa: F811
    server = label_studio_server
    settings.PRAKRIYA_LABEL_STUDIO_URL, settings.PRAKRIYA_LABEL_STUDIO_API_KEY = server.base_url, server.api_key
    worker = start_worker(PRAKRIYA_LABEL_STUDIO_URL=server.base_url, PRAKRIYA_LABEL_STUDIO_API_KEY=server.api_key)

    login(page, "lead", next_path=f"/projects/{campaign.project.slug}/campaigns/{campaign.slug}/labelstudio/import/")
    expect(page.get_by_test_id("pushed")).to_have_text("0 of 12")
    page.get_by_role("button", name="Sync now").click()

    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get(kind="annotation_labelstudio_sync")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"job #{job.pk}")
    expect(page.locator("ul.messages .message")).to_have_text(["Syncing “Sentiment” with Label Studio."])
    state = page.locator("#job [data-role=state]")
    expect(state).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job [data-role=percent]")).to_have_text("100%")
    expect(page.locator("#job [data-role=log]")).to_contain_text("created Label Studio project")
    assert LabelStudioTask.objects.count() == 12, worker.describe()

    page.goto(f"/projects/{campaign.project.slug}/campaigns/{campaign.slug}/labelstudio/import/")
    expect(page.get_by_test_id("pushed")).to_have_text("12 of 12")
    campaign.refresh_from_db()
    expect(page.get_by_test_id("labelstudio-project")).to_have_attribute(
        "href", f"{server.base_url}/projects/{campaign.labelstudio_project_id}/")
    expect(page.get_by_test_id("recent-syncs")).to_contain_text("Succeeded")
