"""Hostile and broken uploads: each is rejected with a message that says what is wrong, quickly,
and leaves nothing behind — not the staging folder, not a parent made for it, not a file outside it."""

from __future__ import annotations

import stat
import time
import zipfile
from pathlib import Path

import pytest

from datasets.ingest import UploadRejected, stage_upload
from datasets.ingest.archive import SafeArchive
from tests.datasets.fixtures import (
    ENCRYPTED,
    RawMember,
    deflate,
    deflated_zeros,
    jpeg_bytes,
    png_bytes,
    png_with_claimed_size,
    raw_zip,
    zip_bytes,
)


def reject(tmp_path: Path, name: str, data: bytes, kind: str = "image", **kwargs) -> str:
    """Stage the upload into a not-yet-existing nested folder; return the rejection message after
    checking that nothing was left behind."""
    upload = tmp_path / "upload" / name.replace("/", "_")
    upload.parent.mkdir(exist_ok=True)
    upload.write_bytes(data)
    dest = tmp_path / "staging" / "new" / "v1"
    with pytest.raises(UploadRejected) as caught:
        stage_upload(path=upload, original_name=name, kind=kind, dest=dest, **kwargs)
    assert not dest.exists()
    assert not (tmp_path / "staging").exists(), "a parent folder made for the staging was left behind"
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.parent != upload.parent)
    assert left == ["upload"], f"left behind: {left}"
    return str(caught.value)


def test_member_path_traversal_is_rejected(tmp_path):
    data = zip_bytes({"7/a.png": png_bytes(1), "../../etc/x": b"owned"})
    message = reject(tmp_path, "photos.zip", data)
    assert message == 'photos.zip: member "../../etc/x" points outside the archive (".." in its path)'


def test_traversal_hidden_inside_a_path_is_rejected(tmp_path):
    data = raw_zip([RawMember("7/../../../x.png", png_bytes(1))])
    assert "points outside the archive" in reject(tmp_path, "photos.zip", data)


def test_absolute_member_path_is_rejected(tmp_path):
    data = raw_zip([RawMember("7/a.png", png_bytes(1)), RawMember("/tmp/x", b"owned")])
    assert reject(tmp_path, "photos.zip", data) == 'photos.zip: member "/tmp/x" has an absolute path'


def test_backslash_and_drive_letter_paths_are_rejected(tmp_path):
    backslash = raw_zip([RawMember("..\\..\\x.png", png_bytes(1))])
    assert "uses backslashes in its path" in reject(tmp_path, "a.zip", backslash)
    drive = raw_zip([RawMember("C:/Windows/x.png", png_bytes(1))])
    assert "has a drive letter in its path" in reject(tmp_path, "b.zip", drive)


def test_symlink_member_is_rejected(tmp_path):
    link = RawMember("7/passwd.png", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16)
    data = raw_zip([RawMember("7/a.png", png_bytes(1)), link])
    message = reject(tmp_path, "photos.zip", data)
    assert message == 'photos.zip: member "7/passwd.png" is a symbolic link; only regular files are accepted'


@pytest.mark.parametrize(
    ("mode", "what"),
    [
        (stat.S_IFIFO, "a named pipe (FIFO)"),
        (stat.S_IFCHR, "a character device"),
        (stat.S_IFBLK, "a block device"),
    ],
)
def test_device_and_fifo_members_are_rejected(tmp_path, mode, what):
    data = raw_zip([RawMember("7/dev.png", b"", external_attr=(mode | 0o644) << 16)])
    assert f"is {what}; only regular files are accepted" in reject(tmp_path, "photos.zip", data)


def test_encrypted_member_is_rejected(tmp_path):
    data = raw_zip([RawMember("7/a.png", png_bytes(1), flags=ENCRYPTED)])
    assert reject(tmp_path, "photos.zip", data) == (
        'photos.zip: member "7/a.png" is encrypted; upload an archive without a password'
    )


def test_compression_methods_that_cannot_be_bounded_are_rejected(tmp_path):
    data = zip_bytes({"7/a.png": png_bytes(1)}, compression=zipfile.ZIP_BZIP2)
    assert "uses bzip2 compression; only stored and deflate are accepted" in reject(
        tmp_path, "photos.zip", data
    )


def test_duplicate_member_names_are_rejected(tmp_path):
    data = raw_zip([RawMember("7/a.png", png_bytes(1)), RawMember("7/a.png", png_bytes(2))])
    assert reject(tmp_path, "photos.zip", data) == 'photos.zip: member "7/a.png" appears twice in the archive'


def test_zip_bomb_is_rejected_before_inflating(tmp_path):
    # 1 GiB of zeros in about 1 MB: the header tells the truth, the ratio gives it away.
    bomb = RawMember(
        "7/bomb.png", deflated_zeros(1024), method=zipfile.ZIP_DEFLATED, file_size=1 << 30, crc=0
    )
    data = raw_zip([RawMember("7/a.png", png_bytes(1)), bomb])
    started = time.monotonic()
    message = reject(tmp_path, "bomb.zip", data)
    assert time.monotonic() - started < 2
    assert message == (
        'bomb.zip: member "7/bomb.png" is compressed more than 100 to 1, which only a zip bomb does; it is not accepted'
    )


def test_zip_bomb_with_lying_header_is_stopped_while_streaming(tmp_path):
    # The header claims 1 GiB of zeros unpacks to about 1 MB (ratio 1), so nothing looks wrong
    # before reading; the bytes that actually come out are counted against the compressed bytes
    # actually consumed, and the member is stopped after about a megabyte.
    stream = deflated_zeros(1024)
    liar = RawMember("7/bomb.png", stream, method=zipfile.ZIP_DEFLATED, file_size=len(stream), crc=0)
    started = time.monotonic()
    message = reject(tmp_path, "liar.zip", raw_zip([liar]))
    assert time.monotonic() - started < 2
    assert message == (
        'liar.zip: member "7/bomb.png" is compressed more than 100 to 1, which only a zip bomb does; it is not accepted'
    )


def test_header_lying_about_size_or_checksum_is_caught(tmp_path):
    payload = png_bytes(1, size=(64, 64))
    short = RawMember("7/a.png", payload, file_size=len(payload) // 2)
    message = reject(tmp_path, "short.zip", raw_zip([short]))
    assert message == (
        f'short.zip is damaged: member "7/a.png" holds more than the {len(payload) // 2} bytes its header says'
    )
    long = RawMember("7/a.png", deflate(payload), method=zipfile.ZIP_DEFLATED, file_size=len(payload) + 10)
    message = reject(tmp_path, "long.zip", raw_zip([long]))
    assert message == (
        f'long.zip is damaged: member "7/a.png" holds {len(payload)} bytes, not the {len(payload) + 10} its header says'
    )
    bad_crc = RawMember("7/a.png", payload, crc=12345)
    message = reject(tmp_path, "crc.zip", raw_zip([bad_crc]))
    assert message == 'crc.zip is damaged: member "7/a.png" does not match its checksum'


def test_streaming_counts_real_bytes_even_if_the_header_checks_are_fooled(tmp_path, monkeypatch):
    # Disable the header-based early check: the running count of inflated bytes must still stop
    # the bomb after about a megabyte, without writing anything like a gigabyte.
    monkeypatch.setattr(SafeArchive, "_check_claimed_sizes", lambda self, members: None)
    written = []
    real_copy = SafeArchive.copy

    def spying_copy(self, member, out_path):
        try:
            return real_copy(self, member, out_path)
        finally:
            written.append(out_path.stat().st_size if out_path.exists() else 0)

    monkeypatch.setattr(SafeArchive, "copy", spying_copy)
    bomb = RawMember(
        "7/bomb.png", deflated_zeros(1024), method=zipfile.ZIP_DEFLATED, file_size=1 << 30, crc=0
    )
    started = time.monotonic()
    message = reject(tmp_path, "bomb.zip", raw_zip([bomb]))
    assert time.monotonic() - started < 2
    assert 'member "7/bomb.png" is compressed more than 100 to 1' in message
    assert max(written) <= 2 * 1024 * 1024


def test_total_unpacked_size_is_bounded(tmp_path, settings):
    settings.PRAKRIYA_ARCHIVE_MAX_TOTAL_BYTES = 4096
    data = zip_bytes(
        {f"7/{i}.png": png_bytes(i, size=(32, 32)) for i in range(3)}, compression=zipfile.ZIP_STORED
    )
    assert reject(tmp_path, "big.zip", data) == "big.zip unpacks to more than 4 KB (the limit)"


def test_total_is_bounded_on_real_bytes_too(tmp_path, settings, monkeypatch):
    settings.PRAKRIYA_ARCHIVE_MAX_TOTAL_BYTES = 4096
    monkeypatch.setattr(SafeArchive, "_check_claimed_sizes", lambda self, members: None)
    data = zip_bytes(
        {f"7/{i}.png": png_bytes(i, size=(32, 32)) for i in range(3)}, compression=zipfile.ZIP_STORED
    )
    assert reject(tmp_path, "big.zip", data) == "big.zip unpacks to more than 4 KB (the limit)"


def test_overlapping_members_are_rejected(tmp_path):
    # The construction behind non-recursive zip bombs: many entries share one block of data.
    first = RawMember("7/a.png", png_bytes(1))
    twin = RawMember("7/b.png", png_bytes(1), central_offset=0)
    message = reject(tmp_path, "overlap.zip", raw_zip([first], extra_central=[twin]))
    assert (
        message == "overlap.zip has overlapping members, a construction used by zip bombs; it is not accepted"
    )


def test_member_count_is_bounded_before_parsing(tmp_path, settings):
    settings.PRAKRIYA_ARCHIVE_MAX_MEMBERS = 5
    data = zip_bytes({f"7/{i}.png": png_bytes(i) for i in range(6)})
    assert reject(tmp_path, "many.zip", data) == "many.zip has more than 5 members (the limit)"


def test_upload_size_is_capped(tmp_path, settings):
    settings.PRAKRIYA_UPLOAD_MAX_BYTES = 1024
    data = b"a,label\n" + b"1,x\n" * 600
    assert (
        reject(tmp_path, "data.csv", data, kind="tabular")
        == "data.csv is 2.4 KB; uploads are limited to 1 KB"
    )


# --- files that lie about their type ------------------------------------------------------------


def test_zip_named_csv_is_rejected(tmp_path):
    data = zip_bytes({"a.csv": b"a,label\n1,x\n"})
    assert (
        reject(tmp_path, "data.csv", data, kind="tabular")
        == "data.csv is not a CSV file: its content is a ZIP archive"
    )


def test_png_named_csv_is_rejected(tmp_path):
    message = reject(tmp_path, "data.csv", png_bytes(1), kind="tabular")
    assert message == "data.csv is not a CSV file: its content is a PNG image"


def test_text_named_png_is_rejected(tmp_path):
    assert reject(tmp_path, "x.png", b"just some text\n") == "x.png is not a PNG image: its content is text"


def test_zip_named_png_is_rejected(tmp_path):
    data = zip_bytes({"7/a.png": png_bytes(1)})
    assert reject(tmp_path, "x.png", data) == "x.png is not a PNG image: its content is a ZIP archive"


def test_text_named_zip_is_rejected(tmp_path):
    assert (
        reject(tmp_path, "photos.zip", b"a,b\n1,2\n")
        == "photos.zip is not a ZIP archive: its content is text"
    )


def test_single_image_is_not_an_image_dataset(tmp_path):
    message = reject(tmp_path, "x.png", png_bytes(1))
    assert message.startswith("x.png is a PNG image; an image dataset is uploaded as a ZIP archive of images")


def test_jsonl_named_csv_is_rejected(tmp_path):
    message = reject(tmp_path, "data.csv", b'{"a": 1, "label": "x"}\n', kind="tabular")
    assert message == "data.csv is not a CSV file: its content is JSON Lines"


def test_members_that_lie_about_their_type_are_listed(tmp_path):
    data = zip_bytes(
        {
            "7/ok.png": png_bytes(1),
            "7/photo.png": jpeg_bytes(2),
            "7/note.png": b"hello",
            "notes.txt": b"not an image at all",
        }
    )
    assert reject(tmp_path, "photos.zip", data) == (
        "3 files are not valid images: 7/note.png (not an image: its content is text), "
        "7/photo.png (its content is a JPEG image, not a PNG image), "
        "notes.txt (not an image: its content is text)"
    )


# --- broken images -------------------------------------------------------------------------------


def test_truncated_images_in_a_zip_are_rejected_with_their_names(tmp_path):
    png = png_bytes(1, size=(64, 64))
    jpeg = jpeg_bytes(2, size=(64, 64))
    data = zip_bytes(
        {
            "7/fine.png": png_bytes(3),
            "7/x.png": png[: len(png) // 2],
            "8/y.jpg": jpeg[: len(jpeg) * 3 // 4],
            "8/empty.png": b"",
        }
    )
    assert reject(tmp_path, "digits.zip", data) == (
        "3 files are not valid images: 7/x.png (truncated), 8/empty.png (empty file), 8/y.jpg (truncated)"
    )


def test_many_bad_images_are_listed_up_to_ten(tmp_path):
    png = png_bytes(1, size=(64, 64))
    data = zip_bytes({f"7/{i:02d}.png": png[:100] for i in range(13)})
    message = reject(tmp_path, "digits.zip", data)
    assert message.startswith("13 files are not valid images: 7/00.png (truncated), ")
    assert message.endswith("7/09.png (truncated), and 3 more")


def test_decompression_bomb_image_is_rejected(tmp_path):
    data = zip_bytes({"7/huge.png": png_with_claimed_size(50_000, 50_000)})
    assert reject(tmp_path, "photos.zip", data) == (
        "1 file is not a valid image: 7/huge.png (too many pixels (a decompression bomb))"
    )


def test_pixel_limit_is_configurable(tmp_path, settings):
    settings.PRAKRIYA_IMAGE_MAX_PIXELS = 100
    data = zip_bytes({"7/a.png": png_bytes(1, size=(16, 16))})
    assert reject(tmp_path, "photos.zip", data) == (
        "1 file is not a valid image: 7/a.png (too large: 16×16 pixels, at most 100 are allowed)"
    )


def test_archive_without_images_is_rejected(tmp_path):
    data = zip_bytes({"__MACOSX/._a.png": b"\x00\x05", ".DS_Store": b"\x00", "empty/": b""})
    assert reject(tmp_path, "photos.zip", data) == "photos.zip contains no images"


def test_labels_csv_naming_missing_files_is_rejected(tmp_path):
    data = zip_bytes({"a.png": png_bytes(1), "labels.csv": b"file,label\na.png,cat\nb.png,dog\n"})
    assert (
        reject(tmp_path, "photos.zip", data)
        == "labels.csv lists 1 file that is not an image in photos.zip: b.png"
    )


def test_labels_csv_with_broken_encoding_is_rejected(tmp_path):
    data = zip_bytes({"a.png": png_bytes(1), "labels.csv": b"file,label\na.png,caf\xe9\n"})
    assert reject(tmp_path, "photos.zip", data) == (
        "photos.zip: labels.csv is not valid UTF-8 (byte 0xe9 at position 20)"
    )


def test_damaged_zip_is_rejected(tmp_path):
    data = zip_bytes({"7/a.png": png_bytes(1)})
    assert reject(tmp_path, "photos.zip", data[:-30]) == (
        "photos.zip is not a valid ZIP archive (no end-of-archive record)"
    )


# --- broken text files ---------------------------------------------------------------------------


def test_csv_with_broken_encoding_is_rejected_with_the_byte_position(tmp_path):
    data = b"name,label\n" + b"Asha,a\n" * 200 + b"Jos\xe9,b\n"
    position = data.index(b"\xe9")
    message = reject(tmp_path, "data.csv", data, kind="tabular")
    assert message == f"data.csv is not valid UTF-8 (byte 0xe9 at position {position})"


@pytest.mark.parametrize(
    ("middle", "offset", "byte"),
    [
        # A valid 3-byte character split by the 1 MiB read boundary, then a bad byte after it.
        ("न".encode() + b"\xff", 3, 0xFF),
        # An incomplete sequence that starts before the boundary and is broken after it.
        (b"\xe0\xa4x", 0, 0xE0),
    ],
)
def test_broken_encoding_across_the_read_boundary_reports_the_right_position(tmp_path, middle, offset, byte):
    mib = 1024 * 1024
    start = mib - 2 if offset else mib - 1
    prefix = b"text,label\n" + b"a" * (start - len(b"text,label\n"))
    data = prefix + middle + b",x\n"
    message = reject(tmp_path, "data.csv", data, kind="text")
    assert message == f"data.csv is not valid UTF-8 (byte 0x{byte:02x} at position {start + offset})"


def test_utf16_csv_gets_advice(tmp_path):
    data = "text,label\nnamaste,a\n".encode("utf-16")
    assert reject(tmp_path, "data.csv", data, kind="text").startswith(
        "data.csv is UTF-16 text; save it as UTF-8"
    )


def test_nul_bytes_are_rejected(tmp_path):
    data = b"a,label\n1,x\n2\x00,y\n"
    assert reject(tmp_path, "data.csv", data, kind="tabular") == (
        "data.csv contains a NUL byte at position 13: it is binary data, not text"
    )


def test_ragged_rows_are_rejected(tmp_path):
    data = b"a,b,label\n1,2,x\n3,4,y,extra\n"
    assert (
        reject(tmp_path, "data.csv", data, kind="tabular") == "data.csv line 3 has 4 fields; the header has 3"
    )


def test_empty_file_is_rejected(tmp_path):
    assert reject(tmp_path, "data.csv", b"", kind="tabular") == "data.csv is empty"
    assert reject(tmp_path, "blank.csv", b"\n\n  \n", kind="tabular") == "blank.csv is empty"


def test_header_without_rows_is_rejected(tmp_path):
    assert (
        reject(tmp_path, "data.csv", b"a,label\n", kind="tabular")
        == "data.csv has a header row but no data rows"
    )


def test_missing_label_column_is_rejected_when_named(tmp_path):
    data = b"a,b\n1,2\n"
    message = reject(tmp_path, "data.csv", data, kind="tabular", label_column="species")
    assert message == 'data.csv has no "species" column for the labels (its columns: a, b)'
    message = reject(tmp_path, "other.csv", data, kind="tabular", require_label=True)
    assert message == 'other.csv has no "label" column for the labels (its columns: a, b)'


def test_missing_text_column_is_rejected(tmp_path):
    message = reject(tmp_path, "data.csv", b"sentence,label\nhi,a\n", kind="text")
    assert message == 'data.csv has no "text" column for the texts (its columns: sentence, label)'


def test_too_many_columns_are_rejected(tmp_path, settings):
    settings.PRAKRIYA_UPLOAD_MAX_COLUMNS = 5
    data = b"a,b,c,d,e,label\n1,2,3,4,5,x\n"
    assert (
        reject(tmp_path, "data.csv", data, kind="tabular") == "data.csv has 6 columns; at most 5 are allowed"
    )


def test_too_many_rows_are_rejected(tmp_path, settings):
    settings.PRAKRIYA_UPLOAD_MAX_ROWS = 3
    data = b"a,label\n" + b"1,x\n" * 4
    assert reject(tmp_path, "data.csv", data, kind="tabular") == "data.csv has more than 3 rows (the limit)"


def test_header_problems_are_named(tmp_path):
    assert reject(tmp_path, "a.csv", b"a,,label\n1,2,x\n", kind="tabular") == (
        "a.csv: column 2 has no name in the header row"
    )
    assert reject(tmp_path, "b.csv", b"a,a,label\n1,2,x\n", kind="tabular") == (
        'b.csv: column "a" appears twice in the header row'
    )
    assert reject(tmp_path, "c.csv", b"_item,label\n1,x\n", kind="tabular").startswith(
        'c.csv: a feature column may not be called "_item"'
    )


def test_unterminated_quote_is_rejected(tmp_path):
    message = reject(tmp_path, "data.csv", b'a,label\n"1,x\n2,y\n', kind="tabular")
    assert message.startswith("data.csv line 3 could not be read as CSV")


def test_invalid_json_lines_are_rejected(tmp_path):
    data = b'{"a": 1, "label": "x"}\n{"a": 2, "label": }\n'
    assert reject(tmp_path, "data.jsonl", data, kind="tabular") == (
        "data.jsonl line 2 is not valid JSON (Expecting value at column 19)"
    )
    assert reject(tmp_path, "list.jsonl", b'{"a": 1}\n[1, 2]\n', kind="tabular") == (
        "list.jsonl line 2 is not a JSON object"
    )
    assert reject(tmp_path, "nested.jsonl", b'{"a": {"b": 1}}\n', kind="tabular") == (
        'nested.jsonl line 1: "a" holds a nested JSON value; values must be flat'
    )


def test_deeply_nested_json_is_rejected(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    assert reject(tmp_path, "deep.jsonl", b'{"a": ' + deep + b"}\n", kind="tabular") == (
        "deep.jsonl line 1 is nested too deeply"
    )
    assert reject(tmp_path, "deep.json", deep, kind="tabular") == "deep.json is nested too deeply"


def test_lone_surrogates_in_json_are_rejected(tmp_path):
    data = b'{"a": "ok \\ud83d\\ude00", "label": "x"}\n{"a": "bad \\ud800", "label": "y"}\n'
    assert reject(tmp_path, "data.jsonl", data, kind="tabular") == (
        "data.jsonl line 2 holds an invalid Unicode escape (a lone surrogate)"
    )


def test_overlong_label_is_rejected(tmp_path):
    data = b"a,label\n1," + b"x" * 201 + b"\n"
    assert reject(tmp_path, "data.csv", data, kind="tabular") == (
        "data.csv line 2: the label is 201 characters long; at most 200 are allowed"
    )


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ('"PER 0-4"', 'notes.jsonl line 2: "spans" must be a list of {"start", "end", "label"} objects'),
        ('[{"start": 0, "end": 4}]', 'notes.jsonl line 2: span 1 must be an object with exactly "start", "end" and "label"'),
        ('[{"start": 0, "end": 4, "label": "PER", "text": "Ravi"}]',
         'notes.jsonl line 2: span 1 must be an object with exactly "start", "end" and "label"'),
        ('[{"start": "0", "end": 4, "label": "PER"}]',
         "notes.jsonl line 2: span 1: start and end must be whole numbers (Unicode code points)"),
        ('[{"start": 0, "end": true, "label": "PER"}]',
         "notes.jsonl line 2: span 1: start and end must be whole numbers (Unicode code points)"),
        # "राम" is 3 code points but 9 UTF-8 bytes: offsets counted in bytes run past the text.
        ('[{"start": 0, "end": 9, "label": "PER"}]',
         "notes.jsonl line 2: span 1 (0–9) is not inside the text, which is 7 code points long "
         "(a span needs 0 ≤ start < end ≤ length)"),
        ('[{"start": 2, "end": 2, "label": "PER"}]',
         "notes.jsonl line 2: span 1 (2–2) is not inside the text, which is 7 code points long "
         "(a span needs 0 ≤ start < end ≤ length)"),
        ('[{"start": 0, "end": 3, "label": "  "}]', "notes.jsonl line 2: span 1: the label must be non-empty text"),
        ('[{"start": 0, "end": 3, "label": 7}]', "notes.jsonl line 2: span 1: the label must be non-empty text"),
        ('[{"start": 0, "end": 3, "label": "' + "x" * 201 + '"}]',
         "notes.jsonl line 2: span 1: the label is 201 characters long; at most 200 are allowed"),
        ('[{"start": 0, "end": 3, "label": "P\\u0000"}]', "notes.jsonl line 2: span 1: the label holds a NUL character"),
        ('[{"start": 3, "end": 6, "label": "LOC"}, {"start": 0, "end": 4, "label": "PER"}]',
         "notes.jsonl line 2: the spans 0–4 and 3–6 overlap"),
    ],
)
def test_bad_spans_in_a_text_upload_are_rejected_naming_the_line(tmp_path, spans, message):
    good = '{"text": "Ravi went home", "spans": [{"start": 0, "end": 4, "label": "PER"}]}\n'
    data = (good + '{"text": "राम गया", "spans": ' + spans + "}\n").encode()
    assert reject(tmp_path, "notes.jsonl", data, kind="text") == message


def test_upload_path_in_the_name_is_not_echoed(tmp_path):
    message = reject(tmp_path, "C:\\fakepath\\data.csv", png_bytes(1), kind="tabular")
    assert message == "data.csv is not a CSV file: its content is a PNG image"


def test_deflate_helper_round_trips():
    # The hostile-archive builder itself must write archives zipfile reads, or the tests above
    # would pass for the wrong reason.
    import io

    payload = png_bytes(5)
    data = raw_zip(
        [
            RawMember(
                "a.png",
                deflate(payload),
                method=zipfile.ZIP_DEFLATED,
                file_size=len(payload),
                crc=__import__("zlib").crc32(payload),
            )
        ]
    )
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("a.png") == payload


def test_randomly_damaged_uploads_are_staged_or_rejected_cleanly(tmp_path):
    # No malformed upload may raise anything but UploadRejected (which the views turn into a
    # message), and a rejection never leaves files behind.
    import random

    rng = random.Random(20240601)
    bases = [
        (
            "x.zip",
            "image",
            zip_bytes({"7/a.png": png_bytes(1), "3/b.jpg": jpeg_bytes(2), "labels.csv": b"file,label\n"}),
        ),
        (
            "y.zip",
            "image",
            zip_bytes({"7/a.png": png_bytes(1), "b.png": png_bytes(2)}, compression=zipfile.ZIP_STORED),
        ),
        ("x.csv", "text", 'text,label\nनमस्ते,a\n"q,""x",b\n'.encode()),
        ("x.jsonl", "tabular", b'{"a": 1, "label": "x"}\n{"a": 2.5, "label": 2}\n'),
    ]
    outcomes = {"staged": 0, "rejected": 0}
    for attempt in range(300):
        name, kind, base = bases[attempt % len(bases)]
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.6:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 16)]
        upload = tmp_path / "fuzz-upload"
        upload.write_bytes(bytes(data))
        dest = tmp_path / "fuzz" / str(attempt)
        try:
            stage_upload(path=upload, original_name=name, kind=kind, dest=dest)
            outcomes["staged"] += 1
        except UploadRejected:
            outcomes["rejected"] += 1
            assert not dest.exists()
    assert outcomes["rejected"] > 100
