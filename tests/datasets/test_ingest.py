"""Uploads and bundled datasets that are fine: what the staging folder and the items look like,
that staging is deterministic, and that a folder reads back (and re-stages) to the same items."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from datasets.csv_safety import csv_line, escape_formula, write_csv
from datasets.ingest import (
    StagedItem,
    UploadRejected,
    assign_new_keys,
    read_staged,
    stage_items,
    stage_sklearn,
    stage_upload,
)
from datasets.ingest.records import image_relpath, row_bytes, sha256_hex
from tests.datasets.fixtures import jpeg_bytes, png_bytes, tree_bytes, zip_bytes

DEVANAGARI = "नमस्ते दुनिया, यह एक परीक्षण है।"
TAMIL = "வணக்கம் உலகம்"
URDU = "ہیلو دنیا، یہ ایک امتحان ہے"


def stage(tmp_path: Path, name: str, data: bytes | str, kind: str, dest: str = "v1", **kwargs):
    upload = tmp_path / f"upload-{dest}" / name
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return stage_upload(path=upload, original_name=name, kind=kind, dest=tmp_path / dest, **kwargs)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- tabular ---------------------------------------------------------------------------------------


def test_tabular_csv_with_labels(tmp_path):
    staged = stage(
        tmp_path, "flowers.csv", "petal,colour,label\n1.5,red,rose\n-2,,tulip\n3,blue,\n", "tabular"
    )
    assert staged.kind == "tabular"
    assert staged.columns == ["petal", "colour"]
    assert [i.key for i in staged.items] == ["r000001", "r000002", "r000003"]
    assert [i.label for i in staged.items] == ["rose", "tulip", None]
    assert staged.items[1].row == {"petal": "-2", "colour": None}
    assert staged.items[0].content_hash == sha256_hex(row_bytes({"petal": "1.5", "colour": "red"}))
    assert files(staged.root) == ["table.csv"]
    assert (staged.root / "table.csv").read_bytes() == (
        b"_item,petal,colour,label\nr000001,1.5,red,rose\nr000002,-2,,tulip\nr000003,3,blue,\n"
    )
    assert staged.labelled_count == 2


def test_tabular_csv_without_label_column_is_unlabelled(tmp_path):
    staged = stage(tmp_path, "data.csv", "a,b\n1,2\n3,4\n", "tabular")
    assert staged.columns == ["a", "b"]
    assert [i.label for i in staged.items] == [None, None]
    assert (staged.root / "table.csv").read_text() == "_item,a,b,label\nr000001,1,2,\nr000002,3,4,\n"


def test_tabular_label_column_can_be_named_and_matched_without_case(tmp_path):
    staged = stage(tmp_path, "iris.csv", "width,Species\n1,setosa\n", "tabular", label_column="species")
    assert staged.columns == ["width"]
    assert staged.items[0].label == "setosa"


def test_tabular_jsonl_with_mixed_types_and_missing_fields(tmp_path):
    lines = [
        {"x": 1, "y": 2.5, "flag": True, "label": "a"},
        {"x": -3, "flag": None, "label": 7},
        {"x": 0, "y": 1e-3, "note": "new column", "label": None},
    ]
    staged = stage(tmp_path, "data.jsonl", "".join(json.dumps(v) + "\n" for v in lines) + "\n", "tabular")
    assert staged.columns == ["x", "y", "flag", "note"]
    assert [i.row for i in staged.items] == [
        {"x": "1", "y": "2.5", "flag": "true", "note": None},
        {"x": "-3", "y": None, "flag": None, "note": None},
        {"x": "0", "y": "0.001", "flag": None, "note": "new column"},
    ]
    assert [i.label for i in staged.items] == ["a", "7", None]
    # A JSONL row and the same row read back from table.csv hash alike.
    assert read_staged(kind="tabular", root=staged.root).items == staged.items


def test_tabular_json_array(tmp_path):
    staged = stage(
        tmp_path, "data.json", json.dumps([{"a": 1, "label": "x"}, {"a": 2, "label": "y"}]), "tabular"
    )
    assert [(i.row, i.label) for i in staged.items] == [({"a": "1"}, "x"), ({"a": "2"}, "y")]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("data.tsv", "a\tb\tlabel\n1\t2\tx\n"),
        ("data.csv", "a;b;label\n1;2;x\n"),
        ("data.txt", "a,b,label\n1,2,x\n"),
    ],
)
def test_tabular_delimiters_and_unclaimed_text(tmp_path, name, content):
    staged = stage(tmp_path, name, content, "tabular")
    assert staged.columns == ["a", "b"]
    assert staged.items[0].row == {"a": "1", "b": "2"} and staged.items[0].label == "x"


def test_csv_with_byte_order_mark_crlf_and_header_that_looks_like_a_bmp(tmp_path):
    # "BM" is the BMP signature: text must still be recognised as text.
    data = "\ufeffBMI,age,label\r\n22.5,40,ok\r\n\r\n31,55,high\r\n".encode()
    staged = stage(tmp_path, "health.csv", data, "tabular")
    assert staged.columns == ["BMI", "age"]
    assert [i.label for i in staged.items] == ["ok", "high"]


def test_quoted_fields_with_separators_quotes_and_newlines_round_trip(tmp_path):
    tricky = 'He said "hi", then\r\nleft\rand came back'
    data = 'note,label\n"' + tricky.replace('"', '""') + '",x\n'
    staged = stage(tmp_path, "data.csv", data, "tabular")
    assert staged.items[0].row == {"note": tricky}
    assert read_staged(kind="tabular", root=staged.root).items == staged.items


def test_formula_like_values_are_stored_unchanged(tmp_path):
    # The stored table is the data; escaping is for downloads only.
    staged = stage(tmp_path, "data.csv", "cmd,label\n=1+1,x\n", "tabular")
    assert staged.items[0].row == {"cmd": "=1+1"}
    assert "=1+1" in (staged.root / "table.csv").read_text()


# --- text --------------------------------------------------------------------------------------------


def test_text_csv_with_indian_and_urdu_scripts_round_trips_unchanged(tmp_path):
    texts = [DEVANAGARI, TAMIL, URDU, 'quotes "and", commas\nand a newline', "  spaces kept  ", ""]
    labels = ["hi", "ta", "ur", "en", "", "en"]
    body = "".join(csv_line([t, lab]) for t, lab in zip(texts, labels, strict=True))
    staged = stage(tmp_path, "sentences.csv", "text,label\n" + body, "text")
    assert staged.kind == "text" and staged.columns == []
    assert [i.key for i in staged.items] == [f"t{n:06d}" for n in range(1, 7)]
    assert [i.text for i in staged.items] == texts
    assert [i.label for i in staged.items] == ["hi", "ta", "ur", "en", None, "en"]
    assert staged.items[0].content_hash == sha256_hex(DEVANAGARI.encode())
    assert staged.items[0].size_bytes == len(DEVANAGARI.encode())
    assert files(staged.root) == ["texts.jsonl"]
    raw = (staged.root / "texts.jsonl").read_bytes()
    assert DEVANAGARI.encode() in raw  # stored readable, not \u-escaped
    first = json.loads(raw.split(b"\n")[0])
    assert first == {"_item": "t000001", "text": DEVANAGARI, "label": "hi"}
    assert read_staged(kind="text", root=staged.root).items == staged.items


def test_text_jsonl_with_other_columns_and_unusual_line_separators(tmp_path):
    text = "line one\u2028line two\u2029end"
    data = json.dumps({"id": 1, "text": text, "label": "a"}, ensure_ascii=False) + "\n"
    data += json.dumps({"id": 2, "text": URDU}, ensure_ascii=False) + "\n"
    staged = stage(tmp_path, "data.jsonl", data, "text")
    assert [(i.text, i.label) for i in staged.items] == [(text, "a"), (URDU, None)]
    assert read_staged(kind="text", root=staged.root).items == staged.items


def spans_of(text: str, *found: tuple[str, str]) -> list[dict]:
    """The spans of each (words, label) in text, offsets in code points (Python str indexes)."""
    out = []
    for words, label in found:
        start = text.index(words)
        out.append({"start": start, "end": start + len(words), "label": label})
    return out


def test_text_jsonl_with_spans_round_trips_with_code_point_offsets(tmp_path):
    hindi = "राम ने दिल्ली में किताब पढ़ी।"
    tamil = "சென்னையில் கமலா வேலை செய்கிறார்"
    urdu = "علی کراچی میں رہتا ہے"
    records = [
        {"text": hindi, "label": "hi", "spans": spans_of(hindi, ("दिल्ली", "LOC"), ("राम", "PER"))},  # unsorted
        {"text": tamil, "spans": spans_of(tamil, ("சென்னையில்", "LOC"), ("கமலா", " PER "))},
        {"text": urdu, "label": "ur", "spans": spans_of(urdu, ("علی", "PER"), ("کراچی", "LOC"))},
        {"text": "Nothing to see here.", "label": "en", "spans": []},  # annotated: no span applies
        {"text": "Not annotated at all.", "label": "en"},
        {"text": "Explicitly none.", "spans": None},
    ]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    staged = stage(tmp_path, "ner.jsonl", data, "text")
    hindi_spans, tamil_spans, urdu_spans = (i.spans for i in staged.items[:3])
    assert [s["label"] for s in hindi_spans] == ["PER", "LOC"]  # sorted by offset
    assert [hindi[s["start"]:s["end"]] for s in hindi_spans] == ["राम", "दिल्ली"]
    assert hindi_spans[1] == {"start": 7, "end": 13, "label": "LOC"}  # code points, not bytes
    assert [tamil[s["start"]:s["end"]] for s in tamil_spans] == ["சென்னையில்", "கமலா"]
    assert tamil_spans[1]["label"] == "PER"  # stripped like a label
    assert [urdu[s["start"]:s["end"]] for s in urdu_spans] == ["علی", "کراچی"]
    assert [i.spans for i in staged.items[3:]] == [[], None, None]
    assert staged.items[0].content_hash == sha256_hex(hindi.encode())  # spans are not content

    lines = [json.loads(line) for line in (staged.root / "texts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"_item": "t000001", "text": hindi, "label": "hi", "spans": hindi_spans}
    assert lines[3]["spans"] == []
    assert "spans" not in lines[4] and "spans" not in lines[5]  # no field: the bytes of old versions hold
    assert read_staged(kind="text", root=staged.root).items == staged.items

    # A derived version carries the spans of kept items and takes new ones for others.
    old = read_staged(kind="text", root=staged.root)
    old.items[2].spans = [{"start": 0, "end": 3, "label": "PER"}]
    old.items[4].spans = spans_of(records[4]["text"], ("annotated", "VERB"))
    v2 = stage_items(kind="text", items=old.items[1:], source_root=None, dest=tmp_path / "v2", columns=[])
    back = read_staged(kind="text", root=v2.root)
    assert back.items == v2.items
    assert [i.spans for i in back.items] == [
        tamil_spans, [{"start": 0, "end": 3, "label": "PER"}], [], [{"start": 4, "end": 13, "label": "VERB"}], None,
    ]


def test_a_csv_spans_column_is_an_ignored_column(tmp_path):
    staged = stage(tmp_path, "data.csv", 'text,label,spans\nhello,en,"[]"\n', "text")
    assert staged.items[0].spans is None
    assert json.loads((staged.root / "texts.jsonl").read_text()) == {"_item": "t000001", "text": "hello", "label": "en"}


def test_stage_items_refuses_bad_spans_and_spans_outside_text_items(tmp_path):
    cases = [
        ("text", StagedItem("t1", None, "", 0, text="abc", spans=[{"start": 0, "end": 4, "label": "X"}]),
         'item "t1": span 1 (0–4) is not inside the text'),
        ("text", StagedItem("t1", None, "", 0, text="abcdef", spans=[
            {"start": 0, "end": 3, "label": "X"}, {"start": 2, "end": 5, "label": "Y"}]), "overlap"),
        ("text", StagedItem("t1", None, "", 0, text="abc", spans={"start": 0}), '"spans" must be a list'),
        ("text", StagedItem("t1", None, "", 0, text="abc", spans=[{"start": 0, "end": 1, "label": "\ud800"}]),
         "not valid Unicode"),
        ("tabular", StagedItem("r1", None, "", 0, row={"a": "1"}, spans=[]), 'item "r1" has spans; only text items can'),
    ]
    for kind, item, message in cases:
        dest = tmp_path / "derived" / "v2"
        with pytest.raises(UploadRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
            stage_items(kind=kind, items=[item], source_root=None, dest=dest, columns=["a"] if kind == "tabular" else [])
        assert not (tmp_path / "derived").exists()


def test_text_column_can_be_named(tmp_path):
    staged = stage(tmp_path, "data.csv", "sentence,label\nhello,en\n", "text", text_column="sentence")
    assert staged.items[0].text == "hello"


# --- images ------------------------------------------------------------------------------------------


def test_image_zip_with_class_folders(tmp_path):
    members = {
        "digits/": b"",
        "digits/7/": b"",
        "digits/7/a.png": png_bytes(1),
        "digits/7/b.jpeg": jpeg_bytes(2),
        "digits/3/c.png": png_bytes(3),
        "loose.png": png_bytes(4),
        "__MACOSX/digits/7/._a.png": b"\x00\x05\x16\x07",
        "digits/.DS_Store": b"\x00\x00",
    }
    staged = stage(tmp_path, "digits.zip", zip_bytes(members), "image")
    assert staged.kind == "image" and staged.columns == []
    by_name = {i.original_name: i for i in staged.items}
    assert sorted(by_name) == ["digits/3/c.png", "digits/7/a.png", "digits/7/b.jpeg", "loose.png"]
    assert by_name["digits/7/a.png"].label == "7"
    assert by_name["digits/3/c.png"].label == "3"
    assert by_name["loose.png"].label is None
    jpeg = by_name["digits/7/b.jpeg"]
    assert jpeg.content_hash == sha256_hex(jpeg_bytes(2))
    assert jpeg.key == f"img-{jpeg.content_hash[:16]}"
    assert jpeg.file_path == image_relpath(jpeg.key, ".jpg")
    assert re.fullmatch(rf"images/[0-9a-f]{{2}}/{jpeg.key}\.jpg", jpeg.file_path)
    assert (staged.root / jpeg.file_path).read_bytes() == jpeg_bytes(2)
    assert jpeg.size_bytes == len(jpeg_bytes(2))
    assert files(staged.root) == sorted(["labels.csv", *(i.file_path for i in staged.items)])
    lines = (staged.root / "labels.csv").read_text().splitlines()
    assert lines[0] == "_item,file,label"
    assert len(lines) == 5
    assert read_staged(kind="image", root=staged.root).items == [
        StagedItem(i.key, i.label, i.content_hash, i.size_bytes, file_path=i.file_path) for i in staged.items
    ]


def test_image_zip_with_labels_csv(tmp_path):
    members = {
        "data/images/a.png": png_bytes(1),
        "data/images/b.png": png_bytes(2),
        "data/images/c.png": png_bytes(3),
        "data/labels.csv": b"file,label\nimages/a.png,cat\n./images/b.png,\n",
    }
    staged = stage(tmp_path, "pets.zip", zip_bytes(members), "image")
    labels = {i.original_name: i.label for i in staged.items}
    # labels.csv decides, not the folder; listed without a label or not listed → unlabelled.
    assert labels == {"data/images/a.png": "cat", "data/images/b.png": None, "data/images/c.png": None}


def test_exact_duplicate_images_get_distinct_keys(tmp_path):
    members = {"cat/a.png": png_bytes(1), "dog/b.png": png_bytes(1)}
    staged = stage(tmp_path, "pets.zip", zip_bytes(members), "image")
    first, second = staged.items
    assert first.content_hash == second.content_hash
    assert second.key == first.key + "-2"
    assert (first.label, second.label) == ("cat", "dog")
    assert len(files(staged.root / "images")) == 2


def test_animated_gif_webp_and_bmp_are_accepted(tmp_path):
    def encode(fmt: str, **kwargs) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), "red").save(buffer, format=fmt, **kwargs)
        return buffer.getvalue()

    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    members = {
        "x/a.gif": gif.getvalue(),
        "x/b.webp": encode("WEBP"),
        "x/c.bmp": encode("BMP"),
        "x/d.tif": encode("TIFF"),
    }
    staged = stage(tmp_path, "misc.zip", zip_bytes(members), "image")
    assert sorted(Path(i.file_path).suffix for i in staged.items) == [".bmp", ".gif", ".tif", ".webp"]


# --- scikit-learn ------------------------------------------------------------------------------------


def test_sklearn_digits_become_images(tmp_path):
    staged = stage_sklearn(name="digits", dest=tmp_path / "digits")
    assert staged.kind == "image"
    assert len(staged.items) == 1797
    assert {i.label for i in staged.items} == {str(d) for d in range(10)}
    assert len({i.key for i in staged.items}) == 1797
    first = staged.items[0]
    assert first.original_name == "digits/0001.png"
    with Image.open(staged.root / first.file_path) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (8, 8)
        pixels = list(im.tobytes())
    # 0–16 scaled to 0–255: the first digit's 15s are 239, its zeros stay 0.
    assert set(pixels) <= {round(v * 255 / 16) for v in range(17)}
    assert min(pixels) == 0 and max(pixels) == 239
    assert len(files(staged.root / "images")) == 1797


@pytest.mark.parametrize(
    ("name", "count", "n_columns", "first_label", "first_column"),
    [
        ("iris", 150, 4, "setosa", "sepal length (cm)"),
        ("wine", 178, 13, "class_0", "alcohol"),
        ("breast_cancer", 569, 30, "malignant", "mean radius"),
    ],
)
def test_sklearn_tables(tmp_path, name, count, n_columns, first_label, first_column):
    staged = stage_sklearn(name=name, dest=tmp_path / name)
    assert staged.kind == "tabular"
    assert len(staged.items) == count
    assert len(staged.columns) == n_columns and staged.columns[0] == first_column
    assert staged.items[0].label == first_label
    assert staged.items[0].key == "r000001"
    assert read_staged(kind="tabular", root=staged.root).items == staged.items


def test_sklearn_iris_values(tmp_path):
    staged = stage_sklearn(name="iris", dest=tmp_path / "iris")
    assert staged.items[0].row == {
        "sepal length (cm)": "5.1",
        "sepal width (cm)": "3.5",
        "petal length (cm)": "1.4",
        "petal width (cm)": "0.2",
    }
    assert {i.label for i in staged.items} == {"setosa", "versicolor", "virginica"}


def test_unknown_sklearn_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scikit-learn dataset"):
        stage_sklearn(name="mnist", dest=tmp_path / "x")
    assert not (tmp_path / "x").exists()


# --- determinism -------------------------------------------------------------------------------------


def test_staging_is_byte_for_byte_deterministic(tmp_path):
    csv_data = "a,b,label\n1,x,p\n2,,q\n"
    text_data = "text,label\n" + csv_line([DEVANAGARI, "hi"]) + csv_line([URDU, "ur"])
    zip_data = zip_bytes({"7/a.png": png_bytes(1), "3/b.png": png_bytes(2)})
    for name, data, kind in (
        ("t.csv", csv_data, "tabular"),
        ("x.csv", text_data, "text"),
        ("i.zip", zip_data, "image"),
    ):
        one = stage(tmp_path, name, data, kind, dest=f"{kind}-1")
        two = stage(tmp_path, name, data, kind, dest=f"{kind}-2")
        assert tree_bytes(one.root) == tree_bytes(two.root)
        assert one.items == two.items
    assert tree_bytes(stage_sklearn(name="digits", dest=tmp_path / "d1").root) == tree_bytes(
        stage_sklearn(name="digits", dest=tmp_path / "d2").root
    )


def test_member_order_in_the_zip_does_not_matter(tmp_path):
    members = {"7/a.png": png_bytes(1), "3/b.png": png_bytes(2), "c.png": png_bytes(3)}
    one = stage(tmp_path, "a.zip", zip_bytes(members), "image", dest="one")
    two = stage(tmp_path, "a.zip", zip_bytes(dict(reversed(members.items()))), "image", dest="two")
    assert tree_bytes(one.root) == tree_bytes(two.root)


# --- deriving versions: stage_items and read_staged ---------------------------------------------------


def test_stage_items_round_trips_a_tabular_version(tmp_path):
    v1 = stage(tmp_path, "data.csv", "a,b,label\n1,x,p\n2,,q\n3,z,\n", "tabular")
    old = read_staged(kind="tabular", root=v1.root)
    assert old.items == v1.items and old.columns == ["a", "b"]
    again = stage_items(
        kind="tabular", items=old.items, source_root=v1.root, dest=tmp_path / "again", columns=old.columns
    )
    assert tree_bytes(again.root) == tree_bytes(v1.root)

    items = [i for i in old.items if i.key != "r000002"]
    items[0].label = "relabelled"
    added = stage(tmp_path, "more.csv", "a,b,label\n9,new,p\n", "tabular", dest="added")
    items += assign_new_keys(kind="tabular", items=added.items, taken=[i.key for i in old.items])
    v2 = stage_items(kind="tabular", items=items, source_root=None, dest=tmp_path / "v2", columns=old.columns)
    assert [(i.key, i.label) for i in v2.items] == [
        ("r000001", "relabelled"),
        ("r000003", None),
        ("r000004", "p"),
    ]
    assert read_staged(kind="tabular", root=v2.root).items == v2.items
    # Keys never change for kept items, so their hashes don't either.
    assert v2.items[0].content_hash == v1.items[0].content_hash


def test_stage_items_round_trips_a_text_version(tmp_path):
    v1 = stage(tmp_path, "data.csv", "text,label\n" + csv_line([TAMIL, "ta"]) + csv_line([URDU, ""]), "text")
    old = read_staged(kind="text", root=v1.root)
    old.items[1].label = "ur"
    v2 = stage_items(kind="text", items=old.items, source_root=None, dest=tmp_path / "v2", columns=[])
    back = read_staged(kind="text", root=v2.root)
    assert [(i.key, i.text, i.label) for i in back.items] == [
        ("t000001", TAMIL, "ta"),
        ("t000002", URDU, "ur"),
    ]


def test_stage_items_copies_images_from_several_roots(tmp_path):
    v1 = stage(tmp_path, "a.zip", zip_bytes({"7/a.png": png_bytes(1), "3/b.png": png_bytes(2)}), "image")
    old = read_staged(kind="image", root=v1.root)
    new = stage(
        tmp_path,
        "b.zip",
        zip_bytes({"5/c.png": png_bytes(3), "7/dup.png": png_bytes(1)}),
        "image",
        dest="new",
    )
    added = assign_new_keys(kind="image", items=new.items, taken=[i.key for i in old.items])
    assert added[1].key == old.items[1].key + "-2"  # an exact duplicate of an existing image

    old.items[0].label = None
    v2 = stage_items(
        kind="image",
        items=old.items + added,
        source_root=[v1.root, new.root],
        dest=tmp_path / "v2",
        columns=[],
    )
    back = read_staged(kind="image", root=v2.root)
    assert back.items == [replace_origin(i) for i in v2.items]
    assert [i.label for i in back.items] == [None, "7", "5", "7"]
    assert files(v2.root) == sorted(["labels.csv", *(i.file_path for i in v2.items)])
    for item in v2.items:
        assert sha256_hex((v2.root / item.file_path).read_bytes()) == item.content_hash


def replace_origin(item: StagedItem) -> StagedItem:
    return StagedItem(item.key, item.label, item.content_hash, item.size_bytes, file_path=item.file_path)


def test_stage_items_refuses_bad_item_lists_and_leaves_nothing(tmp_path):
    base = stage(tmp_path, "a.zip", zip_bytes({"7/a.png": png_bytes(1)}), "image")
    item = base.items[0]
    cases = [
        ("image", [item, item], f'item key "{item.key}" appears twice'),
        (
            "image",
            [StagedItem("../x", None, "", 0, file_path=item.file_path)],
            '"../x" is not a valid item key',
        ),
        ("image", [StagedItem("k", None, "", 0, file_path="../../etc/passwd.png")], "unusable file path"),
        (
            "image",
            [StagedItem("k", None, "0" * 64, 0, file_path=item.file_path)],
            "does not match its content hash",
        ),
        ("image", [StagedItem("k", None, "", 0, file_path="images/missing.png")], "was not found"),
        ("tabular", [StagedItem("r1", None, "", 0, row={"zzz": "1"})], "unknown columns: zzz"),
        ("text", [StagedItem("t1", "\ud800", "", 0, text="x")], "not valid Unicode"),
        ("text", [StagedItem("t1", None, "", 0, text="bad \udfff")], "not valid Unicode"),
    ]
    for kind, items, message in cases:
        dest = tmp_path / "derived" / "v2"
        with pytest.raises(UploadRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
            stage_items(
                kind=kind,
                items=items,
                source_root=base.root,
                dest=dest,
                columns=["a"] if kind == "tabular" else [],
            )
        assert not (tmp_path / "derived").exists()


def test_staging_into_a_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    upload = tmp_path / "data.csv"
    upload.write_text("a,label\n1,x\n")
    with pytest.raises(ValueError, match="must be new or empty"):
        stage_upload(path=upload, original_name="data.csv", kind="tabular", dest=tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


# --- CSV safety for downloads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tdata", "'\tdata"),
        ("\rdata", "'\rdata"),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("-2e-3", "-2e-3"),
        ("-.5", "-.5"),
        ("1=1", "1=1"),
        ("plain", "plain"),
        ("", ""),
        (DEVANAGARI, DEVANAGARI),
    ],
)
def test_escape_formula(value, expected):
    assert escape_formula(value) == expected


def test_write_csv_escapes_text_keeps_numbers_and_quotes_safely():
    out = io.StringIO(newline="")
    write_csv(
        [["=1+1", -1.5, None], {"name": "a,b", "score": 3, "note": "x\ry"}], out, ["name", "score", "note"]
    )
    assert out.getvalue() == 'name,score,note\n\'=1+1,-1.5,\n"a,b",3,"x\ry"\n'


def test_large_members_are_streamed_through_a_scratch_file_with_the_same_result(tmp_path, monkeypatch):
    from datasets.ingest import images

    members = {"7/a.png": png_bytes(1), "3/b.jpg": jpeg_bytes(2)}
    in_memory = stage(tmp_path, "a.zip", zip_bytes(members), "image", dest="memory")
    monkeypatch.setattr(images, "IN_MEMORY_BYTES", 0)
    streamed = stage(tmp_path, "a.zip", zip_bytes(members), "image", dest="streamed")
    assert tree_bytes(streamed.root) == tree_bytes(in_memory.root)
    assert streamed.items == in_memory.items
    broken = png_bytes(3, size=(64, 64))
    with pytest.raises(UploadRejected, match=r"^1 file is not a valid image: 7/x.png \(truncated\)$"):
        stage(tmp_path, "b.zip", zip_bytes({**members, "7/x.png": broken[:200]}), "image", dest="broken")
    assert not (tmp_path / "broken").exists()


def test_images_written_and_decoded_by_worker_processes_give_the_same_version(tmp_path, monkeypatch):
    from datasets.ingest import images

    members = {f"{n % 3}/{n:02d}.png": png_bytes(n) for n in range(12)} | {"1/j.jpg": jpeg_bytes(40)}
    in_line = stage(tmp_path, "a.zip", zip_bytes(members), "image", dest="in-line")
    # Large uploads hand each image to a worker process, which writes its file and decodes it.
    monkeypatch.setattr(images, "PARALLEL_FROM", 1)
    monkeypatch.setattr(images, "DECODE_BATCH", 4)
    parallel = stage(tmp_path, "a.zip", zip_bytes(members), "image", dest="parallel")
    assert tree_bytes(parallel.root) == tree_bytes(in_line.root)
    assert parallel.items == in_line.items
    assert files(parallel.root) == sorted(["labels.csv", *(i.file_path for i in parallel.items)])
    assert all((parallel.root / i.file_path).read_bytes() == members[i.original_name] for i in parallel.items)
    # A bad image found in a worker fails the upload with its name, later bad ones are still
    # named, and no folder is left behind.
    broken = png_bytes(50, size=(64, 64))[:200]
    with pytest.raises(
        UploadRejected, match=r"^2 files are not valid images: 0/03.png \(truncated\), 2/11.png \(truncated\)$"
    ):
        stage(tmp_path, "b.zip", zip_bytes({**members, "0/03.png": broken, "2/11.png": broken}), "image", dest="bad")
    assert not (tmp_path / "bad").exists()
