"""Batch prediction: a deployment scores a whole dataset version into a CSV people download.

The job runs on a real version (digits, written and split by the platform's own jobs) with a
served export, and its file is checked against ONNX Runtime's own answers for the same inputs,
read by the training inputs' code; the sealed test items are never in it. Bad input is a form
error or a 4xx, and every new route answers each role as the table says.

Worlds are built once per test: the digits version once for the whole job test, the matrix's
deployment once per visibility for every route.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from datasets.models import (
    Dataset,
    DatasetVersion,
    Item,
    SealedItem,
    Split,
    SplitAssignment,
    SplitPart,
    VersionState,
)
from deployments import services as deployment_services
from deployments.batch import files
from deployments.batch import services as batch_services
from deployments.batch.work import BatchFailed, batch_predict_run, header
from deployments.export import runtime
from deployments.models import BatchPrediction, BatchState
from experiments.inputs import labelled_parts, load_inputs
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from tests.deployments.helpers import digits_version
from tests.deployments.serving_helpers import CLASSES, N_FEATURES, benchmarked, onnx_bytes_of, served_export
from tests.deployments.serving_helpers import schema as digits_schema
from tests.experiments.test_pages_permissions import LOGIN, R, _outcome, row
from tests.factories import make_project
from tests.fixtures_annotation import make_version
from tests.matrix import check_matrix, signed_in


def _deployed(project, lead, *, seed: int = 0, name: str = "digits api"):
    export = served_export(project, seed=seed)
    benchmarked(export, inside=True)
    return deployment_services.deployment_create(project=project, actor=lead, name=name, export=export)


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def _pages(project, deployment, batch=None) -> dict[str, str]:
    args = [project.slug, deployment.slug]
    urls = {"list": reverse("deployments:batch_predictions", args=args)}
    if batch is not None:
        urls["detail"] = reverse("deployments:batch_prediction", args=[*args, batch.pk])
        urls["download"] = reverse("deployments:batch_prediction_download", args=[*args, batch.pk])
    return urls


def _api(project, deployment) -> str:
    return f"/api/projects/{project.slug}/deployments/{deployment.slug}/batch-predictions/"


# --- The job on a real version ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_version_is_scored_item_by_item_as_onnx_runtime_scores_it_and_the_sealed_test_items_are_left_out(
    project, lead, engineer
):
    version = digits_version(project, lead)
    deployment = _deployed(project, lead)
    client = signed_in(engineer)
    urls = _pages(project, deployment)

    started = client.post(urls["list"], {"version": version.pk, "export": deployment.stable_id})

    batch = BatchPrediction.objects.get()
    assert started.status_code == 302 and started["Location"] == _pages(project, deployment, batch)["detail"]
    assert batch.job.kind == "deployments_batch_predict" and batch.job.queue == "export"
    assert batch.export_id == deployment.stable_id and batch.state == BatchState.PENDING
    assert job_execute(batch.job_id) == JobState.SUCCEEDED, (batch.job.message, batch.job.log)
    batch.refresh_from_db()
    assert batch.state == BatchState.READY and batch.finished_at is not None

    # What ONNX Runtime answers for the same inputs, read by the training inputs' own code: the
    # train and validation parts (every digit is labelled, so every item outside the test part).
    loaded = load_inputs(version=version)
    parts = labelled_parts(version)
    keys = [i.key for i in parts[SplitPart.TRAIN]] + loaded.val_keys
    x = np.concatenate([loaded.data.x_train, loaded.data.x_val])
    expected = runtime.predict_proba(runtime.session(onnx_bytes_of(0)), digits_schema(), x)
    test_keys = set(version.items.filter(assignment__part=SplitPart.TEST).values_list("key", flat=True))
    sealed_keys = set(SealedItem.objects.filter(dataset=version.dataset).values_list("key", flat=True))
    assert test_keys and test_keys == sealed_keys

    downloaded = client.get(_pages(project, deployment, batch)["download"])

    assert downloaded.status_code == 200 and downloaded["Content-Type"].startswith("text/csv")
    assert "attachment" in downloaded["Content-Disposition"] and downloaded["X-Content-Type-Options"] == "nosniff"
    content = b"".join(downloaded.streaming_content)
    rows = _rows(content)
    assert list(rows[0]) == header(CLASSES) == ["item_key", "split_part", "predicted_label", "score",
                                                *(f"p_{c}" for c in CLASSES)]
    by_key = {r["item_key"]: r for r in rows}
    assert len(rows) == len(by_key) == len(keys) == version.item_count - len(test_keys)
    assert set(by_key) == set(keys) and not set(by_key) & test_keys
    assert [r["item_key"] for r in rows] == list(version.items.exclude(key__in=test_keys).order_by("id")
                                                 .values_list("key", flat=True))
    got = np.array([[float(by_key[k][f"p_{c}"]) for c in CLASSES] for k in keys])
    assert np.allclose(got, expected, rtol=0, atol=1e-6)
    assert [by_key[k]["predicted_label"] for k in keys] == [CLASSES[i] for i in np.argmax(expected, axis=1)]
    assert np.allclose([float(by_key[k]["score"]) for k in keys], expected.max(axis=1), rtol=0, atol=1e-6)
    assert {by_key[k]["split_part"] for k in loaded.val_keys} == {"validation"}
    assert {r["split_part"] for r in rows} == {"train", "validation"}
    # No label of any item is in the file: only the model's answers (the digits' labels are the
    # class names, so only the columns that hold labels are compared).
    assert all(set(r) == set(rows[0]) for r in rows)

    # The row and the page say what was scored and what was left out, and why.
    assert (batch.items, batch.scored, batch.sealed_left_out, batch.unreadable) == (
        version.item_count, len(keys), len(test_keys), 0)
    assert batch.size_bytes == len(content) and len(batch.sha256) == 64
    assert files.absolute(batch.file_path).read_bytes() == content
    page = client.get(_pages(project, deployment, batch)["detail"]).content.decode()
    assert f"{len(test_keys)} items of the sealed test set were left out" in page
    assert 'data-testid="batch-download"' in page and batch.sha256 in page
    api = signed_in(engineer, api=True)
    detail = api.get(f"{_api(project, deployment)}{batch.pk}/").json()
    assert detail["scored"] == len(keys) and detail["sealed_left_out"] == len(test_keys)
    assert detail["served_as"] == "stable" and detail["dataset"] == "digits" and detail["version"] == 1
    assert b"".join(api.get(f"{_api(project, deployment)}{batch.pk}/download/").streaming_content) == content
    listed = signed_in(lead).get(reverse("deployments:deployment", args=[project.slug, deployment.slug]))
    assert f'data-batch="{batch.pk}" data-state="ready"' in listed.content.decode()
    assert project.timeline.filter(verb="batch_prediction_done").count() == 1
    job_page = client.get(reverse("projects:job", args=[batch.job_id])).content.decode()
    assert _pages(project, deployment, batch)["detail"] in job_page


# --- The work on tabular rows, without a job --------------------------------------------------


def _tabular_version(project, rows: list[dict | None], *, slug: str = "forms") -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, slug=slug, name=slug.title(), kind="tabular")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY, git_tag=f"{slug}-v1",
                                            columns=[f"f{j}" for j in range(N_FEATURES)], item_count=len(rows))
    Item.objects.bulk_create([
        Item(version=version, key=f"{slug}-{i:03d}", label="7", content_hash=f"{i:064d}", row=r)
        for i, r in enumerate(rows)
    ])
    return version


def _tabular_schema() -> dict:
    return {**digits_schema(), "kind": "tabular", "image": None, "feature_names": [f"f{j}" for j in range(N_FEATURES)]}


@pytest.mark.django_db
def test_tabular_rows_are_read_by_the_models_feature_names_and_unreadable_or_sealed_ones_are_counted(project, lead):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 17, size=(6, N_FEATURES)).astype(float)
    rows = [{f"f{j}": str(v) for j, v in enumerate(r)} for r in values]
    rows[1]["f5"] = "n/a"  # not a number
    del rows[2]["f0"]  # missing
    version = _tabular_version(project, rows)
    items = list(version.items.order_by("id"))
    # Item 3 is sealed by key (from another version's split), item 4 is in this version's test part.
    SealedItem.objects.create(dataset=version.dataset, key=items[3].key)
    split = Split.objects.create(version=version, seed=1, train_fraction=0.6, validation_fraction=0.2,
                                 test_fraction=0.2)
    SplitAssignment.objects.create(split=split, item=items[4], part=SplitPart.TEST)
    SplitAssignment.objects.create(split=split, item=items[0], part=SplitPart.TRAIN)
    deployment = _deployed(project, lead)
    deployment.stable.input_schema = _tabular_schema()
    deployment.stable.save()
    batch = batch_services.batch_predict_start(deployment=deployment, actor=lead, version=version)
    assert batch.items == 4  # counted when asked for: the sealed two are not to be scored

    batch_predict_run(batch=batch, progress=lambda percent, message: None)

    batch.refresh_from_db()
    content = files.absolute(batch.file_path).read_bytes()
    got = _rows(content)
    assert [r["item_key"] for r in got] == [items[0].key, items[5].key]
    assert [r["split_part"] for r in got] == ["train", ""]
    expected = runtime.predict_proba(runtime.session(onnx_bytes_of(0)), _tabular_schema(), values[[0, 5]])
    assert np.allclose([[float(r[f"p_{c}"]) for c in CLASSES] for r in got], expected, rtol=0, atol=1e-6)
    assert (batch.items, batch.scored, batch.sealed_left_out, batch.unreadable) == (6, 2, 2, 2)
    assert any("2 items of the sealed test set were left out" in n for n in batch.notes)
    assert any("2 items were left out: a feature is missing or not a number" in n for n in batch.notes)

    # Run again (its worker lost after it wrote the file), it writes the same file whole.
    batch_predict_run(batch=batch, progress=lambda percent, message: None)
    batch.refresh_from_db()
    assert files.absolute(batch.file_path).read_bytes() == content and batch.scored == 2

    # A version none of whose items can be read fails with the reason, and leaves no file.
    unreadable = _tabular_version(project, [{"f0": "x"}, None], slug="blanks")
    failing = batch_services.batch_predict_start(deployment=deployment, actor=lead, version=unreadable)
    with pytest.raises(BatchFailed, match="No item's input could be read: 2 items were left out"):
        batch_predict_run(batch=failing, progress=lambda percent, message: None)
    written = [p.name for p in (Path(settings.DATA_DIR) / files.FOLDER).rglob("*") if p.is_file()]
    assert written == [Path(batch.file_path).name]


# --- Bad input --------------------------------------------------------------------------------


@pytest.fixture
def bad_input_world(project, lead):
    deployment = _deployed(project, lead)
    spare = served_export(project, seed=1)  # ready, but not served by the deployment
    images = make_version(project, kind="image", slug="shapes", count=3)
    texts = make_version(project, kind="text", slug="notes", count=3)
    pending = make_version(project, kind="image", slug="drafts", count=3)
    DatasetVersion.objects.filter(pk=pending.pk).update(state=VersionState.PENDING)
    other = make_project(lead=lead, slug="elsewhere")
    foreign = make_version(other, kind="image", slug="shapes", count=3)
    return {"deployment": deployment, "spare": spare, "images": images, "texts": texts, "pending": pending,
            "foreign": foreign}


PAGE_CASES = [
    ("another project's version", "Select a valid choice"),
    ("a version being written", "Select a valid choice"),
    ("a garbage version", "Select a valid choice"),
    ("an export the deployment does not serve", "Select a valid choice"),
    ("no export", "This field is required"),
    ("texts for an image model", "takes image inputs"),
    ("more items than the cap", "scores at most 2"),
]
API_CASES = [
    ("another project's dataset", "version"),
    ("a version being written", "version"),
    ("an unknown version number", "version"),
    ("texts for an image model", "version"),
    ("an export the deployment does not serve", "export"),
    ("a huge export id", "export"),
    ("a string for a number", "version"),
    ("an unknown field", "sealed"),
    ("more items than the cap", "version"),
]


def _page_data(case: str, world: dict) -> dict:
    deployment = world["deployment"]
    data = {"version": world["images"].pk, "export": deployment.stable_id}
    changes = {
        "another project's version": {"version": world["foreign"].pk},
        "a version being written": {"version": world["pending"].pk},
        "a garbage version": {"version": "1; DROP TABLE"},
        "an export the deployment does not serve": {"export": world["spare"].pk},
        "texts for an image model": {"version": world["texts"].pk},
    }
    data.update(changes.get(case, {}))
    if case == "no export":
        del data["export"]
    return data


def _api_data(case: str, world: dict) -> dict:
    data = {"dataset": "shapes", "version": 1}
    data.update({
        "another project's dataset": {"dataset": "nowhere"},
        "a version being written": {"dataset": "drafts"},
        "an unknown version number": {"version": 9},
        "texts for an image model": {"dataset": "notes"},
        "an export the deployment does not serve": {"export": world["spare"].pk},
        "a huge export id": {"export": 2**70},
        "a string for a number": {"version": "one"},
        "an unknown field": {"sealed": True},
    }.get(case, {}))
    return data


@pytest.mark.django_db
def test_bad_input_is_a_form_error_or_a_400_naming_the_field_and_starts_nothing(bad_input_world, project, lead,
                                                                               settings):
    world = bad_input_world
    deployment = world["deployment"]
    wrong = []
    for case, says in PAGE_CASES:
        settings.PRAKRIYA_BATCH_PREDICT_MAX_ITEMS = 2 if case == "more items than the cap" else 1000
        response = signed_in(lead).post(_pages(project, deployment)["list"], _page_data(case, world))
        if response.status_code != 400 or says not in response.content.decode():
            wrong.append(f"page, {case}: {response.status_code}, {says!r} not said")
    for case, field in API_CASES:
        settings.PRAKRIYA_BATCH_PREDICT_MAX_ITEMS = 2 if case == "more items than the cap" else 1000
        response = signed_in(lead, api=True).post(_api(project, deployment), _api_data(case, world), format="json")
        if response.status_code != 400 or field not in response.json().get("errors", {}):
            wrong.append(f"API, {case}: {response.status_code} {response.content[:300]!r}")

    assert not wrong, "\n".join(wrong)
    assert not BatchPrediction.objects.exists() and not Job.objects.filter(kind="deployments_batch_predict").exists()


@pytest.mark.django_db
def test_the_canary_may_score_and_unknown_or_unready_batches_are_404s(bad_input_world, project, lead):
    world = bad_input_world
    deployment = world["deployment"]
    deployment_services.canary_start(deployment=deployment, actor=lead, export=world["spare"], percent=10)
    api = signed_in(lead, api=True)

    started = api.post(_api(project, deployment), {"dataset": "shapes", "version": 1, "export": world["spare"].pk},
                       format="json")

    assert started.status_code == 202, started.content
    batch = BatchPrediction.objects.get()
    assert batch.export_id == world["spare"].pk and started.json()["id"] == batch.job_id
    assert api.get(f"{_api(project, deployment)}{batch.pk}/").json()["served_as"] == "canary"
    # Not scored yet: no file to download, from the API or the page.
    assert api.get(f"{_api(project, deployment)}{batch.pk}/download/").status_code == 404
    urls = _pages(project, deployment, batch)
    assert signed_in(lead).get(urls["download"]).status_code == 404
    assert signed_in(lead).get(urls["detail"]).status_code == 200
    for url in (f"{_api(project, deployment)}{batch.pk + 1}/", f"{_api(project, deployment)}{batch.pk + 1}/download/",
                f"/api/projects/{project.slug}/deployments/nowhere/batch-predictions/"):
        assert api.get(url).status_code == 404, url
    for other in (batch.pk + 1, 10**25):
        assert signed_in(lead).get(urls["detail"].replace(f"/{batch.pk}/", f"/{other}/")).status_code == 404


# --- Who gets what ----------------------------------------------------------------------------

PAGE_PUBLIC_READ = row(LOGIN, 403, 403, 403, 200, 200)
PAGE_PRIVATE_READ = row(404, 404, 403, 403, 200, 200)
PAGE_PUBLIC_START = row(LOGIN, 403, 403, 403, R, R)
PAGE_PRIVATE_START = row(404, 404, 403, 403, R, R)
API_PUBLIC_READ = row(403, 403, 403, 403, 200, 200)
API_PRIVATE_READ = row(404, 404, 403, 403, 200, 200)
API_PUBLIC_START = row(401, 403, 403, 403, 202, 202)
API_PRIVATE_START = row(401, 404, 403, 403, 202, 202)
# The deployment's page is read like the project's deployments; its batch predictions are shown
# to those who read predictions only (the `also` check below).
DEPLOYMENT_PUBLIC = row(200, 200, 200, 200, 200, 200)
DEPLOYMENT_PRIVATE = row(404, 404, 200, 403, 200, 200)
ROUTES = [
    ("list", "GET", PAGE_PUBLIC_READ, PAGE_PRIVATE_READ),
    ("list", "POST", PAGE_PUBLIC_START, PAGE_PRIVATE_START),
    ("detail", "GET", PAGE_PUBLIC_READ, PAGE_PRIVATE_READ),
    ("download", "GET", PAGE_PUBLIC_READ, PAGE_PRIVATE_READ),
    ("deployment", "GET", DEPLOYMENT_PUBLIC, DEPLOYMENT_PRIVATE),
    ("api:list", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api:list", "POST", API_PUBLIC_START, API_PRIVATE_START),
    ("api:detail", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
    ("api:download", "GET", API_PUBLIC_READ, API_PRIVATE_READ),
]
CSV = "item_key,split_part,predicted_label,score,p_0\nshapes-000000,,0,0.9,0.9\n"


def _matrix_world(target, lead):
    """A deployment, a ready image version to score, and a finished batch prediction with its file."""
    deployment = _deployed(target, lead)
    version = make_version(target, kind="image", slug="shapes", count=3)
    batch = BatchPrediction.objects.create(project=target, deployment=deployment, export=deployment.stable,
                                           version=version, state=BatchState.READY, items=3, scored=1)
    relative = files.relative_path(project_id=target.pk, batch_id=batch.pk)
    path = files.absolute(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CSV)
    BatchPrediction.objects.filter(pk=batch.pk).update(file_path=relative, size_bytes=len(CSV))
    return deployment, version, batch


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_batch_prediction_routes_answer_each_role_as_the_table_says(visibility, users, project, private_project,
                                                                    lead):
    target = project if visibility == "public" else private_project
    deployment, version, batch = _matrix_world(target, lead)
    pages = _pages(target, deployment, batch)
    pages["deployment"] = reverse("deployments:deployment", args=[target.slug, deployment.slug])
    api = _api(target, deployment)
    apis = {"list": api, "detail": f"{api}{batch.pk}/", "download": f"{api}{batch.pk}/download/"}
    wrong = []
    for route, method, public, private in ROUTES:
        is_api = route.startswith("api:")
        url = apis[route.removeprefix("api:")] if is_api else pages[route]
        data = {"dataset": "shapes", "version": 1} if is_api else {"version": version.pk,
                                                                    "export": deployment.stable_id}

        def send(role, url=url, data=data, method=method, is_api=is_api):
            client = signed_in(users[role], api=is_api)
            if method == "GET":
                return client.get(url)
            return client.post(url, data, format="json") if is_api else client.post(url, data)

        def also(role, response, expected, route=route, method=method):
            made = BatchPrediction.objects.count() - 1
            if method == "POST":
                return None if made == (1 if expected in (R, 202) else 0) else f"{made} batch predictions started"
            if route.endswith("download") and expected == 200:
                return None if b"".join(response.streaming_content) == CSV.encode() else "not the batch's file"
            if route == "deployment" and expected == 200:
                shown = b'data-testid="batches"' in response.content
                if shown != (role in ("engineer", "lead")):
                    return f"batch predictions {'shown' if shown else 'not shown'} on the deployment's page"
                form = b'data-testid="batch-form"' in response.content
                if form != (role in ("engineer", "lead")):
                    return f"the scoring form {'shown' if form else 'not shown'}"
            if route == "detail" and expected == 200 and b'data-testid="batch-download"' not in response.content:
                return "no download link"
            return None

        try:
            check_matrix(route=f"{method} batch {route}", visibility=visibility, send=send, status_of=_outcome,
                         also=also, expected=public if visibility == "public" else private)
        except AssertionError as error:
            wrong.append(str(error))
    assert not wrong, "\n".join(wrong)
