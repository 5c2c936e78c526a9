"""The datasets REST API end to end: datasets, versions written by real jobs into a real DVC
repository, items, profiles, splits with the sealed test set, diffs and the data document; and
bad input that always ends in a 4xx that says what is wrong.

Jobs run synchronously with the runner (prakriya.jobs.runner.job_execute) in tests that commit
(`transaction=True`): the runner's heartbeat thread has its own database connection.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from datasets import services
from datasets.models import (
    DataDocument,
    Dataset,
    DatasetVersion,
    Item,
    Profile,
    SealedItem,
    Split,
    SplitAssignment,
    VersionState,
)
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.api import client_for, fast_password_hashing  # noqa: F401

P = "/api/projects/digits"


@pytest.fixture(autouse=True)
def _stores(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.PRAKRIYA_DVC_ROOT = tmp_path / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(tmp_path / "dvc-remote")


def run_jobs() -> list[Job]:
    """Runs every queued job (and the jobs those start) to the end; returns them in order."""
    done: list[Job] = []
    while True:
        queued = list(Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True))
        if not queued:
            return done
        for job_id in queued:
            job_execute(job_id)
            done.append(Job.objects.get(pk=job_id))


def assert_succeeded(jobs: list[Job]) -> None:
    failed = [(j.kind, j.message, j.log[-2000:]) for j in jobs if j.state != JobState.SUCCEEDED]
    assert not failed, failed


def csv_bytes(rows: list[tuple]) -> bytes:
    lines = ["height,width,label"] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def tabular_rows(n: int = 30) -> list[tuple]:
    return [(100 + i, 7 * i % 23, ["cat", "dog", "owl"][i % 3]) for i in range(n)]


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def images_zip(per_class: int = 4) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for c, label in enumerate(["circle", "square"]):
            for i in range(per_class):
                archive.writestr(f"{label}/{label}-{i}.png", png_bytes((40 * c + i, 10 * i, 200 - i)))
    return out.getvalue()


def upload(client, dataset: str, name: str, content: bytes, **fields):
    return client.post(
        f"{P}/datasets/{dataset}/versions/upload/",
        {"file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def make_dataset(client, slug: str = "forms", kind: str = "tabular") -> dict:
    response = client.post(
        f"{P}/datasets/", {"slug": slug, "name": slug.title(), "kind": kind}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def ready_version(
    dataset: Dataset, *, labels: list[str | None], number: int = 1, parent=None
) -> DatasetVersion:
    """A version recorded in the database only (no DVC repository): enough for the routes that
    never read files (items, splits, diffs, the data document)."""
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        parent=parent,
        state=VersionState.READY,
        git_tag=f"{dataset.slug}-v{number}",
        item_count=len(labels),
        labelled_count=sum(1 for x in labels if x is not None),
        columns=["height"],
    )
    Item.objects.bulk_create(
        Item(
            version=version,
            key=f"r{i:06d}",
            label=label,
            content_hash=f"{i:064x}",
            size_bytes=12,
            row={"height": i},
        )
        for i, label in enumerate(labels)
    )
    return version


# --- Datasets ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_engineer_creates_a_dataset_everyone_reads_it(project, engineer, outsider):
    created = make_dataset(client_for(engineer))
    assert created["slug"] == "forms"
    assert created["kind"] == "tabular"
    assert created["created_by"] == "engineer"
    assert created["latest_version"] is None
    listed = client_for(None).get(f"{P}/datasets/").json()
    assert [d["slug"] for d in listed["results"]] == ["forms"]
    assert client_for(outsider).get(f"{P}/datasets/forms/").json()["name"] == "Forms"
    assert client_for(outsider).get(f"{P}/datasets/nope/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"slug": "forms", "name": "Again", "kind": "tabular"}, "slug"),
        ({"slug": "Bad Slug", "name": "X", "kind": "tabular"}, "slug"),
        ({"slug": "audio", "name": "X", "kind": "audio"}, "kind"),
        ({"slug": "x", "name": 5, "kind": "text"}, "name"),
        ({"slug": "x", "name": "X", "kind": "text", "colour": "red"}, "colour"),
        ({"name": "X", "kind": "text"}, "slug"),
    ],
)
def test_bad_dataset_bodies_are_400s_that_name_the_field(project, lead, body, field):
    make_dataset(client_for(lead))
    response = client_for(lead).post(f"{P}/datasets/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Dataset.objects.count() == 1


# --- Versions written by jobs -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_upload_writes_a_version_with_dvc_and_profiles_it(project, engineer, viewer):
    client = client_for(engineer)
    make_dataset(client)
    response = upload(client, "forms", "forms.csv", csv_bytes(tabular_rows()), message="First forms")
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["kind"] == "dataset_version_write"
    assert job["state"] == "queued"
    assert response.headers["Location"].endswith(f"/api/jobs/{job['id']}/")
    jobs = run_jobs()
    assert_succeeded(jobs)
    assert [j.kind for j in jobs] == ["dataset_version_write", "dataset_profile"]

    reader = client_for(viewer)
    versions = reader.get(f"{P}/datasets/forms/versions/").json()["results"]
    assert [(v["number"], v["state"]) for v in versions] == [(1, "ready")]
    version = reader.get(f"{P}/datasets/forms/versions/1/").json()
    assert version["message"] == "First forms"
    assert version["item_count"] == 30
    assert version["labelled_count"] == 30
    assert version["size_bytes"] > 0
    assert len(version["git_commit"]) == 40
    assert version["git_tag"]
    assert version["dvc_md5"]
    assert version["columns"] == ["height", "width"]
    assert version["parent"] is None
    assert version["sealed_count"] == 0
    # The commands name server paths: for the lead and engineers, not for a viewer.
    assert version["reproduce"] == ""
    reproduce = client.get(f"{P}/datasets/forms/versions/1/").json()["reproduce"]
    assert version["git_tag"] in reproduce and "git clone" in reproduce
    assert reader.get(f"{P}/datasets/forms/").json()["latest_version"] == 1

    items = reader.get(f"{P}/datasets/forms/versions/1/items/", {"page_size": 10}).json()
    assert items["count"] == 30
    assert len(items["results"]) == 10
    assert items["next"]
    first = items["results"][0]
    assert set(first) >= {
        "key",
        "label",
        "sealed",
        "split",
        "text",
        "row",
        "file_path",
        "original_name",
        "content_hash",
        "size",
    }
    assert first["label"] == "cat"
    assert first["sealed"] is False
    assert first["row"] == {"height": "100", "width": "0"}  # cells as uploaded, the label column left out
    one = reader.get(f"{P}/datasets/forms/versions/1/items/{first['key']}/").json()
    assert one["key"] == first["key"]
    assert reader.get(f"{P}/datasets/forms/versions/1/items/{first['key']}/content/").status_code == 404

    profile = reader.get(f"{P}/datasets/forms/versions/1/profile/")
    assert profile.status_code == 200, profile.content
    assert profile.json()["report"]
    assert isinstance(profile.json()["warnings"], list)

    again = client.post(f"{P}/datasets/forms/versions/1/profile/")
    assert again.status_code == 202
    assert again.json()["kind"] == "dataset_profile"
    assert_succeeded(run_jobs())
    assert Profile.objects.filter(version__number=1).count() == 2


@pytest.mark.django_db(transaction=True)
def test_images_upload_and_their_bytes_are_served(project, lead, viewer):
    client = client_for(lead)
    make_dataset(client, "shapes", "image")
    assert upload(client, "shapes", "shapes.zip", images_zip()).status_code == 202
    assert_succeeded(run_jobs())
    items = client_for(viewer).get(f"{P}/datasets/shapes/versions/1/items/").json()
    assert items["count"] == 8
    assert {i["label"] for i in items["results"]} == {"circle", "square"}
    item = items["results"][0]
    assert item["file_path"]
    content = client_for(viewer).get(f"{P}/datasets/shapes/versions/1/items/{item['key']}/content/")
    assert content.status_code == 200
    assert content["Content-Type"] == "image/png"
    assert content.content.startswith(b"\x89PNG")
    # Named by key, never by the uploaded name (class folders are labels).
    assert content["Content-Disposition"] == f'inline; filename="{item["key"]}.png"'
    assert Image.open(io.BytesIO(content.content)).size == (8, 8)


@pytest.mark.django_db(transaction=True)
def test_sklearn_import_becomes_a_version(project, engineer):
    client = client_for(engineer)
    make_dataset(client, "iris")
    response = client.post(f"{P}/datasets/iris/versions/import/", {"name": "iris"}, format="json")
    assert response.status_code == 202, response.content
    assert_succeeded(run_jobs())
    version = client.get(f"{P}/datasets/iris/versions/1/").json()
    assert version["item_count"] == 150
    assert len(version["columns"]) == 4


@pytest.mark.django_db(transaction=True)
def test_split_derive_and_diff_keep_the_test_labels_sealed(project, engineer, viewer):
    client = client_for(engineer)
    make_dataset(client)
    upload(client, "forms", "forms.csv", csv_bytes(tabular_rows(30)))
    assert_succeeded(run_jobs())

    response = client.post(
        f"{P}/datasets/forms/versions/1/split/",
        {"seed": 7, "train": 0.6, "validation": 0.2, "test": 0.2},
        format="json",
    )
    assert response.status_code == 201, response.content
    split = response.json()
    assert split["counts"] == {"train": 18, "validation": 6, "test": 6}
    assert split["seed"] == 7
    assert split["stratified"] is True
    assert client_for(viewer).get(f"{P}/datasets/forms/versions/1/split/").json() == split
    # Splitting starts a fresh profile that leaves the sealed items out.
    assert_succeeded(run_jobs())
    assert client.get(f"{P}/datasets/forms/versions/1/profile/").json()["excludes_sealed"] == 6

    items = (
        client_for(viewer).get(f"{P}/datasets/forms/versions/1/items/", {"page_size": 100}).json()["results"]
    )
    sealed = [i for i in items if i["sealed"]]
    assert len(sealed) == 6
    assert all(i["split"] == "test" and i["label"] is None and i["original_name"] == "" for i in sealed)
    assert all(i["label"] is not None for i in items if not i["sealed"])
    assert {i["split"] for i in items} == {"train", "validation", "test"}
    assert client.get(f"{P}/datasets/forms/versions/1/").json()["sealed_count"] == 6

    visible = [i for i in items if not i["sealed"]]
    # A derived version may not touch a sealed item in any way: each would make a diff that
    # depends on its label.
    for change in (
        {"relabel": {sealed[0]["key"]: "hawk"}},
        {"remove_keys": [sealed[0]["key"]]},
        {"relabel": {visible[1]["key"]: "hawk"}, "remove_keys": [sealed[1]["key"]]},
    ):
        response = client.post(f"{P}/datasets/forms/versions/1/derive/", change, format="json")
        assert response.status_code == 400, response.content
        assert "sealed test split" in response.content.decode()
    assert Job.objects.filter(kind="dataset_version_write").count() == 1
    body = {
        "remove_keys": [visible[0]["key"]],
        "relabel": {visible[1]["key"]: "hawk"},
        "message": "Cleaned",
    }
    response = client.post(f"{P}/datasets/forms/versions/1/derive/", body, format="json")
    assert response.status_code == 202, response.content
    assert_succeeded(run_jobs())
    v2 = client.get(f"{P}/datasets/forms/versions/2/").json()
    assert (v2["parent"], v2["item_count"], v2["message"]) == (1, 29, "Cleaned")
    assert v2["sealed_count"] == 6  # the seal follows the keys into the new version
    v2_items = {
        i["key"]: i
        for i in client.get(f"{P}/datasets/forms/versions/2/items/", {"page_size": 100}).json()["results"]
    }
    assert v2_items[visible[1]["key"]]["label"] == "hawk"
    assert v2_items[sealed[0]["key"]]["label"] is None
    assert v2_items[sealed[0]["key"]]["split"] is None  # v2 has no split of its own

    diff = client_for(viewer).get(f"{P}/datasets/forms/versions/1/diff/2/").json()
    assert (diff["old"], diff["new"]) == (1, 2)
    assert diff["removed"] == [visible[0]["key"]]
    assert diff["added"] == []
    assert diff["label_changes"] == [
        {"key": visible[1]["key"], "before": visible[1]["label"], "after": "hawk"}
    ]
    assert diff["sealed_items"] == 6 and "sealed_label_changes" not in diff
    assert diff["balance_after"]["hawk"] == 1
    assert sum(diff["balance_before"].values()) == 24  # sealed items are not counted

    # Adding rows from a file next to the changes.
    response = client.post(
        f"{P}/datasets/forms/versions/2/derive/",
        {
            "file": SimpleUploadedFile("more.csv", csv_bytes([(999, 1, "owl"), (998, 2, "owl")])),
            "relabel": json.dumps({visible[2]["key"]: None}),
            "remove_keys": visible[3]["key"],
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    assert_succeeded(run_jobs())
    v3 = client.get(f"{P}/datasets/forms/versions/3/").json()
    assert (v3["parent"], v3["item_count"], v3["labelled_count"]) == (2, 30, 29)
    diff = client.get(f"{P}/datasets/forms/versions/2/diff/3/").json()
    assert len(diff["added"]) == 2 and diff["removed"] == [visible[3]["key"]]


# --- Bad input on the job-starting routes -----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_body, fmt, message",
    [
        (lambda: {"message": "no file"}, "multipart", "No file was submitted"),
        (lambda: {"file": SimpleUploadedFile("empty.csv", b"")}, "multipart", "empty"),
        (lambda: {"file": SimpleUploadedFile("shapes.zip", images_zip(2))}, "multipart", "tabular dataset"),
        (lambda: {"file": SimpleUploadedFile("x.csv", b"\x89PNG\r\n\x1a\nnot really")}, "multipart", ""),
        (lambda: {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n"), "size": "3"}, "multipart", "size"),
        (lambda: {"file": "forms.csv"}, "json", ""),
    ],
    ids=["missing-file", "empty-file", "wrong-kind", "lying-type", "unknown-field", "json-no-file"],
)
def test_bad_uploads_are_400s_and_leave_nothing_behind(project, engineer, settings, make_body, fmt, message):
    client = client_for(engineer)
    make_dataset(client)
    response = client.post(f"{P}/datasets/forms/versions/upload/", make_body(), format=fmt)
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert not Job.objects.exists()
    assert not DatasetVersion.objects.exists()
    assert not list((settings.DATA_DIR / "staging").glob("*"))


@pytest.mark.django_db
def test_upload_over_the_size_cap_is_a_413(project, engineer, settings):
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 64
    make_dataset(client_for(engineer))
    response = upload(client_for(engineer), "forms", "forms.csv", csv_bytes(tabular_rows()))
    assert response.status_code == 413
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_text_spans_are_uploaded_respanned_by_a_derived_version_and_diffed(project, engineer, viewer):
    client = client_for(engineer)
    make_dataset(client, "ner", kind="text")
    tamil = "கமலா சென்னையில் வேலை செய்கிறார்"
    lines = [
        {"text": tamil, "label": "ta", "spans": [{"start": 5, "end": 15, "label": "LOC"}]},
        {"text": "Ravi lives in Pune", "label": "en"},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    assert upload(client, "ner", "ner.jsonl", body).status_code == 202
    assert_succeeded(run_jobs())
    items = client.get(f"{P}/datasets/ner/versions/1/items/").json()["results"]
    assert [(i["key"], i["spans"]) for i in items] == [("t000001", lines[0]["spans"]), ("t000002", None)]

    # Spans that do not fit the item's text are a 400 naming the item, and no job starts.
    for respan, message in [
        ({"t000002": [{"start": 0, "end": 99, "label": "PER"}]}, 'item "t000002": span 1 (0–99) is not inside the text'),
        ({"t000002": [{"start": 0, "end": 4, "label": ""}]}, "the label must be non-empty text"),
        ({"t000002": [{"start": 0, "end": 4}]}, 'exactly "start", "end" and "label"'),
        ({"t999999": []}, "Unknown item keys: t999999"),
    ]:
        jobs = Job.objects.count()
        response = client.post(f"{P}/datasets/ner/versions/1/derive/", {"respan": respan}, format="json")
        assert response.status_code == 400, response.content
        assert message in repr(response.json()), response.json()
        assert Job.objects.count() == jobs

    respan = {"t000001": None, "t000002": [{"start": 14, "end": 18, "label": "LOC"}, {"start": 0, "end": 4, "label": "PER"}]}
    response = client.post(f"{P}/datasets/ner/versions/1/derive/", {"respan": respan}, format="json")
    assert response.status_code == 202, response.content
    assert_succeeded(run_jobs())
    v2 = {i["key"]: i for i in client.get(f"{P}/datasets/ner/versions/2/items/").json()["results"]}
    assert v2["t000001"]["spans"] is None and v2["t000001"]["label"] == "ta"
    assert v2["t000002"]["spans"] == [{"start": 0, "end": 4, "label": "PER"}, {"start": 14, "end": 18, "label": "LOC"}]
    assert client.get(f"{P}/datasets/ner/versions/2/").json()["message"] == "From v1: 0 removed, 0 relabelled, 2 respanned"
    diff = client_for(viewer).get(f"{P}/datasets/ner/versions/1/diff/2/").json()
    assert diff["changed"] == [] and diff["label_changes"] == []
    assert diff["span_changes"] == [
        {"key": "t000001", "before": lines[0]["spans"], "after": None},
        {"key": "t000002", "before": None, "after": v2["t000002"]["spans"]},
    ]
    assert diff["sealed_items"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"name": "mnist"}, {"name": 3}, {}, {"name": "iris", "extra": 1}])
def test_bad_imports_are_400s(project, engineer, body):
    make_dataset(client_for(engineer), "iris")
    response = client_for(engineer).post(f"{P}/datasets/iris/versions/import/", body, format="json")
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, message",
    [
        ({"remove_keys": ["nope"]}, "Unknown item keys"),
        ({"relabel": {"nope": "cat"}}, "Unknown item keys"),
        ({"relabel": ["r000001"]}, "mapping item keys"),
        ({"relabel": {"r000001": 5}}, "mapping item keys"),
        ({"relabel": {"r000001": "x" * 201}}, "at most 200"),
        ({"relabel": "{not json"}, "mapping item keys"),
        ({"remove_keys": "r000001"}, "list of item keys"),
        ({"remove_keys": [1, 2]}, "list of item keys"),
        ({"relabel": {}, "colour": "red"}, "Unknown field"),
        ({"respan": ["r000001"]}, "new spans"),
        ({"respan": {"r000001": "PER 0-4"}}, "new spans"),
        ({"respan": {"r000001": []}}, "Only the items of a text dataset have spans"),
    ],
)
def test_bad_derive_bodies_are_400s(project, lead, body, message):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    ready_version(dataset, labels=["cat", "dog", "owl"])
    response = client_for(lead).post(f"{P}/datasets/forms/versions/1/derive/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_profile_of_a_version_not_yet_written_is_refused(project, lead):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    DatasetVersion.objects.create(dataset=dataset, number=1)
    client = client_for(lead)
    assert client.get(f"{P}/datasets/forms/versions/1/profile/").status_code == 404
    assert client.post(f"{P}/datasets/forms/versions/1/profile/").status_code == 400
    assert client.post(f"{P}/datasets/forms/versions/1/split/", {"seed": 1}, format="json").status_code == 400


# --- Splits -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"seed": 1, "train": 0.5, "validation": 0.5, "test": 0.5},
        {"seed": 1, "train": 0.0, "validation": 0.5, "test": 0.5},
        {"seed": 1, "train": 1.0, "validation": 0.0, "test": 0.0},
        {"seed": 1, "train": -0.2, "validation": 0.6, "test": 0.6},
        {"seed": 1, "train": "lots"},
        {"seed": 1, "train": "NaN"},
        {"seed": 2**32},
        {"seed": -1},
        {"seed": "seven"},
        {"train": 0.7},
        {"seed": 1, "stratify": True},
    ],
)
def test_bad_split_bodies_are_400s(project, lead, body):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    ready_version(dataset, labels=["cat", "dog", "owl"] * 5)
    response = client_for(lead).post(f"{P}/datasets/forms/versions/1/split/", body, format="json")
    assert response.status_code == 400, response.content
    assert not Split.objects.exists()
    assert not SealedItem.objects.exists()


@pytest.mark.django_db
def test_a_split_is_seeded_reproducible_and_immutable(project, lead, private_project):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    version = ready_version(dataset, labels=["cat", "dog", "owl"] * 10 + [None] * 3)
    client = client_for(lead)
    assert client.get(f"{P}/datasets/forms/versions/1/split/").status_code == 404
    body = {"seed": 42, "train": 0.6, "validation": 0.2, "test": 0.2, "stratified": True}
    response = client.post(f"{P}/datasets/forms/versions/1/split/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["counts"] == {"train": 18, "validation": 6, "test": 6}  # unlabelled items stay out
    first = dict(SplitAssignment.objects.values_list("item__key", "part"))
    assert client.post(f"{P}/datasets/forms/versions/1/split/", body, format="json").status_code == 400

    # The same version, seed and fractions give the same split.
    other = services.dataset_create(
        project=private_project, actor=lead, slug="forms", name="Forms", kind="tabular"
    )
    ready_version(other, labels=["cat", "dog", "owl"] * 10 + [None] * 3)
    response = client.post("/api/projects/secret-forms/datasets/forms/versions/1/split/", body, format="json")
    assert response.status_code == 201
    second = dict(
        SplitAssignment.objects.filter(split__version__dataset=other).values_list("item__key", "part")
    )
    assert second == first
    assert SealedItem.objects.filter(dataset=dataset).count() == 6
    assert version.items.count() == 33


# --- Diffs and version numbers ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/versions/99999999999999999999/",
        "/versions/0/",
        "/versions/-1/",
        "/versions/1.0/",
        "/versions/one/",
        "/versions/3/",
        "/versions/1/diff/abc/",
        "/versions/1/diff/99999999999999999999/",
        "/versions/1/diff/9/",
        "/versions/1/items/nope/",
        "/versions/99999999999999999999/items/",
        "/versions/1/items/r000001/content/",
    ],
)
def test_unknown_or_malformed_version_numbers_and_keys_are_404s(project, lead, path):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    ready_version(dataset, labels=["cat", "dog"])
    response = client_for(lead).get(f"{P}/datasets/forms{path}")
    assert response.status_code == 404, response.content


@pytest.mark.django_db
def test_bad_item_pages_are_404s_not_500s(project, lead):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    ready_version(dataset, labels=["cat"] * 5)
    client = client_for(lead)
    url = f"{P}/datasets/forms/versions/1/items/"
    assert client.get(url, {"page": 9}).status_code == 404
    assert client.get(url, {"page": "x"}).status_code == 404
    assert len(client.get(url, {"page_size": "x"}).json()["results"]) == 5
    assert len(client.get(url, {"page_size": 2, "page": 3}).json()["results"]) == 1


# --- The data document ------------------------------------------------------------------------

DOCUMENT = {
    "version": 1,
    "collection_mode": "deployed",
    "collection_description": "Scanned forms from the **regional** offices.",
    "representativeness": "All offices, 2023.",
    "semantics": "Height and width of the digit box.",
    "labelling_process": "Two clerks per form.",
    "quality_assessment": "Good; some blur.",
    "known_issues": "",
}


@pytest.mark.django_db
def test_data_document_is_written_pinned_and_read_with_live_statistics(project, engineer, viewer):
    dataset = services.dataset_create(
        project=project, actor=engineer, slug="forms", name="Forms", kind="tabular"
    )
    ready_version(dataset, labels=["cat", "dog", "cat"])
    ready_version(dataset, labels=["cat", "dog", "cat", "owl"], number=2)
    url = f"{P}/datasets/forms/document/"
    assert client_for(viewer).get(url).status_code == 404
    response = client_for(engineer).put(url, DOCUMENT, format="json")
    assert response.status_code == 201, response.content
    document = client_for(viewer).get(url).json()
    assert document["version"] == 1
    assert document["collection_mode"] == "deployed"
    assert document["updated_by"] == "engineer"
    assert document["statistics"]["item_count"] == 3
    assert document["statistics"]["class_balance"] == {"cat": 2, "dog": 1}
    assert client_for(viewer).get(f"{P}/datasets/forms/").json()["has_document"] is True
    assert project.deliverables.get(kind="data_document").state == "draft"

    response = client_for(engineer).patch(
        url, {"version": 2, "known_issues": "Owls are rare."}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["semantics"] == DOCUMENT["semantics"]
    # PUT replaces the whole document: fields left out are emptied.
    response = client_for(engineer).put(url, {"version": 2, "collection_mode": "harvested"}, format="json")
    assert response.status_code == 200
    assert DataDocument.objects.get().semantics == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"version": "one"}, "version"),
        ({"version": 1.5}, "version"),
        ({"version": 9}, "version"),
        ({"version": 2**40}, "version"),
        ({"version": None}, "version"),
        ({"collection_mode": "scraped"}, "collection_mode"),
        ({"semantics": "x" * 101}, "semantics"),
        ({"semantics": 5}, "semantics"),
        ({"saliency": "high"}, "saliency"),
    ],
)
def test_bad_data_documents_are_400s(project, lead, settings, change, field):
    settings.PRAKRIYA_MAX_MARKDOWN_CHARS = 100
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    ready_version(dataset, labels=["cat"])
    response = client_for(lead).put(f"{P}/datasets/forms/document/", {**DOCUMENT, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not DataDocument.objects.exists()


@pytest.mark.django_db
def test_data_document_under_review_cannot_be_edited(project, lead):
    dataset = services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")
    ready_version(dataset, labels=["cat"])
    client = client_for(lead)
    assert (
        client.patch(f"{P}/datasets/forms/document/", {"known_issues": "x"}, format="json").status_code == 400
    )
    assert client.put(f"{P}/datasets/forms/document/", DOCUMENT, format="json").status_code == 201
    submitted = client.post(f"{P}/deliverables/data_document/submit/", {}, format="json")
    assert submitted.status_code == 200, submitted.content
    response = client.patch(f"{P}/datasets/forms/document/", {"known_issues": "x"}, format="json")
    assert response.status_code == 400
    assert "submitted" in json.dumps(response.json())


@pytest.mark.django_db
def test_schema_describes_the_dataset_routes():
    import yaml

    paths = yaml.safe_load(client_for(None).get("/api/schema/").content)["paths"]
    base = "/api/projects/{project_slug}/datasets/"
    for path in [
        "",
        "{dataset_slug}/",
        "{dataset_slug}/document/",
        "{dataset_slug}/versions/",
        "{dataset_slug}/versions/{number}/",
        "{dataset_slug}/versions/upload/",
        "{dataset_slug}/versions/import/",
        "{dataset_slug}/versions/{number}/derive/",
        "{dataset_slug}/versions/{number}/profile/",
        "{dataset_slug}/versions/{number}/split/",
        "{dataset_slug}/versions/{number}/diff/{other}/",
        "{dataset_slug}/versions/{version_number}/items/",
        "{dataset_slug}/versions/{version_number}/items/{key}/",
        "{dataset_slug}/versions/{version_number}/items/{key}/content/",
    ]:
        assert base + path in paths, path
    assert (
        "multipart/form-data"
        in paths[base + "{dataset_slug}/versions/upload/"]["post"]["requestBody"]["content"]
    )
