"""An engineer uploads a dataset (a CSV made here), watches the upload's progress bar and the
profile job finish, reads the charts and the warnings, writes the data document and submits it;
the lead approves it. A real Celery worker process does the jobs (tests/fixtures_worker.py)."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from datasets import services
from datasets.models import DatasetVersion, Profile
from prakriya.jobs.models import Job
from tests.e2e.conftest import VERSION_PAGE, back_to, follow_job, login

# The worker is another process: it only sees committed rows.
pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 90_000
ROWS = 40_000  # about 1 MB: big enough for the upload to report progress on a throttled link


def _messages(page: Page):
    return page.locator("ul.messages .message")


def _survey_csv(path) -> None:
    """Box sizes of survey forms: 'printed' outnumbers 'handwritten' ten to one (a warning)."""
    lines = ["form_id,height_mm,width_mm,ink,label"]
    for i in range(ROWS):
        handwritten = i % 11 == 0
        lines.append(
            f"F{i:06d},{40 + i % 37},{120 + i % 53},{'blue' if i % 3 else 'black'},"
            f"{'handwritten' if handwritten else 'printed'}"
        )
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _stores(tmp_path, settings):
    # The worker gets DATA_DIR from settings (fixtures_worker.worker_env); DVC lives under it.
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir(exist_ok=True)
    settings.PRAKRIYA_DVC_ROOT = settings.DATA_DIR / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(settings.DATA_DIR / "dvc-remote")


def _wait_for_job(page: Page) -> None:
    """Follows a version write or profile job to the version it leads to, then reads its page."""
    back_to(page, follow_job(page, VERSION_PAGE, timeout=JOB_TIMEOUT_MS))
    expect(page.locator("#job [data-role=state]")).to_have_text("Succeeded")
    expect(page.locator("#job progress[data-role=bar]")).to_have_js_property("value", 100)


def test_engineer_uploads_profiles_documents_and_the_lead_approves(new_page, project, start_worker, tmp_path):
    start_worker(
        PRAKRIYA_DVC_ROOT=str(tmp_path / "data" / "dvc"),
        PRAKRIYA_DVC_REMOTE_URL=str(tmp_path / "data" / "dvc-remote"),
    )
    csv_path = tmp_path / "survey-boxes.csv"
    _survey_csv(csv_path)

    page = new_page()
    login(page, "engineer", next_path=f"/projects/{project.slug}/")
    page.locator("nav.project-nav").get_by_role("link", name="Data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data")
    expect(page.get_by_text("No datasets yet.")).to_be_visible()

    # A new dataset.
    page.get_by_label("Name").fill("Survey boxes")
    page.get_by_label("Slug").fill("boxes")
    page.get_by_label("Kind").select_option(label="Tabular")
    page.get_by_label("Description").fill("Box sizes measured on **scanned** survey forms.")
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_url(f"**/projects/{project.slug}/data/boxes/")
    expect(_messages(page)).to_have_text(["Dataset “Survey boxes” created. Upload its first version."])
    expect(page.locator(".prose strong")).to_have_text("scanned")

    # The upload, on a slow link so its progress bar is seen filling up.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 5,
            "downloadThroughput": -1,
            "uploadThroughput": 400_000,
        },
    )
    page.get_by_label("File").set_input_files(str(csv_path))
    page.get_by_label("Message").fill("Boxes from the March survey")
    bar = page.locator("progress[data-role=upload-bar]")
    expect(bar).to_be_hidden()
    with page.expect_response(lambda r: r.url.endswith("/data/boxes/upload/")) as answer:
        page.get_by_role("button", name="Upload").click()
        expect(bar).to_be_visible()
        page.wait_for_function(
            "() => { const v = document.querySelector('progress[data-role=upload-bar]')?.value;"
            " return v > 0 && v < 100; }",
            timeout=JOB_TIMEOUT_MS,
        )
        expect(page.locator("[data-role=upload-status]")).to_contain_text("Uploading")
    assert answer.value.status == 200
    assert answer.value.request.headers["x-requested-with"] == "XMLHttpRequest"
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        },
    )

    # The upload's job page: the version is written by the worker.
    page.wait_for_url("**/jobs/*/")
    expect(_messages(page)).to_have_text(["Upload of survey-boxes.csv received: writing the new version."])
    _wait_for_job(page)
    write_job = Job.objects.get(kind="dataset_version_write")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Dataset version write · job #{write_job.pk}")
    expect(page.locator("#job [data-role=log]")).to_contain_text(f"{ROWS} items staged")

    # Every new version is profiled: the engineer follows that job from the project page.
    page.get_by_role("link", name=f"← {project.title}").click()
    recent = page.locator("section[aria-labelledby=jobs-heading]")
    profile_link = recent.get_by_role("link", name="Data profile #")
    expect(profile_link).to_be_visible()
    profile_link.click()
    _wait_for_job(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Data profile · job #")
    expect(page.locator("#job [data-role=message]")).to_have_text("Done")

    # The dataset's versions, then the version page.
    page.goto(f"/projects/{project.slug}/")
    page.locator("nav.project-nav").get_by_role("link", name="Data").click()
    page.get_by_role("link", name="Survey boxes").click()
    row = page.locator("table.versions tbody tr")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("version-state")).to_have_text("Ready")
    expect(row).to_contain_text("Boxes from the March survey")
    row.get_by_role("link", name="v1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Survey boxes v1")
    version = DatasetVersion.objects.get(dataset__slug="boxes")
    expect(page.locator(".facts")).to_contain_text(str(ROWS))
    expect(page.locator(".facts")).to_contain_text(version.git_tag)
    expect(page.locator("pre.code-block")).to_contain_text(f"git checkout {version.git_tag}")

    # The profile: charts drawn by plotly.js, and the warnings, most severe first.
    expect(page.get_by_test_id("profile-pending")).to_have_count(0)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() >= 2
    expect(page.locator("[data-figure=class_balance] .js-plotly-plot")).to_be_visible()
    warnings = page.get_by_test_id("profile-warnings").locator("li")
    expect(warnings.first).to_be_visible()
    profile = Profile.objects.get(version=version)
    messages = [w["message"] for w in profile.warnings]
    assert any("handwritten" in m for m in messages), messages
    expect(page.get_by_test_id("profile-warnings")).to_contain_text("handwritten")
    expect(page.locator("details").filter(has_text="Items per class")).to_contain_text("printed")

    # The data document: written once, statistics embedded from the profile.
    page.get_by_role("link", name="Data document").click()
    expect(page.get_by_text("No data document for Survey boxes yet.")).to_be_visible()
    page.get_by_role("link", name="Write the data document").click()
    expect(page.get_by_label("Pinned version")).to_have_value(str(version.pk))
    page.get_by_label("How the data was collected").select_option(label="Collected for this task")
    page.get_by_label("Collection: description").fill("Clerks measured **every box** on 400 forms in March.")
    page.get_by_label("Representativeness of deployment conditions").fill("Urban districts only so far.")
    page.get_by_label("Semantics and saliency of the fields").fill("Height and width in mm; ink colour.")
    page.get_by_label("Labelling process").fill("One clerk per form; a second checks one in ten.")
    page.get_by_label("Quality and quantity: a subjective assessment").fill(
        "Plenty of printed boxes, few handwritten ones."
    )
    page.get_by_label("Known issues").fill("Handwritten boxes are rare.")
    page.get_by_role("button", name="Save the data document").click()
    page.wait_for_url(f"**/projects/{project.slug}/data/boxes/document/")
    expect(_messages(page)).to_have_text(["Data document saved."])
    expect(page.locator(".datasheet strong")).to_have_text("every box")
    stats = page.get_by_test_id("live-stats")
    expect(stats).to_contain_text(str(ROWS))
    expect(stats.locator(".js-plotly-plot")).to_be_visible()
    expect(stats.locator(".warnings")).to_contain_text("handwritten")

    # The deliverable page shows the datasheet; the engineer submits it.
    page.get_by_role("link", name="data document deliverable").click()
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Draft")
    sheet = page.get_by_test_id("datasheet")
    expect(sheet).to_have_count(1)
    expect(sheet).to_contain_text("Survey boxes")
    expect(sheet).to_contain_text("Pinned to v1")
    expect(sheet).to_contain_text("every box")
    page.get_by_label("Note for the reviewer (optional)").fill("Datasheet of the March boxes.")
    page.get_by_role("button", name="Submit for review").click()
    expect(_messages(page)).to_have_text(["Submitted for review."])
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Submitted")
    expect(sheet.get_by_role("link", name="Edit it")).to_have_count(0)

    # The lead reads it and approves.
    lead = new_page()
    login(lead, "lead", next_path=f"/projects/{project.slug}/deliverables/data_document/")
    expect(lead.get_by_test_id("deliverable-state")).to_have_text("Submitted")
    expect(lead.get_by_test_id("datasheet")).to_contain_text("Survey boxes")
    expect(lead.get_by_test_id("datasheet").get_by_test_id("live-stats")).to_contain_text(str(ROWS))
    lead.get_by_label("Comment (required to request changes)").fill("Clear; collect more handwritten boxes.")
    lead.get_by_role("button", name="Approve").click()
    expect(_messages(lead)).to_have_text(["Approved."])
    expect(lead.get_by_test_id("deliverable-state")).to_have_text("Approved")

    page.reload()
    expect(page.get_by_test_id("deliverable-state")).to_have_text("Approved")


def test_a_refused_upload_shows_why_on_the_form_and_nothing_is_written(
    page: Page, project, engineer, tmp_path, settings
):
    services.dataset_create(
        project=project, actor=engineer, slug="boxes", name="Survey boxes", kind="tabular"
    )
    liar = tmp_path / "boxes.csv"
    liar.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    login(page, "engineer", next_path=f"/projects/{project.slug}/data/boxes/")
    page.get_by_label("File").set_input_files(str(liar))
    page.get_by_role("button", name="Upload").click()
    error = page.locator("form[data-upload-form] .error[role=alert]")
    expect(error).to_contain_text("boxes.csv")
    expect(error).to_be_focused()
    assert page.url.endswith(f"/projects/{project.slug}/data/boxes/")  # the script stayed on the page

    # Over the size cap: refused while it streams in, with the limit named.
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 4096
    big = tmp_path / "big.csv"
    big.write_text("a,label\n" + "1,x\n" * 50_000)
    page.get_by_label("File").set_input_files(str(big))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("form[data-upload-form] .form-errors")).to_contain_text("uploads are limited to 4 KB")
    assert not Job.objects.exists()
    assert not DatasetVersion.objects.exists()


def test_an_image_upload_is_profiled_from_its_files_and_browsed_as_thumbnails(
    new_page, project, engineer, start_worker, tmp_path
):
    """The version's real layout (images/<shard>/<key>.png) all the way to the profile's image
    charts and the item thumbnails: no image may be reported missing or unreadable."""
    start_worker(
        PRAKRIYA_DVC_ROOT=str(tmp_path / "data" / "dvc"),
        PRAKRIYA_DVC_REMOTE_URL=str(tmp_path / "data" / "dvc-remote"),
    )
    services.dataset_create(project=project, actor=engineer, slug="shapes", name="Shapes", kind="image")
    upload = tmp_path / "shapes.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for i in range(24):
            buffer = io.BytesIO()
            Image.new("RGB", (16 + i % 2 * 8, 16), (10 * i, 255 - 10 * i, 40)).save(buffer, "PNG")
            archive.writestr(f"{'circle' if i % 3 else 'square'}/{i:02d}.png", buffer.getvalue())

    page = new_page()
    login(page, "engineer", next_path=f"/projects/{project.slug}/data/shapes/")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    _wait_for_job(page)
    version = DatasetVersion.objects.get(dataset__slug="shapes")
    assert version.item_count == 24

    # The profile job starts once the version is written; its result is on the version page.
    page.goto(f"/projects/{project.slug}/data/shapes/v1/")
    if page.get_by_test_id("profile-pending").count():
        page.get_by_role("link", name="Follow the profile job").click()
        _wait_for_job(page)
        page.goto(f"/projects/{project.slug}/data/shapes/v1/")
    expect(page.get_by_test_id("profile-pending")).to_have_count(0)
    profile = Profile.objects.get(version=version)
    assert profile.report["corrupt_files"]["count"] == 0, profile.report["corrupt_files"]
    assert profile.report["images"]["readable"] == 24
    sizes = {(s["width"], s["height"]): s["count"] for s in profile.report["images"]["sizes"]}
    assert sizes == {(16, 16): 12, (24, 16): 12}
    expect(page.locator("[data-figure=image_sizes] .js-plotly-plot")).to_be_visible()
    expect(page.locator("[data-figure=class_balance] .js-plotly-plot")).to_be_visible()
    expect(page.get_by_text("not valid images")).to_have_count(0)

    # The items, as thumbnails read from DVC: every one decodes in the browser.
    page.get_by_role("link", name="Browse items").click()
    thumbs = page.get_by_test_id("items").locator("img")
    expect(thumbs.first).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=items] img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert thumbs.count() >= 1
