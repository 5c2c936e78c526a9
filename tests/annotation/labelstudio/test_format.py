"""Label Studio formats without a server: labelling configs, task payloads, the JSON export and its
parsing, and span offsets in code points versus UTF-16 units on text in several scripts."""

from __future__ import annotations

import copy
import json
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from datasets.annotation.labelstudio import offsets, reader, records, writer
from datasets.annotation.labelstudio.config import label_config, parse_label_config
from datasets.annotation.labelstudio.records import (
    AnnotationRecord,
    ItemRecord,
    LabelSpec,
    LabelStudioFormatError,
)

DEVANAGARI = "राम ने दिल्ली में किताब खरीदी"
TAMIL = "சென்னை ஒரு பெரிய நகரம்"
BENGALI = "কলকাতা একটি সুন্দর শহর"
URDU = "لاہور پاکستان کا ایک شہر ہے"  # right to left
# Astral characters: an emoji with a skin tone joined by ZWJ, a party popper, a math letter.
EMOJI = "Met 👩🏽‍💻 Priya in मुंबई 🎉 with 𝔘lrich"

LABELS = [
    LabelSpec("PER", "#1f77b4", "p"),
    LabelSpec("LOC", "#ff7f0e", "l"),
    LabelSpec("ORG", "#2ca02c", "o"),
]


def span(text: str, word: str, label: str) -> dict:
    start = text.index(word)
    return {"start": start, "end": start + len(word), "label": label}


# --- configs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_type", "media", "control", "choice"),
    [
        ("single", "image", "Choices", "single"),
        ("single", "text", "Choices", "single"),
        ("multi", "image", "Choices", "multiple"),
        ("multi", "text", "Choices", "multiple"),
        ("span", "text", "Labels", None),
    ],
)
def test_config_names_labels_colours_hotkeys_and_choice_mode(task_type, media, control, choice):
    root = ET.fromstring(label_config(task_type, media, LABELS))

    assert root.tag == "View"
    obj = root.find("Image" if media == "image" else "Text")
    assert obj.attrib == {"name": media, "value": f"${media}"}
    ctl = root.find(control)
    assert ctl.get("name") == "label" and ctl.get("toName") == media
    assert ctl.get("choice") == choice
    children = list(ctl)
    assert [c.tag for c in children] == ["Label" if control == "Labels" else "Choice"] * 3
    assert [c.get("value") for c in children] == ["PER", "LOC", "ORG"]
    colour_attr = "background" if control == "Labels" else "color"
    assert [c.get(colour_attr) for c in children] == ["#1f77b4", "#ff7f0e", "#2ca02c"]
    assert [c.get("hotkey") for c in children] == ["p", "l", "o"]


def test_config_escapes_names_that_look_like_xml():
    labels = [LabelSpec('Tom & "Jerry" <cat>'), LabelSpec("it's"), LabelSpec("राम"), LabelSpec("a\tb\nc")]
    config = label_config("multi", "text", labels)

    root = ET.fromstring(config)
    assert [c.get("value") for c in root.find("Choices")] == [label.name for label in labels]
    assert "<cat>" not in config


def test_config_leaves_out_missing_colour_and_shortcut():
    root = ET.fromstring(label_config("single", "image", [{"name": "cat"}, {"name": "dog", "shortcut": "d"}]))
    cat, dog = root.find("Choices")
    assert cat.attrib == {"value": "cat"}
    assert dog.attrib == {"value": "dog", "hotkey": "d"}


@pytest.mark.parametrize(("task_type", "media"), [("single", "image"), ("multi", "text"), ("span", "text")])
def test_config_parses_back_to_the_same_schema(task_type, media):
    schema = parse_label_config(label_config(task_type, media, LABELS))
    assert schema == records.LabelSchema(task_type=task_type, media=media, labels=tuple(LABELS))


@pytest.mark.parametrize(
    ("task_type", "media", "labels", "message"),
    [
        ("binary", "text", LABELS, "task_type must be one of"),
        ("single", "audio", LABELS, "media must be one of"),
        ("span", "image", LABELS, "span labelling needs text items"),
        ("single", "text", [], "at least one label"),
        ("single", "text", "PER", "labels must be a list"),
        ("single", "text", [LabelSpec("a"), LabelSpec("a")], "label names must be unique"),
        ("single", "text", [LabelSpec("a", shortcut="x"), LabelSpec("b", shortcut="X")], "shortcuts must be unique"),
        ("single", "text", [LabelSpec("a", colour="red")], "hex colour"),
        ("single", "text", [LabelSpec("a", colour="#12345")], "hex colour"),
        ("single", "text", [LabelSpec("a", shortcut="ab")], "one printable key"),
        ("single", "text", [LabelSpec("a", shortcut=" ")], "one printable key"),
        ("single", "text", [LabelSpec("a", shortcut="+")], "cannot bind"),
        ("single", "text", [LabelSpec("  ")], "non-empty name"),
        ("single", "text", [LabelSpec("bell\x07")], "control character"),
        ("single", "text", [{"name": "a", "color": "#fff"}], "unknown keys"),
        ("single", "text", [{"name": 3}], "non-empty name"),
        ("single", "text", [42], "expected a label"),
    ],
)
def test_config_refuses_bad_schemas_with_a_clear_message(task_type, media, labels, message):
    with pytest.raises(LabelStudioFormatError, match=message):
        label_config(task_type, media, labels)


def test_a_hand_written_config_with_named_colours_and_chorded_hotkeys_still_reads():
    config = """<View>
      <Text name="review" value="$review"/>
      <Choices name="sentiment" toName="review" choice="multiple">
        <Choice value="positive" hotkey="ctrl+1" background="green"/>
        <Choice value="negative" hotkey="n" color="#d62728"/>
      </Choices>
    </View>"""
    assert parse_label_config(config) == records.LabelSchema(
        task_type="multi", media="text",
        labels=(LabelSpec("positive"), LabelSpec("negative", "#d62728", "n")),
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("<View><Text", "not valid XML"),
        ("<View/>", "expected one Choices or Labels tag"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><View/>', "DOCTYPE"),
        ('<View><Choices name="c" toName="t"><Choice value="a"/></Choices></View>', "no Image or Text tag"),
        (b"<View/>", "must be a string"),
    ],
)
def test_reading_a_bad_config_fails_clearly(config, message):
    with pytest.raises(LabelStudioFormatError, match=message):
        parse_label_config(config)


# --- offsets -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [DEVANAGARI, TAMIL, BENGALI, URDU])
def test_bmp_scripts_have_equal_code_point_and_utf16_offsets(text):
    assert offsets.utf16_length(text) == len(text)
    for offset in range(len(text) + 1):
        assert offsets.codepoint_to_utf16(text, offset) == offset
        assert offsets.utf16_to_codepoint(text, offset) == offset


def test_astral_characters_count_twice_in_utf16():
    text = EMOJI
    word = "Priya"
    start = text.index(word)
    # 👩 and 💻 are astral; 🏽 (skin tone) too; the ZWJ between them is in the BMP.
    assert offsets.codepoint_to_utf16(text, start) == start + 3
    assert text.encode("utf-16-le")[: 2 * offsets.codepoint_to_utf16(text, start)].decode("utf-16-le") == text[:start]
    assert offsets.utf16_length(text) == len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("text", [DEVANAGARI, TAMIL, BENGALI, URDU, EMOJI, "", "🎉", "a🎉b🎉"])
def test_every_code_point_offset_round_trips_through_utf16(text):
    for offset in range(len(text) + 1):
        assert offsets.utf16_to_codepoint(text, offsets.codepoint_to_utf16(text, offset)) == offset


def test_a_utf16_offset_inside_a_surrogate_pair_is_refused():
    with pytest.raises(ValueError, match="inside the surrogate pair"):
        offsets.utf16_to_codepoint("a🎉b", 2)


@pytest.mark.parametrize(("text", "offset"), [("abc", 4), ("a🎉", 4), ("abc", -1)])
def test_out_of_range_offsets_are_refused(text, offset):
    with pytest.raises(ValueError):
        offsets.utf16_to_codepoint(text, offset)
    with pytest.raises(ValueError):
        offsets.codepoint_to_utf16(text, offset if offset < 0 else len(text) + 1)


# --- export and parse round trips ----------------------------------------------------------

T0 = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 9, 31, 2, tzinfo=UTC)

SPAN_ITEMS = [
    ItemRecord("hi-1", DEVANAGARI),
    ItemRecord("ta-1", TAMIL),
    ItemRecord("bn-1", BENGALI),
    ItemRecord("ur-1", URDU),
    ItemRecord("emoji-1", EMOJI),
    ItemRecord("empty-1", "nothing to see"),
]
SPAN_ANNOTATIONS = [
    AnnotationRecord("hi-1", "asha@example.org", [span(DEVANAGARI, "राम", "PER"), span(DEVANAGARI, "दिल्ली", "LOC")],
                     lead_time=12.5, created_at=T0, updated_at=T1),
    AnnotationRecord("ta-1", "asha@example.org", [span(TAMIL, "சென்னை", "LOC")], lead_time=4.0, created_at=T0),
    AnnotationRecord("bn-1", "ravi@example.org", [span(BENGALI, "কলকাতা", "LOC")], lead_time=7.25, created_at=T0),
    AnnotationRecord("ur-1", "ravi@example.org", [span(URDU, "لاہور", "LOC"), span(URDU, "پاکستان", "LOC")],
                     created_at=T0),
    AnnotationRecord("emoji-1", "asha@example.org",
                     [span(EMOJI, "👩🏽‍💻", "PER"), span(EMOJI, "Priya", "PER"), span(EMOJI, "मुंबई", "LOC"),
                      span(EMOJI, "𝔘lrich", "PER")], lead_time=30.0, created_at=T0, updated_at=T1),
    AnnotationRecord("emoji-1", "ravi@example.org", [], lead_time=1.0, created_at=T1),
]


def by_key_and_email(annotations):
    return {(a.item.key, a.annotator_email): a for a in annotations}


@pytest.mark.parametrize("offsets", ["codepoints", "utf16"])
def test_span_export_parses_back_exactly(offsets):
    exported = writer.export_campaign(
        task_type="span", media="text", items=SPAN_ITEMS, annotations=SPAN_ANNOTATIONS, offsets=offsets
    )
    parsed = reader.parse_export(json.dumps(exported, ensure_ascii=False).encode(), task_type="span")

    assert [t.key for t in parsed.tasks] == [i.key for i in SPAN_ITEMS]
    got = by_key_and_email(parsed.annotations)
    assert len(got) == len(SPAN_ANNOTATIONS)
    for record in SPAN_ANNOTATIONS:
        imported = got[(record.item_key, record.annotator_email)]
        assert imported.value == sorted(record.value, key=lambda s: (s["start"], s["end"], s["label"]))
        assert imported.lead_time == record.lead_time
        assert imported.created_at == record.created_at
        assert imported.updated_at == (record.updated_at or record.created_at)
        assert imported.tool == "labelstudio"
    # Only the emoji text has astral characters; each of its 4 spans covers or follows one, so
    # each was written, and read back, with different UTF-16 offsets.
    assert parsed.utf16_spans == (4 if offsets == "utf16" else 0)


def test_exported_spans_quote_the_covered_text_and_utf16_offsets_index_javascript_strings():
    codepoints = writer.export_campaign(task_type="span", media="text", items=SPAN_ITEMS, annotations=SPAN_ANNOTATIONS)
    utf16 = writer.export_campaign(
        task_type="span", media="text", items=SPAN_ITEMS, annotations=SPAN_ANNOTATIONS, offsets="utf16"
    )
    for cp_task, u16_task in zip(codepoints, utf16, strict=True):
        text = cp_task["data"]["text"]
        units = text.encode("utf-16-le")
        for cp_ann, u16_ann in zip(cp_task["annotations"], u16_task["annotations"], strict=True):
            for cp_res, u16_res in zip(cp_ann["result"], u16_ann["result"], strict=True):
                cp, u16 = cp_res["value"], u16_res["value"]
                assert text[cp["start"] : cp["end"]] == cp["text"] == u16["text"]
                # What JavaScript's text.slice(start, end) would return:
                assert units[2 * u16["start"] : 2 * u16["end"]].decode("utf-16-le") == u16["text"]


def test_bmp_scripts_export_identical_offsets_in_both_units():
    items = SPAN_ITEMS[:4]
    annotations = [a for a in SPAN_ANNOTATIONS if a.item_key in {i.key for i in items}]
    assert writer.export_campaign(task_type="span", media="text", items=items, annotations=annotations) == (
        writer.export_campaign(task_type="span", media="text", items=items, annotations=annotations, offsets="utf16")
    )


def test_single_label_image_export_round_trips():
    items = [ItemRecord(f"img-{n}", image_url=f"https://data.example.org/img/{n}.png") for n in range(3)]
    annotations = [
        AnnotationRecord("img-0", "asha@example.org", "cat", lead_time=2.0, created_at=T0),
        AnnotationRecord("img-1", "asha@example.org", "dog", lead_time=3.0, created_at=T0),
        AnnotationRecord("img-1", "ravi@example.org", "cat", created_at=T1, updated_at=T1),
    ]
    exported = writer.export_campaign(task_type="single", media="image", items=items, annotations=annotations)

    assert exported[0]["data"] == {"image": "https://data.example.org/img/0.png", "prakriya_item": "img-0"}
    result = exported[0]["annotations"][0]["result"][0]
    assert result["type"] == "choices" and result["value"] == {"choices": ["cat"]}
    assert result["from_name"] == "label" and result["to_name"] == "image"
    parsed = reader.parse_export(exported, task_type="single", label_names=["cat", "dog"])
    assert [(a.item.key, a.annotator_email, a.value, a.lead_time) for a in parsed.annotations] == [
        ("img-0", "asha@example.org", "cat", 2.0),
        ("img-1", "asha@example.org", "dog", 3.0),
        ("img-1", "ravi@example.org", "cat", None),
    ]
    assert parsed.annotations[0].item.image == "https://data.example.org/img/0.png"


def test_multi_label_text_export_round_trips_including_no_labels():
    items = [ItemRecord("u1", URDU), ItemRecord("t1", TAMIL)]
    annotations = [
        AnnotationRecord("u1", "asha@example.org", ["news", "sport"], lead_time=5.5, created_at=T0),
        AnnotationRecord("t1", "asha@example.org", [], lead_time=1.5, created_at=T0),
    ]
    exported = writer.export_campaign(task_type="multi", media="text", items=items, annotations=annotations)

    parsed = reader.parse_export(exported, task_type="multi")
    got = {a.item.key: a.value for a in parsed.annotations}
    # An annotation that chose nothing has no result at all in LS, and means "none apply".
    assert got == {"u1": ["news", "sport"], "t1": []}
    assert exported[1]["annotations"][0]["result"] == []
    assert parsed.skipped == []
    assert parsed.tasks[0].text == URDU


def test_export_numbers_annotators_or_uses_given_ls_ids():
    exported = writer.export_campaign(
        task_type="single", media="text", items=[ItemRecord("a", "x")],
        annotations=[AnnotationRecord("a", "asha@example.org", "yes"), AnnotationRecord("a", "ravi@example.org", "no")],
        user_ids={"ravi@example.org": 7},
    )
    assert [a["completed_by"]["id"] for a in exported[0]["annotations"]] == [8, 7]
    assert exported[0]["annotations"][0]["completed_by"]["email"] == "asha@example.org"


@pytest.mark.parametrize(
    ("task_type", "value", "message"),
    [
        ("single", ["cat"], "single-label value must be a label name"),
        ("multi", "cat", "multi-label value must be a list"),
        ("span", [{"start": 0, "end": 99, "label": "PER"}], "outside the text"),
        ("span", [{"start": 2, "end": 2, "label": "PER"}], "outside the text"),
        ("span", [{"start": "0", "end": 1, "label": "PER"}], "must be integers"),
        ("span", [{"start": 0, "end": 1}], "exactly start, end and label"),
        ("span", "PER", "must be a list of spans"),
    ],
)
def test_export_refuses_values_that_do_not_fit(task_type, value, message):
    with pytest.raises(LabelStudioFormatError, match=message):
        writer.export_campaign(
            task_type=task_type, media="text", items=[ItemRecord("a", "short")],
            annotations=[AnnotationRecord("a", "asha@example.org", value)],
        )


def test_export_refuses_unknown_items_duplicate_keys_and_missing_media():
    with pytest.raises(LabelStudioFormatError, match="unknown item key 'b'"):
        writer.export_campaign(task_type="single", media="text", items=[ItemRecord("a", "x")],
                           annotations=[AnnotationRecord("b", "asha@example.org", "yes")])
    with pytest.raises(LabelStudioFormatError, match="appears twice"):
        writer.task_payloads([ItemRecord("a", "x"), ItemRecord("a", "y")], media="text")
    with pytest.raises(LabelStudioFormatError, match="has no image URL"):
        writer.task_payload(ItemRecord("a", text="x"), media="image")
    with pytest.raises(LabelStudioFormatError, match="is not an email"):
        writer.export_campaign(task_type="single", media="text", items=[ItemRecord("a", "x")],
                           annotations=[AnnotationRecord("a", "asha", "yes")])


# --- exports as Label Studio writes them ---------------------------------------------------


def ls_task(text, results, **annotation):
    return {
        "id": 41,
        "data": {"text": text},
        "annotations": [
            {"id": 7, "completed_by": 3, "result": results, "was_cancelled": False,
             "created_at": "2026-03-01T09:30:15.250000Z", "updated_at": "2026-03-01T09:31:02Z",
             "lead_time": 9.9, **annotation}
        ],
    }


def labels_result(start, end, text, labels, **extra):
    return {"from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": labels}, **extra}


def test_an_ls_export_without_our_key_refers_to_the_item_by_its_text_and_user_id():
    parsed = reader.parse_export([ls_task(DEVANAGARI, [labels_result(0, 3, "राम", ["PER"])])], task_type="span")

    (annotation,) = parsed.annotations
    assert annotation.item == records.ItemRef(task_id=41, key=None, text=DEVANAGARI, image=None)
    assert (annotation.annotator_id, annotation.annotator_email) == (3, None)
    assert annotation.value == [{"start": 0, "end": 3, "label": "PER"}]
    assert annotation.created_at == T0 and annotation.lead_time == 9.9 and annotation.annotation_id == 7


def test_a_span_across_a_line_break_is_read_with_ls_escaped_text():
    text = "🐱 Warning:\n🐱 This is a test text"
    start, end = text.index("Warning"), text.index("test") + 4
    # LS writes the line break inside `text` as backslash-n (see its NER emoji tests).
    quoted = text[start:end].replace("\n", "\\n")
    parsed = reader.parse_export([ls_task(text, [labels_result(start, end, quoted, ["LOC"])])], task_type="span")
    assert parsed.annotations[0].value == [{"start": start, "end": end, "label": "LOC"}]
    assert parsed.utf16_spans == 0


def test_an_old_ls_export_in_utf16_units_is_detected_from_the_quoted_text():
    text = "💩This is an annotation."  # the example of LS issue #1347
    u16_start, u16_end = 13, 23  # what LS 1.x before the emoji fix stored for "annotation"
    parsed = reader.parse_export([ls_task(text, [labels_result(u16_start, u16_end, "annotation", ["X"])])],
                             task_type="span")
    assert parsed.annotations[0].value == [{"start": 12, "end": 22, "label": "X"}]
    assert text[12:22] == "annotation"
    assert parsed.utf16_spans == 1
    # Told the offsets are code points, it reads them as such (and they then run past the text).
    with pytest.raises(LabelStudioFormatError, match="outside the task's text"):
        reader.parse_export([ls_task(text, [labels_result(u16_start, u16_end + 2, "annotation", ["X"])])],
                        task_type="span", offsets="codepoints")


def test_one_region_with_two_labels_gives_two_spans():
    parsed = reader.parse_export([ls_task(TAMIL, [labels_result(0, 6, "சென்னை", ["LOC", "ORG"])])], task_type="span")
    assert parsed.annotations[0].value == [
        {"start": 0, "end": 6, "label": "LOC"}, {"start": 0, "end": 6, "label": "ORG"}
    ]


def test_cancelled_annotations_and_other_controls_are_left_out():
    task = ls_task("text", [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}])
    task["annotations"].append({**task["annotations"][0], "id": 8, "was_cancelled": True})
    task["annotations"].append({**task["annotations"][0], "id": 9, "result": [
        {"from_name": "notes", "to_name": "text", "type": "textarea", "value": {"text": ["hm"]}}]})
    parsed = reader.parse_export([task], task_type="single")
    assert [a.annotation_id for a in parsed.annotations] == [7]
    assert parsed.skipped == [
        "annotation 8 of task 41: skipped (cancelled) in Label Studio",
        "annotation 9 of task 41: no choice made",
    ]


def test_completed_by_object_email_and_pre_1_0_completions_are_read():
    task = {"id": 1, "data": {"text": "x", "prakriya_item": 12},
            "completions": [{"id": 2, "completed_by": {"id": 5, "email": "asha@example.org"}, "lead_time": 3,
                             "created_at": 1767225600, "result": [
                                 {"from_name": "c", "type": "choices", "value": {"choices": ["a", "b"]}}]}]}
    (annotation,) = reader.parse_export([task], task_type="multi").annotations
    assert annotation.item.key == "12"
    assert (annotation.annotator_id, annotation.annotator_email) == (5, "asha@example.org")
    assert annotation.value == ["a", "b"] and annotation.lead_time == 3.0
    assert annotation.created_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_several_controls_of_the_kind_need_from_name():
    results = [
        {"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos"]}},
        {"from_name": "topic", "type": "choices", "value": {"choices": ["sport"]}},
    ]
    with pytest.raises(LabelStudioFormatError, match="say which one with from_name"):
        reader.parse_export([ls_task("x", results)], task_type="single")
    parsed = reader.parse_export([ls_task("x", results)], task_type="single", from_name="topic")
    assert parsed.annotations[0].value == "sport"


# --- hostile and malformed input -----------------------------------------------------------


def valid_span_export():
    return writer.export_campaign(task_type="span", media="text", items=SPAN_ITEMS, annotations=SPAN_ANNOTATIONS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[NaN]", "contains NaN"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (b'{"tasks": []}', "list of tasks, not dict"),
        (b"42", "list of tasks, not int"),
        (None, "list of tasks, not NoneType"),
        ([1], r"task\[0\]: expected a task object"),
        ([{"annotations": []}], r"task\[0\].data: a task needs a `data` object"),
        ([{"data": "text"}], r"task\[0\].data: a task needs"),
        ([{"id": "one", "data": {}}], r"task\[0\].id: expected an integer task id"),
        ([{"data": {"prakriya_item": [1]}}], "expected an item key"),
        ([{"data": {}, "annotations": {}}], r"task\[0\].annotations: expected a list"),
        ([{"data": {}, "annotations": ["x"]}], "expected an annotation object"),
        ([{"data": {}, "annotations": [{"result": "x"}]}], "expected a list of results"),
        ([{"data": {}, "annotations": [{"result": [7]}]}], r"result\[0\]: expected a result object"),
        ([{"data": {}, "annotations": [{"id": 1.5}]}], "expected an integer id"),
        ([{"data": {"text": "x"}, "annotations": [{"id": 1}]}], r"annotations\[0\].result: expected a list of results"),
    ],
)
def test_malformed_exports_fail_with_a_clear_message(data, message):
    with pytest.raises(LabelStudioFormatError, match=message):
        reader.parse_export(data, task_type="span")


def test_malformed_values_name_the_exact_place():
    def parse_with(mutate, task_type="span"):
        data = valid_span_export()
        mutate(data)
        return reader.parse_export(data, task_type=task_type)

    first = "task[0].annotations[0].result[0].value"
    cases = [
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(start="0"), f"{first}.start: expected an integer"),
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(end=True), f"{first}.end: expected an integer"),
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(end=10**30), "outside the task's text"),
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(start=-1), "outside the task's text"),
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(labels="PER"), f"{first}.labels: expected a list"),
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(labels=[None]), "expected a list of strings"),
        (lambda d: d[0]["annotations"][0]["result"][0]["value"].update(text=5), f"{first}.text: expected a string"),
        (lambda d: d[0]["annotations"][0]["result"][0].update(value=[1]), f"{first}: expected a value object"),
        (lambda d: d[0]["annotations"][0]["result"][0].update(from_name=None), "expected a control name"),
        (lambda d: d[0]["data"].pop("text"), "the task has no text in data.text"),
        (lambda d: d[0]["annotations"][0].update(lead_time=-1), "lead_time: expected a number of seconds"),
        (lambda d: d[0]["annotations"][0].update(lead_time="5"), "lead_time: expected a number of seconds"),
        (lambda d: d[0]["annotations"][0].update(created_at="yesterday"), "created_at: expected an ISO 8601"),
        (lambda d: d[0]["annotations"][0].update(created_at=[]), "created_at: expected a timestamp"),
        (lambda d: d[0]["annotations"][0].update(created_at=1e300), "not a usable epoch timestamp"),
        (lambda d: d[0]["annotations"][0].update(completed_by=[1]), "completed_by: expected a user id"),
        (lambda d: d[0]["annotations"][0].update(completed_by={"id": "x"}), r"completed_by.id: expected an integer"),
        (lambda d: d[0]["annotations"][0].update(completed_by={"email": 1}), r"completed_by.email: expected a string"),
    ]
    for mutate, message in cases:
        with pytest.raises(LabelStudioFormatError) as caught:
            parse_with(mutate)
        assert message in str(caught.value)


def test_choices_that_do_not_fit_the_campaign_are_refused():
    task = ls_task("x", [{"from_name": "label", "type": "choices", "value": {"choices": ["a", "b"]}}])
    with pytest.raises(LabelStudioFormatError, match="single-label campaign got 2 choices"):
        reader.parse_export([task], task_type="single")
    with pytest.raises(LabelStudioFormatError, match="'b' is not a label of this campaign"):
        reader.parse_export([task], task_type="multi", label_names=["a"])
    with pytest.raises(LabelStudioFormatError, match="expected a 'choices' result"):
        reader.parse_export([ls_task("x", [labels_result(0, 1, "x", ["a"])])], task_type="multi", from_name="label")


def test_parse_refuses_bad_arguments():
    with pytest.raises(LabelStudioFormatError, match="task_type must be one of"):
        reader.parse_export([], task_type="spans")
    with pytest.raises(LabelStudioFormatError, match="offsets must be one of"):
        reader.parse_export([], task_type="span", offsets="bytes")


HOSTILE_VALUES = [None, True, -1, 0, 2**64, 1.5, float("inf"), "", "x", "🎉", [], [None], {}, {"a": 1}, [[[]]]]


def mutate(node, rng):
    """Replaces one randomly chosen part of a JSON tree by a hostile value."""
    path = []
    while isinstance(node, dict | list) and node and rng.random() < 0.85:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append((node, key))
        node = node[key]
    if not path:
        return
    parent, key = path[-1]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[key]
    else:
        parent[key] = copy.deepcopy(rng.choice(HOSTILE_VALUES))


@pytest.mark.parametrize("task_type", ["span", "single", "multi"])
def test_randomly_damaged_exports_never_crash_the_parser(task_type):
    if task_type == "span":
        base = valid_span_export()
    else:
        items = [ItemRecord("a", URDU), ItemRecord("b", EMOJI)]
        value = "x" if task_type == "single" else ["x", "y"]
        base = writer.export_campaign(task_type=task_type, media="text", items=items,
                                  annotations=[AnnotationRecord("a", "asha@example.org", value, lead_time=1.0)])
    rng = random.Random(20260301)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(400):
        data = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            mutate(data, rng)
        try:
            reader.parse_export(data, task_type=task_type)
            outcomes["parsed"] += 1
        except LabelStudioFormatError as exc:
            assert str(exc)
            outcomes["refused"] += 1
    assert outcomes["parsed"] and outcomes["refused"]
