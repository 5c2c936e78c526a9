"""The "Train a model" form: a dataset version, a trainer and its settings.

The form only parses. Whether the trainer fits the version's kind of data and whether the settings
are valid for that trainer is decided by experiments.launch.training_start (the trainers' own
config parser), the same check the API goes through; its refusal comes back as a form error.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings as django_settings
from django.core.validators import MaxValueValidator

from experiments import selectors
from experiments.checkpoints import STAGE_CHOICES
from experiments.launch import MAX_LOSS_THRESHOLD, MAX_OVERFIT_BATCH, MAX_OVERFIT_STEPS
from experiments.training.limits import MAX_LAYERS, UPPER_BOUNDS

MAX_SETTINGS_CHARS = 5000


class _VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.dataset.name} v{obj.number} ({obj.dataset.get_kind_display().lower()})"


def trainer_choices() -> list[tuple[str, str]]:
    # The trainers' registry imports torch: loaded when the form is first built, not at start-up.
    from experiments.training import TRAINERS

    return [(spec.name, f"{spec.label} — {', '.join(spec.kinds)}") for spec in TRAINERS.values()]


def _bound(field: forms.Field, maximum: int | float) -> None:
    """Holds a field to a bound read at request time (a setting), as its max_value would."""
    field.validators.append(MaxValueValidator(maximum))
    field.widget.attrs["max"] = maximum


def _json_object(text: str, example: str) -> dict[str, Any]:
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise forms.ValidationError("This is not valid JSON.") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"Write a JSON object, e.g. {example}.")
    return value


def _stage_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=[("", "none"), *STAGE_CHOICES], required=False,
        help_text="The checkpoint stage this run works towards (the process's model-improvement stages).",
    )


class TrainForm(forms.Form):
    version = _VersionChoice(
        queryset=None, label="Dataset version", empty_label=None,
        help_text="Ready versions with a split; the model trains on the train part and reports on validation.",
    )
    trainer = forms.ChoiceField(choices=(), help_text="Each trainer lists the kinds of data it trains on.")
    name = forms.CharField(max_length=200, required=False, help_text="Optional; names the MLflow run.")
    stage = _stage_field()
    # The bounds are experiments/training/limits.py's, which the launch checks again (the API's
    # and the JSON box's settings only meet them there).
    epochs = forms.IntegerField(min_value=1, required=False, help_text="Neural networks only.")
    lr = forms.FloatField(label="Learning rate", min_value=0, max_value=UPPER_BOUNDS["lr"], required=False,
                          help_text="Neural networks only.")
    batch_size = forms.IntegerField(min_value=1, max_value=UPPER_BOUNDS["batch_size"], required=False,
                                    help_text="Neural networks only.")
    seed = forms.IntegerField(min_value=0, max_value=UPPER_BOUNDS["seed"], required=False, help_text="Default 0.")
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
        _bound(self.fields["epochs"], django_settings.PRAKRIYA_TRAINING_MAX_EPOCHS)
        self.fields["epochs"].help_text = (
            f"Neural networks only; at most {django_settings.PRAKRIYA_TRAINING_MAX_EPOCHS}."
        )

    def clean_hidden_sizes(self) -> list[int] | None:
        text = self.cleaned_data.get("hidden_sizes", "").strip()
        if not text:
            return None
        try:
            sizes = [int(part) for part in text.replace(" ", ",").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Write whole numbers separated by commas, e.g. 128, 64.") from None
        widest = UPPER_BOUNDS["hidden_sizes"]
        if not sizes or any(size < 1 or size > widest for size in sizes):
            raise forms.ValidationError(f"Each layer needs between 1 and {widest} units.")
        if len(sizes) > MAX_LAYERS:
            raise forms.ValidationError(f"At most {MAX_LAYERS} layers.")
        return sizes

    def clean_settings(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data.get("settings", ""), '{"weight_decay": 0.0001}')

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


def torch_trainer_choices() -> list[tuple[str, str]]:
    from experiments.training import TRAINERS

    return [(s.name, f"{s.label} — {', '.join(s.kinds)}") for s in TRAINERS.values() if s.family == "torch"]


class OverfitForm(forms.Form):
    """Overfit one batch: a torch trainer, its settings, and the check's batch, threshold and step
    budget (experiments.launch.overfit_start decides the rest)."""

    version = _VersionChoice(queryset=None, label="Dataset version", empty_label=None)
    trainer = forms.ChoiceField(choices=(), help_text="Networks only: baselines are fitted in one shot.")
    name = forms.CharField(max_length=200, required=False, help_text="Optional; names the MLflow run.")
    batch_size = forms.IntegerField(min_value=1, max_value=MAX_OVERFIT_BATCH, required=False, label="Batch size",
                                    help_text="Examples in the one batch; default the trainer's batch size.")
    loss_threshold = forms.FloatField(min_value=1e-12, max_value=MAX_LOSS_THRESHOLD, initial=0.01,
                                      label="Loss threshold", help_text="Passed once the loss falls below this.")
    max_steps = forms.IntegerField(min_value=1, max_value=MAX_OVERFIT_STEPS, initial=500, label="Step budget",
                                   help_text="Failed if the loss is still above the threshold after this many steps.")
    settings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}), required=False,
        max_length=MAX_SETTINGS_CHARS, label="Trainer settings (JSON)", help_text='e.g. {"lr": 0.01, "seed": 1}.',
    )

    def __init__(self, *args, project, **kwargs) -> None:
        kwargs.setdefault("prefix", "overfit")
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = selectors.trainable_versions(project=project)
        self.fields["trainer"].choices = torch_trainer_choices()

    def clean_settings(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data.get("settings", ""), '{"lr": 0.01}')


class SweepForm(forms.Form):
    """A grid search: a trainer, a grid of settings and the settings every combination shares."""

    version = _VersionChoice(queryset=None, label="Dataset version", empty_label=None)
    trainer = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=200, required=False, help_text="Optional; names the sweep's parent run.")
    stage = _stage_field()
    grid = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}), max_length=MAX_SETTINGS_CHARS,
        label="Grid (JSON)", help_text='Each setting with its values, e.g. {"lr": [0.01, 0.1], "epochs": [2, 4]}; '
        "at most 64 combinations (and no more than the caps on jobs queued or running allow), one training job "
        "each.",
    )
    settings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}), required=False,
        max_length=MAX_SETTINGS_CHARS, label="Fixed settings (JSON)",
        help_text='Settings every combination shares, e.g. {"seed": 1}.',
    )

    def __init__(self, *args, project, **kwargs) -> None:
        kwargs.setdefault("prefix", "sweep")
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = selectors.trainable_versions(project=project)
        self.fields["trainer"].choices = trainer_choices()

    def clean_grid(self) -> dict[str, Any]:
        from experiments.sweeps import GridError, grid_parse

        value = _json_object(self.cleaned_data.get("grid", ""), '{"lr": [0.01, 0.1]}')
        try:
            return grid_parse(value)
        except GridError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_settings(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data.get("settings", ""), '{"seed": 1}')
