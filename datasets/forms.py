"""Forms of the datasets pages. They parse and check shapes; the services decide what is allowed."""

from __future__ import annotations

import csv
import io
import math

from django import forms
from django.conf import settings

from datasets.models import CollectionMode, Dataset, DatasetKind, DatasetVersion, VersionState
from datasets.services import SKLEARN_DATASETS

_MAX_KEYS = 100_000


class DatasetCreateForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ("name", "slug", "kind", "description")
        help_texts = {
            "slug": "The dataset's address: letters, digits, hyphens and underscores.",
            "description": "Markdown",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].lower()


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="Tabular: CSV or JSONL with a label column. Text: CSV or JSONL with text and label columns. "
        "Images: a zip of class folders, or of images with a labels.csv."
    )
    message = forms.CharField(
        max_length=300, required=False, help_text="What this version is, e.g. “March scans”"
    )
    label_column = forms.CharField(
        max_length=100,
        initial="label",
        required=False,
        help_text="The column that holds the label; rows with an empty label are unlabelled",
    )
    text_column = forms.CharField(
        max_length=100, initial="text", required=False, help_text="The column that holds the text"
    )

    def __init__(self, *args, kind: str = DatasetKind.TABULAR, **kwargs):
        super().__init__(*args, **kwargs)
        if kind != DatasetKind.TEXT:
            del self.fields["text_column"]
        if kind == DatasetKind.IMAGE:
            del self.fields["label_column"]


class SklearnImportForm(forms.Form):
    name = forms.ChoiceField(label="Bundled dataset")

    def __init__(self, *args, kind: str = DatasetKind.TABULAR, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].choices = sklearn_choices(kind)


def sklearn_choices(kind: str) -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name, k in SKLEARN_DATASETS.items() if k == kind]


class SplitForm(forms.Form):
    seed = forms.IntegerField(
        min_value=0, max_value=2**32 - 1, initial=42, help_text="The same seed gives the same split"
    )
    train = forms.FloatField(min_value=0, max_value=1, initial=0.7, label="Train fraction")
    validation = forms.FloatField(min_value=0, max_value=1, initial=0.15, label="Validation fraction")
    test = forms.FloatField(min_value=0, max_value=1, initial=0.15, label="Test fraction (sealed)")
    stratified = forms.BooleanField(required=False, initial=True, label="Stratified by label")

    def clean(self):
        cleaned = super().clean()
        for name in ("train", "validation", "test"):
            value = cleaned.get(name)
            if value is not None and not math.isfinite(value):
                self.add_error(name, "Must be a finite number.")
        return cleaned


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class DeriveForm(forms.Form):
    remove = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Item keys to remove",
        help_text="One key per line",
    )
    relabel = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Relabel",
        help_text="One “key,new_label” per line; an empty new label makes the item unlabelled",
    )
    add_file = forms.FileField(
        required=False, label="Items to add", help_text="An upload like a new version's"
    )
    message = forms.CharField(max_length=300, required=False)

    def clean_remove(self) -> list[str]:
        keys = _lines(self.cleaned_data.get("remove", ""))
        if len(keys) > _MAX_KEYS:
            raise forms.ValidationError(f"At most {_MAX_KEYS} keys at a time.")
        return keys

    def clean_relabel(self) -> dict[str, str | None]:
        text = self.cleaned_data.get("relabel", "")
        relabel: dict[str, str | None] = {}
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise forms.ValidationError(f"Line {number}: write “key,new_label” (two values).")
            key, label = row[0].strip(), row[1].strip()
            if not key:
                raise forms.ValidationError(f"Line {number}: the key is empty.")
            if len(label) > 200:
                raise forms.ValidationError(f"Line {number}: a label has at most 200 characters.")
            if key in relabel:
                raise forms.ValidationError(f"Line {number}: {key} is relabelled twice.")
            relabel[key] = label or None
        if len(relabel) > _MAX_KEYS:
            raise forms.ValidationError(f"At most {_MAX_KEYS} relabels at a time.")
        return relabel

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not (
            cleaned.get("remove") or cleaned.get("relabel") or cleaned.get("add_file")
        ):
            raise forms.ValidationError("Remove, relabel or add at least one item.")
        return cleaned


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: DatasetVersion) -> str:
        text = f"v{obj.number} · {obj.item_count} items"
        return f"{text} · {obj.message}" if obj.message else text


def _markdown(label: str) -> forms.CharField:
    return forms.CharField(
        required=False, label=label, widget=forms.Textarea(attrs={"rows": 5}), help_text="Markdown"
    )


class DataDocumentForm(forms.Form):
    version = VersionChoiceField(
        queryset=DatasetVersion.objects.none(),
        empty_label=None,
        label="Pinned version",
        help_text="The statistics shown come from this version's profile",
    )
    collection_mode = forms.ChoiceField(choices=CollectionMode.choices, label="How the data was collected")
    collection_description = _markdown("Collection: description")
    representativeness = _markdown("Representativeness of deployment conditions")
    semantics = _markdown("Semantics and saliency of the fields")
    labelling_process = _markdown("Labelling process")
    quality_assessment = _markdown("Quality and quantity: a subjective assessment")
    known_issues = _markdown("Known issues")

    MARKDOWN_FIELDS = (
        "collection_description",
        "representativeness",
        "semantics",
        "labelling_process",
        "quality_assessment",
        "known_issues",
    )

    def __init__(self, *args, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = dataset.versions.filter(state=VersionState.READY).order_by(
            "-number"
        )
        for name in self.MARKDOWN_FIELDS:
            field = self.fields[name]
            field.max_length = settings.PRAKRIYA_MAX_MARKDOWN_CHARS
            field.validators.append(
                forms.fields.validators.MaxLengthValidator(settings.PRAKRIYA_MAX_MARKDOWN_CHARS)
            )
