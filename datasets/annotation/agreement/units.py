"""Units from campaign annotations: pure functions turning annotations into coded arrays.

Input: an iterable of (item_id, annotator_id, value, timestamp) as loaded from the database;
timestamp may be a datetime (naive ones are taken as UTC), seconds since the epoch, an ISO string
or None. Rules shared by the three task types:

- an annotator who annotated an item several times counts once, with their latest annotation
  by timestamp (an unknown timestamp counts as older than any known one; between equal ones,
  the later in the input wins) — the database allows one per annotator, but exports may not;
- a value of None (the item was skipped) is no annotation;
- items and annotators are numbered in order of first appearance;
- a label name that is not in the schema raises ValueError (a stale annotation must be
  fixed or filtered by the caller, not silently dropped from the statistics).

Task types:

- single: the value is one label name; one unit per item.
- multi: the value is a list of label names; one yes/no unit per (item, schema label), "is this
  label present?", coded 0 = absent, 1 = present. The result's `questions` are the schema labels
  and `unit_question` says which one each unit asks about, so per-label statistics are those of
  that label's units (and the overall ones pool all of them).
- span: the value is a list of {"start", "end", "label"} with offsets in Unicode code points
  (Python string indices — not the UTF-16 units of a browser's JavaScript) into the item's text.
  Units are the tokens of the text (`tokenize`); a token takes the label of the span that
  overlaps it (any overlap counts, since annotators often clip or overshoot a word by a
  character); where spans of different labels overlap one token, the one covering more of the
  token wins, then the one listed first; tokens no span touches are "O" (outside). Coded labels
  are ("O", *schema labels).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import sys
import unicodedata
from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from datasets.annotation.agreement.coded import CodedAnnotations

Annotation = tuple[Hashable, Hashable, Any, Any]  # (item_id, annotator_id, value, timestamp)
OUTSIDE = "O"
ABSENT, PRESENT = "absent", "present"
TASK_TYPES = ("single", "multi", "span")


def code_annotations(
    task_type: str,
    annotations: Iterable[Annotation],
    labels: Sequence[str],
    *,
    texts: Mapping[Hashable, str] | None = None,
) -> CodedAnnotations:
    """Dispatch on the campaign's task type ("single", "multi" or "span")."""
    if task_type == "single":
        return code_single(annotations, labels)
    if task_type == "multi":
        return code_multi(annotations, labels)
    if task_type == "span":
        if texts is None:
            raise ValueError("span annotations need the items' texts")
        return code_spans(annotations, labels, texts)
    raise ValueError(f"unknown task type {task_type!r}; use one of {TASK_TYPES}")


def code_single(annotations: Iterable[Annotation], labels: Sequence[str]) -> CodedAnnotations:
    """One unit per item, coded with the index of the chosen label."""
    latest = _Latest(annotations)
    code_of = _label_codes(labels)
    codes = [_code(code_of, value, item, annotator, latest) for item, annotator, value, _ in latest.rows]
    return CodedAnnotations.from_sparse(
        [row[0] for row in latest.rows],
        [row[1] for row in latest.rows],
        codes,
        labels,
        n_units=len(latest.items),
        annotators=latest.annotators,
        times=[row[3] for row in latest.rows],
        items=latest.items,
    )


def code_multi(annotations: Iterable[Annotation], labels: Sequence[str]) -> CodedAnnotations:
    """One yes/no unit per (item, label): unit = item_index × len(labels) + label_index."""
    latest = _Latest(annotations)
    code_of = _label_codes(labels)
    width = len(code_of)
    unit, annotator, codes, times = [], [], [], []
    for item, who, value, when in latest.rows:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise ValueError(
                f"multi-label value must be a list of labels, not {value!r} "
                f"(item {latest.items[item]!r}, annotator {latest.annotators[who]!r})"
            )
        chosen = {_code(code_of, name, item, who, latest) for name in value}
        for question in range(width):
            unit.append(item * width + question)
            annotator.append(who)
            codes.append(1 if question in chosen else 0)
            times.append(when)
    n_items = len(latest.items)
    return CodedAnnotations.from_sparse(
        unit,
        annotator,
        codes,
        (ABSENT, PRESENT),
        n_units=n_items * width,
        annotators=latest.annotators,
        times=times,
        items=latest.items,
        unit_item=np.repeat(np.arange(n_items), width),
        questions=tuple(labels),
        unit_question=np.tile(np.arange(width), n_items),
    )


def code_spans(
    annotations: Iterable[Annotation], labels: Sequence[str], texts: Mapping[Hashable, str]
) -> CodedAnnotations:
    """One unit per token of every annotated item's text, coded "O" or the covering span's label."""
    if OUTSIDE in labels:
        raise ValueError(f"{OUTSIDE!r} is reserved for tokens outside every span")
    coded_labels = (OUTSIDE, *labels)
    code_of = _label_codes(coded_labels)
    latest = _Latest(annotations)
    tokens: list[tuple[list[int], list[int]]] = []
    first_unit = [0]
    for item_id in latest.items:
        if item_id not in texts:
            raise ValueError(f"no text for item {item_id!r}")
        spans = tokenize(texts[item_id])
        tokens.append(([s for s, _ in spans], [e for _, e in spans]))
        first_unit.append(first_unit[-1] + len(spans))
    unit, annotator, codes, times = [], [], [], []
    for item, who, value, when in latest.rows:
        starts, ends = tokens[item]
        token_codes = _token_codes(
            value,
            starts,
            ends,
            len(texts[latest.items[item]]),
            code_of,
            f"item {latest.items[item]!r}, annotator {latest.annotators[who]!r}",
        )
        unit.extend(range(first_unit[item], first_unit[item + 1]))
        annotator.extend([who] * len(starts))
        codes.extend(token_codes)
        times.extend([when] * len(starts))
    offsets = [(s, e) for starts, ends in tokens for s, e in zip(starts, ends, strict=True)]
    return CodedAnnotations.from_sparse(
        unit,
        annotator,
        codes,
        coded_labels,
        n_units=first_unit[-1],
        annotators=latest.annotators,
        times=times,
        items=latest.items,
        unit_item=np.repeat(np.arange(len(latest.items)), np.diff(first_unit)),
        token_spans=np.array(offsets, dtype=np.int64).reshape(-1, 2),
    )


def _token_codes(
    value: Any, starts: list[int], ends: list[int], length: int, code_of: dict[str, int], where: str
) -> list[int]:
    if isinstance(value, Mapping) or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"span value must be a list of spans, not {value!r} ({where})")
    codes = [0] * len(starts)
    covered = [0] * len(starts)
    for span in value:
        try:
            start, end, label = int(span["start"]), int(span["end"]), span["label"]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"a span needs integer start, end and a label: {span!r} ({where})") from error
        if not 0 <= start <= end <= length:
            raise ValueError(f"span {start}..{end} lies outside the text of {length} characters ({where})")
        if label not in code_of or label == OUTSIDE:
            raise ValueError(f"unknown label {label!r} ({where})")
        first = bisect.bisect_right(ends, start)  # first token ending after the span starts
        stop = bisect.bisect_left(starts, end)  # tokens starting before the span ends
        for token in range(first, stop):
            overlap = min(end, ends[token]) - max(start, starts[token])
            if overlap > covered[token]:  # strictly more: on a tie the span listed first stays
                covered[token], codes[token] = overlap, code_of[label]
    return codes


def tokenize(text: str) -> list[tuple[int, int]]:
    """[start, end) code-point offsets of the words and punctuation marks of `text`.

    A token is a run of word characters or a single other non-space character, i.e. the regex
    \\w+|[^\\w\\s] — except that Python's \\w leaves out combining marks (the vowel signs, viramas
    and nuktas of Devanagari, Bengali, Tamil…, Arabic harakat), which would cut "किताब" into
    four pieces. Marks and the zero-width (non-)joiners are therefore counted as word characters.
    """
    return [match.span() for match in _token_pattern().finditer(text)]


@functools.cache
def _token_pattern() -> re.Pattern[str]:
    # All combining marks (categories Mn, Mc, Me) of this Python's Unicode database, as ranges.
    ranges, begin, previous = [], None, None
    for point in range(sys.maxunicode + 1):
        if unicodedata.category(chr(point))[0] == "M":
            if begin is None:
                begin = point
            previous = point
        elif begin is not None:
            ranges.append(f"{chr(begin)}-{chr(previous)}" if previous != begin else chr(begin))
            begin = None
    if begin is not None:
        ranges.append(f"{chr(begin)}-{chr(previous)}")
    word = "".join(ranges) + "\u200c\u200d"
    return re.compile(rf"[\w{word}]+|[^\w\s{word}]")


def epoch_seconds(value: Any) -> float:
    """A timestamp as seconds since the epoch (UTC); nan when unknown."""
    if value is None:
        return math.nan
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        return epoch_seconds(datetime.fromisoformat(value))
    if isinstance(value, np.datetime64):
        return float(value.astype("datetime64[ns]").astype(np.int64)) / 1e9
    return float(value)


class _Latest:
    """The latest non-skipped annotation of every (item, annotator), numbered and sorted."""

    def __init__(self, annotations: Iterable[Annotation]) -> None:
        chosen: dict[tuple[Hashable, Hashable], tuple[float, int, Any, float]] = {}
        for order, (item, annotator, value, timestamp) in enumerate(annotations):
            seconds = epoch_seconds(timestamp)
            rank = -math.inf if math.isnan(seconds) else seconds
            previous = chosen.get((item, annotator))
            if previous is None or rank >= previous[0]:
                first = order if previous is None else previous[1]
                chosen[(item, annotator)] = (rank, first, value, seconds)
        # Number items and annotators by first appearance of a kept annotation.
        kept = sorted(
            (
                (first, item, who, value, seconds)
                for (item, who), (_, first, value, seconds) in chosen.items()
                if value is not None
            ),
            key=lambda row: row[0],
        )
        item_index: dict[Hashable, int] = {}
        annotator_index: dict[Hashable, int] = {}
        rows = []
        for _, item, who, value, seconds in kept:
            rows.append(
                (
                    item_index.setdefault(item, len(item_index)),
                    annotator_index.setdefault(who, len(annotator_index)),
                    value,
                    seconds,
                )
            )
        rows.sort(key=lambda row: (row[0], row[1]))
        self.rows: list[tuple[int, int, Any, float]] = rows
        self.items: tuple[Hashable, ...] = tuple(item_index)
        self.annotators: tuple[Hashable, ...] = tuple(annotator_index)


def _label_codes(labels: Sequence[str]) -> dict[str, int]:
    codes = {name: index for index, name in enumerate(labels)}
    if len(codes) != len(labels):
        raise ValueError("label names must be unique")
    return codes


def _code(code_of: dict[str, int], value: Any, item: int, annotator: int, latest: _Latest) -> int:
    try:
        return code_of[value]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown label {value!r} (item {latest.items[item]!r}, "
            f"annotator {latest.annotators[annotator]!r})"
        ) from None
