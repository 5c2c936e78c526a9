"""The data-understanding profile: counts, duplicates, warnings, figures, and sealed items left out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.charts import profile_figures
from datasets.ingest import stage_upload
from datasets.profiling import profile_version, profile_warnings
from tests.datasets.fixtures import zip_bytes

# --- normalised version folders, written the way the normaliser writes them -------------------


def write_table(root: Path, header: list[str], rows: list[list]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "table.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["_item", *header, "label"])
        writer.writerows(rows)
    return root


def write_texts(root: Path, records: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    (root / "texts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def pattern(seed: int, size=(64, 64), shift: int = 0) -> Image.Image:
    """A blocky picture: distinct seeds give perceptually distinct images."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 200, (8, 8, 3)).astype(np.int16) + shift
    return Image.fromarray(np.clip(blocks, 0, 255).astype(np.uint8)).resize(size, Image.NEAREST)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def write_images(root: Path, items: list[tuple[str, str, bytes | None, str]]) -> Path:
    """items: (key, file name, bytes or None for a file that is absent, label). As the layout
    does, labels.csv names each file relative to the version's folder: images/<name>."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["_item", "file", "label"])
        for key, name, data, label in items:
            if data is not None:
                (root / "images" / name).write_bytes(data)
            writer.writerow([key, f"images/{name}", label])
    return root


def codes(warnings: list[dict]) -> dict[str, dict]:
    return {w["code"]: w for w in warnings}


def leaves_nothing_of(profile: dict, strings: list[str]) -> None:
    warnings = profile_warnings(profile)
    figures = profile_figures(profile)
    everything = json.dumps(profile) + json.dumps(warnings) + json.dumps(figures)
    for text in strings:
        assert text not in everything, text


def comparable(profile: dict) -> dict:
    return {
        k: v for k, v in profile.items() if k not in ("elapsed_seconds", "rows_per_second", "excluded_items")
    }


# --- tabular ---------------------------------------------------------------------------------


@pytest.fixture
def skewed_table(tmp_path) -> Path:
    rows = [[f"a{i}", i % 17, f"{i * 0.37:.2f}", "north" if i % 3 else "south", "big"] for i in range(40)]
    rows += [[f"b{i}", i % 5, f"{i * 1.5:.2f}", "east", "small"] for i in range(8)]
    return write_table(tmp_path / "skewed", ["count", "weight", "region"], rows)


def test_class_balance_and_imbalance_warning_on_a_skewed_table(skewed_table):
    profile = profile_version(kind="tabular", root=skewed_table)

    assert profile["item_count"] == 48
    assert profile["labelled_count"] == 48 and profile["unlabelled_count"] == 0
    assert profile["class_balance"] == {"big": 40, "small": 8}
    warning = codes(profile_warnings(profile))["class_imbalance"]
    assert warning["severity"] == "high"
    assert warning["message"].startswith("class small has 5x fewer items than class big")


def test_mild_imbalance_is_a_medium_warning_and_balance_none(tmp_path):
    mild = write_table(tmp_path / "mild", ["x"], [[f"k{i}", i, "a" if i < 30 else "b"] for i in range(50)])
    assert (
        codes(profile_warnings(profile_version(kind="tabular", root=mild)))["class_imbalance"]["severity"]
        == "medium"
    )
    even = write_table(tmp_path / "even", ["x"], [[f"k{i}", i, "ab"[i % 2]] for i in range(50)])
    assert "class_imbalance" not in codes(profile_warnings(profile_version(kind="tabular", root=even)))


def test_missing_and_unparsable_values_are_counted_per_column(tmp_path):
    rows = []
    for i in range(20):
        amount = {3: "", 7: "NA", 11: "abc", 15: "#VALUE!"}.get(i, str(i * 2.5))
        colour = "" if i in (0, 1, 2) else ["red", "green"][i % 2]
        rows.append([f"r{i}", amount, colour, "" if i == 19 else "yes"])
    root = write_table(tmp_path / "dirty", ["amount", "colour"], rows)

    profile = profile_version(kind="tabular", root=root)

    columns = {c["name"]: c for c in profile["columns"]}
    assert columns["amount"]["type"] == "numeric"
    assert profile["missing"] == {"amount": 2, "colour": 3}
    assert profile["unparsable"] == {"amount": 2}
    assert set(columns["amount"]["unparsable_examples"]) == {"abc", "#VALUE!"}
    assert columns["amount"]["stats"]["count"] == 16
    assert profile["unlabelled_count"] == 1
    found = codes(profile_warnings(profile))
    assert "amount" in found["unparsable_values"]["message"]
    assert "missing_values" in found and "unlabelled_items" in found


def test_column_types_ranges_and_histograms_that_sum_to_the_row_count(tmp_path):
    rng = np.random.default_rng(7)
    rows = []
    for i in range(300):
        rows.append(
            [
                f"k{i}",
                f"{rng.normal(50, 10):.3f}",
                int(rng.integers(0, 5)),
                ["true", "false"][i % 2],
                f"2021-03-{1 + i % 28:02d}",
                ["apple", "pear", "plum"][i % 3],
                f"free text number {i} written by someone who likes long sentences",
                "same",
                "xy"[i % 2],
            ]
        )
    root = write_table(tmp_path / "types", ["height", "stars", "ok", "day", "fruit", "note", "fixed"], rows)

    profile = profile_version(kind="tabular", root=root)

    columns = {c["name"]: c for c in profile["columns"]}
    assert {n: c["type"] for n, c in columns.items()} == {
        "height": "numeric",
        "stars": "numeric",
        "ok": "boolean",
        "day": "datetime",
        "fruit": "categorical",
        "note": "text",
        "fixed": "categorical",
    }
    for name in ("height", "stars"):
        stats = columns[name]["stats"]
        histogram = stats["histogram"]
        assert sum(histogram["counts"]) == 300
        assert len(histogram["counts"]) <= 30 and len(histogram["edges"]) == len(histogram["counts"]) + 1
        assert histogram["edges"][0] <= stats["min"] <= stats["max"] <= histogram["edges"][-1]
    assert columns["stars"]["stats"]["min"] >= 0 and columns["stars"]["stats"]["max"] <= 4
    assert 40 < columns["height"]["stats"]["mean"] < 60
    assert columns["ok"]["true"] == columns["ok"]["false"] == 150
    assert columns["day"]["min"].startswith("2021-03-01") and columns["day"]["max"].startswith("2021-03-28")
    assert [t["value"] for t in columns["fruit"]["top"]] == ["apple", "pear", "plum"]
    assert sum(columns["note"]["length"]["histogram"]["counts"]) == 300
    assert columns["fixed"]["constant"]
    assert "fixed" in codes(profile_warnings(profile))["constant_columns"]["message"]
    json.dumps(profile, allow_nan=False)


def test_exact_and_near_duplicate_rows_and_their_conflicting_labels(tmp_path):
    rows = [[f"u{i}", i, f"{i / 7:.6f}", f"city{i}", "a" if i % 2 else "b"] for i in range(30)]
    rows += [
        ["copy1", 3, f"{3 / 7:.6f}", "city3", "a"],  # exact copy of u3 (label a): agrees
        ["copy2", 4, f"{4 / 7:.6f}", "city4", "a"],  # exact copy of u4 (label b): conflicts
        ["near1", 5, f"{5 / 7 + 1e-7:.7f}", "CITY5", "a"],  # u5 after rounding and case folding
    ]
    root = write_table(tmp_path / "dups", ["n", "x", "city"], rows)

    profile = profile_version(kind="tabular", root=root)

    exact, near = profile["duplicates"]["exact"], profile["duplicates"]["near"]
    assert exact["groups"] == 2 and exact["redundant"] == 2
    assert sorted(sorted(g["keys"]) for g in exact["examples"]) == [["copy1", "u3"], ["copy2", "u4"]]
    assert near["groups"] == 1 and sorted(near["examples"][0]["keys"]) == ["near1", "u5"]
    conflicts = profile["conflicting_labels"]
    assert conflicts["groups"] == 1
    assert sorted(conflicts["examples"][0]["keys"]) == ["copy2", "u4"]
    assert conflicts["examples"][0]["labels"] == {"a": 1, "b": 1}
    found = codes(profile_warnings(profile))
    assert {"duplicates", "near_duplicates", "conflicting_labels"} <= set(found)
    assert found["conflicting_labels"]["severity"] == "high"


def test_tiny_classes_and_unlabelled_items_are_warned_about(tmp_path):
    rows = [[f"k{i}", i, "common"] for i in range(20)] + [["r1", 100, "rare"], ["u1", 101, ""]]
    profile = profile_version(kind="tabular", root=write_table(tmp_path / "tiny", ["v"], rows))

    found = codes(profile_warnings(profile))
    assert "rare (1)" in found["tiny_classes"]["message"]
    assert found["unlabelled_items"]["message"].startswith("1 of 22 items")


def test_sealed_items_leave_no_trace_in_a_tabular_profile(tmp_path):
    header = ["n", "x", "colour", "flag", "spare"]
    public = [
        [
            f"k{i}",
            i,
            f"{i * 1.25}",
            "red" if i % 2 else "blue",
            "True" if i % 4 else "False",
            "",
            "ab"[i % 3 == 0],
        ]
        for i in range(30)
    ]
    # Sealed rows that, were they profiled, would change dtypes, duplicates, conflicts and ranges.
    sealed = [
        ["SEALED-KEY-1", 3, "3.75", "red", "True", "", "SEALED-LABEL-1"],  # a copy of k3 with another label
        ["SEALED-KEY-2", "oops", "not-a-number", "SEALED-VALUE-2", "yes", "SEALED-VALUE-5", "SEALED-LABEL-2"],
        ["SEALED-KEY-3", "", "", "", "", "", "SEALED-LABEL-3"],
        ["SEALED-KEY-4", 4, "5.0", "blue", "False", "", "a"],  # a copy of k4
        ["SEALED-KEY-5", 1e9, "-1e9", "red", "True", "", "b"],
    ]
    mixed = write_table(tmp_path / "mixed", header, public[:10] + sealed + public[10:])
    clean = write_table(tmp_path / "clean", header, public)
    keys = frozenset(row[0] for row in sealed)

    profile = profile_version(kind="tabular", root=mixed, exclude_keys=keys | {"not-in-the-data"})

    assert profile["excluded_items"] == 5
    assert profile["item_count"] == 30
    leaves_nothing_of(profile, [*keys, "SEALED-LABEL", "SEALED-VALUE", "oops", "not-a-number"])
    # Not a single count differs from the profile of the same data without the sealed rows.
    assert comparable(profile) == comparable(profile_version(kind="tabular", root=clean))


def test_a_numeric_label_is_summarised_not_balanced(tmp_path):
    rows = [[f"k{i}", i % 7, f"{100 + i * 0.5:.1f}"] for i in range(120)]
    profile = profile_version(kind="tabular", root=write_table(tmp_path / "regression", ["x"], rows))

    assert profile["label_kind"] == "numeric"
    assert sum(profile["label_stats"]["histogram"]["counts"]) == 120
    found = codes(profile_warnings(profile))
    assert "class_imbalance" not in found and "tiny_classes" not in found
    assert "label_histogram" in profile_figures(profile) and "class_balance" not in profile_figures(profile)


def test_an_empty_column_is_reported(tmp_path):
    rows = [[f"k{i}", i, "", "ab"[i % 2]] for i in range(10)]
    profile = profile_version(kind="tabular", root=write_table(tmp_path / "empty", ["x", "nothing"], rows))

    column = {c["name"]: c for c in profile["columns"]}["nothing"]
    assert column["empty"] and column["missing"] == 10
    found = codes(profile_warnings(profile))
    assert "nothing" in found["empty_columns"]["message"]
    assert found["missing_values"]["severity"] == "high"


def test_progress_is_reported_and_reaches_100(skewed_table):
    calls = []
    profile_version(
        kind="tabular", root=skewed_table, report=lambda percent, message: calls.append((percent, message))
    )

    percents = [p for p, _ in calls]
    assert len(calls) >= 3
    assert percents == sorted(percents) and percents[-1] == 100
    assert all(isinstance(m, str) and m for _, m in calls)


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset kind"):
        profile_version(kind="audio", root=tmp_path)


# --- text ------------------------------------------------------------------------------------


def test_text_lengths_duplicates_near_duplicates_and_conflicts(tmp_path):
    records = [
        {
            "_item": f"t{i}",
            "text": f"review number {i} " + "word " * (i % 9),
            "label": "pos" if i % 4 else "neg",
        }
        for i in range(40)
    ]
    records += [
        {"_item": "same", "text": "review number 1 word ", "label": "pos"},  # exact copy of t1
        {"_item": "loud", "text": "Review, number 2 —   WORD WORD!", "label": "neg"},  # near t2, other label
        {"_item": "blank", "text": "   ", "label": "pos"},
        {"_item": "nolabel", "text": "Привет, мир", "label": None},
    ]
    root = write_texts(tmp_path / "texts", records)

    profile = profile_version(kind="text", root=root)

    assert profile["item_count"] == 44
    assert profile["missing"] == {"text": 1}
    assert profile["unlabelled_count"] == 1
    assert sorted(profile["duplicates"]["exact"]["examples"][0]["keys"]) == ["same", "t1"]
    near_keys = [sorted(g["keys"]) for g in profile["duplicates"]["near"]["examples"]]
    assert ["loud", "t2"] in near_keys
    conflict_keys = [sorted(g["keys"]) for g in profile["conflicting_labels"]["examples"]]
    assert ["loud", "t2"] in conflict_keys
    chars, words = profile["text"]["chars"], profile["text"]["words"]
    assert sum(chars["histogram"]["counts"]) == sum(words["histogram"]["counts"]) == 43
    assert words["min"] == 2  # "Привет, мир"
    assert set(profile["text"]["scripts"]) == {"Latin", "Cyrillic"}
    assert {"duplicates", "near_duplicates", "conflicting_labels", "missing_values"} <= set(
        codes(profile_warnings(profile))
    )


def test_sealed_items_leave_no_trace_in_a_text_profile(tmp_path):
    public = [
        {"_item": f"t{i}", "text": f"text {i} " * (1 + i % 4), "label": ["a", "b", "c"][i % 3]}
        for i in range(30)
    ]
    sealed = [
        {"_item": "SEALED-KEY-1", "text": public[0]["text"], "label": "SEALED-LABEL-1"},
        {
            "_item": "SEALED-KEY-2",
            "text": "SEALED TEXT that is much longer than any other " * 20,
            "label": "SEALED-LABEL-2",
        },
        {"_item": "SEALED-KEY-3", "text": None, "label": "SEALED-LABEL-3"},
    ]
    mixed = write_texts(tmp_path / "mixed", sealed + public)
    clean = write_texts(tmp_path / "clean", public)
    keys = frozenset(r["_item"] for r in sealed)

    profile = profile_version(kind="text", root=mixed, exclude_keys=keys)

    assert profile["excluded_items"] == 3 and profile["item_count"] == 30
    leaves_nothing_of(profile, [*keys, "SEALED-LABEL", "SEALED TEXT"])
    assert comparable(profile) == comparable(profile_version(kind="text", root=clean))


# --- images ----------------------------------------------------------------------------------


@pytest.fixture
def image_version(tmp_path) -> Path:
    first = png_bytes(pattern(1))
    items = [
        (f"i{i}", f"img{i}.png", png_bytes(pattern(10 + i)), "cat" if i % 2 else "dog") for i in range(8)
    ]
    items += [
        ("copy", "copy.png", first, "dog"),
        ("orig", "orig.png", first, "cat"),  # same bytes as copy.png, another label
        ("bright", "bright.png", png_bytes(pattern(1, shift=4)), "cat"),  # near orig
        ("wide", "wide.jpg", None, "dog"),
        ("grey", "grey.png", png_bytes(pattern(99).convert("L")), "dog"),
        ("broken", "broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cat"),
        ("cut", "cut.png", png_bytes(pattern(5))[:120], "dog"),
        ("gone", "gone.png", None, "cat"),
    ]
    root = write_images(tmp_path / "images", [it for it in items if it[0] != "wide"])
    buffer = io.BytesIO()
    pattern(3, size=(96, 48)).save(buffer, "JPEG")
    (root / "images" / "wide.jpg").write_bytes(buffer.getvalue())
    with (root / "labels.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(["wide", "images/wide.jpg", "dog"])
    return root


def test_corrupt_and_missing_images_are_named_in_the_warning(image_version):
    profile = profile_version(kind="image", root=image_version)

    assert profile["item_count"] == 16
    named = {f["file"] for f in profile["corrupt_files"]["files"]}
    assert named == {"images/broken.png", "images/cut.png", "images/gone.png"}
    warning = codes(profile_warnings(profile))["corrupt_files"]
    assert warning["severity"] == "high"
    assert warning["message"].startswith("3 files are not valid images:")
    assert all(name in warning["message"] for name in named)


def test_image_sizes_modes_formats_duplicates_and_conflicts(image_version):
    profile = profile_version(kind="image", root=image_version)

    images = profile["images"]
    assert images["readable"] == 13
    assert {(s["width"], s["height"]): s["count"] for s in images["sizes"]} == {(64, 64): 12, (96, 48): 1}
    assert images["modes"] == {"RGB": 12, "L": 1}
    assert images["formats"] == {"PNG": 12, "JPEG": 1}
    assert sum(images["width"]["histogram"]["counts"]) == 13
    exact = profile["duplicates"]["exact"]
    assert [sorted(g["keys"]) for g in exact["examples"]] == [["copy", "orig"]]
    near = profile["duplicates"]["near"]
    assert [sorted(g["keys"]) for g in near["examples"]] == [["bright", "copy", "orig"]]
    conflict = profile["conflicting_labels"]["examples"][0]
    assert sorted(conflict["keys"]) == ["bright", "copy", "orig"]
    assert conflict["labels"] == {"cat": 2, "dog": 1}


def test_sealed_items_leave_no_trace_in_an_image_profile(tmp_path):
    public = [(f"i{i}", f"img{i}.png", png_bytes(pattern(20 + i)), "ab"[i % 2]) for i in range(10)]
    sealed = [
        ("SEALED-KEY-1", "SEALED-FILE-1.png", b"not an image", "SEALED-LABEL-1"),
        ("SEALED-KEY-2", "SEALED-FILE-2.png", png_bytes(pattern(20)), "SEALED-LABEL-2"),  # copy of i0
        ("SEALED-KEY-3", "SEALED-FILE-3.png", png_bytes(pattern(77, size=(33, 17))), "SEALED-LABEL-3"),
        ("SEALED-KEY-4", "SEALED-FILE-4.png", None, "SEALED-LABEL-4"),
    ]
    mixed = write_images(tmp_path / "mixed", sealed + public)
    clean = write_images(tmp_path / "clean", public)
    keys = frozenset(s[0] for s in sealed)

    profile = profile_version(kind="image", root=mixed, exclude_keys=keys)

    assert profile["excluded_items"] == 4 and profile["item_count"] == 10
    leaves_nothing_of(profile, [*keys, "SEALED-LABEL", "SEALED-FILE"])
    assert comparable(profile) == comparable(profile_version(kind="image", root=clean))


def test_an_uploaded_image_zip_is_profiled_from_the_layout_staging_wrote(tmp_path):
    members = {f"{'cat' if i % 3 else 'dog'}/{i:02d}.png": png_bytes(pattern(30 + i)) for i in range(12)}
    upload = tmp_path / "pets.zip"
    upload.write_bytes(zip_bytes(members))
    staged = stage_upload(path=upload, original_name="pets.zip", kind="image", dest=tmp_path / "v1")

    profile = profile_version(kind="image", root=staged.root)

    assert profile["item_count"] == 12
    assert profile["corrupt_files"]["count"] == 0
    assert profile["images"]["readable"] == 12
    assert profile["images"]["sizes"] == [{"width": 64, "height": 64, "count": 12}]
    assert profile["class_balance"] == {"cat": 8, "dog": 4}
    assert "corrupt_files" not in codes(profile_warnings(profile))


def test_a_file_named_outside_the_images_folder_is_not_read(tmp_path):
    root = write_images(tmp_path / "v", [("a", "a.png", png_bytes(pattern(1)), "x")])
    (root / "secret.png").write_bytes(png_bytes(pattern(2)))
    with (root / "labels.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(["b", "secret.png", "x"])
        csv.writer(fh).writerow(["c", "images/../../outside.png", "x"])

    profile = profile_version(kind="image", root=root)

    assert profile["images"]["readable"] == 1
    reasons = {f["file"]: f["reason"] for f in profile["corrupt_files"]["files"]}
    assert reasons == {
        "secret.png": "outside the images folder",
        "images/../../outside.png": "outside the images folder",
    }


# --- warnings and figures --------------------------------------------------------------------


def test_warnings_are_ranked_by_severity_then_magnitude(tmp_path):
    rows = [[f"k{i}", "" if i < 8 else i, "" if i < 2 else i, "a" if i < 45 else "b"] for i in range(50)]
    profile = profile_version(kind="tabular", root=write_table(tmp_path / "rank", ["p", "q"], rows))

    warnings = profile_warnings(profile)
    ranks = [{"high": 0, "medium": 1, "low": 2}[w["severity"]] for w in warnings]
    assert ranks == sorted(ranks)
    missing = [w["message"] for w in warnings if w["code"] == "missing_values"]
    assert missing[0].startswith("column p has 8") and missing[1].startswith("column q has 2")
    assert all(set(w) == {"severity", "code", "message"} for w in warnings)


def test_figures_are_plotly_json_for_every_kind(skewed_table, image_version, tmp_path):
    texts = write_texts(
        tmp_path / "t", [{"_item": f"t{i}", "text": "w " * i, "label": "x"} for i in range(1, 30)]
    )
    profiles = {
        "tabular": profile_version(kind="tabular", root=skewed_table),
        "text": profile_version(kind="text", root=texts),
        "image": profile_version(kind="image", root=image_version),
    }
    expected = {
        "tabular": {"class_balance", "histogram:count", "histogram:weight"},
        "text": {"class_balance", "text_length", "text_words"},
        "image": {"class_balance", "image_sizes"},
    }
    for kind, profile in profiles.items():
        figures = profile_figures(profile)
        assert expected[kind] <= set(figures), kind
        for name, text in figures.items():
            figure = json.loads(text)
            assert figure["data"], name
            assert figure["layout"]["paper_bgcolor"] == "rgba(0,0,0,0)"
    balance = json.loads(profile_figures(profiles["tabular"])["class_balance"])
    assert balance["data"][0]["x"] == ["big", "small"] and balance["data"][0]["y"] == [40, 8]
    assert balance["data"][0]["marker"]["color"] == "#0f766e"


def test_missing_values_figure_and_at_most_twelve_histograms(tmp_path):
    header = [f"c{j}" for j in range(15)]
    rows = [[f"k{i}", *[("" if (i + j) % 10 == 0 else i * j) for j in range(15)], "l"] for i in range(40)]
    profile = profile_version(kind="tabular", root=write_table(tmp_path / "wide", header, rows))

    figures = profile_figures(profile)
    assert len([n for n in figures if n.startswith("histogram:")]) == 12
    missing = json.loads(figures["missing_values"])
    assert sum(missing["data"][0]["y"]) == sum(profile["missing"].values())
