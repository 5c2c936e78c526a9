"""The "Train a model" form: a dataset version, a trainer and its settings.

The form only parses. Whether the trainer fits the version's kind of data and whether the settings
are valid for that trainer is decided by experiments.launch.training_start (the trainers' own
config parser), the same check the API goes through; its refusal comes back as a form error.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from experiments import selectors

MAX_SETTINGS_CHARS = 5000


class _VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.dataset.name} v{obj.number} ({obj.dataset.get_kind_display().lower()})"


def trainer_choices() -> list[tuple[str, str]]:
    # The trainers' registry imports torch: loaded when the form is first built, not at start-up.
    from experiments.training import TRAINERS

    return [(spec.name, f"{spec.label} — {', '.join(spec.kinds)}") for spec in TRAINERS.values()]


class TrainForm(forms.Form):
    version = _VersionChoice(
        queryset=None, label="Dataset version", empty_label=None,
        help_text="Ready versions with a split; the model trains on the train part and reports on validation.",
    )
    trainer = forms.ChoiceField(choices=(), help_text="Each trainer lists the kinds of data it trains on.")
    name = forms.CharField(max_length=200, required=False, help_text="Optional; names the MLflow run.")
    epochs = forms.IntegerField(min_value=1, max_value=10_000, required=False, help_text="Neural networks only.")
    lr = forms.FloatField(label="Learning rate", min_value=0, required=False, help_text="Neural networks only.")
    batch_size = forms.IntegerField(min_value=1, max_value=1_000_000, required=False, help_text="Neural networks only.")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, help_text="Default 0.")
    hidden_sizes = forms.CharField(
        max_length=200, required=False, label="Hidden layer sizes",
        help_text="The MLP's layers, e.g. 128, 64.",
    )
    settings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}), required=False,
        max_length=MAX_SETTINGS_CHARS, label="More settings (JSON)",
        help_text='Any other setting of the trainer, e.g. {"weight_decay": 0.0001}.',
    )

    # Settings the fields above give; the rest go through the JSON box.
    COMMON = ("epochs", "lr", "batch_size", "seed", "hidden_sizes")

    def __init__(self, *args, project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = selectors.trainable_versions(project=project)
        self.fields["trainer"].choices = trainer_choices()

    def clean_hidden_sizes(self) -> list[int] | None:
        text = self.cleaned_data.get("hidden_sizes", "").strip()
        if not text:
            return None
        try:
            sizes = [int(part) for part in text.replace(" ", ",").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Write whole numbers separated by commas, e.g. 128, 64.") from None
        if not sizes or any(size < 1 or size > 100_000 for size in sizes):
            raise forms.ValidationError("Each layer needs between 1 and 100000 units.")
        return sizes

    def clean_settings(self) -> dict[str, Any]:
        text = self.cleaned_data.get("settings", "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise forms.ValidationError("This is not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Write a JSON object, e.g. {"weight_decay": 0.0001}.')
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        given = data.get("settings") or {}
        both = sorted(name for name in self.COMMON if data.get(name) is not None and name in given)
        if both:
            self.add_error("settings", f"Set {', '.join(both)} in its field or here, not both.")
        return data

    def config(self) -> dict[str, Any]:
        """The trainer settings the form gives: only those filled in (the trainer's defaults
        stand for the rest, and are recorded with the run)."""
        data = self.cleaned_data
        config = dict(data.get("settings") or {})
        for name in self.COMMON:
            if data.get(name) is not None:
                config[name] = data[name]
        return config
