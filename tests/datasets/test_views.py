"""The datasets pages end to end with the Django test client: datasets, uploads written by real
jobs into a real DVC repository, profiles with warnings and charts, scikit-learn imports, item
browsing, the download archive, diffs, splits with the sealed test set, and the data document
through to its review; and who may do what.

Jobs run synchronously with the runner (prakriya.jobs.runner.job_execute) in tests that commit
(`transaction=True`), the way a worker would run them after the request's commit.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from datasets.models import (
    DataDocument,
    Dataset,
    DatasetVersion,
    Item,
    Profile,
    SealedItem,
    Split,
    VersionState,
)
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import DeliverableState

SLUG = "digits"  # the public project of tests/conftest.py
DATA = f"/projects/{SLUG}/data/"


@pytest.fixture(autouse=True)
def _stores(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir(exist_ok=True)
    settings.PRAKRIYA_DVC_ROOT = tmp_path / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(tmp_path / "dvc-remote")


def run_jobs() -> list[Job]:
    """Runs every queued job, and the jobs those start, to the end; fails on any that did not succeed."""
    done: list[Job] = []
    while True:
        queued = list(Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True))
        if not queued:
            break
        for job_id in queued:
            job_execute(job_id)
            done.append(Job.objects.get(pk=job_id))
    failed = [(j.kind, j.message, j.log[-2000:]) for j in done if j.state != JobState.SUCCEEDED]
    assert not failed, failed
    return done


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def create_dataset(client, slug="forms", kind="tabular", name=None, project=SLUG):
    response = client.post(
        f"/projects/{project}/data/",
        {
            "name": name or slug.title(),
            "slug": slug,
            "kind": kind,
            "description": "Scanned **forms**.",
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    assert response.url == f"/projects/{project}/data/{slug}/"
    return Dataset.objects.get(project__slug=project, slug=slug)


def imbalanced_csv(n_major=60, n_minor=6) -> bytes:
    """Two classes 10:1 and an exact duplicate row: the profile warns about both."""
    lines = ["height,width,label"]
    lines += [f"{100 + i},{i % 7},cat" for i in range(n_major)]
    lines += [f"{500 + i},{i % 3},owl" for i in range(n_minor)]
    lines.append("100,0,cat")
    return ("\n".join(lines) + "\n").encode()


def upload(client, ds="forms", name="forms.csv", content=None, project=SLUG, xhr=False, **fields):
    headers = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"} if xhr else {}
    return client.post(
        f"/projects/{project}/data/{ds}/upload/",
        {
            "file": SimpleUploadedFile(name, content if content is not None else imbalanced_csv()),
            "message": "First forms",
            "label_column": "label",
            **fields,
        },
        **headers,
    )


def png(color, size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def plotly_figures(html: str) -> dict[str, dict]:
    """The figures a page embeds for charts.js, by element id."""
    found = re.findall(
        r'<script type="application/json" data-plotly-for="([^"]+)">(.*?)</script>', html, re.S
    )
    return {element: json.loads(body) for element, body in found}


def tabular_version(client, **kwargs) -> DatasetVersion:
    create_dataset(client)
    response = upload(client, **kwargs)
    assert response.status_code == 302, text(response)[:2000]
    run_jobs()
    return DatasetVersion.objects.get(dataset__slug="forms", number=1)


# --- Datasets ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_engineer_creates_a_dataset_and_everyone_sees_it_listed(client, project, engineer):
    login(client, engineer)
    page = client.get(DATA)
    assert page.status_code == 200
    assert "New dataset" in text(page)
    assert "No datasets yet." in text(page)
    create_dataset(client, name="Census forms")
    client.logout()
    listed = client.get(DATA)
    assert listed.status_code == 200
    assert "Census forms" in text(listed)
    assert "New dataset" not in text(listed)  # anonymous visitors read, they don't create
    detail = client.get(f"{DATA}forms/")
    assert detail.status_code == 200
    assert "<strong>forms</strong>" in text(detail)  # the description is rendered Markdown
    assert "No versions yet." in text(detail)
    assert "Upload a new version" not in text(detail)


@pytest.mark.django_db
def test_duplicate_or_bad_dataset_address_is_a_400_with_the_reason(client, project, engineer):
    login(client, engineer)
    create_dataset(client)
    again = client.post(DATA, {"name": "Again", "slug": "forms", "kind": "tabular"})
    assert again.status_code == 400
    assert "This project already has a dataset with this address." in text(again)
    bad = client.post(DATA, {"name": "Bad", "slug": "no spaces", "kind": "audio"})
    assert bad.status_code == 400
    assert "Select a valid choice" in text(bad)
    assert Dataset.objects.count() == 1


@pytest.mark.django_db
def test_project_page_and_navigation_link_to_the_data(client, project, engineer):
    login(client, engineer)
    create_dataset(client, name="Census forms")
    page = text(client.get(f"/projects/{SLUG}/"))
    assert f'href="{DATA}"' in page
    assert f'href="{DATA}forms/"' in page
    assert "Census forms" in page


# --- Upload, job, version, profile ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_upload_becomes_a_version_whose_page_shows_the_profile_warnings_and_charts(
    client, project, engineer, viewer, settings
):
    login(client, engineer)
    create_dataset(client)
    response = upload(client)
    job = Job.objects.get(kind="dataset_version_write")
    assert response.status_code == 302
    assert response.url == reverse("projects:job", args=[job.pk])
    assert DatasetVersion.objects.count() == 0  # the job writes it

    # While the job waits, the dataset page says so.
    waiting = text(client.get(f"{DATA}forms/"))
    assert f'waiting for a worker: <a href="/jobs/{job.pk}/">job #{job.pk}</a> (First forms)' in waiting
    assert "No versions yet." not in waiting
    jobs = run_jobs()
    assert [j.kind for j in jobs] == ["dataset_version_write", "dataset_profile"]
    version = DatasetVersion.objects.get()
    assert version.state == VersionState.READY
    assert version.item_count == 67
    profile = Profile.objects.get(version=version)
    assert profile.warnings, "an imbalanced CSV with a duplicate row has warnings"

    login(client, viewer)
    detail = text(client.get(f"{DATA}forms/"))
    assert 'href="/projects/digits/data/forms/v1/"' in detail
    assert "First forms" in detail
    assert version.git_tag in detail
    assert ">67<" in detail

    page = client.get(f"{DATA}forms/v1/")
    assert page.status_code == 200
    html = text(page)
    for value in (version.git_commit[:12], version.git_tag, version.dvc_md5):
        assert value in html
    # Warnings ranked by severity, each with its badge.
    listed = re.findall(r'<span class="badge tone-(\w+)">(\w+)</span> <span class="warning-text">', html)
    assert len(listed) == len(profile.warnings)
    order = {"High": 0, "Medium": 1, "Low": 2}
    assert [order[s] for _, s in listed] == sorted(order[s] for _, s in listed)
    assert {(t, s) for t, s in listed} <= {("danger", "High"), ("warn", "Medium"), ("muted", "Low")}
    for warning in profile.warnings:
        assert warning["message"].replace("'", "&#x27;").replace('"', "&quot;") in html
    figures = plotly_figures(html)
    assert figures, "the profile's charts are embedded"
    assert all("data" in f for f in figures.values())
    assert "/static/plotly/plotly.min.js" in html
    assert "/static/js/charts.js" in html
    # Class balance from the selector; the commands that reproduce the bytes name the server's
    # paths, so a viewer reads the tag and a note, the engineers the commands.
    assert re.search(r'<th scope="row" dir="auto">cat</th><td class="num">61</td>', html)
    assert 'data-testid="reproduce-note"' in html and "<pre" not in html
    assert str(settings.PRAKRIYA_DVC_ROOT) not in html
    # A viewer does not get the engineers' buttons.
    assert "Re-profile" not in html
    assert "Split and seal" not in html
    login(client, engineer)
    html = text(client.get(f"{DATA}forms/v1/"))
    assert f"git checkout {version.git_tag}" in html and "dvc pull" in html and "<pre" in html


@pytest.mark.django_db(transaction=True)
def test_version_page_says_the_profile_is_being_computed_and_links_its_job(client, project, engineer):
    login(client, engineer)
    create_dataset(client)
    upload(client)
    job_execute(Job.objects.get(kind="dataset_version_write").pk)  # the profile job stays queued
    profile_job = Job.objects.get(kind="dataset_profile")
    html = text(client.get(f"{DATA}forms/v1/"))
    assert "being computed" in html
    assert f'href="/jobs/{profile_job.pk}/"' in html
    run_jobs()
    html = text(client.get(f"{DATA}forms/v1/"))
    assert "being computed" not in html


@pytest.mark.django_db(transaction=True)
def test_upload_through_xhr_answers_with_the_job_address(client, project, engineer):
    login(client, engineer)
    create_dataset(client)
    response = upload(client, xhr=True)
    assert response.status_code == 200
    job = Job.objects.get(kind="dataset_version_write")
    assert response.json() == {"redirect": f"/jobs/{job.pk}/"}
    # The message waits for the job page the script opens.
    page = client.get(response.json()["redirect"])
    assert "Upload of forms.csv received" in text(page)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("forms.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "forms.csv"),
        ("forms.csv", b"", "The submitted file is empty."),
        ("forms.csv", "height,label\n1,caf\xe9\n".encode("latin-1"), "UTF-8"),
    ],
    ids=["lies-about-type", "empty", "broken-encoding"],
)
def test_bad_upload_is_a_400_with_the_message_and_nothing_is_created(
    client, project, engineer, settings, name, content, message
):
    login(client, engineer)
    create_dataset(client)
    for xhr in (False, True):
        response = upload(client, name=name, content=content, xhr=xhr)
        assert response.status_code == 400
        html = text(response)
        assert message in html
        assert 'class="error" role="alert"' in html  # shown on the upload form
        assert "data-upload-form" in html  # the form the script swaps in
    assert not Job.objects.exists()
    assert not DatasetVersion.objects.exists()
    assert (
        not list((settings.DATA_DIR / "staging").glob("*"))
        if (settings.DATA_DIR / "staging").exists()
        else True
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [3000, 200_000], ids=["over-the-cap", "far-over-the-cap"])
def test_an_oversized_upload_is_refused(client, project, engineer, settings, size):
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 2048
    login(client, engineer)
    create_dataset(client)
    content = b"a,label\n" + b"1,x\n" * (size // 4)
    response = upload(client, content=content)
    assert response.status_code == 400
    assert "uploads are limited to 2 KB" in text(response)
    assert 'class="form-errors" role="alert"' in text(response)
    assert not Job.objects.exists()
    # The same cap holds for the items added to a derived version.
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 512 * 1024**2
    tabular = upload(client)
    assert tabular.status_code == 302
    run_jobs()
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 2048
    derive = client.post(f"{DATA}forms/v1/derive/", {"add_file": SimpleUploadedFile("more.csv", content)})
    assert derive.status_code == 400
    assert "uploads are limited to 2 KB" in text(derive)
    assert not DatasetVersion.objects.filter(number=2).exists()
    assert Job.objects.count() == 2


def test_the_size_cap_stops_a_file_while_it_streams_in(rf, settings):
    """The handler refuses the chunk that crosses the cap, so nothing past it is ever stored."""
    from django.core.files.uploadhandler import StopUpload

    from datasets.upload_handlers import SizeCapHandler, refusal

    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 1000
    request = rf.post("/")
    handler = SizeCapHandler(request, 1000)
    handler.new_file("file", "big.csv", "text/csv", 5000)
    assert handler.receive_data_chunk(b"x" * 600, 0) == b"x" * 600
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 600, 600)
    assert refusal(request) == "big.csv is over 1000 bytes; uploads are limited to 1000 bytes."


@pytest.mark.django_db(transaction=True)
def test_engineer_imports_a_bundled_dataset_of_the_datasets_kind(client, project, engineer):
    login(client, engineer)
    create_dataset(client, slug="flowers", kind="tabular")
    page = text(client.get(f"{DATA}flowers/"))
    assert "Import a scikit-learn bundled dataset" in page
    assert '<option value="iris">' in page
    assert '<option value="digits">' not in page  # digits are images
    wrong = client.post(f"{DATA}flowers/import/", {"name": "digits"})
    assert wrong.status_code == 400
    assert "Select a valid choice" in text(wrong)
    response = client.post(f"{DATA}flowers/import/", {"name": "iris"})
    assert response.status_code == 302
    assert response.url.startswith("/jobs/")
    run_jobs()
    version = DatasetVersion.objects.get(dataset__slug="flowers")
    assert version.item_count == 150
    assert version.labelled_count == 150
    assert "scikit-learn" in version.message


# --- Browsing items ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_items_are_browsed_50_a_page_as_rows_of_a_table(client, project, engineer, outsider):
    login(client, engineer)
    tabular_version(client)
    login(client, outsider)  # a public project's data is public
    first = client.get(f"{DATA}forms/v1/items/")
    assert first.status_code == 200
    html = text(first)
    assert "Page 1 of 2" in html
    assert html.count("<tr><td><code>") == 50
    assert '<th scope="col" dir="auto">height</th>' in html
    assert '<span class="item-label" dir="auto">cat</span>' in html
    second = text(client.get(f"{DATA}forms/v1/items/", {"page": 2}))
    assert second.count("<tr><td><code>") == 17
    assert '<span class="item-label" dir="auto">owl</span>' in second
    # A page number that is not one is the last page or the first, never an error.
    assert client.get(f"{DATA}forms/v1/items/", {"page": "999"}).status_code == 200
    assert client.get(f"{DATA}forms/v1/items/", {"page": "x"}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_texts_in_any_script_are_shown_in_their_direction(client, project, engineer):
    login(client, engineer)
    create_dataset(client, slug="notes", kind="text")
    lines = [
        {"text": "یہ فارم صاف ہے", "label": "clean"},
        {"text": "यह फ़ॉर्म धुंधला है", "label": "blurry"},
        {"text": "The form is torn", "label": "torn"},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    assert upload(client, ds="notes", name="notes.jsonl", content=body, text_column="text").status_code == 302
    run_jobs()
    html = text(client.get(f"{DATA}notes/v1/items/"))
    assert '<td class="item-text" dir="auto">یہ فارم صاف ہے</td>' in html
    assert '<td class="item-text" dir="auto">यह फ़ॉर्म धुंधला है</td>' in html


@pytest.mark.django_db(transaction=True)
def test_text_items_show_their_spans_as_labelled_marks_in_any_script(client, project, engineer, viewer):
    login(client, engineer)
    create_dataset(client, slug="ner", kind="text")
    urdu, hindi, tagged = "علی کراچی میں رہتا ہے", "राम ने दिल्ली में किताब पढ़ी।", "a <b>bold</b> claim"
    lines = [
        {"text": urdu, "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 9, "label": "LOC"}]},
        {"text": hindi, "label": "hi", "spans": [{"start": 7, "end": 13, "label": "स्थान"}]},
        {"text": tagged, "spans": [{"start": 2, "end": 13, "label": "<i>markup</i>"}]},
        {"text": "No entity here.", "spans": []},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    assert upload(client, ds="ner", name="ner.jsonl", content=body, label_column="label").status_code == 302
    run_jobs()
    assert list(Item.objects.filter(version__dataset__slug="ner").order_by("key").values_list("spans", flat=True)) == [
        line["spans"] for line in lines
    ]
    login(client, viewer)
    html = text(client.get(f"{DATA}ner/v1/items/"))
    # Runs of the text in order, each span a <mark> with its label; offsets are code points.
    assert (
        '<td class="item-text" dir="auto"><mark class="item-span" title="PER">علی<bdi class="item-span-label">PER'
        '</bdi></mark> <mark class="item-span" title="LOC">کراچی<bdi class="item-span-label">LOC</bdi></mark>'
        " میں رہتا ہے</td>"
    ) in html
    assert (
        '<td class="item-text" dir="auto">राम ने <mark class="item-span" title="स्थान">दिल्ली'
        '<bdi class="item-span-label">स्थान</bdi></mark> में किताब पढ़ी।</td>'
    ) in html
    # Text and labels are escaped: neither can add markup to the page.
    assert (
        '<td class="item-text" dir="auto">a <mark class="item-span" title="&lt;i&gt;markup&lt;/i&gt;">&lt;b&gt;bold'
        '&lt;/b&gt;<bdi class="item-span-label">&lt;i&gt;markup&lt;/i&gt;</bdi></mark> claim</td>'
    ) in html
    assert "<b>bold</b>" not in html and "<i>markup</i>" not in html
    assert '<td class="item-text" dir="auto">No entity here.</td>' in html
    # The API gives the same spans.
    api = client.get(f"/api/projects/{SLUG}/datasets/ner/versions/1/items/").json()
    assert [row["spans"] for row in api["results"]] == [line["spans"] for line in lines]


def test_long_texts_are_cut_with_their_spans():
    from datasets.views.items import text_pieces

    text = "ab" * 400
    pieces = text_pieces(text, [{"start": 2, "end": 4, "label": "X"}, {"start": 595, "end": 700, "label": "Y"},
                                {"start": 700, "end": 710, "label": "Z"}])
    assert [(p["text"][:4], len(p["text"]), p["label"]) for p in pieces] == [
        ("ab", 2, None), ("ab", 2, "X"), ("abab", 591, None), ("baba", 4, "Y"), ("…", 1, None),
    ]
    assert "".join(p["text"] for p in pieces) == text[:599] + "…"
    assert text_pieces("short", None) == [{"text": "short", "label": None}]
    assert text_pieces("", []) == []


@pytest.mark.django_db(transaction=True)
def test_images_are_shown_as_thumbnails_served_with_the_type_of_their_bytes(
    client, project, engineer, viewer
):
    login(client, engineer)
    create_dataset(client, slug="shapes", kind="image")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for c, label in enumerate(["circle", "square"]):
            for i in range(3):
                archive.writestr(f"{label}/{label}-{i}.png", png((60 * c + i, 10 * i, 200)))
    assert upload(client, ds="shapes", name="shapes.zip", content=buffer.getvalue()).status_code == 302
    run_jobs()
    login(client, viewer)
    html = text(client.get(f"{DATA}shapes/v1/items/"))
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 6
    response = client.get(sources[0])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    Image.open(io.BytesIO(response.content)).verify()
    assert client.get(f"{DATA}shapes/v1/items/img-nope/content").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_image_sklearn_digits_import_and_no_content_route_for_tables(client, project, engineer):
    login(client, engineer)
    create_dataset(client, slug="digits8", kind="image")
    page = text(client.get(f"{DATA}digits8/"))
    assert '<option value="digits">' in page
    assert '<option value="iris">' not in page
    assert client.post(f"{DATA}digits8/import/", {"name": "digits"}).status_code == 302
    run_jobs()
    version = DatasetVersion.objects.get(dataset__slug="digits8")
    assert version.item_count == 1797
    html = text(client.get(f"{DATA}digits8/v1/items/", {"page": 36}))
    assert "Page 36 of 36" in html
    assert len(re.findall(r"<img src=", html)) == 1797 - 35 * 50
    tabular_version(client)
    key = Item.objects.filter(version__dataset__slug="forms").first().key
    assert client.get(f"{DATA}forms/v1/items/{key}/content").status_code == 404


# --- Download ---------------------------------------------------------------------------------


def _archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.django_db(transaction=True)
def test_download_is_a_zip_with_a_readme_and_formula_cells_escaped(client, project, engineer):
    login(client, engineer)
    content = (
        b"name,score,label\n=HYPERLINK(\"http://x\"),1,cat\n@SUM(A1),-2,dog\nplain,+3,=cmd|' /C calc'!A0\n"
    )
    version = tabular_version(client, content=content)
    client.logout()
    response = client.get(f"{DATA}forms/v1/download/")
    assert response["Content-Disposition"] == f'attachment; filename="{SLUG}-forms-v1.zip"'
    archive = _archive(response)
    assert sorted(archive.namelist()) == ["forms-v1/README.txt", "forms-v1/table.csv"]
    readme = archive.read("forms-v1/README.txt").decode()
    for value in ("Forms v1", version.git_tag, version.dvc_md5, version.git_commit):
        assert value in readme
    rows = list(csv.reader(io.StringIO(archive.read("forms-v1/table.csv").decode())))
    assert rows[0] == ["_item", "name", "score", "label"]
    assert [r[1:] for r in rows[1:]] == [
        ['\'=HYPERLINK("http://x")', "1", "cat"],
        ["'@SUM(A1)", "-2", "dog"],
        ["plain", "+3", "'=cmd|' /C calc'!A0"],
    ]


@pytest.mark.django_db(transaction=True)
def test_download_blanks_every_sealed_label(client, project, engineer):
    login(client, engineer)
    version = tabular_version(client)
    assert (
        client.post(
            f"{DATA}forms/v1/split/",
            {
                "seed": 7,
                "train": 0.6,
                "validation": 0.2,
                "test": 0.2,
                "stratified": "on",
            },
        ).status_code
        == 302
    )
    sealed = set(SealedItem.objects.values_list("key", flat=True))
    assert sealed
    archive = _archive(client.get(f"{DATA}forms/v1/download/"))
    rows = list(csv.DictReader(io.StringIO(archive.read("forms-v1/table.csv").decode())))
    assert len(rows) == version.item_count
    for row in rows:
        if row["_item"] in sealed:
            assert row["label"] == ""
        else:
            assert row["label"] in ("cat", "owl")
    assert (
        f"{len(sealed)} items belong to the sealed test split" in archive.read("forms-v1/README.txt").decode()
    )


@pytest.mark.django_db(transaction=True)
def test_text_and_image_downloads_hold_the_data_files(client, project, engineer):
    login(client, engineer)
    create_dataset(client, slug="notes", kind="text")
    body = "".join(
        json.dumps({"text": f"note {i}", "label": "=bad" if i == 0 else "ok"}) + "\n" for i in range(4)
    )
    upload(client, ds="notes", name="notes.jsonl", content=body.encode())
    create_dataset(client, slug="shapes", kind="image")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(3):
            archive.writestr(f"round/c{i}.png", png((i, 2 * i, 3 * i)))
    upload(client, ds="shapes", name="shapes.zip", content=buffer.getvalue())
    run_jobs()

    notes = _archive(client.get(f"{DATA}notes/v1/download/"))
    records = [json.loads(line) for line in notes.read("notes-v1/texts.jsonl").decode().splitlines()]
    assert [r["text"] for r in records] == [f"note {i}" for i in range(4)]
    assert records[0]["label"] == "=bad"  # JSON is not a spreadsheet: kept as written

    shapes = _archive(client.get(f"{DATA}shapes/v1/download/"))
    names = shapes.namelist()
    images = [n for n in names if n.startswith("shapes-v1/images/")]
    assert len(images) == 3
    for name in images:
        Image.open(io.BytesIO(shapes.read(name))).verify()
    rows = list(csv.DictReader(io.StringIO(shapes.read("shapes-v1/labels.csv").decode())))
    assert {r["label"] for r in rows} == {"round"}
    assert {f"shapes-v1/{r['file']}" for r in rows} == set(images)


# --- Derive and diff --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_derived_version_and_its_diff_with_the_parent(client, project, engineer, viewer):
    login(client, engineer)
    tabular_version(client)
    keys = list(Item.objects.filter(version__number=1).order_by("id").values_list("key", flat=True))
    assert client.get(f"{DATA}forms/v1/derive/").status_code == 200
    response = client.post(
        f"{DATA}forms/v1/derive/",
        {
            "remove": f"{keys[0]}\n{keys[1]}\n",
            "relabel": f"{keys[2]},owl\n{keys[3]},\n",
            "add_file": SimpleUploadedFile("more.csv", b"height,width,label\n900,1,fox\n901,2,fox\n"),
            "message": "Cleaned",
        },
    )
    assert response.status_code == 302, text(response)[:3000]
    assert response.url.startswith("/jobs/")
    run_jobs()
    v2 = DatasetVersion.objects.get(number=2)
    assert v2.parent.number == 1
    assert v2.item_count == 67 - 2 + 2

    login(client, viewer)
    version_page = text(client.get(f"{DATA}forms/v2/"))
    assert 'href="/projects/digits/data/forms/v2/diff/1/"' in version_page
    diff = client.get(f"{DATA}forms/v2/diff/1/")
    assert diff.status_code == 200
    html = text(diff)
    counts = re.findall(
        r'<span class="stat-value">(\d+)</span> <span class="stat-name">([\w ]+)</span>', html
    )
    assert dict((name, int(n)) for n, name in counts) == {
        "added": 2,
        "removed": 2,
        "content changed": 0,
        "relabelled": 2,
    }
    assert f"<code>{keys[2]}</code>" in html
    assert re.search(
        rf"<code>{keys[3]}</code></td>\s*<td dir=\"auto\">cat</td>\s*<td dir=\"auto\"><span class=\"muted\">"
        r"unlabelled</span>",
        html,
    )
    figure = plotly_figures(html)["balance-diff-chart"]
    assert [trace["name"] for trace in figure["data"]] == ["v1", "v2"]
    assert "fox" in figure["data"][1]["x"]


@pytest.mark.django_db(transaction=True)
def test_derive_form_errors_are_400s_and_start_nothing(client, project, engineer):
    login(client, engineer)
    tabular_version(client)
    before = Job.objects.count()
    empty = client.post(f"{DATA}forms/v1/derive/", {"remove": "", "relabel": "", "message": ""})
    assert empty.status_code == 400
    assert "Remove, relabel or add at least one item." in text(empty)
    unknown = client.post(f"{DATA}forms/v1/derive/", {"remove": "nope\n"})
    assert unknown.status_code == 400
    assert "Unknown item keys: nope" in text(unknown)
    bad_csv = client.post(f"{DATA}forms/v1/derive/", {"relabel": "a,b,c\n"})
    assert bad_csv.status_code == 400
    assert "Line 1" in text(bad_csv)
    assert Job.objects.count() == before


@pytest.mark.django_db
def test_diff_and_version_of_missing_or_other_numbers_are_404(client, project, engineer):
    login(client, engineer)
    create_dataset(client)
    assert client.get(f"{DATA}forms/v1/").status_code == 404
    assert client.get(f"{DATA}forms/v1/diff/2/").status_code == 404
    assert client.get(f"{DATA}nope/").status_code == 404
    assert client.get(f"{DATA}forms/v1/items/").status_code == 404
    assert client.get(f"{DATA}forms/v1/download/").status_code == 404


# --- Split and the sealed test set ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_split_shows_its_counts_and_seals_the_test_labels_on_every_page(client, project, engineer, lead):
    login(client, engineer)
    tabular_version(client)
    page = text(client.get(f"{DATA}forms/v1/"))
    assert "Split and seal the test set" in page
    bad = client.post(f"{DATA}forms/v1/split/", {"seed": 1, "train": 0.5, "validation": 0.5, "test": 0.5})
    assert bad.status_code == 400
    assert "add up to 1" in text(bad)
    assert not Split.objects.exists()

    response = client.post(
        f"{DATA}forms/v1/split/",
        {
            "seed": 7,
            "train": 0.6,
            "validation": 0.2,
            "test": 0.2,
            "stratified": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    split = Split.objects.get()
    assert split.seed == 7
    html = text(response)
    assert "Test split sealed: labels hidden until a sealed evaluation." in html
    assert "Split and seal the test set" not in html
    for part in ("train", "validation", "test"):
        assert f'<td class="num">{split.counts[part]}</td>' in html
    assert "Seed <strong>7</strong>" in html
    run_jobs()  # the profiles are recomputed without the sealed items

    sealed = set(SealedItem.objects.values_list("key", flat=True))
    assert len(sealed) == split.counts["test"]
    login(client, lead)  # not even the lead sees them
    shown_sealed = 0
    for page_number in (1, 2):
        items = text(client.get(f"{DATA}forms/v1/items/", {"page": page_number}))
        for key, label_cell in re.findall(
            r"<tr><td><code>([^<]+)</code></td>.*?<td>(.*?)</td></tr>", items, re.S
        ):
            if key in sealed:
                shown_sealed += 1
                assert "sealed" in label_cell
                assert "cat" not in label_cell and "owl" not in label_cell
    assert shown_sealed == len(sealed)
    # The class balance leaves the sealed items out.
    balance = re.findall(
        r'<th scope="row" dir="auto">(\w+)</th><td class="num">(\d+)</td>',
        text(client.get(f"{DATA}forms/v1/")),
    )
    assert sum(int(n) for _, n in balance) == 67 - len(sealed)
    again = client.post(f"{DATA}forms/v1/split/", {"seed": 8, "train": 0.6, "validation": 0.2, "test": 0.2})
    assert again.status_code == 400
    assert "already split" in text(again)


@pytest.mark.django_db(transaction=True)
def test_reprofile_starts_a_profile_job(client, project, engineer):
    login(client, engineer)
    tabular_version(client)
    response = client.post(f"{DATA}forms/v1/profile/")
    job = Job.objects.filter(kind="dataset_profile").latest("id")
    assert response.status_code == 302
    assert response.url == f"/jobs/{job.pk}/"
    assert job.state == JobState.QUEUED
    run_jobs()
    assert Profile.objects.filter(version__number=1).count() == 2


# --- The data document ------------------------------------------------------------------------

DOCUMENT = {
    "collection_mode": "deployed",
    "collection_description": "Forms scanned at **300 dpi** since 2022.",
    "representativeness": "All districts; rural ones are fewer.",
    "semantics": "`height` and `width` of the box, in mm.",
    "labelling_process": "Two clerks, disagreements adjudicated.",
    "quality_assessment": "Good; owls are rare.",
    "known_issues": "<script>alert(1)</script> Some scans are rotated.",
}


@pytest.mark.django_db(transaction=True)
def test_data_document_is_written_with_live_statistics_submitted_and_approved(
    client, project, engineer, lead
):
    login(client, engineer)
    version = tabular_version(client)
    edit = client.get(f"{DATA}forms/document/edit/")
    assert edit.status_code == 200
    assert f'<option value="{version.pk}" selected>v1 · 67 items · First forms</option>' in text(edit)

    incomplete = client.post(
        f"{DATA}forms/document/edit/", {"version": version.pk, "collection_mode": "bogus"}
    )
    assert incomplete.status_code == 400
    assert not DataDocument.objects.exists()

    response = client.post(f"{DATA}forms/document/edit/", {"version": version.pk, **DOCUMENT})
    assert response.status_code == 302
    assert response.url == f"{DATA}forms/document/"
    document = DataDocument.objects.get()
    assert document.version == version

    html = text(client.get(response.url))
    assert "Saved" in html or "saved" in html
    assert "<strong>300 dpi</strong>" in html
    assert "<script>alert(1)</script>" not in html  # Markdown is sanitised
    assert "From an existing deployed system" in html
    # Live statistics: item counts and the class balance chart come from the version, not the text.
    assert re.search(r'<span class="stat-value">67</span> <span class="stat-name">items</span>', html)
    assert "document-balance-chart" in plotly_figures(html)
    profile = Profile.objects.get(version=version)
    assert profile.warnings[0]["message"].split()[0] in html

    # The deliverable page shows the datasheet; the engineer submits, the lead approves.
    deliverable_url = f"/projects/{SLUG}/deliverables/data_document/"
    page = text(client.get(deliverable_url))
    assert 'data-testid="datasheet"' in page
    assert "Pinned to" in page and 'href="/projects/digits/data/forms/v1/"' in page
    assert 'href="/projects/digits/data/forms/document/edit/"' in page
    submitted = client.post(f"{deliverable_url}transition/", {"action": "submit"}, follow=True)
    assert "Submitted for review." in text(submitted)
    data_document = project.deliverables.get(kind="data_document")
    assert data_document.state == DeliverableState.SUBMITTED
    # Submitted work is frozen.
    frozen = client.post(f"{DATA}forms/document/edit/", {"version": version.pk, **DOCUMENT})
    assert frozen.status_code == 400
    assert "it can be edited again once a lead" in text(frozen)
    assert 'href="/projects/digits/data/forms/document/edit/"' not in text(client.get(deliverable_url))

    login(client, lead)
    approved = client.post(
        f"{deliverable_url}transition/", {"action": "approve", "comment": "Clear."}, follow=True
    )
    assert "Approved." in text(approved)
    data_document.refresh_from_db()
    assert data_document.state == DeliverableState.APPROVED
    # The approval froze the whole datasheet with the version it describes; a dataset added later
    # shows as a change since the approval, not in what was approved.
    snapshot = data_document.snapshots.get()
    assert snapshot.versions == {"dataset Forms": f"v1 · commit {version.git_commit[:12]}"}
    frozen = "".join(section["html"] for section in snapshot.sections)
    assert "<strong>300 dpi</strong>" in frozen and "Two clerks, disagreements adjudicated." in frozen
    create_dataset(client, slug="letters", name="Letters")
    page = text(client.get(deliverable_url))
    changes = page[page.index('data-testid="changed-since-approval"'):page.index('data-testid="frozen-evidence"')]
    assert "Letters" in changes and "Letters" not in page[page.index('data-testid="frozen-evidence"'):]
    exported = text(client.get(f"{deliverable_url}export/"))
    assert "300 dpi" in exported and snapshot.content_hash in exported


@pytest.mark.django_db(transaction=True)
def test_submitting_without_a_complete_datasheet_says_what_is_missing(client, project, engineer):
    login(client, engineer)
    version = tabular_version(client)
    client.post(f"{DATA}forms/document/edit/", {"version": version.pk, "collection_mode": "collected"})
    response = client.post(
        f"/projects/{SLUG}/deliverables/data_document/transition/", {"action": "submit"}, follow=True
    )
    assert "The data document is not complete: Forms:" in text(response)
    assert project.deliverables.get(kind="data_document").state == DeliverableState.DRAFT


@pytest.mark.django_db
def test_data_document_of_a_dataset_without_versions_asks_for_one(client, project, engineer):
    login(client, engineer)
    create_dataset(client)
    assert "No data document for Forms yet." in text(client.get(f"{DATA}forms/document/"))
    edit = text(client.get(f"{DATA}forms/document/edit/"))
    assert "upload a version of Forms" in edit
    assert '<form method="post" class="stack">' not in edit


# --- Who may do what --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["viewer", "annotator", "outsider"])
def test_readers_get_403_on_every_write_and_nothing_changes(client, project, engineer, users, role):
    login(client, engineer)
    version = tabular_version(client)
    jobs_before = Job.objects.count()
    login(client, users[role])
    writes = [
        (DATA, {"name": "X", "slug": "x", "kind": "tabular"}),
        (f"{DATA}forms/upload/", {"file": SimpleUploadedFile("a.csv", imbalanced_csv())}),
        (f"{DATA}forms/import/", {"name": "iris"}),
        (f"{DATA}forms/v1/profile/", {}),
        (f"{DATA}forms/v1/split/", {"seed": 1, "train": 0.6, "validation": 0.2, "test": 0.2}),
        (f"{DATA}forms/v1/derive/", {"remove": Item.objects.first().key}),
        (f"{DATA}forms/document/edit/", {"version": version.pk, **DOCUMENT}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    for url in (f"{DATA}forms/v1/derive/", f"{DATA}forms/document/edit/"):
        assert client.get(url).status_code == 403, url
    assert Job.objects.count() == jobs_before
    assert Dataset.objects.count() == 1
    assert not Split.objects.exists()
    assert not DataDocument.objects.exists()
    # Reading stays open.
    for url in (
        DATA,
        f"{DATA}forms/",
        f"{DATA}forms/v1/",
        f"{DATA}forms/v1/items/",
        f"{DATA}forms/document/",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db(transaction=True)
def test_private_project_data_is_404_to_outsiders_and_anonymous(
    client, private_project, engineer, outsider, viewer
):
    login(client, engineer)
    private = f"/projects/{private_project.slug}/data/"
    create_dataset(client, project=private_project.slug)
    assert upload(client, project=private_project.slug).status_code == 302
    run_jobs()
    urls = [
        private,
        f"{private}forms/",
        f"{private}forms/v1/",
        f"{private}forms/v1/items/",
        f"{private}forms/v1/download/",
        f"{private}forms/document/",
        f"{private}forms/v1/diff/1/",
    ]
    for who in (outsider, None):
        if who is None:
            client.logout()
        else:
            login(client, who)
        for url in urls:
            assert client.get(url).status_code == 404, (who, url)
        assert client.post(f"{private}forms/upload/", {}).status_code == 404
    login(client, viewer)
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_anonymous_writes_go_to_the_login_page(client, project, engineer):
    login(client, engineer)
    create_dataset(client)
    client.logout()
    for url in (DATA, f"{DATA}forms/upload/", f"{DATA}forms/import/", f"{DATA}forms/document/edit/"):
        response = client.post(url, {})
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/"), url


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["upload/", "import/", "v1/profile/", "v1/split/"])
def test_action_routes_refuse_get(client, project, engineer, route):
    login(client, engineer)
    create_dataset(client)
    assert client.get(f"{DATA}forms/{route}").status_code == 405


@pytest.mark.django_db
def test_creating_a_dataset_records_it_on_the_timeline(client, project, engineer):
    login(client, engineer)
    create_dataset(client, name="Census forms")
    assert "Dataset “Census forms” created" in text(client.get(f"/projects/{SLUG}/timeline/"))


# --- Bad input: a form error or a 404, never a 500 ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_malformed_addresses_and_values_are_404s_or_form_errors(client, project, engineer, outsider):
    login(client, engineer)
    version = tabular_version(client)
    other = create_dataset(client, slug="other")
    for url in (
        f"{DATA}forms/v99999999999999999999999/",
        f"{DATA}forms/v1/diff/99999999999999999999/",
        f"{DATA}forms/v1/items/../../../etc/passwd/content",
        f"{DATA}forms/v1/items/%00/content",
        f"{DATA}forms/v0/items/",
        f"{DATA}other/v1/download/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"{DATA}forms/v1/items/", {"page": "-1"}).status_code == 200
    for data in (
        {"seed": "nan", "train": 0.6, "validation": 0.2, "test": 0.2},
        {"seed": 1, "train": "nan", "validation": 0.2, "test": 0.2},
        {"seed": 1, "train": "inf", "validation": "-inf", "test": 0.2},
        {"seed": -1, "train": 0.6, "validation": 0.2, "test": 0.2},
        {"seed": 2**40, "train": 0.6, "validation": 0.2, "test": 0.2},
    ):
        assert client.post(f"{DATA}forms/v1/split/", data).status_code == 400, data
    assert not Split.objects.exists()
    # A version of another dataset cannot be pinned; an unknown collection mode is refused.
    foreign = DatasetVersion.objects.create(dataset=other, number=1, state=VersionState.READY)
    for data in (
        {**DOCUMENT, "version": foreign.pk},
        {**DOCUMENT, "version": "x"},
        {**DOCUMENT, "version": version.pk, "collection_mode": "stolen"},
        {**DOCUMENT, "version": version.pk, "semantics": "x" * 60_000},
    ):
        assert client.post(f"{DATA}forms/document/edit/", data).status_code == 400
    assert not DataDocument.objects.exists()
    relabel = client.post(f"{DATA}forms/v1/derive/", {"relabel": "\x00,\x01\n"})
    assert relabel.status_code == 400
    assert client.post(f"{DATA}forms/upload/", {"message": "no file"}).status_code == 400
    assert client.post(DATA, {"name": "", "slug": "", "kind": ""}).status_code == 400
