"""Interop with a real Label Studio server (tests/fixtures_labelstudio.py starts it).

Annotations "made in Label Studio" are made the way LS makes them: by an LS user, through LS's
API with that user's own token, with span results as LS's labelling UI writes them (offsets in
code points, `text` the covered substring). The last test labels in LS's real UI in Chromium to
pin that down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from label_studio_sdk import LabelStudio

from datasets.annotation.labelstudio import client, records, writer
from datasets.annotation.labelstudio.config import label_config, parse_label_config
from datasets.annotation.labelstudio.records import AnnotationRecord, ItemRecord, LabelSpec

# The first session on a machine installs LS and migrates its template database.
pytestmark = pytest.mark.timeout(1200)

DEVANAGARI = "राम ने दिल्ली में किताब खरीदी"
URDU = "لاہور پاکستان کا ایک شہر ہے"
TAMIL = "சென்னை ஒரு பெரிய நகரம்"
BENGALI = "কলকাতা একটি সুন্দর শহর"
EMOJI = "Met 👩🏽‍💻 Priya in मुंबई 🎉 with 𝔘lrich"

ENTITY_LABELS = [LabelSpec("PER", "#1f77b4", "p"), LabelSpec("LOC", "#ff7f0e", "l")]
# Names that need escaping in XML, in several scripts.
TOPIC_LABELS = [LabelSpec("खेल", "#2ca02c", "k"), LabelSpec('news & "views"', "#d62728", "n"),
                LabelSpec("<other>", "#9467bd", "o")]


def span(text: str, word: str, label: str) -> dict:
    start = text.index(word)
    return {"start": start, "end": start + len(word), "label": label}


def ls_labels_result(text: str, value: dict) -> dict:
    """A span result as LS's UI writes it for a `<Text>` region (see the module docstring)."""
    return {
        "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
        "value": {"start": value["start"], "end": value["end"], "text": text[value["start"] : value["end"]],
                  "labels": [value["label"]]},
    }


def ls_choices_result(to_name: str, choices: list[str]) -> dict:
    return {"from_name": "label", "to_name": to_name, "type": "choices", "origin": "manual",
            "value": {"choices": choices}}


def as_user(server, email: str) -> LabelStudio:
    return LabelStudio(base_url=server.base_url, api_key=server.add_user(email).api_key)


@pytest.mark.parametrize(
    ("task_type", "media", "labels"),
    [("single", "image", TOPIC_LABELS), ("multi", "text", TOPIC_LABELS), ("span", "text", ENTITY_LABELS)],
)
def test_label_studio_accepts_our_configs_and_they_read_back_unchanged(label_studio_server, task_type, media, labels):
    server = label_studio_server
    config = label_config(task_type, media, labels)

    project_id = client.create_project(server.base_url, server.api_key, f"config {task_type} {media}", config)

    stored = client.get_label_config(server.base_url, server.api_key, project_id)
    assert parse_label_config(stored) == records.LabelSchema(task_type=task_type, media=media, labels=tuple(labels))


def test_label_studio_refuses_a_broken_config_and_the_error_says_why(label_studio_server):
    server = label_studio_server
    broken = '<View><Text name="text" value="$text"/><Labels name="label" toName="txt"><Label value="A"/></Labels></View>'
    with pytest.raises(client.LabelStudioRequestError, match=r"refused to create a project \(HTTP 400\).*toName"):
        client.create_project(server.base_url, server.api_key, "broken config", broken)


def test_span_annotations_made_in_label_studio_come_back_with_code_point_offsets(label_studio_server):
    server = label_studio_server
    items = [ItemRecord("hi-1", DEVANAGARI), ItemRecord("ur-1", URDU), ItemRecord("ta-1", TAMIL),
             ItemRecord("bn-1", BENGALI), ItemRecord("emoji-1", EMOJI)]
    project_id = client.create_project(server.base_url, server.api_key, "entities in five scripts",
                                     label_config("span", "text", ENTITY_LABELS))
    task_ids = client.push_tasks(server.base_url, server.api_key, project_id, writer.task_payloads(items, media="text"))

    admin = LabelStudio(base_url=server.base_url, api_key=server.api_key)
    assert [admin.tasks.get(id=str(t)).data["prakriya_item"] for t in task_ids] == [i.key for i in items]
    spans = {
        "hi-1": [span(DEVANAGARI, "राम", "PER"), span(DEVANAGARI, "दिल्ली", "LOC")],
        "ur-1": [span(URDU, "لاہور", "LOC"), span(URDU, "پاکستان", "LOC")],
        "ta-1": [span(TAMIL, "சென்னை", "LOC")],
        "bn-1": [span(BENGALI, "কলকাতা", "LOC")],
        # After 👩🏽‍💻 (three astral code points) and 🎉: where code points and UTF-16 differ.
        "emoji-1": [span(EMOJI, "Priya", "PER"), span(EMOJI, "मुंबई", "LOC"), span(EMOJI, "𝔘lrich", "PER")],
    }
    meera, arjun = as_user(server, "meera@example.org"), as_user(server, "arjun@example.org")
    started = datetime.now(UTC) - timedelta(seconds=5)
    stored_ids = {}
    for item, task_id in zip(items, task_ids, strict=True):
        created = meera.annotations.create(
            id=task_id, result=[ls_labels_result(item.text, s) for s in spans[item.key]],
            lead_time=10.0 + len(item.key),
        )
        stored_ids[item.key] = created.id
    # arjun finds no entity in the Urdu text, and skips the emoji text.
    arjun.annotations.create(id=task_ids[1], result=[], lead_time=2.5)
    arjun.annotations.create(id=task_ids[4], result=[], lead_time=1.0, was_cancelled=True)

    # LS keeps the offsets exactly as they were written.
    raw = admin.annotations.get(id=stored_ids["emoji-1"]).result
    assert [(r["value"]["start"], r["value"]["end"]) for r in raw] == [(s["start"], s["end"]) for s in spans["emoji-1"]]

    parsed = client.pull_export(server.base_url, server.api_key, project_id, task_type="span",
                              label_names=["PER", "LOC"])

    got = {(a.item.key, a.annotator_email): a for a in parsed.annotations}
    assert set(got) == {(i.key, "meera@example.org") for i in items} | {("ur-1", "arjun@example.org")}
    for item in items:
        annotation = got[(item.key, "meera@example.org")]
        assert annotation.value == sorted(spans[item.key], key=lambda s: (s["start"], s["end"], s["label"]))
        assert annotation.lead_time == 10.0 + len(item.key)
        assert annotation.item.task_id == task_ids[items.index(item)]
        assert started <= annotation.created_at <= datetime.now(UTC) + timedelta(seconds=5)
        assert annotation.tool == "labelstudio"
    assert got[("ur-1", "arjun@example.org")].value == []
    assert parsed.utf16_spans == 0
    assert any("skipped (cancelled)" in reason for reason in parsed.skipped)
    emoji = got[("emoji-1", "meera@example.org")].value
    assert [EMOJI[s["start"] : s["end"]] for s in emoji] == ["Priya", "मुंबई", "𝔘lrich"]


def test_choices_made_in_label_studio_come_back_with_annotator_emails(label_studio_server):
    server = label_studio_server
    images = [ItemRecord(f"img-{n}", image_url=f"http://127.0.0.1:9/items/img-{n}.png") for n in range(3)]
    texts = [ItemRecord("doc-ur", URDU), ItemRecord("doc-emoji", EMOJI)]
    names = [label.name for label in TOPIC_LABELS]

    single = client.create_project(server.base_url, server.api_key, "single on images",
                                 label_config("single", "image", TOPIC_LABELS))
    multi = client.create_project(server.base_url, server.api_key, "multi on texts",
                                label_config("multi", "text", TOPIC_LABELS))
    image_tasks = client.push_tasks(server.base_url, server.api_key, single, writer.task_payloads(images, media="image"))
    text_tasks = client.push_tasks(server.base_url, server.api_key, multi, writer.task_payloads(texts, media="text"))

    meera, arjun = as_user(server, "meera@example.org"), as_user(server, "arjun@example.org")
    meera.annotations.create(id=image_tasks[0], result=[ls_choices_result("image", [names[0]])], lead_time=3.0)
    arjun.annotations.create(id=image_tasks[0], result=[ls_choices_result("image", [names[2]])], lead_time=4.0)
    meera.annotations.create(id=image_tasks[2], result=[ls_choices_result("image", [names[1]])], lead_time=5.0)
    meera.annotations.create(id=text_tasks[0], result=[ls_choices_result("text", [names[1], names[0]])], lead_time=6.0)
    arjun.annotations.create(id=text_tasks[1], result=[], lead_time=7.0)

    pulled_single = client.pull_annotations(server.base_url, server.api_key, single, task_type="single",
                                          label_names=names)
    pulled_multi = client.pull_annotations(server.base_url, server.api_key, multi, task_type="multi", label_names=names)

    assert sorted((a.item.key, a.annotator_email, a.value, a.lead_time) for a in pulled_single) == [
        ("img-0", "arjun@example.org", "<other>", 4.0),
        ("img-0", "meera@example.org", "खेल", 3.0),
        ("img-2", "meera@example.org", 'news & "views"', 5.0),
    ]
    assert pulled_single[0].item.image.startswith("http://127.0.0.1:9/items/")
    assert sorted((a.item.key, a.annotator_email, a.value, a.lead_time) for a in pulled_multi) == [
        ("doc-emoji", "arjun@example.org", [], 7.0),
        ("doc-ur", "meera@example.org", ['news & "views"', "खेल"], 6.0),
    ]


def test_a_campaign_we_export_imports_into_label_studio_and_comes_back_the_same(label_studio_server):
    server = label_studio_server
    for email in ("meera@example.org", "arjun@example.org"):
        server.add_user(email)
    items = [ItemRecord("hi-1", DEVANAGARI), ItemRecord("emoji-1", EMOJI), ItemRecord("bn-1", BENGALI)]
    when = datetime(2026, 2, 14, 8, 0, 0, tzinfo=UTC)
    annotations = [
        AnnotationRecord("hi-1", "meera@example.org", [span(DEVANAGARI, "किताब", "LOC")], lead_time=8.5,
                         created_at=when, updated_at=when + timedelta(minutes=1)),
        AnnotationRecord("emoji-1", "arjun@example.org",
                         [span(EMOJI, "👩🏽‍💻", "PER"), span(EMOJI, "𝔘lrich", "PER")], lead_time=21.0, created_at=when),
        AnnotationRecord("emoji-1", "meera@example.org", [], lead_time=2.0, created_at=when),
    ]
    exported = writer.export_campaign(task_type="span", media="text", items=items, annotations=annotations)
    project_id = client.create_project(server.base_url, server.api_key, "round trip",
                                     label_config("span", "text", ENTITY_LABELS))

    task_ids = client.push_tasks(server.base_url, server.api_key, project_id, exported)
    pulled = client.pull_annotations(server.base_url, server.api_key, project_id, task_type="span")

    assert len(task_ids) == 3
    got = {(a.item.key, a.annotator_email): a for a in pulled}
    assert set(got) == {(a.item_key, a.annotator_email) for a in annotations}
    for record in annotations:
        annotation = got[(record.item_key, record.annotator_email)]
        assert annotation.value == record.value
        assert annotation.lead_time == record.lead_time
        # LS imports annotations as new: it stamps its own creation time.
        assert annotation.created_at > when


def test_pull_refuses_an_export_that_does_not_fit_the_campaign(label_studio_server):
    server = label_studio_server
    project_id = client.create_project(server.base_url, server.api_key, "two topics",
                                     label_config("multi", "text", TOPIC_LABELS))
    (task_id,) = client.push_tasks(server.base_url, server.api_key, project_id,
                                 writer.task_payloads([ItemRecord("a", TAMIL)], media="text"))
    as_user(server, "meera@example.org").annotations.create(
        id=task_id, result=[ls_choices_result("text", ["खेल", "<other>"])]
    )
    with pytest.raises(client.LabelStudioRequestError, match="does not fit the campaign.*single-label campaign got 2"):
        client.pull_annotations(server.base_url, server.api_key, project_id, task_type="single")


def test_a_wrong_key_a_missing_project_and_a_dead_server_fail_clearly(label_studio_server):
    server = label_studio_server
    with pytest.raises(client.LabelStudioAuthError, match=r"refused the API key \(HTTP 401\)"):
        client.whoami(server.base_url, "not-a-token")
    with pytest.raises(client.LabelStudioAuthError, match="API key is needed"):
        client.create_project(server.base_url, " ", "no key", "<View/>")
    with pytest.raises(client.LabelStudioRequestError, match="no such object") as caught:
        client.pull_annotations(server.base_url, server.api_key, 987654, task_type="single")
    assert caught.value.status_code == 404
    with pytest.raises(records.LabelStudioFormatError, match=r"tasks\[1\] is not a task"):
        client.push_tasks(server.base_url, server.api_key, 1, [{"data": {"text": "x"}}, "y"])
    dead = "http://127.0.0.1:9"
    with pytest.raises(client.LabelStudioUnreachable, match="cannot reach Label Studio at http://127.0.0.1:9"):
        client.push_tasks(dead, server.api_key, 1, [{"data": {"text": "x"}}])
    with pytest.raises(client.LabelStudioSyncError, match="must start with http"):
        client.whoami("127.0.0.1:8080", server.api_key)
    assert client.whoami(server.base_url + "/", server.api_key) == server.admin.email
