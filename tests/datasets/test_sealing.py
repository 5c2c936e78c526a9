"""Sealing a split's test items everywhere: in the items, in derived and newly uploaded versions,
in the git + DVC repository (its tags, its history, the DVC cache and remote) and in the
labelling campaigns. Every label below is a unique string, so finding one means it leaked.

The findings these tests come from (issue 13): a derive + diff pair told a sealed label; a
campaign made before the split kept handing out sealed items and its release overwrote a sealed
label; the repository held every test label at the version's tag.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from datasets import sealed_store, sealing, storage
from datasets.annotation import services as annotation_services
from datasets.annotation.labelstudio import exports, records
from datasets.annotation.models import Annotation, Campaign, CampaignItem, Claim
from datasets.models import DatasetVersion, Item, SealedItem, SealedLabel, VersionRevision
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import TimelineEvent
from tests.api import client_for, fast_password_hashing  # noqa: F401

P = "/api/projects/digits"
# Jobs run here in-process, each in its own transactions, as on a worker.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _stores(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.PRAKRIYA_DVC_ROOT = tmp_path / "dvc"
    settings.PRAKRIYA_DVC_REMOTE_URL = str(tmp_path / "dvc-remote")


def run_jobs() -> None:
    while queued := list(Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True)):
        for job_id in queued:
            job_execute(job_id)
    failed = list(Job.objects.exclude(state=JobState.SUCCEEDED).values_list("kind", "message", "log"))
    assert not failed, failed


def started(response) -> None:
    assert response.status_code in (201, 202), response.content
    run_jobs()


def secret() -> str:
    return f"LBL{uuid.uuid4().hex}"


def png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6 + seed % 4, 6), (seed * 7 % 256, seed * 13 % 256, 90)).save(out, "PNG")
    return out.getvalue()


def upload_table(client, labels: list[str]) -> None:
    rows = "\n".join(f"{i},{i * 3 % 17},{label}" for i, label in enumerate(labels))
    csv = SimpleUploadedFile("forms.csv", f"height,width,label\n{rows}\n".encode())
    started(client.post(f"{P}/datasets/forms/versions/upload/", {"file": csv}, format="multipart"))


def labels_of(version: DatasetVersion) -> dict[str, str | None]:
    return dict(version.items.values_list("key", "label"))


def repo_bytes(project_slug: str, settings) -> list[tuple[str, bytes]]:
    """Everything a clone of the repository and a pull from its DVC remote can give, plus the
    platform's own DVC cache: every git object of every ref and of the history, every DVC object."""
    repo = storage.repo_path(project_slug)
    found: list[tuple[str, bytes]] = []
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True
    ).stdout
    found.append(("git objects", objects))
    for root in (Path(settings.PRAKRIYA_DVC_REMOTE_URL), repo / ".dvc" / "cache"):
        for path in root.rglob("*"):
            if path.is_file():
                found.append((str(path), path.read_bytes()))
    return found


def assert_nowhere(secrets: set[str], places: list[tuple[str, bytes]]) -> None:
    leaks = [(where, s) for where, data in places for s in secrets if s.encode() in data]
    assert not leaks, leaks[:5]


# --- derive, diff and the repository -----------------------------------------------------------


def test_a_split_seals_its_test_labels_in_items_derived_versions_and_the_repository(
    project, engineer, viewer, settings, tmp_path
):
    client = client_for(engineer)
    client.post(f"{P}/datasets/", {"slug": "forms", "name": "Forms", "kind": "tabular"}, format="json")
    upload_table(client, [secret() for _ in range(30)])
    v1 = DatasetVersion.objects.get(dataset__slug="forms", number=1)
    before = labels_of(v1)
    # v2 exists before the split and holds the items that will be sealed.
    visible_key = sorted(before)[0]
    started(client.post(f"{P}/datasets/forms/versions/1/derive/", {"relabel": {visible_key: secret()}}, format="json"))
    v2 = DatasetVersion.objects.get(dataset__slug="forms", number=2)
    old_commits = {v.number: v.git_commit for v in (v1, v2)}

    split = {"seed": 5, "train": 0.6, "validation": 0.2, "test": 0.2}
    started(client.post(f"{P}/datasets/forms/versions/1/split/", split, format="json"))

    sealed = set(SealedItem.objects.filter(dataset__slug="forms").values_list("key", flat=True))
    secrets = {before[k] for k in sealed}
    assert len(sealed) == 6
    # The items of both versions hold no sealed label; the store holds them, encrypted.
    for version in (v1, v2):
        assert all(label is None for key, label in labels_of(version).items() if key in sealed)
        tokens = list(SealedLabel.objects.filter(version=version, source="dataset").values_list("token", flat=True))
        assert len(tokens) == 6
        assert_nowhere(secrets, [("store", "".join(tokens).encode())])
    assert sealed_store.dataset_labels_read(version=v1, keys=sealed) == {k: before[k] for k in sealed}

    # The finding: relabel a sealed item "4", then "5", and compare the diffs. Both are refused.
    sealed_key = sorted(sealed)[0]
    for guess in ("4", "5"):
        response = client.post(f"{P}/datasets/forms/versions/1/derive/", {"relabel": {sealed_key: guess}}, format="json")
        assert response.status_code == 400 and "sealed test split" in response.content.decode()
    response = client.post(
        f"{P}/datasets/forms/versions/1/derive/", {"remove_keys": [sealed_key]}, format="json"
    )
    assert response.status_code == 400
    assert DatasetVersion.objects.filter(dataset__slug="forms").count() == 2
    diff = client_for(viewer).get(f"{P}/datasets/forms/versions/1/diff/2/").json()
    assert diff["sealed_items"] == 6 and [c["key"] for c in diff["label_changes"]] == [visible_key]

    # The repository: both tags moved to commits whose files hold no sealed label; v1 says how it
    # is split; the history keeps the old commits, but their label files are gone.
    revisions = {r.version.number: r for r in VersionRevision.objects.select_related("version")}
    assert set(revisions) == {1, 2}
    for version in (v1, v2):
        version.refresh_from_db()
        revision = revisions[version.number]
        assert revision.old_commit == old_commits[version.number] != version.git_commit == revision.new_commit
        assert storage.tag_commit(project_slug="digits", tag=version.git_tag) == version.git_commit
        files = storage.materialize_version(
            project_slug="digits", dataset_slug="forms", tag=version.git_tag, dest=tmp_path / f"m{version.number}"
        )
        table = (files / "table.csv").read_text()
        assert all(s not in table for s in secrets)
        assert sum(1 for line in table.splitlines() if line.split(",")[0] in sealed and line.endswith(",")) == 6
        assert version.sealed_fingerprint == sealing.version_seal_state(version) != ""
    split_csv = (tmp_path / "m1" / "split.csv").read_text().splitlines()
    assert split_csv[0] == "_item,part"
    assert {line.split(",")[0] for line in split_csv if line.endswith(",test")} == sealed
    assert not (tmp_path / "m2" / "split.csv").exists()
    assert_nowhere(secrets, repo_bytes("digits", settings))
    # Every visible label is still there (nothing else was lost).
    visible = {before[k] for k in before if k not in sealed}
    objects = b"".join(data for _, data in repo_bytes("digits", settings))
    assert all(label.encode() in objects for label in visible)

    # Sealing again changes nothing: the job finds no stale version.
    assert sealing.versions_stale(v1.dataset) == []


def test_a_plain_clone_and_dvc_pull_of_every_tag_and_old_commit_gives_no_sealed_label(
    project, engineer, settings, tmp_path
):
    client = client_for(engineer)
    client.post(f"{P}/datasets/", {"slug": "forms", "name": "Forms", "kind": "tabular"}, format="json")
    upload_table(client, [secret() for _ in range(20)])
    before = labels_of(DatasetVersion.objects.get(dataset__slug="forms", number=1))
    split = {"seed": 1, "train": 0.5, "validation": 0.25, "test": 0.25}
    started(client.post(f"{P}/datasets/forms/versions/1/split/", split, format="json"))
    sealed = set(SealedItem.objects.values_list("key", flat=True))
    secrets = {before[k] for k in sealed}
    old = VersionRevision.objects.get().old_commit

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1"}
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(storage.repo_path("digits")), str(clone)], check=True, env=env)
    history = subprocess.run(["git", "log", "-p", "--all"], cwd=clone, capture_output=True, check=True).stdout
    assert_nowhere(secrets, [("git log", history)])

    def pull(rev: str) -> subprocess.CompletedProcess:
        subprocess.run(["git", "checkout", "-q", rev], cwd=clone, check=True, env=env)
        return subprocess.run(
            [sys.executable, "-m", "dvc", "pull", "-q", "datasets/forms/data"], cwd=clone, env=env,
            capture_output=True,
        )

    assert pull("forms-v1").returncode == 0
    table = (clone / "datasets/forms/data/table.csv").read_bytes()
    assert_nowhere(secrets, [("table.csv at the tag", table)])
    assert (clone / "datasets/forms/data/split.csv").is_file()
    # The commit the tag named before the split: its listing is gone from the remote.
    failed = pull(old)
    assert failed.returncode != 0
    pulled = [(str(p), p.read_bytes()) for p in (clone / "datasets").rglob("*") if p.is_file()]
    assert_nowhere(secrets, pulled)


def test_a_new_upload_holding_a_sealed_item_keeps_its_label_out_of_the_files_and_the_items(
    project, engineer, viewer, settings, tmp_path
):
    client = client_for(engineer)
    client.post(f"{P}/datasets/", {"slug": "shapes", "name": "Shapes", "kind": "image"}, format="json")
    names = [secret() for _ in range(12)]

    def images_zip(labels: list[str]) -> SimpleUploadedFile:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for i, label in enumerate(labels):
                archive.writestr(f"{label}/scan-{i}.png", png(i))
        return SimpleUploadedFile("shapes.zip", buffer.getvalue())

    started(client.post(f"{P}/datasets/shapes/versions/upload/", {"file": images_zip(names)}, format="multipart"))
    split = {"seed": 3, "train": 0.5, "validation": 0.25, "test": 0.25, "stratified": False}
    started(client.post(f"{P}/datasets/shapes/versions/1/split/", split, format="json"))
    sealed = set(SealedItem.objects.values_list("key", flat=True))
    v1 = DatasetVersion.objects.get(number=1)
    sealed_store_labels = sealed_store.dataset_labels_read(version=v1, keys=sealed)
    # Someone uploads the same images again, each under a new guess of its label: image keys come
    # from the content, so the sealed items are back, with labels.
    guesses = [secret() for _ in range(12)]
    started(client.post(f"{P}/datasets/shapes/versions/upload/", {"file": images_zip(guesses)}, format="multipart"))
    v2 = DatasetVersion.objects.get(number=2)
    items = dict(v2.items.values_list("key", "label"))
    assert sealed <= set(items) and all(items[k] is None for k in sealed)
    guessed = sealed_store.dataset_labels_read(version=v2, keys=sealed)
    assert set(guessed) == sealed and set(guessed.values()) <= set(guesses)
    assert sealed_store.dataset_labels_read(version=v1, keys=sealed) == sealed_store_labels
    files = storage.materialize_version(project_slug="digits", dataset_slug="shapes", tag=v2.git_tag, dest=tmp_path / "v2")
    labels_csv = (files / "labels.csv").read_text()
    assert all(guessed[k] not in labels_csv for k in sealed)
    assert v2.sealed_fingerprint == sealing.version_seal_state(v2) and sealing.versions_stale(v2.dataset) == []
    diff = client_for(viewer).get(f"{P}/datasets/shapes/versions/1/diff/2/").json()
    assert all(change["key"] not in sealed for change in diff["label_changes"])
    assert diff["sealed_items"] == len(sealed)


def test_the_seal_job_catches_a_version_written_while_its_keys_were_being_sealed(project, engineer, tmp_path):
    client = client_for(engineer)
    client.post(f"{P}/datasets/", {"slug": "forms", "name": "Forms", "kind": "tabular"}, format="json")
    labels = [secret() for _ in range(10)]
    upload_table(client, labels)
    version = DatasetVersion.objects.get(number=1)
    key = sorted(labels_of(version))[0]
    label = labels_of(version)[key]
    # As if the key was sealed just after the version's files were committed and its items
    # recorded: a SealedItem row, and nothing else done yet.
    SealedItem.objects.create(dataset=version.dataset, key=key)
    assert sealing.versions_stale(version.dataset) == [version]

    result = sealing.repository_seal(dataset=version.dataset, progress=lambda *_: None, scratch=tmp_path / "scratch")

    assert result["rewritten"] == [1] and result["purged_objects"] >= 2
    version.refresh_from_db()
    assert labels_of(version)[key] is None
    assert sealed_store.dataset_labels_read(version=version, keys=[key]) == {key: label}
    files = storage.materialize_version(project_slug="digits", dataset_slug="forms", tag=version.git_tag, dest=tmp_path / "m")
    assert label not in (files / "table.csv").read_text()
    assert sealing.versions_stale(version.dataset) == []


def test_only_the_sealed_evaluation_reads_the_sealed_store():
    """The store's reader is called from one module; a new caller has to be added here, knowingly."""
    root = Path(__file__).resolve().parents[2]
    callers = sorted(
        str(path.relative_to(root))
        for folder in ("prakriya", "projects", "datasets", "experiments", "deployments", "frontend")
        for path in (root / folder).rglob("*.py")
        if "dataset_labels_read" in path.read_text(encoding="utf-8")
    )
    assert callers == ["datasets/sealed_store.py", "experiments/evaluation/sealed.py"]


# --- campaigns ---------------------------------------------------------------------------------


def _image_dataset_with_campaign(client, lead, engineer, annotator, labels):
    client.post(f"{P}/datasets/", {"slug": "shapes", "name": "Shapes", "kind": "image"}, format="json")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, label in enumerate(labels):
            archive.writestr(f"{label}/scan-{i}.png", png(i))
    started(client.post(f"{P}/datasets/shapes/versions/upload/",
                        {"file": SimpleUploadedFile("s.zip", buffer.getvalue())}, format="multipart"))
    version = DatasetVersion.objects.get(dataset__slug="shapes", number=1)
    campaign = annotation_services.campaign_create(
        version=version, actor=lead, name="Shapes", task_type="single",
        labels=[{"name": "good"}, {"name": "bad"}], overlap=2, order="sequential",
        annotators=[annotator, engineer, lead],
    )
    return version, campaign


def test_a_split_takes_its_sealed_items_out_of_campaigns_made_before_it(project, lead, engineer, annotator):
    client = client_for(engineer)
    labels = [secret() for _ in range(20)]
    version, campaign = _image_dataset_with_campaign(client, lead, engineer, annotator, labels)
    # Everything in the queue is labelled by two people, one item is adjudicated and used as a
    # guideline example, and the annotator holds a live claim.
    for person, value in ((annotator, "good"), (engineer, "bad")):
        while (task := annotation_services.task_claim(campaign=campaign, annotator=person)) is not None:
            annotation_services.annotation_submit(campaign=campaign, annotator=person, campaign_item=task, value=value)
    for item in CampaignItem.objects.filter(campaign=campaign):
        annotation_services.gold_set(campaign=campaign, actor=lead, campaign_item=item, value="good")
    annotation_services.guideline_add_example(
        campaign=campaign, actor=lead, campaign_item=CampaignItem.objects.filter(campaign=campaign).last(), label="good"
    )
    assert Annotation.objects.filter(campaign=campaign).count() == 40
    held = list(CampaignItem.objects.filter(campaign=campaign).select_related("item"))
    labels_before = labels_of(version)

    split = {"seed": 2, "train": 0.5, "validation": 0.25, "test": 0.25, "stratified": False}
    started(client.post(f"{P}/datasets/shapes/versions/1/split/", split, format="json"))

    sealed = set(SealedItem.objects.values_list("key", flat=True))
    assert len(sealed) == 5
    queue = set(CampaignItem.objects.filter(campaign=campaign).values_list("item__key", flat=True))
    assert queue and not queue & sealed and len(queue) == 15
    assert Annotation.objects.filter(campaign=campaign).count() == 30
    assert not Annotation.objects.filter(campaign_item__item__key__in=sealed).exists()
    assert not Claim.objects.filter(campaign_item__item__key__in=sealed).exists()
    # The annotations are kept, sealed: ten of them, for five items.
    archived = SealedLabel.objects.filter(source=sealed_store.campaign_source(campaign.pk))
    assert set(archived.values_list("key", flat=True)) == sealed
    event = TimelineEvent.objects.filter(project=project, verb="split_created").latest("id")
    assert "5 queued items of the sealed test split removed" in event.text and "10 annotations" in event.text
    # The export leaves them out; so does the release, which changes no sealed label.
    exported = exports.labelstudio_export(campaign=campaign, actor=lead)
    assert len(exported) == 15 and not {task["data"].get(records.ITEM_KEY_FIELD) for task in exported} & sealed
    # An annotator whose page still shows a removed item is told it is gone.
    gone = next(item for item in held if item.item.key in sealed)
    with pytest.raises(annotation_services.Conflict):
        annotation_services.annotation_submit(campaign=campaign, annotator=lead, value="good", campaign_item=gone)
    from datasets.annotation import release

    release.release_start(campaign=campaign, actor=lead)
    run_jobs()
    released = DatasetVersion.objects.get(dataset__slug="shapes", number=2)
    assert all(label is None for key, label in labels_of(released).items() if key in sealed)
    assert {labels_of(released)[k] for k in queue} == {"good"}
    # The release keeps the sealed labels as they were: the parent's sealed records, carried over.
    original = {k: labels_before[k] for k in sealed}
    assert sealed_store.dataset_labels_read(version=version, keys=sealed) == original
    assert sealed_store.dataset_labels_read(version=released, keys=sealed) == original
    assert released.labelled_count == 20


def test_a_campaign_made_after_the_split_never_queues_a_sealed_item(project, lead, engineer, annotator):
    client = client_for(engineer)
    client.post(f"{P}/datasets/", {"slug": "shapes", "name": "Shapes", "kind": "image"}, format="json")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(8):
            archive.writestr(f"{secret()}/scan-{i}.png", png(i))
    started(client.post(f"{P}/datasets/shapes/versions/upload/",
                        {"file": SimpleUploadedFile("s.zip", buffer.getvalue())}, format="multipart"))
    split = {"seed": 2, "train": 0.5, "validation": 0.25, "test": 0.25, "stratified": False}
    started(client.post(f"{P}/datasets/shapes/versions/1/split/", split, format="json"))
    version = DatasetVersion.objects.get(number=1)
    campaign = annotation_services.campaign_create(
        version=version, actor=lead, name="Later", task_type="single", labels=[{"name": "x"}],
        annotators=[annotator],
    )
    sealed = set(SealedItem.objects.values_list("key", flat=True))
    assert not set(CampaignItem.objects.filter(campaign=campaign).values_list("item__key", flat=True)) & sealed
    assert Campaign.objects.count() == 1 and Item.objects.filter(key__in=sealed, label__isnull=False).count() == 0
