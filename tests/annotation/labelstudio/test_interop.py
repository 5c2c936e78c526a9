"""Label Studio interop services without a server: a campaign's LS export (and its round trip
back through the parser and through our own import), importing hand-written LS exports (matching
tasks and annotators, overlap, duplicates, newer and older edits), hostile files, and starting a
sync. The sync against a real Label Studio server is in test_sync.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from datasets.annotation import selectors, services
from datasets.annotation.labelstudio import exports, imports, reader, sync
from datasets.annotation.models import Annotation, CampaignItem, LabelStudioTask
from datasets.models import Dataset, DatasetVersion, Item, SealedItem, VersionState
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from projects.models import TimelineEvent
from tests.fixtures_annotation import TEXTS, make_version

pytestmark = pytest.mark.django_db

DEVANAGARI = "राम ने दिल्ली में किताब खरीदी"
URDU = "لاہور پاکستان کا ایک شہر ہے"
TAMIL = "சென்னை ஒரு பெரிய நகரம்"
BENGALI = "কলকাতা একটি সুন্দর শহর"
# Astral characters (an emoji with a skin tone joined by ZWJ, a party popper, a math letter): where
# code points and UTF-16 units differ.
EMOJI = "Met 👩🏽‍💻 Priya in मुंबई 🎉 with 𝔘lrich"
SCRIPTS = [DEVANAGARI, URDU, TAMIL, BENGALI, EMOJI]
ENTITIES = [{"name": "PER", "shortcut": "p"}, {"name": "LOC", "shortcut": "l"}]


def span(text: str, word: str, label: str) -> dict:
    start = text.index(word)
    return {"start": start, "end": start + len(word), "label": label}


SPANS = {
    DEVANAGARI: [span(DEVANAGARI, "राम", "PER"), span(DEVANAGARI, "दिल्ली", "LOC")],
    URDU: [span(URDU, "لاہور", "LOC"), span(URDU, "پاکستان", "LOC")],
    TAMIL: [span(TAMIL, "சென்னை", "LOC")],
    BENGALI: [span(BENGALI, "কলকাতা", "LOC")],
    EMOJI: [span(EMOJI, "Priya", "PER"), span(EMOJI, "मुंबई", "LOC"), span(EMOJI, "𝔘lrich", "PER")],
}


def version_of(project, texts: list[str], *, slug: str = "scripts", labels: list[str] | None = None):
    dataset = Dataset.objects.create(project=project, slug=slug, name=slug.title(), kind="text")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, state=VersionState.READY,
                                            git_tag=f"{slug}-v1", git_commit="0" * 40, item_count=len(texts))
    Item.objects.bulk_create(
        Item(version=version, key=f"{slug}-{i}", text=text, label=(labels[i] if labels else None),
             content_hash=f"{i:064d}", size_bytes=len(text.encode())) for i, text in enumerate(texts)
    )
    return version


def span_campaign(version, lead, annotators, *, name="Entities"):
    return services.campaign_create(version=version, actor=lead, name=name, task_type="span", labels=ENTITIES,
                                    overlap=2, order="sequential", annotators=annotators)


def label_spans(campaign, people) -> None:
    """Each person labels every item: the first all the entities, the others only the first one."""
    for n, person in enumerate(people):
        while (task := services.task_claim(campaign=campaign, annotator=person)) is not None:
            spans = SPANS[task.item.text]
            services.annotation_submit(campaign=campaign, annotator=person, campaign_item=task,
                                       value=spans if n == 0 else spans[:1], seconds_spent=3.0 + n + len(spans))


def ours(campaign) -> dict:
    return {
        (a.campaign_item.item.key, a.annotator.email): (a.value, a.seconds_spent)
        for a in Annotation.objects.filter(campaign=campaign).select_related("campaign_item__item", "annotator")
    }


@pytest.fixture
def scripts(project, lead, engineer, annotator):
    campaign = span_campaign(version_of(project, SCRIPTS), lead, [annotator, engineer, lead])
    label_spans(campaign, [annotator, engineer])
    return campaign


# --- Export ---------------------------------------------------------------------------------


def test_export_parses_back_to_our_annotations_with_code_point_offsets(scripts, engineer):
    exported = exports.labelstudio_export(campaign=scripts, actor=engineer)

    assert [task["data"]["text"] for task in exported] == SCRIPTS
    assert [task["data"]["prakriya_item"] for task in exported] == [f"scripts-{i}" for i in range(5)]
    emoji = exported[4]["annotations"]
    assert emoji[0]["completed_by"]["email"] == "annotator@example.org"
    # LS 1.x counts code points; each region quotes the words it covers.
    regions = [r["value"] for r in emoji[0]["result"]]
    assert [(v["start"], v["end"], v["text"]) for v in regions] == [
        (s["start"], s["end"], EMOJI[s["start"]:s["end"]]) for s in SPANS[EMOJI]]
    assert [v["text"] for v in regions] == ["Priya", "मुंबई", "𝔘lrich"]

    # Through JSON bytes, as a file would travel.
    parsed = reader.parse_export(json.dumps(exported, ensure_ascii=False).encode(), task_type="span",
                             label_names=["PER", "LOC"])
    assert {(a.item.key, a.annotator_email): (a.value, a.lead_time) for a in parsed.annotations} == ours(scripts)
    assert len(parsed.annotations) == 10 and parsed.utf16_spans == 0


def test_export_in_utf16_units_shifts_only_after_astral_characters(scripts, engineer):
    exported = exports.labelstudio_export(campaign=scripts, actor=engineer, offsets="utf16")

    devanagari = exported[0]["annotations"][0]["result"]
    assert [(r["value"]["start"], r["value"]["end"]) for r in devanagari] == [
        (s["start"], s["end"]) for s in SPANS[DEVANAGARI]]
    priya = exported[4]["annotations"][0]["result"][0]["value"]
    # 👩🏽‍💻 is four code points of which three are astral: three UTF-16 units more.
    assert (priya["start"], priya["end"]) == (SPANS[EMOJI][0]["start"] + 3, SPANS[EMOJI][0]["end"] + 3)
    assert reader.parse_export(exported, task_type="span", offsets="utf16").annotations[-2].value in (
        SPANS[EMOJI], SPANS[EMOJI][:1])


def test_an_export_imports_into_another_campaign_unchanged(scripts, project, lead, engineer, annotator):
    exported = exports.labelstudio_export(campaign=scripts, actor=engineer, offsets="utf16")
    copy = span_campaign(scripts.version, lead, [annotator, engineer], name="Entities again")

    result = imports.labelstudio_import(campaign=copy, actor=lead, data=json.dumps(exported, ensure_ascii=False))

    assert (result.created, result.updated, result.unchanged, result.skipped) == (10, 0, 0, [])
    assert result.utf16_spans > 0  # detected from the quoted text, read back as code points
    assert ours(copy) == ours(scripts)
    assert set(Annotation.objects.filter(campaign=copy).values_list("tool", flat=True)) == {"labelstudio"}
    assert CampaignItem.objects.filter(campaign=copy, annotation_count=2).count() == 5


def test_export_has_no_dataset_labels_and_no_sealed_items(project, lead, engineer, annotator):
    version = version_of(project, SCRIPTS, labels=[f"SECRET-LABEL-{i}" for i in range(5)])
    SealedItem.objects.create(dataset=version.dataset, key="scripts-4")
    campaign = span_campaign(version, lead, [annotator])
    label_spans(campaign, [annotator])

    text = json.dumps(exports.labelstudio_export(campaign=campaign, actor=engineer), ensure_ascii=False)

    assert "SECRET-LABEL" not in text
    assert "scripts-4" not in text and EMOJI not in text
    assert len(json.loads(text)) == 4


def test_an_image_export_points_label_studio_at_our_public_address(project, lead, engineer, annotator, settings):
    settings.PRAKRIYA_PUBLIC_URL = "https://prakriya.example.org"
    version = make_version(project, kind="image", slug="scans", count=3)
    campaign = services.campaign_create(version=version, actor=lead, name="Digits", task_type="single",
                                        labels=[{"name": "0"}, {"name": "1"}], order="sequential",
                                        annotators=[annotator])
    task = services.task_claim(campaign=campaign, annotator=annotator)
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="1",
                               seconds_spent=2.5)

    exported = exports.labelstudio_export(campaign=campaign, actor=lead)

    first = CampaignItem.objects.filter(campaign=campaign).order_by("position").first()
    signature = selectors.item_signature(campaign=campaign, campaign_item_id=first.pk)
    assert exported[0]["data"] == {
        "image": f"https://prakriya.example.org/projects/digits/campaigns/digits/items/{first.pk}/content"
                 f"?signature={signature}",
        "prakriya_item": "scans-000000",
    }
    assert exported[0]["annotations"][0]["result"][0]["value"] == {"choices": ["1"]}
    assert exported[0]["annotations"][0]["lead_time"] == 2.5


def test_a_user_without_an_email_is_exported_under_a_placeholder(campaign, annotator, lead):
    annotator.email = ""
    annotator.save()
    task = services.task_claim(campaign=campaign, annotator=annotator)
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="positive")

    exported = exports.labelstudio_export(campaign=campaign, actor=lead)

    (annotation,) = [a for t in exported for a in t["annotations"]]
    assert annotation["completed_by"]["email"] == "annotator@users.prakriya.invalid"


def test_only_managers_export_and_offsets_are_checked(campaign, annotator, viewer, engineer):
    for person in (annotator, viewer):
        with pytest.raises(PermissionDenied):
            exports.labelstudio_export(campaign=campaign, actor=person)
    with pytest.raises(ValidationError, match="codepoints or utf16"):
        exports.labelstudio_export(campaign=campaign, actor=engineer, offsets="bytes")


# --- Import ---------------------------------------------------------------------------------


def choice(annotation_id: int, email: str | None, label, *, at: str = "2026-03-01T10:00:00Z",
           updated: str | None = None, lead_time: float = 4.0, cancelled: bool = False, user_id: int | None = None):
    labels = label if isinstance(label, list) else [label]
    return {
        "id": annotation_id,
        "completed_by": {"id": user_id or 100 + annotation_id, "email": email} if email else user_id,
        "result": [{"id": f"r{annotation_id}", "from_name": "label", "to_name": "text", "type": "choices",
                    "origin": "manual", "value": {"choices": labels}}],
        "was_cancelled": cancelled, "lead_time": lead_time, "created_at": at, "updated_at": updated or at,
    }


def hand_written_export() -> list[dict]:
    return [
        {"id": 1, "data": {"text": TEXTS[0], "prakriya_item": "reviews-000000"}, "annotations": [
            choice(1, "annotator@example.org", "negative", lead_time=7.5),
            choice(2, "engineer@example.org", "negative", at="2026-03-01T10:05:00Z"),
            # A third annotator for an item of overlap 2: no slot left.
            choice(3, "lead@example.org", "neutral", at="2026-03-01T10:10:00Z"),
        ]},
        # No key (a task made in Label Studio): found by its text; emails match whatever their case.
        {"id": 2, "data": {"text": TEXTS[1]}, "annotations": [
            choice(4, "Annotator@Example.org", "positive"),
            choice(5, "nobody@example.org", "positive"),
            choice(6, "viewer@example.org", "positive"),
            choice(11, None, "positive", user_id=77),
        ]},
        {"id": 3, "data": {"text": "A text that is in no campaign"}, "annotations": [
            choice(7, "annotator@example.org", "positive"),
        ]},
        {"id": 4, "data": {"text": TEXTS[2], "prakriya_item": "reviews-000002"}, "annotations": [
            choice(8, "engineer@example.org", "neutral", cancelled=True),
            choice(9, "engineer@example.org", "positive", at="2026-03-01T09:00:00Z"),
            choice(10, "engineer@example.org", "negative", at="2026-03-01T11:00:00Z"),
        ]},
        {"id": 5, "data": {"text": TEXTS[3], "prakriya_item": "reviews-000003"}, "annotations": []},
    ]


def annotation_of(campaign, key: str, user) -> Annotation:
    return Annotation.objects.get(campaign=campaign, campaign_item__item__key=key, annotator=user)


def test_a_hand_written_export_is_imported_and_the_result_says_what_happened(campaign, lead, annotator, engineer):
    result = imports.labelstudio_import(campaign=campaign, actor=lead, data=hand_written_export())

    assert (result.tasks, result.annotations) == (5, 11)
    assert (result.created, result.updated, result.unchanged) == (4, 0, 0)
    reasons = "\n".join(result.skipped)
    assert len(result.skipped) == 7
    assert "annotation 3 of task 1 (item reviews-000000) by lead@example.org: This item already has all the " \
           "annotators it needs." in reasons
    assert "annotation 5 of task 2 by nobody@example.org: nobody@example.org is no user of this platform" in reasons
    assert "viewer@example.org is not an annotator of this campaign" in reasons
    assert "annotation 11 of task 2 by Label Studio user #77: Label Studio user #77 has no email here" in reasons
    assert "annotation 7 of task 3 by annotator@example.org: no item of this campaign has its key or its text" \
           in reasons
    assert "annotation 8 of task 4: skipped (cancelled) in Label Studio" in reasons
    assert "annotation 9 of task 4 (item reviews-000002) by engineer@example.org: the same annotator has a newer " \
           "annotation of this item" in reasons
    assert result.unknown_annotators == ["Label Studio user #77 has no email here", "nobody@example.org",
                                         "viewer@example.org"]
    assert result.unknown_items == ["task 3: no item of this campaign has its key or its text"]

    first = annotation_of(campaign, "reviews-000000", annotator)
    assert (first.value, first.tool, first.seconds_spent) == ("negative", "labelstudio", 7.5)
    assert first.created_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert first.guideline_version.number == 1
    assert annotation_of(campaign, "reviews-000001", annotator).value == "positive"
    assert annotation_of(campaign, "reviews-000002", engineer).value == "negative"
    assert not Annotation.objects.filter(campaign=campaign, annotator=lead).exists()
    counts = dict(CampaignItem.objects.filter(campaign=campaign).values_list("item__key", "annotation_count"))
    assert counts["reviews-000000"] == 2 and counts["reviews-000001"] == 1
    assert dict(CampaignItem.objects.filter(campaign=campaign).values_list("item__key", "taken"))[
        "reviews-000000"] == 2
    (event,) = TimelineEvent.objects.filter(project=campaign.project, verb="labelstudio_imported")
    assert event.actor == lead and event.text == "Sentiment: 4 annotations imported from a Label Studio export"


def test_importing_the_same_export_again_changes_nothing(campaign, lead):
    imports.labelstudio_import(campaign=campaign, actor=lead, data=hand_written_export())
    before = list(Annotation.objects.order_by("id").values_list("id", "value", "revision", "updated_at"))

    again = imports.labelstudio_import(campaign=campaign, actor=lead, data=hand_written_export())

    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert list(Annotation.objects.order_by("id").values_list("id", "value", "revision", "updated_at")) == before
    assert TimelineEvent.objects.filter(verb="labelstudio_imported").count() == 1  # the second wrote nothing


def test_an_annotation_changed_later_in_label_studio_replaces_ours_and_an_older_one_does_not(campaign, lead,
                                                                                             annotator, engineer):
    task = CampaignItem.objects.get(campaign=campaign, item__key="reviews-000005")
    services.annotation_submit(campaign=campaign, annotator=annotator, campaign_item=task, value="neutral",
                               seconds_spent=5)
    services.annotation_submit(campaign=campaign, annotator=engineer, campaign_item=task, value="neutral")
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    export = [{"id": 9, "data": {"text": TEXTS[5], "prakriya_item": "reviews-000005"}, "annotations": [
        choice(1, "annotator@example.org", "negative", at="2026-01-01T00:00:00Z", updated=later, lead_time=2),
        choice(2, "engineer@example.org", "positive", at="2026-01-01T00:00:00Z"),
    ]}]

    result = imports.labelstudio_import(campaign=campaign, actor=lead, data=export)

    assert (result.created, result.updated) == (0, 1)
    assert result.skipped == ["annotation 2 of task 9 (item reviews-000005) by engineer@example.org: kept the "
                              "annotation made here, which is newer"]
    mine = annotation_of(campaign, "reviews-000005", annotator)
    assert (mine.value, mine.revision, mine.tool, mine.seconds_spent) == ("negative", 2, "platform", 7.0)
    assert annotation_of(campaign, "reviews-000005", engineer).value == "neutral"
    assert CampaignItem.objects.get(pk=task.pk).annotation_count == 2


def test_span_imports_check_the_text_and_our_span_rules(scripts, project, lead, annotator, engineer):
    copy = span_campaign(scripts.version, lead, [annotator, engineer], name="Copy")
    emoji_key = "scripts-4"

    def regions(text, spans):
        return [{"from_name": "label", "to_name": "text", "type": "labels",
                 "value": {"start": s["start"], "end": s["end"], "text": text[s["start"]:s["end"]],
                           "labels": [s["label"]]}} for s in spans]

    other_text = EMOJI.replace("Priya", "Sunil")
    export = [
        # The key of an item, but a text edited since: its offsets would mark other words.
        {"id": 1, "data": {"text": other_text, "prakriya_item": emoji_key}, "annotations": [
            {"id": 1, "completed_by": {"id": 1, "email": "annotator@example.org"},
             "result": regions(other_text, [span(other_text, "Sunil", "PER")])}]},
        # Overlapping regions: LS allows them, our spans do not.
        {"id": 2, "data": {"text": TAMIL, "prakriya_item": "scripts-2"}, "annotations": [
            {"id": 2, "completed_by": {"id": 1, "email": "annotator@example.org"},
             "result": regions(TAMIL, [span(TAMIL, "சென்னை ஒரு", "LOC"), span(TAMIL, "ஒரு பெரிய", "PER")])}]},
        # No region at all: "no entity here" is an answer.
        {"id": 3, "data": {"text": BENGALI, "prakriya_item": "scripts-3"}, "annotations": [
            {"id": 3, "completed_by": {"id": 2, "email": "engineer@example.org"}, "result": [], "lead_time": 1}]},
    ]

    result = imports.labelstudio_import(campaign=copy, actor=lead, data=json.dumps(export, ensure_ascii=False))

    assert result.created == 1
    assert annotation_of(copy, "scripts-3", engineer).value == []
    assert result.unknown_items == [f"task 1 (item {emoji_key}): its text differs from the text of item {emoji_key}"]
    assert any("annotation 2 of task 2" in r and "overlap" in r for r in result.skipped)


HOSTILE = [
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b'{"tasks": []}', "a list of tasks, not dict"),
    ("[" * 100_000, "nested too deeply|not valid JSON"),
    ("[1, 2]", r"task\[0\]: expected a task object"),
    ('[{"data": {"text": "x"}, "annotations": [{"result": [], "lead_time": NaN}]}]', "NaN"),
    ('[{"data": "x"}]', r"task\[1\].data: a task needs a `data` object"),
    ('[{"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "label", "type": "choices", '
     '"value": {"choices": ["joy"]}}]}]}]', "'joy' is not a label of this campaign"),
    ('[{"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "label", "type": "choices", '
     '"value": {"choices": ["positive", "negative"]}}]}]}]', "a single-label campaign got 2 choices"),
    ('[{"data": {"text": "x"}, "annotations": [{"result": [{"from_name": "label", "type": "choices", '
     '"value": {"choices": ["positive"]}}], "created_at": "yesterday"}]}]', "expected an ISO 8601 timestamp"),
    ('[{"data": {"text": "x"}, "annotations": [{"result": [{"type": "choices", "value": {"choices": ["a"]}}]}]}]',
     "expected a control name, got None"),
    ('[{"data": {"text": "x"}, "annotations": [{"result": "positive"}]}]', "expected a list of results"),
    ({"tasks": []}, "a list of tasks"),
]


@pytest.mark.parametrize(("data", "message"), HOSTILE)
def test_a_hostile_file_is_refused_as_a_whole_and_nothing_is_written(campaign, lead, data, message):
    # A good annotation first in the file: refusing the whole file means it is not written either.
    good = hand_written_export()[:1]
    if isinstance(data, bytes | str) and data.startswith(b"[" if isinstance(data, bytes) else "[{"):
        data = json.dumps(good)[:-1] + ", " + data[1:]

    with pytest.raises(ValidationError, match=message) as caught:
        imports.labelstudio_import(campaign=campaign, actor=lead, data=data)

    assert caught.value.messages[0].startswith("This is not a Label Studio JSON export of this campaign: ")
    assert not Annotation.objects.exists()


def test_a_file_over_the_size_limit_is_refused_unread(campaign, lead):
    with pytest.raises(ValidationError, match="larger than 50 MB"):
        imports.labelstudio_import(campaign=campaign, actor=lead, data=b" " * (imports.MAX_IMPORT_BYTES + 1))
    assert not Annotation.objects.exists()


def test_span_offsets_outside_the_text_are_refused(scripts, lead):
    export = [{"data": {"text": TAMIL, "prakriya_item": "scripts-2"}, "annotations": [
        {"completed_by": {"id": 1, "email": "lead@example.org"}, "result": [
            {"from_name": "label", "type": "labels", "value": {"start": 3, "end": 999, "labels": ["LOC"]}}]}]}]
    before = Annotation.objects.count()
    with pytest.raises(ValidationError, match=r"span \[3, 999\) is outside the task's text"):
        imports.labelstudio_import(campaign=scripts, actor=lead, data=export)
    assert Annotation.objects.count() == before


def test_only_managers_import_into_open_campaigns(campaign, lead, annotator, viewer):
    for person in (annotator, viewer):
        with pytest.raises(PermissionDenied):
            imports.labelstudio_import(campaign=campaign, actor=person, data=hand_written_export())
    with pytest.raises(ValidationError, match="Span offsets are read as auto, codepoints, utf16"):
        imports.labelstudio_import(campaign=campaign, actor=lead, data=[], offsets="bytes")
    services.campaign_close(campaign=campaign, actor=lead)
    with pytest.raises(ValidationError, match="This campaign is closed: reopen it to import annotations."):
        imports.labelstudio_import(campaign=campaign, actor=lead, data=hand_written_export())
    assert not Annotation.objects.exists()


def test_an_empty_export_imports_nothing(campaign, lead):
    result = imports.labelstudio_import(campaign=campaign, actor=lead, data=b"[]")
    assert result.as_dict() == {
        "tasks": 0, "annotations": 0, "created": 0, "updated": 0, "unchanged": 0, "skipped": [], "skipped_count": 0,
        "unknown_annotators": [], "unknown_annotators_count": 0, "unknown_items": [], "unknown_items_count": 0,
        "utf16_spans": 0,
    }


# --- Sync -----------------------------------------------------------------------------------


def test_sync_needs_a_configured_server(campaign, lead, settings):
    settings.PRAKRIYA_LABEL_STUDIO_URL = ""
    with pytest.raises(ValidationError) as caught:
        sync.labelstudio_sync_start(campaign=campaign, actor=lead)
    assert caught.value.messages == [
        "Label Studio sync is not configured (set PRAKRIYA_LABEL_STUDIO_URL and PRAKRIYA_LABEL_STUDIO_API_KEY)."]
    assert not Job.objects.exists()


def test_asking_to_sync_twice_gives_the_same_waiting_job(campaign, lead, engineer, annotator, settings):
    settings.PRAKRIYA_LABEL_STUDIO_URL, settings.PRAKRIYA_LABEL_STUDIO_API_KEY = "http://127.0.0.1:9", "key"
    job = sync.labelstudio_sync_start(campaign=campaign, actor=lead)
    assert (job.kind, job.target_id, job.state) == ("annotation_labelstudio_sync", campaign.pk, JobState.QUEUED)
    assert sync.labelstudio_sync_start(campaign=campaign, actor=engineer) == job
    with pytest.raises(PermissionDenied):
        sync.labelstudio_sync_start(campaign=campaign, actor=annotator)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    assert sync.labelstudio_sync_start(campaign=campaign, actor=lead) != job
    services.campaign_close(campaign=campaign, actor=lead)
    with pytest.raises(ValidationError, match="closed"):
        sync.labelstudio_sync_start(campaign=campaign, actor=lead)


# The runner closes stale connections, as a worker does: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_sync_with_an_unreachable_server_fails_with_a_clear_message(campaign, lead, settings):
    settings.PRAKRIYA_LABEL_STUDIO_URL, settings.PRAKRIYA_LABEL_STUDIO_API_KEY = "http://127.0.0.1:9", "key"
    job = sync.labelstudio_sync_start(campaign=campaign, actor=lead)

    assert job_execute(job.pk) == JobState.FAILED

    job.refresh_from_db()
    assert job.message.startswith("cannot reach Label Studio at http://127.0.0.1:9 to identify the API key's user")
    campaign.refresh_from_db()
    assert campaign.labelstudio_project_id is None and not LabelStudioTask.objects.exists()


def test_the_project_title_fits_label_studio(campaign):
    campaign.name = "A campaign with a very long name that goes on and on and on"
    title = sync._project_title(campaign)
    assert len(title) == 50 and title.startswith("Digits · A campaign") and title.endswith("…")
