"""An engineer exports the project to JSON and watches the job's progress bar reach 100%, and a
training job's page waits for a worker and then lands on the run it made, with a real Celery worker
process doing the work (tests/fixtures_worker.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from datasets import services as dataset_services
from experiments.models import Run
from prakriya.jobs.models import Job, JobState
from tests.e2e.conftest import login
from tests.experiments.test_inputs import _sklearn_version

# The worker is another process: it only sees committed rows, which the live server's
# transactional database gives it.
pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 60_000


def test_export_progress_bar_reaches_100_and_the_download_works(page: Page, project, start_worker, tmp_path):
    worker = start_worker()
    login(page, "engineer", next_path=f"/projects/{project.slug}/")
    page.get_by_role("button", name="Export to JSON").click()

    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get(project=project)
    assert page.url.endswith(f"/jobs/{job.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Project export to JSON · job #{job.pk}")
    expect(page.locator("ul.messages .message")).to_have_text(["Export started."])

    bar = page.locator("progress[data-role=bar]")
    # The page polls the job's status; the bar is driven by what the worker reports.
    page.wait_for_function(
        "() => document.querySelector('progress[data-role=bar]').value === 100", timeout=JOB_TIMEOUT_MS
    )
    expect(bar).to_have_attribute("max", "100")
    state = page.locator("#job [data-role=state]")
    expect(state).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)
    expect(state).to_have_class("badge tone-ok")
    expect(page.locator("#job")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#job [data-role=percent]")).to_have_text("100%")
    expect(page.locator("#job [data-role=log]")).to_contain_text(f"exporting {project.slug}")

    link = page.get_by_role("link", name="Download the export")
    expect(link).to_be_visible()
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"{project.slug}-export-{job.pk}.json"
    saved = tmp_path / "download.json"
    download.save_as(saved)
    document = json.loads(Path(saved).read_text())
    assert document["charter"]["title"] == project.title
    assert document["charter"]["slug"] == project.slug

    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert job.progress == 100
    assert worker.task_ids("succeeded"), worker.describe()

    # The project page lists the finished job, and the timeline records the export.
    page.goto(f"/projects/{project.slug}/")
    recent = page.locator("section[aria-labelledby=jobs-heading] li")
    expect(recent).to_have_count(1)
    expect(recent.locator(".badge")).to_have_text("Succeeded")
    expect(recent.locator("progress")).to_have_js_property("value", 100)
    expect(page.locator("section[aria-labelledby=timeline-heading] .event-text").first).to_have_text(
        "Project exported to JSON")


def test_a_finished_training_job_leads_to_its_run(page: Page, project, lead, mlflow_backend, start_worker):
    version = _sklearn_version(project, lead, "iris", "tabular")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    login(page, "engineer", next_path=f"/projects/{project.slug}/runs/")
    page.get_by_label("Dataset version").select_option(label="iris v1 (tabular)")
    page.get_by_label("Trainer").select_option("logistic_regression")
    page.get_by_label("Name").fill("followed baseline")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/jobs/*/")

    # No worker yet: the job says where it waits, not "Started 0%".
    expect(page.locator("#job [data-role=message]")).to_have_text(
        "Waiting for a worker on the training queue: next in line")
    start_worker()
    # The page follows the job and, once it has succeeded, goes to the run it made by itself.
    page.wait_for_url(f"**/projects/{project.slug}/runs/*/", timeout=JOB_TIMEOUT_MS * 2)
    run = Run.objects.get(job__kind="experiments_train")
    assert page.url.endswith(f"/runs/{run.mlflow_run_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("followed baseline")
