from __future__ import annotations

import math

from django import forms
from django.conf import settings
from django.core.validators import validate_slug

from projects.charter import CHARTER_FIELDS
from projects.kinds import MAX_PAUSE_SECONDS
from projects.models import PredictionInputs, Project, Role, Target, ValueEstimate, Visibility

_MARKDOWN_FIELDS = (
    "problem_statement",
    "current_process",
    "ml_role",
    "value_notes",
    "feasibility_data_notes",
    "feasibility_prior_work_notes",
    "feasibility_team_notes",
)


def _tag_list(raw: str) -> list[str]:
    tags = [t.strip().lower() for t in raw.replace(";", ",").split(",") if t.strip()]
    for tag in tags:
        try:
            validate_slug(tag)
        except forms.ValidationError as exc:
            raise forms.ValidationError(f"“{tag}” is not a valid tag: use letters, digits, - and _.") from exc
        if len(tag) > 40:
            raise forms.ValidationError(f"“{tag}” is longer than 40 characters.")
    return tags


class ProjectCreateForm(forms.ModelForm):
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. vision, ocr")

    class Meta:
        model = Project
        fields = ("title", "slug", "summary", "visibility")
        help_texts = {
            "slug": "The project's address: letters, digits and hyphens. A private project's address gets a "
            "random ending, so that nobody can guess it."
        }

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].lower()

    def validate_unique(self) -> None:
        # Whether a slug is free is the service's to answer, in words that say nothing about
        # private projects (services._available_slug); the model form would say "already exists".
        pass

    def clean_tags(self) -> list[str]:
        return _tag_list(self.cleaned_data.get("tags", ""))


class CharterForm(forms.ModelForm):
    summary_of_change = forms.CharField(
        required=False,
        max_length=200,
        label="Summary of this change",
        help_text="Shown in the page's history",
    )

    class Meta:
        model = Project
        fields = CHARTER_FIELDS
        widgets = {name: forms.Textarea(attrs={"rows": 5}) for name in _MARKDOWN_FIELDS}
        labels = {
            "problem_statement": "Problem statement",
            "current_process": "Business as usual today",
            "ml_role": "Role of ML in the process",
            "value_notes": "Value (notes)",
            "feasibility_data": "Feasibility: data",
            "feasibility_data_notes": "Data: notes",
            "feasibility_prior_work": "Feasibility: prior work",
            "feasibility_prior_work_notes": "Prior work: notes",
            "feasibility_team": "Feasibility: team and infrastructure",
            "feasibility_team_notes": "Team and infrastructure: notes",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in _MARKDOWN_FIELDS:
            self.fields[name].max_length = settings.PRAKRIYA_MAX_MARKDOWN_CHARS
            self.fields[name].validators.append(
                forms.fields.validators.MaxLengthValidator(settings.PRAKRIYA_MAX_MARKDOWN_CHARS)
            )
            self.fields[name].help_text = "Markdown"


class SettingsForm(forms.Form):
    visibility = forms.ChoiceField(choices=Visibility.choices)
    tags = forms.CharField(required=False, help_text="Comma-separated")
    # Optional: a form (or a client) that does not send it leaves the setting as it is.
    prediction_inputs = forms.ChoiceField(
        choices=PredictionInputs.choices, required=False, label="Production inputs in the prediction log",
        help_text="What the deployments keep of each input they score. Sending production inputs back to "
        "labelling needs them stored.",
    )

    def clean_tags(self) -> list[str]:
        return _tag_list(self.cleaned_data.get("tags", ""))

    def clean_prediction_inputs(self) -> str | None:
        return self.cleaned_data.get("prediction_inputs") or None


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class TargetForm(forms.ModelForm):
    class Meta:
        model = Target
        fields = ("metric", "comparator", "threshold", "unit", "condition", "is_primary", "notes")
        labels = {"is_primary": "Primary metric (drives engineering choices)"}

    def clean_threshold(self) -> float:
        # Django's FloatField already refuses NaN and infinity; this keeps the rule explicit for
        # values set some other way (e.g. a subclass changing the field).
        value = self.cleaned_data["threshold"]
        if value is None or not math.isfinite(value):
            raise forms.ValidationError("The threshold must be a finite number.")
        return value


class ValueEstimateForm(forms.ModelForm):
    class Meta:
        model = ValueEstimate
        fields = ("quantity", "current", "expected", "unit")

    def clean(self):
        cleaned = super().clean()
        for name in ("current", "expected"):
            value = cleaned.get(name)
            if value is not None and not math.isfinite(value):
                self.add_error(name, "Must be a finite number.")
        return cleaned


class DeliverableBodyForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16}), required=False, label="Text", help_text="Markdown"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].max_length = settings.PRAKRIYA_MAX_MARKDOWN_CHARS
        self.fields["body"].validators.append(
            forms.fields.validators.MaxLengthValidator(settings.PRAKRIYA_MAX_MARKDOWN_CHARS)
        )


class TransitionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("submit", "Submit"),
            ("approve", "Approve"),
            ("request_changes", "Request changes"),
            ("reopen", "Reopen"),
        ]
    )
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ExportForm(forms.Form):
    pause_seconds = forms.FloatField(required=False, min_value=0, max_value=MAX_PAUSE_SECONDS, initial=0)
