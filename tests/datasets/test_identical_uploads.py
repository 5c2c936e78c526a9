"""An upload identical to a version the dataset already has (the same items, contents and labels)
writes no copy: the page names that version with a link to it, the API answers 409 with its
number and address, and a job that finds a twin written meanwhile ends with a link to it. A
change of one label or one value is a new version. The answer never depends on a sealed label.

The existing version is recorded from the very upload staged by datasets.ingest (database only,
no DVC repository: the comparison reads the items, never the files), except in the one test that
runs the write jobs.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasets import ingest, services
from datasets.models import Dataset, DatasetVersion, Item, SealedItem, VersionState
from datasets.storage.tags import CommittedVersion
from prakriya.jobs import registry
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.api import client_for

PAGE = "/projects/digits/data/forms/"
API = "/api/projects/digits/datasets/forms/versions/"
LABELS = ["cat", "dog", "owl"]


def forms_csv(*, label_of: dict[int, str] | None = None, height_of: dict[int, int] | None = None) -> bytes:
    """Twelve rows; `label_of` / `height_of` change the label / height of rows by index."""
    label_of, height_of = label_of or {}, height_of or {}
    lines = ["height,width,label"]
    lines += [f"{height_of.get(i, 100 + i)},{7 * i % 23},{label_of.get(i, LABELS[i % 3])}" for i in range(12)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def dataset(project, lead) -> Dataset:
    return services.dataset_create(project=project, actor=lead, slug="forms", name="Forms", kind="tabular")


def recorded_version(dataset: Dataset, content: bytes, tmp_path, number: int = 1) -> DatasetVersion:
    """A ready version holding exactly what an upload of `content` stages."""
    source = tmp_path / f"v{number}.csv"
    source.write_bytes(content)
    staged = ingest.stage_upload(path=source, original_name="forms.csv", kind=dataset.kind, dest=tmp_path / f"v{number}")
    version = DatasetVersion.objects.create(dataset=dataset, number=number, state=VersionState.READY)
    tag = f"{dataset.slug}-v{number}"
    return services.version_record(
        version=version, staged=staged, committed=CommittedVersion(commit="0" * 40, tag=tag, dvc_md5="", file_count=0)
    )


def upload_page(client, content: bytes, *, xhr: bool = False):
    headers = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"} if xhr else {}
    return client.post(
        f"{PAGE}upload/", {"file": SimpleUploadedFile("again.csv", content), "label_column": "label"}, **headers
    )


def upload_api(user, content: bytes):
    return client_for(user).post(
        f"{API}upload/", {"file": SimpleUploadedFile("again.csv", content)}, format="multipart"
    )


def staging_left(settings) -> list:
    root = settings.DATA_DIR / "staging"
    return list(root.iterdir()) if root.exists() else []


@pytest.mark.django_db
def test_identical_upload_through_the_page_names_the_version_with_a_link_and_writes_nothing(
    client, dataset, engineer, tmp_path, settings
):
    recorded_version(dataset, forms_csv(), tmp_path)
    client.force_login(engineer)
    for xhr in (False, True):  # upload.js swaps in the answer's form, notice and link included
        response = upload_page(client, forms_csv(), xhr=xhr)
        assert response.status_code == 409
        html = response.content.decode()
        notice = html[html.index('data-testid="identical-version"'):]
        notice = notice[:notice.index("</div>")]
        assert "identical to" in notice and "Forms v1" in notice and "no new version was written" in notice
        assert f'href="{PAGE}v1/"' in notice
        assert "data-upload-form" in html
    assert not Job.objects.exists()
    assert list(dataset.versions.values_list("number", flat=True)) == [1]
    assert staging_left(settings) == []


@pytest.mark.django_db
def test_identical_upload_through_the_api_is_a_409_naming_the_version_only_for_uploaders(
    dataset, engineer, viewer, outsider, tmp_path
):
    recorded_version(dataset, forms_csv(), tmp_path)
    response = upload_api(engineer, forms_csv())
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["version"] == 1
    assert body["url"] == f"http://testserver{API}1/"
    assert body["html_url"] == f"http://testserver{PAGE}v1/"
    assert "identical to v1" in body["detail"]
    assert client_for(engineer).get(body["url"]).json()["number"] == 1
    # Nothing new for who may not upload: the same refusals as before, never the 409.
    assert upload_api(viewer, forms_csv()).status_code == 403
    assert upload_api(outsider, forms_csv()).status_code == 403  # the project is public
    assert upload_api(None, forms_csv()).status_code in (401, 403)
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changed",
    [forms_csv(label_of={4: "owl"}), forms_csv(height_of={7: 999}), forms_csv() + b"1,2,cat\n"],
    ids=["one-label", "one-value", "one-row-more"],
)
def test_an_upload_that_differs_by_one_label_or_value_is_a_new_version(dataset, engineer, tmp_path, changed):
    recorded_version(dataset, forms_csv(), tmp_path)
    response = upload_api(engineer, changed)
    assert response.status_code == 202, response.content
    assert Job.objects.get().params["refuse_identical"] is True


@pytest.mark.django_db
def test_sealed_labels_are_not_compared_so_the_answer_cannot_tell_them(dataset, lead, engineer, tmp_path):
    version = recorded_version(dataset, forms_csv(), tmp_path)
    services.split_create(version=version, actor=lead, seed=3, train=0.5, validation=0.0, test=0.5)
    sealed = sorted(SealedItem.objects.filter(dataset=dataset).values_list("key", flat=True))
    assert sealed
    index = int(sealed[0][1:]) - 1  # r000005 is the fifth row
    open_index = next(i for i in range(12) if f"r{i + 1:06d}" not in sealed)
    # Whatever label the upload gives a sealed item (the true one or any other), the answer is the
    # same: identical to v1, which the uploader may open; the sealed labels are never read.
    for label in LABELS:
        response = upload_api(engineer, forms_csv(label_of={index: label}))
        assert response.status_code == 409, response.content
        assert response.json()["version"] == 1
    # An open label still counts.
    other = next(x for x in LABELS if x != LABELS[open_index % 3])
    assert upload_api(engineer, forms_csv(label_of={open_index: other})).status_code == 202
    assert Item.objects.filter(version=version, key__in=sealed, label__isnull=False).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_write_job_that_finds_its_twin_written_meanwhile_writes_nothing_and_links_to_it(
    client, dataset, engineer, tmp_path, settings
):
    assert upload_api(engineer, forms_csv()).status_code == 202
    # Before its job runs, the same content becomes v1 (an identical upload sent just before).
    recorded_version(dataset, forms_csv(), tmp_path)
    job = Job.objects.get()
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.log
    assert list(DatasetVersion.objects.values_list("number", flat=True)) == [1]
    assert job.result["number"] == 1 and "identical to Forms v1" in job.log
    link = registry.result_link(job, engineer)
    assert link.url == f"{PAGE}v1/" and "identical to v1" in link.note
    client.force_login(engineer)
    page = client.get(reverse("projects:job", args=[job.pk])).content.decode()
    assert f'href="{PAGE}v1/"' in page and "identical to v1" in page
    assert registry.result_link(job, AnonymousUser()) is not None  # the project is public
    assert staging_left(settings) == []
