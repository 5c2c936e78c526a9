"""Edge cases, the bootstrap, the most disagreed units, the timeline, and the adapters that turn
campaign annotations (single, multi-label, spans in several scripts) into units."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import krippendorff
import numpy as np
import pytest

from datasets.annotation.agreement import (
    CodedAnnotations,
    agreement_over_time,
    bootstrap,
    code_annotations,
    code_multi,
    code_single,
    code_spans,
    compute_agreement,
    epoch_seconds,
    tokenize,
)
from datasets.annotation.agreement.bootstrap import multinomial_weights
from datasets.annotation.agreement.stats import percent_agreement_of, sums, unit_types


def as_json(result) -> str:
    # Strict JSON: no NaN or infinity may leak into a result.
    return json.dumps(result, allow_nan=False, ensure_ascii=False)


def simulate(
    seed: int, units: int, annotators: int = 3, labels: int = 4, accuracy: float = 0.7
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, units)
    return np.where(
        rng.random((units, annotators)) < accuracy,
        truth[:, None],
        rng.integers(0, labels, (units, annotators)),
    )


# --- edge cases ------------------------------------------------------------------------------


def test_no_pairable_unit_leaves_every_statistic_undefined():
    codes = np.array([[0, -1, -1], [-1, 1, -1], [-1, -1, -1]])
    result = compute_agreement(CodedAnnotations.from_matrix(codes, ["a", "b"]), ordered=True)
    as_json(result)
    assert result["units"] == 3 and result["units_labelled"] == 2 and result["units_with_pairs"] == 0
    for estimate in (
        result["percent_agreement"],
        result["fleiss_kappa"],
        result["unanimous_units"],
        *result["krippendorff_alpha"].values(),
    ):
        assert estimate == {"value": None, "ci": None}
    assert all(pair["kappa"] is None and pair["units"] == 0 for pair in result["pairwise_cohen"])
    assert all(row["agreement"] is None for row in result["per_annotator"])
    assert result["most_disagreed"] == []
    assert result["bootstrap"] is None
    with pytest.raises(ValueError):  # the package refuses such data outright
        krippendorff.alpha(
            reliability_data=np.where(codes >= 0, codes, np.nan).T, level_of_measurement="nominal"
        )


def test_a_single_annotator_has_nobody_to_agree_with():
    result = compute_agreement(CodedAnnotations.from_matrix(np.array([[0], [1], [1]]), ["a", "b"]))
    as_json(result)
    assert result["pairwise_cohen"] == []
    assert result["percent_agreement"]["value"] is None
    assert result["per_annotator"] == [
        {
            "annotator": 0,
            "name": 0,
            "annotations": 3,
            "paired_judgements": 0,
            "agreeing_judgements": 0,
            "agreement": None,
            "cohen_kappa_mean": None,
            "kappa_pairs": 0,
        }
    ]


def test_one_label_used_by_everyone_gives_full_agreement_but_undefined_kappa_and_alpha():
    codes = np.full((5, 3), 1)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, ["a", "b", "c"]), ordered=True)
    as_json(result)
    assert result["percent_agreement"]["value"] == 1.0
    assert result["unanimous_units"]["value"] == 1.0
    assert result["fleiss_kappa"]["value"] is None
    assert all(estimate["value"] is None for estimate in result["krippendorff_alpha"].values())
    assert all(pair["kappa"] is None and pair["agreement"] == 1.0 for pair in result["pairwise_cohen"])
    assert result["most_disagreed"] == []
    assert result["confusion"] == [[0, 0, 0], [0, 30, 0], [0, 0, 0]]


def test_a_label_seen_only_on_an_unpairable_unit_leaves_alpha_undefined():
    codes = np.array([[0, 0], [0, 0], [1, -1]])
    result = compute_agreement(CodedAnnotations.from_matrix(codes, ["a", "b"]))
    assert result["krippendorff_alpha"]["nominal"]["value"] is None
    with np.errstate(all="ignore"):
        assert np.isnan(
            krippendorff.alpha(
                reliability_data=np.where(codes >= 0, codes, np.nan).T, level_of_measurement="nominal"
            )
        )


def test_no_units_at_all():
    result = compute_agreement(CodedAnnotations.from_matrix(np.zeros((0, 2), dtype=int), ["a", "b"]))
    as_json(result)
    assert result["units"] == 0 and result["annotations"] == 0
    assert result["percent_agreement"]["value"] is None


def test_unicode_label_and_annotator_names_survive_into_the_result():
    labels = ["व्यक्ति", "جگہ", "இடம்", "😀"]
    annotators = ["राधा", "علی", "முருகன்"]
    codes = simulate(3, 60, labels=4)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, labels, annotators=annotators))
    assert result["labels"] == labels and result["annotators"] == annotators
    assert [row["label"] for row in result["per_label"]] == labels
    assert [row["name"] for row in result["per_annotator"]] == annotators
    assert json.loads(as_json(result))["labels"] == labels


def test_invalid_input_is_refused():
    with pytest.raises(ValueError, match="same unit more than once"):
        CodedAnnotations.from_sparse([0, 0], [1, 1], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="codes must lie"):
        CodedAnnotations.from_matrix(np.array([[0, 2]]), ["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        CodedAnnotations.from_matrix(np.array([[0, 1]]), ["a", "a"])
    with pytest.raises(ValueError, match="integers"):
        CodedAnnotations.from_matrix(np.array([[0.0, 1.0]]), ["a", "b"])
    data = CodedAnnotations.from_matrix(np.array([[0, 1]]), ["a", "b"])
    with pytest.raises(ValueError, match="ordered"):
        compute_agreement(data, label_values=[1, 2])
    with pytest.raises(ValueError, match="increase"):
        compute_agreement(data, ordered=True, label_values=[2, 1])


# --- the bootstrap ---------------------------------------------------------------------------


def test_the_bootstrap_is_deterministic_for_a_seed():
    data = CodedAnnotations.from_matrix(simulate(5, 300), list("abcd"))
    first, again = compute_agreement(data, seed=7), compute_agreement(data, seed=7)
    other = compute_agreement(data, seed=8)
    assert as_json(first) == as_json(again)
    assert first["percent_agreement"]["ci"] != other["percent_agreement"]["ci"]
    assert first["percent_agreement"]["value"] == other["percent_agreement"]["value"]
    assert first["bootstrap"] == {
        "method": "percentile bootstrap over units (multinomial resampling of unit types)",
        "resamples": 1000,
        "confidence": 0.95,
        "seed": 7,
    }


def test_intervals_contain_the_estimate_and_narrow_with_more_units():
    small = compute_agreement(CodedAnnotations.from_matrix(simulate(6, 200), list("abcd")), ordered=True)
    large = compute_agreement(CodedAnnotations.from_matrix(simulate(6, 20_000), list("abcd")), ordered=True)
    estimates = lambda result: [  # noqa: E731
        result["percent_agreement"],
        result["fleiss_kappa"],
        result["unanimous_units"],
        *result["krippendorff_alpha"].values(),
        *(row["krippendorff_alpha"] for row in result["per_label"]),
    ]
    for few, many in zip(estimates(small), estimates(large), strict=True):
        for estimate in (few, many):
            low, high = estimate["ci"]
            assert low <= estimate["value"] <= high
        assert many["ci"][1] - many["ci"][0] < (few["ci"][1] - few["ci"][0]) / 5


def test_a_wider_confidence_gives_a_wider_interval():
    data = CodedAnnotations.from_matrix(simulate(9, 400), list("abcd"))
    narrow = compute_agreement(data, confidence=0.8)["fleiss_kappa"]["ci"]
    wide = compute_agreement(data, confidence=0.99)["fleiss_kappa"]["ci"]
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_no_resamples_means_no_intervals():
    result = compute_agreement(CodedAnnotations.from_matrix(simulate(5, 100), list("abcd")), resamples=0)
    assert result["bootstrap"] is None
    assert result["percent_agreement"]["ci"] is None and result["percent_agreement"]["value"] is not None


def test_drawing_resamples_in_batches_changes_nothing(monkeypatch):
    data = CodedAnnotations.from_matrix(simulate(13, 300), list("abcd"))
    whole = compute_agreement(data, ordered=True)
    monkeypatch.setattr(bootstrap, "_BATCH_WEIGHTS", 64 * 7)  # a few resamples per batch
    assert as_json(compute_agreement(data, ordered=True)) == as_json(whole)


def test_the_bootstrap_is_skipped_rather_than_run_beyond_its_budget(monkeypatch):
    data = CodedAnnotations.from_matrix(simulate(14, 300), list("abcd"))
    monkeypatch.setattr(bootstrap, "_WORK_BUDGET", 1000)
    result = compute_agreement(data)
    assert result["bootstrap"]["resamples"] == 0 and "skipped" in result["bootstrap"]
    assert result["percent_agreement"]["ci"] is None and result["percent_agreement"]["value"] is not None
    # A budget that allows fewer resamples than asked, but enough, lowers the count.
    monkeypatch.setattr(bootstrap, "_WORK_BUDGET", 250 * 40 * (7 * 4 + 5))
    lowered = compute_agreement(data, resamples=1000)["bootstrap"]["resamples"]
    assert bootstrap.MIN_RESAMPLES <= lowered < 1000


def test_ordinal_and_interval_go_without_intervals_when_only_nominal_resampling_fits(monkeypatch):
    codes = simulate(16, 300)
    kinds = len(unit_types(codes, 4).freq)
    # Room for 240 resamples of the nominal sums (33 numbers for 4 labels) but only 163 of the
    # full ones (33 + 16), fewer than the minimum.
    monkeypatch.setattr(bootstrap, "_WORK_BUDGET", 200 * kinds * 40)
    result = compute_agreement(CodedAnnotations.from_matrix(codes, list("abcd")), ordered=True)
    alpha = result["krippendorff_alpha"]
    assert alpha["nominal"]["ci"] is not None and result["fleiss_kappa"]["ci"] is not None
    assert alpha["ordinal"]["ci"] is None and alpha["interval"]["ci"] is None
    assert alpha["ordinal"]["value"] is not None
    assert bootstrap.MIN_RESAMPLES <= result["bootstrap"]["resamples"] < 1000


def test_resampling_unit_types_is_the_ordinary_bootstrap_over_units():
    # The multinomial draw over types must have the distribution of drawing units with
    # replacement: compare both on the same data, many resamples each.
    codes = simulate(10, 150, annotators=3, labels=3, accuracy=0.6)
    codes[::7, 2] = -1
    types = unit_types(codes, 3)
    draws = 4000
    by_type = percent_agreement_of(
        sums(types.counts, multinomial_weights(types.freq, draws, np.random.default_rng(1)))
    )
    rng = np.random.default_rng(2)
    by_unit = np.empty(draws)
    for draw in range(draws):
        resample = codes[rng.integers(0, len(codes), len(codes))]
        resample_types = unit_types(resample, 3)
        by_unit[draw] = percent_agreement_of(sums(resample_types.counts, resample_types.freq[None, :]))[0]
    assert by_type.mean() == pytest.approx(by_unit.mean(), abs=0.004)
    assert by_type.std() == pytest.approx(by_unit.std(), rel=0.08)


# --- the most disagreed units ----------------------------------------------------------------


def test_most_disagreed_units_rank_by_disagreement_then_by_number_of_labels():
    codes = np.array(
        [
            [0, 0, 0],  # everyone agrees: never listed
            [0, 1, -1],  # disagreement 1, 2 labels
            [0, 1, 2],  # disagreement 1, 3 labels
            [0, 0, 1],  # disagreement 2/3
            [2, 1, 0],  # disagreement 1, 3 labels (ties with unit 2: lower index first)
        ]
    )
    data = CodedAnnotations.from_matrix(codes, ["a", "b", "c"], items=["i0", "i1", "i2", "i3", "i4"])
    result = compute_agreement(data, top=3)
    assert result["most_disagreed"] == [
        {"unit": 2, "item": "i2", "disagreement": 1.0, "ratings": 3, "counts": {"a": 1, "b": 1, "c": 1}},
        {"unit": 4, "item": "i4", "disagreement": 1.0, "ratings": 3, "counts": {"a": 1, "b": 1, "c": 1}},
        {"unit": 1, "item": "i1", "disagreement": 1.0, "ratings": 2, "counts": {"a": 1, "b": 1}},
    ]
    everything = compute_agreement(data, top=10)["most_disagreed"]
    assert [row["unit"] for row in everything] == [2, 4, 1, 3]
    assert everything[-1]["disagreement"] == pytest.approx(2 / 3)
    assert compute_agreement(data, top=0)["most_disagreed"] == []


def test_most_disagreed_selection_matches_a_full_sort():
    codes = simulate(12, 5000, annotators=4, labels=3, accuracy=0.5)
    codes[np.random.default_rng(0).random(codes.shape) < 0.2] = -1
    result = compute_agreement(CodedAnnotations.from_matrix(codes, list("abc")), top=50, resamples=0)
    rows = []
    for unit, row in enumerate(codes):
        given = row[row >= 0]
        if len(given) < 2:
            continue
        counts = np.bincount(given, minlength=3)
        pairs = len(given) * (len(given) - 1) / 2
        disagreement = 1 - (counts * (counts - 1) / 2).sum() / pairs
        if disagreement > 0:
            rows.append((-disagreement, -len(given), unit))
    assert [row["unit"] for row in result["most_disagreed"]] == [unit for *_, unit in sorted(rows)[:50]]


# --- agreement over time ---------------------------------------------------------------------


def test_agreement_over_time_buckets_units_by_their_last_label():
    day = datetime(2025, 3, 3, 9, tzinfo=UTC)  # a Monday
    annotations = []
    for item in range(30):
        first_label = day + timedelta(days=item % 3)
        annotations.append((f"item {item}", "ann", "yes", first_label))
        # The second label comes the next day for items 0..9: those units belong to that day.
        second = first_label + timedelta(days=1 if item < 10 else 0, minutes=5)
        annotations.append((f"item {item}", "bob", "yes" if item % 4 else "no", second))
    data = code_single(annotations, ["yes", "no"])
    timeline = agreement_over_time(data, seed=1)
    as_json(timeline)
    days = {}
    for item in range(30):
        last = day + timedelta(days=item % 3 + (1 if item < 10 else 0))
        days.setdefault(last.date().isoformat(), []).append(item)
    assert [bucket["start"][:10] for bucket in timeline] == sorted(days)
    assert [bucket["units"] for bucket in timeline] == [len(days[key]) for key in sorted(days)]
    for bucket in timeline:
        items = days[bucket["start"][:10]]
        agreeing = sum(1 for item in items if item % 4)
        assert bucket["percent_agreement"]["value"] == pytest.approx(agreeing / len(items))
        assert bucket["end"] == (datetime.fromisoformat(bucket["start"]) + timedelta(days=1)).isoformat()
    weekly = agreement_over_time(data, bucket=timedelta(weeks=1), resamples=0)
    assert len(weekly) == 1 and weekly[0]["start"] == "2025-03-03T00:00:00+00:00"
    assert weekly[0]["krippendorff_alpha"]["ci"] is None


def test_agreement_over_time_needs_timestamps():
    with pytest.raises(ValueError, match="timestamps"):
        agreement_over_time(CodedAnnotations.from_matrix(np.array([[0, 1]]), ["a", "b"]))


# --- adapters: single and multi-label --------------------------------------------------------


def test_single_label_annotations_become_one_unit_per_item():
    t = datetime(2025, 1, 1, tzinfo=UTC)
    annotations = [
        ("doc-2", "asha", "spam", t),
        ("doc-1", "asha", "ham", t),
        ("doc-1", "ravi", "spam", t),
        ("doc-1", "ravi", "ham", t + timedelta(hours=1)),  # re-annotation: the latest wins
        ("doc-2", "ravi", None, t),  # skipped: no annotation
        ("doc-3", "meera", "ham", None),
    ]
    data = code_single(annotations, ["ham", "spam"])
    assert data.items == ("doc-2", "doc-1", "doc-3")
    assert data.annotators == ("asha", "ravi", "meera")
    assert data.to_matrix().tolist() == [[1, -1, -1], [0, 0, -1], [-1, -1, 0]]
    result = compute_agreement(data)
    assert result["percent_agreement"]["value"] == 1.0
    assert result["units_with_pairs"] == 1
    assert (
        code_annotations("single", annotations, ["ham", "spam"]).to_matrix().tolist()
        == data.to_matrix().tolist()
    )


def test_unknown_labels_are_reported_not_dropped():
    with pytest.raises(ValueError, match="unknown label 'maybe'.*doc-1.*asha"):
        code_single([("doc-1", "asha", "maybe", None)], ["ham", "spam"])
    with pytest.raises(ValueError, match="list of labels"):
        code_multi([("doc-1", "asha", "ham", None)], ["ham", "spam"])
    with pytest.raises(ValueError, match="task type"):
        code_annotations("boxes", [], ["a"])


def test_multi_label_annotations_become_one_yes_no_unit_per_item_and_label():
    labels = ["sports", "politics", "tech"]
    annotations = [
        ("n1", "asha", ["sports"], None),
        ("n1", "ravi", ["sports", "politics"], None),
        ("n2", "asha", ["tech"], None),
        ("n2", "ravi", ["tech"], None),
        ("n3", "asha", [], None),  # a judgement too: none of the labels applies
        ("n3", "ravi", ["politics"], None),
    ]
    data = code_multi(annotations, labels)
    assert data.labels == ("absent", "present")
    assert data.questions == tuple(labels)
    assert data.n_units == 9
    assert data.to_matrix().tolist() == [
        [1, 1],
        [0, 1],
        [0, 0],  # n1: sports, politics, tech
        [0, 0],
        [0, 0],
        [1, 1],  # n2
        [0, 0],
        [0, 1],
        [0, 0],  # n3
    ]
    result = compute_agreement(data, top=5)
    assert result["per_label_basis"] == "label units"
    per_label = {row["label"]: row for row in result["per_label"]}
    assert list(per_label) == labels
    assert per_label["sports"]["percent_agreement"]["value"] == 1.0
    assert per_label["politics"]["percent_agreement"]["value"] == pytest.approx(1 / 3)
    assert per_label["politics"]["annotations"] == 2 and per_label["politics"]["units"] == 2
    assert per_label["politics"]["positive_agreement"] == 0.0
    assert per_label["tech"]["positive_agreement"] == 1.0
    # Cohen's kappa of asha and ravi on each label's units: full agreement on sports and tech;
    # on politics asha never says yes (chance agreement 1/3 = observed agreement).
    assert per_label["sports"]["cohen_kappa_mean"] == 1.0
    assert per_label["tech"]["cohen_kappa_mean"] == 1.0
    assert per_label["politics"]["cohen_kappa_mean"] == pytest.approx(0.0, abs=1e-12)
    # Overall: 9 units of 2 labels each, 2 disagreeing.
    assert result["percent_agreement"]["value"] == pytest.approx(7 / 9)
    assert {(row["item"], row["label"]) for row in result["most_disagreed"]} == {
        ("n1", "politics"),
        ("n3", "politics"),
    }
    # Per label alpha equals the package on that label's yes/no units.
    politics = data.to_matrix()[1::3]
    expected = krippendorff.alpha(reliability_data=politics.T.astype(float), level_of_measurement="nominal")
    assert per_label["politics"]["krippendorff_alpha"]["value"] == pytest.approx(expected, abs=1e-9)


def test_multi_label_units_give_the_same_result_from_a_dense_matrix():
    rng = np.random.default_rng(15)
    labels = ["a", "b", "c"]
    annotations = [
        (i, w, [x for x in labels if rng.random() < 0.4], None) for i in range(60) for w in range(3)
    ]
    packed = code_multi(annotations, labels)
    dense = CodedAnnotations(
        codes=packed.to_matrix(),
        labels=packed.labels,
        annotators=packed.annotators,
        items=packed.items,
        unit_item=packed.unit_item,
        questions=packed.questions,
        unit_question=packed.unit_question,
    )
    assert as_json(compute_agreement(dense)) == as_json(compute_agreement(packed))


# --- adapters: spans and tokens in several scripts -------------------------------------------


def tokens(text: str) -> list[str]:
    return [text[start:end] for start, end in tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("राम ने किताब पढ़ी।", ["राम", "ने", "किताब", "पढ़ी", "।"]),  # Devanagari: vowel signs, nukta
        ("یہ ایک جملہ ہے۔", ["یہ", "ایک", "جملہ", "ہے", "۔"]),  # Urdu, right to left
        ("நான் புத்தகம் படித்தேன்.", ["நான்", "புத்தகம்", "படித்தேன்", "."]),  # Tamil: viramas
        ("আমি বই পড়ি", ["আমি", "বই", "পড়ি"]),  # Bengali
        ("Dr. O'Neil paid $5,000!", ["Dr", ".", "O", "'", "Neil", "paid", "$", "5", ",", "000", "!"]),
        ("", []),
    ],
)
def test_tokenize_keeps_words_of_every_script_whole(text, expected):
    assert tokens(text) == expected


def test_spans_label_the_tokens_they_cover_in_devanagari():
    text = "राम ने किताब पढ़ी"
    ram, book = (text.index("राम"), text.index("राम") + 3), (text.index("किताब"), text.index("किताब") + 5)
    annotations = [
        ("s1", "asha", [{"start": ram[0], "end": ram[1], "label": "PER"}], None),
        (
            "s1",
            "ravi",
            [
                {"start": ram[0], "end": ram[1], "label": "PER"},
                {"start": book[0], "end": book[1] - 1, "label": "OBJ"},
            ],
            None,
        ),  # clipped: still the word
    ]
    data = code_spans(annotations, ["PER", "OBJ"], {"s1": text})
    assert data.labels == ("O", "PER", "OBJ")
    assert data.token_spans.tolist() == [list(span) for span in tokenize(text)]
    # Tokens: राम, ने, किताब, पढ़ी — asha: PER O O O; ravi: PER O OBJ O.
    assert data.to_matrix().tolist() == [[1, 1], [0, 0], [0, 2], [0, 0]]
    result = compute_agreement(data)
    assert result["percent_agreement"]["value"] == pytest.approx(3 / 4)
    assert result["most_disagreed"] == [
        {
            "unit": 2,
            "item": "s1",
            "start": book[0],
            "end": book[1],
            "disagreement": 1.0,
            "ratings": 2,
            "counts": {"O": 1, "OBJ": 1},
        }
    ]


def test_spans_in_urdu_and_tamil():
    urdu = "یہ ایک جملہ ہے"
    tamil = "நான் புத்தகம் படித்தேன்"
    sentence = urdu.index("جملہ")
    book = tamil.index("புத்தகம்")
    annotations = [
        ("ur", "asha", [{"start": sentence, "end": sentence + len("جملہ"), "label": "NOUN"}], None),
        ("ur", "ravi", [{"start": sentence, "end": len(urdu), "label": "NOUN"}], None),  # overshoots
        ("ta", "asha", [{"start": book, "end": book + len("புத்தகம்"), "label": "NOUN"}], None),
        ("ta", "ravi", [], None),
    ]
    data = code_spans(annotations, ["NOUN"], {"ur": urdu, "ta": tamil})
    assert data.n_units == 4 + 3
    # Urdu: یہ ایک جملہ ہے — ravi's span also covers ہے; Tamil: only asha marks புத்தகம்.
    assert data.to_matrix().tolist() == [[0, 0], [0, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 0]]
    assert [data.describe_unit(u)["item"] for u in range(7)] == ["ur"] * 4 + ["ta"] * 3


def test_overlapping_spans_give_a_token_to_the_span_covering_more_of_it():
    text = "New Delhi Metro"
    spans = [
        {"start": 0, "end": 6, "label": "LOC"},  # New + 2 characters of Delhi
        {"start": 4, "end": 15, "label": "ORG"},  # all of Delhi and Metro
    ]
    data = code_spans([("t", "asha", spans, None)], ["LOC", "ORG"], {"t": text})
    assert data.to_matrix()[:, 0].tolist() == [1, 2, 2]
    tie = [{"start": 0, "end": 3, "label": "ORG"}, {"start": 0, "end": 3, "label": "LOC"}]
    assert code_spans([("t", "asha", tie, None)], ["LOC", "ORG"], {"t": text}).to_matrix()[0, 0] == 2


def test_span_errors_are_reported():
    with pytest.raises(ValueError, match="outside the text"):
        code_spans([("t", "a", [{"start": 0, "end": 99, "label": "X"}], None)], ["X"], {"t": "short"})
    with pytest.raises(ValueError, match="no text"):
        code_spans([("t", "a", [], None)], ["X"], {})
    with pytest.raises(ValueError, match="reserved"):
        code_spans([], ["O", "X"], {})
    with pytest.raises(ValueError, match="unknown label"):
        code_spans([("t", "a", [{"start": 0, "end": 1, "label": "Y"}], None)], ["X"], {"t": "short"})
    with pytest.raises(ValueError, match="integer start"):
        code_spans([("t", "a", [{"begin": 0}], None)], ["X"], {"t": "short"})


def test_timestamps_of_every_kind_become_epoch_seconds():
    assert epoch_seconds(datetime(1970, 1, 2, tzinfo=UTC)) == 86400.0
    assert epoch_seconds(datetime(1970, 1, 2)) == 86400.0  # naive: UTC
    assert epoch_seconds("1970-01-02T00:00:00+00:00") == 86400.0
    assert epoch_seconds(np.datetime64("1970-01-02T00:00:00")) == 86400.0
    assert epoch_seconds(12.5) == 12.5
    assert np.isnan(epoch_seconds(None))
