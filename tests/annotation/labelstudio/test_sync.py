"""Syncing campaigns with a REAL Label Studio server (tests/fixtures_labelstudio.py) through the
sync job run by a REAL Celery worker process (tests/fixtures_worker.py), which is given the server's
address and key through its environment, as an operator would configure it.

Annotations "made in Label Studio" are made the way LS makes them: by an LS user whose email is a
platform annotator's, through LS's API with that user's own token, with span results as LS's
labelling UI writes them (offsets in code points, `text` the covered words; see
test_server.py, whose last test labels in LS's real UI to pin that down).
"""

from __future__ import annotations

import pytest
from label_studio_sdk import LabelStudio

from datasets.annotation import selectors, services
from datasets.annotation.labelstudio import client, records, sync
from datasets.annotation.labelstudio.config import parse_label_config
from datasets.annotation.models import Annotation, CampaignItem, LabelStudioTask
from datasets.models import Dataset, DatasetVersion, Item, VersionState
from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import TimelineEvent
from tests.fixtures_annotation import make_version
from tests.fixtures_worker import wait_for

# The first session on a machine installs LS and migrates its template database.
pytestmark = [pytest.mark.worker, pytest.mark.timeout(1200), pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT = 180.0
PUBLIC_URL = "http://prakriya.test"

DEVANAGARI = "राम ने दिल्ली में किताब खरीदी"
URDU = "لاہور پاکستان کا ایک شہر ہے"
TAMIL = "சென்னை ஒரு பெரிய நகரம்"
BENGALI = "কলকাতা একটি সুন্দর শহর"
EMOJI = "Met 👩🏽‍💻 Priya in मुंबई 🎉 with 𝔘lrich"
TEXTS = [DEVANAGARI, URDU, TAMIL, BENGALI, EMOJI]


def span(text: str, word: str, label: str) -> dict:
    start = text.index(word)
    return {"start": start, "end": start + len(word), "label": label}


SPANS = {
    DEVANAGARI: [span(DEVANAGARI, "राम", "PER"), span(DEVANAGARI, "दिल्ली", "LOC")],
    URDU: [span(URDU, "لاہور", "LOC"), span(URDU, "پاکستان", "LOC")],
    TAMIL: [span(TAMIL, "சென்னை", "LOC")],
    BENGALI: [span(BENGALI, "কলকাতা", "LOC")],
    # After 👩🏽‍💻 (three astral code points) and 🎉: where code points and UTF-16 units differ.
    EMOJI: [span(EMOJI, "Priya", "PER"), span(EMOJI, "मुंबई", "LOC"), span(EMOJI, "𝔘lrich", "PER")],
}


def labels_result(text: str, value: dict) -> dict:
    """A span region as LS's labelling UI writes it for a `<Text>` tag."""
    return {"from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
            "value": {"start": value["start"], "end": value["end"], "text": text[value["start"]:value["end"]],
                      "labels": [value["label"]]}}


def choices_result(choices: list[str]) -> dict:
    return {"from_name": "label", "to_name": "image", "type": "choices", "origin": "manual",
            "value": {"choices": choices}}


def as_user(server, email: str) -> LabelStudio:
    return LabelStudio(base_url=server.base_url, api_key=server.add_user(email).api_key)


@pytest.fixture
def ls_settings(settings, label_studio_server):
    """The server configured for this process (the check when a sync is asked for)."""
    settings.PRAKRIYA_LABEL_STUDIO_URL = label_studio_server.base_url
    settings.PRAKRIYA_LABEL_STUDIO_API_KEY = label_studio_server.api_key
    settings.PRAKRIYA_PUBLIC_URL = PUBLIC_URL
    return label_studio_server


@pytest.fixture
def worker(start_worker, ls_settings):
    """A worker configured for the same server through its environment."""
    return start_worker(
        PRAKRIYA_LABEL_STUDIO_URL=ls_settings.base_url, PRAKRIYA_LABEL_STUDIO_API_KEY=ls_settings.api_key,
        PRAKRIYA_PUBLIC_URL=PUBLIC_URL,
    )


def synced(campaign, actor, worker) -> Job:
    """Starts a sync as a manager would and waits for the worker to finish it."""
    job = sync.labelstudio_sync_start(campaign=campaign, actor=actor)

    def finished():
        job.refresh_from_db()
        return job.state in TERMINAL_STATES

    wait_for(finished, timeout=JOB_TIMEOUT, what=f"sync job {job.pk}", workers=[worker], interval=0.3)
    assert job.state == JobState.SUCCEEDED, (job.message, job.log, worker.describe())
    campaign.refresh_from_db()
    return job


def ls_tasks(server, project_id: int) -> dict[str, int]:
    """Our item key → LS task id, as LS lists the project's tasks."""
    admin = LabelStudio(base_url=server.base_url, api_key=server.api_key)
    return {task.data["prakriya_item"]: task.id for task in admin.tasks.list(project=project_id)}


def scripts_version(project) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, slug="scripts", name="Scripts", kind="text")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY,
                                            git_tag="scripts-v1", git_commit="0" * 40, item_count=len(TEXTS))
    Item.objects.bulk_create(Item(version=version, key=f"scripts-{i}", text=text, content_hash=f"{i:064d}",
                                  size_bytes=len(text.encode())) for i, text in enumerate(TEXTS))
    return version


def test_span_annotations_made_in_label_studio_come_back_with_the_same_code_point_offsets(
    project, lead, engineer, annotator, ls_settings, worker
):
    server = ls_settings
    campaign = services.campaign_create(
        version=scripts_version(project), actor=lead, name="Entities in five scripts", task_type="span",
        labels=[{"name": "PER", "colour": "#1f77b4", "shortcut": "p"},
                {"name": "LOC", "colour": "#ff7f0e", "shortcut": "l"}],
        overlap=2, order="sequential", annotators=[annotator, engineer],
    )
    # The engineer labels one text here before anything happens in Label Studio.
    here = services.task_claim(campaign=campaign, annotator=engineer)
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=here,
                               value=SPANS[here.item.text][:1], seconds_spent=9)

    # First sync: the project, with the campaign's config, and every item as a task.
    first = synced(campaign, lead, worker)

    project_id = campaign.labelstudio_project_id
    assert project_id is not None
    assert first.result["pushed"] == 5 and first.result["tasks"] == 5
    assert first.result["import"]["created"] == 0
    assert f"created Label Studio project {project_id}" in first.log
    stored = client.get_label_config(server.base_url, server.api_key, project_id)
    assert parse_label_config(stored) == records.LabelSchema(task_type="span", media="text", labels=(
        records.LabelSpec("PER", "#1f77b4", "p"), records.LabelSpec("LOC", "#ff7f0e", "l")))
    tasks = ls_tasks(server, project_id)
    assert set(tasks) == {f"scripts-{i}" for i in range(5)}
    assert dict(LabelStudioTask.objects.values_list("campaign_item__item__key", "task_id")) == tasks

    # Annotators label in Label Studio, signed in as themselves.
    meera = as_user(server, annotator.email)
    for i, text in enumerate(TEXTS):
        meera.annotations.create(id=tasks[f"scripts-{i}"], result=[labels_result(text, s) for s in SPANS[text]],
                                 lead_time=10.0 + i)
    engineer_in_ls = as_user(server, engineer.email)
    engineer_in_ls.annotations.create(id=tasks["scripts-1"], result=[], lead_time=2.5)  # "no entity" is an answer
    # Someone with an LS account but no place in the campaign.
    as_user(server, "guest@example.org").annotations.create(
        id=tasks["scripts-2"], result=[labels_result(TAMIL, SPANS[TAMIL][0])], lead_time=1.0)

    # Second sync: nothing new to push; the annotations come back.
    second = synced(campaign, engineer, worker)

    result = second.result["import"]
    assert second.result["pushed"] == 0
    assert (result["created"], result["updated"], result["unchanged"]) == (6, 0, 0)
    assert result["unknown_annotators"] == ["guest@example.org"]
    came_back = Annotation.objects.filter(campaign=campaign, tool="labelstudio").select_related(
        "campaign_item__item", "annotator")
    got = {(a.campaign_item.item.key, a.annotator.username): a for a in came_back}
    assert set(got) == {(f"scripts-{i}", "annotator") for i in range(5)} | {("scripts-1", "engineer")}
    for i, text in enumerate(TEXTS):
        mine = got[(f"scripts-{i}", "annotator")]
        assert mine.value == SPANS[text]  # the same code point offsets, in every script
        assert [text[s["start"]:s["end"]] for s in mine.value] == [text[s["start"]:s["end"]] for s in SPANS[text]]
        assert mine.seconds_spent == 10.0 + i
    assert got[("scripts-1", "engineer")].value == []
    assert got[("scripts-1", "engineer")].seconds_spent == 2.5
    emoji = got[("scripts-4", "annotator")].value
    assert [EMOJI[s["start"]:s["end"]] for s in emoji] == ["Priya", "मुंबई", "𝔘lrich"]
    assert Annotation.objects.get(campaign_item=here, annotator=engineer).tool == "platform"
    assert CampaignItem.objects.get(campaign=campaign, item__key="scripts-1").annotation_count == 2

    # An annotation corrected in Label Studio later replaces the one imported; a third sync of
    # the rest changes nothing.
    emoji_id = next(a.id for a in meera.annotations.list(id=tasks["scripts-4"]))
    meera.annotations.update(id=emoji_id, result=[labels_result(EMOJI, SPANS[EMOJI][0])], lead_time=14.0 + 6)
    third = synced(campaign, lead, worker)

    assert (third.result["import"]["created"], third.result["import"]["updated"],
            third.result["import"]["unchanged"]) == (0, 1, 5)
    corrected = Annotation.objects.get(campaign_item__campaign=campaign, campaign_item__item__key="scripts-4",
                                       annotator=annotator)
    assert corrected.value == SPANS[EMOJI][:1] and corrected.revision == 2 and corrected.seconds_spent == 20.0
    assert Annotation.objects.filter(campaign=campaign).count() == 7
    assert list(TimelineEvent.objects.filter(project=project, verb="labelstudio_synced").order_by("id")
                .values_list("text", flat=True)) == [
        "Entities in five scripts synced with Label Studio: 5 items pushed, 0 annotations imported",
        "Entities in five scripts synced with Label Studio: 0 items pushed, 6 annotations imported",
        "Entities in five scripts synced with Label Studio: 0 items pushed, 1 annotation imported",
    ]


def test_a_single_label_image_campaign_syncs_within_its_overlap(project, lead, engineer, annotator, ls_settings,
                                                                 worker):
    server = ls_settings
    campaign = services.campaign_create(
        version=make_version(project, kind="image", slug="scans", count=3), actor=lead, name="Digits",
        task_type="single", labels=[{"name": "zero"}, {"name": "one"}], overlap=2, order="sequential",
        annotators=[annotator, engineer, lead],
    )

    first = synced(campaign, lead, worker)

    tasks = ls_tasks(server, campaign.labelstudio_project_id)
    assert first.result["pushed"] == 3 and set(tasks) == {"scans-000000", "scans-000001", "scans-000002"}
    admin = LabelStudio(base_url=server.base_url, api_key=server.api_key)
    first_item = CampaignItem.objects.get(campaign=campaign, item__key="scans-000000")
    # A signed address (signed by the worker, so checked, not recomputed: it carries its time).
    address, signature = admin.tasks.get(id=str(tasks["scans-000000"])).data["image"].split("?signature=")
    assert address == f"{PUBLIC_URL}/projects/digits/campaigns/digits/items/{first_item.pk}/content"
    assert selectors.item_signature_valid(campaign=campaign, campaign_item_id=first_item.pk, signature=signature)

    # Three annotators on an item of overlap 2: the first two in time keep their slot.
    for who, label, lead_time in ((annotator, "one", 3.0), (engineer, "one", 4.0), (lead, "zero", 5.0)):
        as_user(server, who.email).annotations.create(id=tasks["scans-000000"], result=[choices_result([label])],
                                                      lead_time=lead_time)
    as_user(server, lead.email).annotations.create(id=tasks["scans-000002"], result=[choices_result(["zero"])],
                                                   lead_time=6.0)
    # A choice-less submission cannot be a single-label answer.
    as_user(server, engineer.email).annotations.create(id=tasks["scans-000002"], result=[], lead_time=1.0)

    second = synced(campaign, engineer, worker)

    result = second.result["import"]
    assert (result["created"], result["unchanged"]) == (3, 0)
    assert any("by lead@example.org: This item already has all the annotators it needs." in r
               for r in result["skipped"])
    assert any("no choice made" in r for r in result["skipped"])
    assert sorted(Annotation.objects.filter(campaign=campaign).values_list(
        "campaign_item__item__key", "annotator__username", "value", "seconds_spent", "tool")) == [
        ("scans-000000", "annotator", "one", 3.0, "labelstudio"),
        ("scans-000000", "engineer", "one", 4.0, "labelstudio"),
        ("scans-000002", "lead", "zero", 6.0, "labelstudio"),
    ]
    assert CampaignItem.objects.get(pk=first_item.pk).annotation_count == 2


def test_a_wrong_key_fails_the_sync_with_a_clear_message(campaign, lead, ls_settings, settings):
    # Run in this process (the job's code is the same): the wrong key is this process's setting.
    settings.PRAKRIYA_LABEL_STUDIO_API_KEY = "not-a-token"
    job = sync.labelstudio_sync_start(campaign=campaign, actor=lead)

    assert job_execute(job.pk) == JobState.FAILED

    job.refresh_from_db()
    assert job.message.startswith(f"Label Studio at {ls_settings.base_url} refused the API key (HTTP 401)")
    campaign.refresh_from_db()
    assert campaign.labelstudio_project_id is None


def test_a_project_deleted_in_label_studio_is_made_again(campaign, lead, ls_settings):
    server = ls_settings
    job = sync.labelstudio_sync_start(campaign=campaign, actor=lead)
    assert job_execute(job.pk) == JobState.SUCCEEDED
    campaign.refresh_from_db()
    gone = campaign.labelstudio_project_id
    LabelStudio(base_url=server.base_url, api_key=server.api_key).projects.delete(id=gone)

    again = sync.labelstudio_sync_start(campaign=campaign, actor=lead)
    assert job_execute(again.pk) == JobState.SUCCEEDED

    again.refresh_from_db()
    campaign.refresh_from_db()
    assert campaign.labelstudio_project_id not in (None, gone)
    assert f"Label Studio project {gone} no longer exists; creating a new one" in again.log
    assert again.result["pushed"] == 12
    assert set(ls_tasks(server, campaign.labelstudio_project_id)) == set(
        CampaignItem.objects.filter(campaign=campaign).values_list("item__key", flat=True))


def test_tasks_of_items_sealed_after_they_were_pushed_are_deleted_from_label_studio(
    project, lead, engineer, annotator, ls_settings
):
    from datasets import services as dataset_services
    from datasets.models import SealedItem
    from tests.fixtures_annotation import TEXTS as REVIEWS

    server = ls_settings
    version = make_version(project, slug="opinions", labels=["good", "bad", "meh"] * (len(REVIEWS) // 3))
    campaign = services.campaign_create(
        version=version, actor=lead, name="Opinions", task_type="single", labels=[{"name": "x"}, {"name": "y"}],
        annotators=[annotator, engineer, lead],
    )
    first = sync.labelstudio_sync_start(campaign=campaign, actor=lead)
    assert job_execute(first.pk) == JobState.SUCCEEDED
    campaign.refresh_from_db()
    pushed = ls_tasks(server, campaign.labelstudio_project_id)
    assert len(pushed) == len(REVIEWS)
    # Someone labels every task in Label Studio, then the version is split.
    member = as_user(server, annotator.email)
    for task_id in pushed.values():
        member.annotations.create(id=task_id, result=[
            {"from_name": "label", "to_name": "text", "type": "choices", "origin": "manual", "value": {"choices": ["x"]}}
        ])
    dataset_services.split_create(version=version, actor=lead, seed=4, train=0.5, validation=0.25, test=0.25)
    sealed = set(SealedItem.objects.values_list("key", flat=True))
    assert sealed and sealed < set(pushed)

    again = sync.labelstudio_sync_start(campaign=campaign, actor=lead)
    assert job_execute(again.pk) == JobState.SUCCEEDED

    again.refresh_from_db()
    assert again.result["deleted_sealed"] == len(sealed)
    left = ls_tasks(server, campaign.labelstudio_project_id)
    assert set(left) == set(pushed) - sealed
    assert not Annotation.objects.filter(campaign=campaign, campaign_item__item__key__in=sealed).exists()
    assert Annotation.objects.filter(campaign=campaign).count() == len(left)
