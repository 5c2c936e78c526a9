"""Inter-annotator agreement of labelling campaigns: plain numpy, no Django, no database.

A Celery job loads a campaign's annotations, codes them into units with `code_annotations`
(or `code_single` / `code_multi` / `code_spans`), and calls `compute_agreement` (and
`agreement_over_time` for the timeline); `charts.py` draws the result.
Statistics can also be computed from a coded matrix directly:

    data = CodedAnnotations.from_matrix(codes, labels)      # (units, annotators), -1 = missing
    data = CodedAnnotations.from_sparse(unit, annotator, code, labels)   # one entry per label
    result = compute_agreement(data, ordered=False, top=20, resamples=1000, seed=0)

Cohen's kappa equals `sklearn.metrics.cohen_kappa_score`, Fleiss' kappa equals
`statsmodels.stats.inter_rater.fleiss_kappa` on complete data (Gwet's generalisation otherwise,
see `stats.py`), Krippendorff's alpha equals the `krippendorff` package, with missing data,
all to 1e-9 (tests/annotation/agreement/test_reference.py). How it stays fast and linear in
units × labels: `stats.py`; the bootstrap: `bootstrap.py`.

Result of `compute_agreement` (JSON-serialisable; floats unrounded; None wherever a statistic is
undefined, e.g. no pairable unit or a single label used throughout; {"value", "ci"} objects
carry ci = [low, high] or None when there is no bootstrap or the statistic is undefined in more
than half of the resamples):

    {
      "units": int,                       # units in the input, labelled or not
      "units_labelled": int,              # units with at least one label
      "units_with_pairs": int,            # units with at least two labels (the pairable ones)
      "annotations": int,                 # labels given
      "pairs": int,                       # annotator pairs within units
      "annotators": [name, ...],          # index = annotator index used below
      "labels": [name, ...],              # the coded labels (("absent", "present") for multi-label)
      "ordered": bool,
      "ratings_per_unit": [{"ratings": m, "units": n}, ...],
      "percent_agreement": {"value", "ci"},   # share of agreeing annotator pairs (pooled)
      "unanimous_units": {"value", "ci"},     # share of pairable units where all labels agree
      "fleiss_kappa": {"value", "ci"},
      "krippendorff_alpha": {"nominal": {"value", "ci"}, "ordinal": {…} | None, "interval": {…} | None},
      "pairwise_cohen": [{"a": i, "b": j, "units": n, "agreement": share | None,
                          "kappa": float | None}, ...],          # every pair i < j
      "per_label": [{"label": name, "annotations": n, "units": n,  # units where anyone chose it
                     "percent_agreement": {…}, "positive_agreement": share | None,
                     "fleiss_kappa": {…}, "krippendorff_alpha": {…},   # nominal
                     "cohen_kappa_mean": float | None}, ...],
      "per_label_basis": "one-vs-rest" | "label units",   # multi-label: each label's own units
      "per_annotator": [{"annotator": i, "name": name, "annotations": n,
                         "paired_judgements": n, "agreeing_judgements": n,
                         "agreement": share | None, "cohen_kappa_mean": float | None,
                         "kappa_pairs": n}, ...],
      "most_disagreed": [{"unit": u, "item": id?, "label": name?, "start": s?, "end": e?,
                          "disagreement": 1 - share of agreeing pairs, "ratings": m,
                          "counts": {label: n}}, ...],       # only units with some disagreement
      "confusion": [[int]],     # [x][y]: times label x by one annotator met y by another on a
                                # unit (each pair counted both ways, so symmetric)
      "bootstrap": {"method", "resamples", "confidence", "seed", "skipped"?} | None,
    }                           # None: no resamples asked for, or no pairable unit; "skipped"
                                # (with resamples 0): too many distinct unit types for the budget

positive_agreement: of the paired judgements giving the label, the share whose partner gave it
too (the "specific agreement" of the label, not inflated by agreeing on its absence).
"""

from datasets.annotation.agreement.coded import CodedAnnotations
from datasets.annotation.agreement.report import compute_agreement
from datasets.annotation.agreement.stats import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)
from datasets.annotation.agreement.timeline import agreement_over_time
from datasets.annotation.agreement.units import (
    code_annotations,
    code_multi,
    code_single,
    code_spans,
    epoch_seconds,
    tokenize,
)

__all__ = [
    "CodedAnnotations",
    "agreement_over_time",
    "code_annotations",
    "code_multi",
    "code_single",
    "code_spans",
    "cohen_kappa",
    "compute_agreement",
    "epoch_seconds",
    "fleiss_kappa",
    "krippendorff_alpha",
    "percent_agreement",
    "tokenize",
]
