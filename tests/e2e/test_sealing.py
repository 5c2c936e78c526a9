"""The engineer splits a version in the browser: the page says the repository is being sealed
and links the job; once it has run, the reproduce commands name the tag that holds the split and
no test label, the timeline says which versions were written again, and a viewer sees the tag but
not the server's paths. The jobs run in this process (job_execute), as a worker would run them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from datasets import storage
from datasets.models import DatasetVersion, SealedItem
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.api import client_for
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _stores(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir(exist_ok=True)
    settings.PRAKRIYA_DVC_ROOT = settings.DATA_DIR / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(settings.DATA_DIR / "dvc-remote")


def _run_jobs() -> None:
    while queued := list(Job.objects.filter(state=JobState.QUEUED).values_list("pk", flat=True)):
        for pk in queued:
            job_execute(pk)


def test_a_split_in_the_browser_seals_the_repository_and_says_so(new_page, project, engineer, viewer, tmp_path):
    api = client_for(engineer)
    api.post("/api/projects/digits/datasets/", {"slug": "boxes", "name": "Boxes", "kind": "tabular"}, format="json")
    labels = ["printed", "handwritten", "stamped"]
    rows = "\n".join(f"{i},{i % 7},{labels[i % 3]}-{i}" for i in range(30))
    csv = SimpleUploadedFile("boxes.csv", f"height,width,label\n{rows}\n".encode())
    api.post("/api/projects/digits/datasets/boxes/versions/upload/", {"file": csv}, format="multipart")
    _run_jobs()
    version = DatasetVersion.objects.get(dataset__slug="boxes")

    page = new_page()
    login(page, "engineer", next_path="/projects/digits/data/boxes/v1/")
    page.get_by_label("Seed").fill("3")
    page.get_by_label("Stratified by label").uncheck()
    page.get_by_role("button", name="Split and seal the test set").click()
    sealing = page.get_by_test_id("sealing")
    expect(sealing).to_contain_text("being written again without the sealed test labels")
    seal_job = Job.objects.get(kind="dataset_seal")
    expect(sealing.get_by_role("link", name=f"Follow the job #{seal_job.pk}")).to_be_visible()

    _run_jobs()
    page.reload()
    expect(page.get_by_test_id("sealing")).to_have_count(0)
    expect(page.get_by_test_id("split-counts")).to_contain_text("Test")
    version.refresh_from_db()
    commands = page.locator("pre.code-block")
    expect(commands).to_contain_text(f"git checkout {version.git_tag}")
    expect(page.locator("main")).to_contain_text("split.csv")
    expect(page.locator(".facts")).to_contain_text(version.dvc_md5)
    revision = version.revisions.get()
    expect(page.get_by_test_id("revisions")).to_contain_text(revision.old_commit[:12])
    # The tag now names the commit without the test labels.
    assert storage.tag_commit(project_slug="digits", tag=version.git_tag) == version.git_commit
    table = storage.read_file(project_slug="digits", dataset_slug="boxes", tag=version.git_tag, relpath="table.csv")
    sealed = set(SealedItem.objects.values_list("key", flat=True))
    assert sealed and all(line.endswith(",") for line in table.decode().splitlines() if line.split(",")[0] in sealed)

    # The job page it linked, and the timeline.
    page.goto(f"/jobs/{seal_job.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Sealing the repository · job #{seal_job.pk}")
    expect(page.locator("#job [data-role=log]")).to_contain_text("Written again without sealed labels: v1")
    page.goto("/projects/digits/timeline/")
    expect(page.locator("main")).to_contain_text("v1 written again without the sealed test labels")

    # A viewer reads the version and its tag, not the server's paths nor the seal job.
    other = new_page()
    login(other, "viewer", next_path="/projects/digits/data/boxes/v1/")
    expect(other.get_by_test_id("reproduce-note")).to_contain_text(version.git_tag)
    expect(other.locator("pre.code-block")).to_have_count(0)
    assert str(storage.repo_path("digits")) not in other.content()
    assert other.goto(f"/jobs/{seal_job.pk}/").status == 404
