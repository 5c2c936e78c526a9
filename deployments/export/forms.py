from django import forms

from deployments.export.services import MAX_SPARSITY, MIN_SPARSITY

QUANTISE_LABELS = [
    ("none", "No quantisation"),
    ("dynamic", "int8, dynamic (weights only; no calibration)"),
    ("static", "int8, static (calibrated on a training sample)"),
]


class ExportForm(forms.Form):
    quantise = forms.ChoiceField(choices=QUANTISE_LABELS, initial="none", label="Quantisation")
    prune_sparsity = forms.FloatField(
        required=False, min_value=MIN_SPARSITY, max_value=MAX_SPARSITY, label="Pruning sparsity",
        help_text="Neural networks only: the share of weights set to zero by magnitude (e.g. 0.5). Empty: no pruning.",
    )
