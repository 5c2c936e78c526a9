"""Coded annotations: who gave which label code to which unit, packed one row per unit.

A unit is the thing annotators agree or disagree on: an item (single-label task), an
(item, label) yes/no question (multi-label task) or a token (span task); see `units.py`.

Rows are units and columns are *slots*. From a dense matrix the slots are the annotators
themselves (column s = annotator s). From the sparse form (unit, annotator, code) each unit's
annotations are packed into the first slots in annotator order and `raters` records whose they
are, so a campaign with 20 annotators and an overlap of 3 costs n_units × 3 cells, never
n_units × 20, and nothing ever allocates n_units × n_annotators × n_labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MISSING = -1
# A dense matrix with more annotators than this is repacked into slots: the pairwise pass costs
# one sweep over the units per pair of columns, which is wasteful when most cells are empty.
DENSE_ANNOTATORS_MAX = 8


@dataclass(frozen=True, eq=False)
class CodedAnnotations:
    codes: np.ndarray  # (n_units, slots) integer label codes, MISSING where empty
    labels: tuple[str, ...]  # label names; codes index into them (their order matters for ordinal)
    annotators: tuple[Any, ...]  # annotator names (or ids); annotator indices index into them
    raters: np.ndarray | None = None  # (n_units, slots) annotator index per slot; None: slot s = annotator s
    times: np.ndarray | None = None  # (n_units, slots) seconds since the epoch (UTC), nan when unknown
    items: tuple[Any, ...] | None = None  # item ids named in results
    unit_item: np.ndarray | None = None  # (n_units,) index into items; None: unit u is items[u]
    questions: tuple[str, ...] | None = None  # multi-label: the schema labels the yes/no units ask about
    unit_question: np.ndarray | None = None  # (n_units,) index into questions
    token_spans: np.ndarray | None = None  # (n_units, 2) span task: token [start, end) in code points

    @property
    def n_units(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @classmethod
    def from_matrix(
        cls,
        codes: np.ndarray | Sequence[Sequence[int]],
        labels: Sequence[str],
        *,
        annotators: Sequence[Any] | None = None,
        times: np.ndarray | None = None,
        items: Sequence[Any] | None = None,
    ) -> CodedAnnotations:
        """codes: (n_units, n_annotators) label codes 0..len(labels)-1, -1 where the annotator did
        not label the unit. times, if given, has the same shape (seconds since the epoch)."""
        matrix = np.asarray(codes)
        if matrix.ndim != 2:
            raise ValueError("codes must be a 2-D array: units × annotators")
        if matrix.size and not np.issubdtype(matrix.dtype, np.integer):
            raise ValueError("codes must be integers (label codes, -1 for missing)")
        labels = _labels(labels)
        names = _names(annotators, matrix.shape[1])
        if matrix.size and (matrix.min() < MISSING or matrix.max() >= len(labels)):
            raise ValueError(f"codes must lie in -1..{len(labels) - 1}")
        stamps = None if times is None else np.asarray(times, dtype=np.float64)
        if stamps is not None and stamps.shape != matrix.shape:
            raise ValueError("times must have the same shape as codes")
        item_ids = None if items is None else tuple(items)
        if item_ids is not None and len(item_ids) != matrix.shape[0]:
            raise ValueError("items must name every unit (row)")
        if matrix.shape[1] <= DENSE_ANNOTATORS_MAX:
            return cls(
                codes=matrix.astype(np.int64, copy=False),
                labels=labels,
                annotators=names,
                times=stamps,
                items=item_ids,
            )
        unit, annotator = np.nonzero(matrix != MISSING)
        return cls.from_sparse(
            unit,
            annotator,
            matrix[unit, annotator],
            labels,
            n_units=matrix.shape[0],
            annotators=names,
            times=None if stamps is None else stamps[unit, annotator],
            items=item_ids,
        )

    @classmethod
    def from_sparse(
        cls,
        unit_index: np.ndarray | Sequence[int],
        annotator_index: np.ndarray | Sequence[int],
        codes: np.ndarray | Sequence[int],
        labels: Sequence[str],
        *,
        n_units: int | None = None,
        annotators: Sequence[Any] | None = None,
        times: np.ndarray | Sequence[float] | None = None,
        items: Sequence[Any] | None = None,
        unit_item: np.ndarray | None = None,
        questions: Sequence[str] | None = None,
        unit_question: np.ndarray | None = None,
        token_spans: np.ndarray | None = None,
    ) -> CodedAnnotations:
        """One entry per annotation: annotator `annotator_index[i]` gave code `codes[i]` to unit
        `unit_index[i]`. An annotator may label a unit at most once (ValueError otherwise)."""
        unit = np.asarray(unit_index, dtype=np.int64).ravel()
        annotator = np.asarray(annotator_index, dtype=np.int64).ravel()
        code = np.asarray(codes, dtype=np.int64).ravel()
        if not (len(unit) == len(annotator) == len(code)):
            raise ValueError("unit_index, annotator_index and codes must have the same length")
        labels = _labels(labels)
        n = int(unit.max()) + 1 if n_units is None and len(unit) else int(n_units or 0)
        a = int(annotator.max()) + 1 if annotators is None and len(annotator) else len(annotators or ())
        names = _names(annotators, a)
        if len(unit) and (unit.min() < 0 or unit.max() >= n):
            raise ValueError(f"unit indices must lie in 0..{n - 1}")
        if len(annotator) and (annotator.min() < 0 or annotator.max() >= len(names)):
            raise ValueError(f"annotator indices must lie in 0..{len(names) - 1}")
        if len(code) and (code.min() < 0 or code.max() >= len(labels)):
            raise ValueError(f"codes must lie in 0..{len(labels) - 1}")
        stamps = None if times is None else np.asarray(times, dtype=np.float64).ravel()
        if stamps is not None and len(stamps) != len(unit):
            raise ValueError("times must have one entry per annotation")

        # Sort by (unit, annotator) unless already sorted (adapters and np.nonzero emit that
        # order); equal neighbours after sorting are an annotator labelling a unit twice.
        key = unit * max(len(names), 1) + annotator
        if len(key) > 1 and not bool(np.all(key[1:] > key[:-1])):
            order = np.argsort(key, kind="stable")
            key, unit, annotator, code = key[order], unit[order], annotator[order], code[order]
            stamps = None if stamps is None else stamps[order]
            if bool(np.any(key[1:] == key[:-1])):
                raise ValueError("an annotator labels the same unit more than once")

        per_unit = np.bincount(unit, minlength=n)
        slots = max(int(per_unit.max()) if n else 0, 1)
        slot = np.arange(len(unit)) - (np.cumsum(per_unit) - per_unit)[unit]
        packed = np.full((n, slots), MISSING, dtype=np.int64)
        packed[unit, slot] = code
        raters = np.zeros((n, slots), dtype=np.int64)
        raters[unit, slot] = annotator
        packed_times = None
        if stamps is not None:
            packed_times = np.full((n, slots), np.nan)
            packed_times[unit, slot] = stamps
        return cls(
            codes=packed,
            labels=labels,
            annotators=names,
            raters=raters,
            times=packed_times,
            items=None if items is None else tuple(items),
            unit_item=None if unit_item is None else np.asarray(unit_item, dtype=np.int64),
            questions=None if questions is None else tuple(questions),
            unit_question=None if unit_question is None else np.asarray(unit_question, dtype=np.int64),
            token_spans=None if token_spans is None else np.asarray(token_spans, dtype=np.int64),
        )

    def slot_annotators(self) -> np.ndarray:
        """(n_units, slots) annotator index of every slot (meaningless where the code is MISSING)."""
        if self.raters is not None:
            return self.raters
        return np.broadcast_to(np.arange(self.codes.shape[1]), self.codes.shape)

    def to_matrix(self) -> np.ndarray:
        """The dense (n_units, n_annotators) code matrix, -1 for missing. Allocates
        n_units × n_annotators: for tests and small campaigns, not for the statistics."""
        if self.raters is None:
            return self.codes.copy()
        dense = np.full((self.n_units, self.n_annotators), MISSING, dtype=np.int64)
        rows, slots = np.nonzero(self.codes != MISSING)
        dense[rows, self.raters[rows, slots]] = self.codes[rows, slots]
        return dense

    def describe_unit(self, unit: int) -> dict[str, Any]:
        """What a unit is, in JSON-serialisable terms: its item, and for multi-label units the
        label asked about, for span units the token's code-point offsets."""
        described: dict[str, Any] = {"unit": int(unit)}
        if self.items is not None:
            index = unit if self.unit_item is None else int(self.unit_item[unit])
            described["item"] = self.items[index]
        if self.questions is not None and self.unit_question is not None:
            described["label"] = self.questions[int(self.unit_question[unit])]
        if self.token_spans is not None:
            described["start"], described["end"] = (int(v) for v in self.token_spans[unit])
        return described


def _labels(labels: Sequence[str]) -> tuple[str, ...]:
    names = tuple(labels)
    if not names:
        raise ValueError("at least one label is needed")
    if len(set(names)) != len(names):
        raise ValueError("label names must be unique")
    return names


def _names(annotators: Sequence[Any] | None, count: int) -> tuple[Any, ...]:
    if annotators is None:
        return tuple(range(count))
    names = tuple(annotators)
    if len(names) != count:
        raise ValueError(f"{count} annotators expected, {len(names)} names given")
    return names
