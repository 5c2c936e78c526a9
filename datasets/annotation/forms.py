"""Forms of the campaign pages. They parse and check shapes; the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from datasets.annotation.active import Method
from datasets.annotation.models import Annotation, Campaign, QueueOrder, TaskType
from datasets.annotation.services import (
    ANNOTATOR_ROLES,
    GOLD_SAMPLE_MAX,
    MAX_LABELS,
    MAX_OVERLAP,
    MAX_SAMPLE_SEED,
)
from datasets.models import DatasetKind, DatasetVersion, VersionState
from projects.models import Project

MAX_SEED = 2**31 - 1  # Campaign.seed is a PositiveIntegerField
LOCK_TTL_MIN, LOCK_TTL_MAX = 30, 86_400
MAX_CAUSES = 50


def _members_who_may_annotate(project: Project):
    return (
        get_user_model().objects.filter(memberships__project=project, memberships__role__in=ANNOTATOR_ROLES)
        .order_by("username").distinct()
    )


class AnnotatorChoiceField(forms.ModelMultipleChoiceField):
    """Project members who may annotate, each shown with their role."""

    def __init__(self, project: Project, **kwargs):
        self.roles = dict(project.memberships.values_list("user_id", "role"))
        super().__init__(queryset=_members_who_may_annotate(project), **kwargs)

    def label_from_instance(self, obj) -> str:
        role = self.roles.get(obj.pk)
        return f"{obj.get_username()} ({role})" if role else obj.get_username()


def _annotator_field(project: Project) -> AnnotatorChoiceField:
    return AnnotatorChoiceField(
        project, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Members who label this campaign's items (annotators, engineers and the lead)",
    )


def parse_labels(text: str) -> list[dict]:
    """One label per line: a name, then optionally a colour (#rrggbb) and a one-letter shortcut,
    separated by commas (“positive, #2ca02c, p”). Names may contain spaces, not commas."""
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        label: dict[str, str] = {"name": parts[0]}
        if len(parts) > 3:
            raise forms.ValidationError(f"Line {number}: at most a name, a colour and a shortcut, separated by commas.")
        for extra in parts[1:]:
            if not extra:
                continue
            key = "colour" if extra.startswith("#") else "shortcut"
            if key in label:
                raise forms.ValidationError(f"Line {number}: two {key}s given.")
            label[key] = extra
        labels.append(label)
    if not labels:
        raise forms.ValidationError("Name at least one label.")
    if len(labels) > MAX_LABELS:
        raise forms.ValidationError(f"At most {MAX_LABELS} labels are allowed.")
    return labels


class CampaignCreateForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=DatasetVersion.objects.none(), label="Dataset version",
        help_text="A ready version of an image or text dataset of this project; every item except the sealed "
        "test items goes into the queue",
    )
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(
        max_length=60, required=False, label="Address",
        help_text="Letters, digits and hyphens; made from the name if left empty",
    )
    task_type = forms.ChoiceField(choices=TaskType.choices, label="Task", help_text="Spans need a text dataset")
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One label per line: its name, then optionally a colour and a one-letter keyboard shortcut, "
        "separated by commas, e.g. “positive, #2ca02c, p”",
    )
    overlap = forms.IntegerField(
        min_value=1, max_value=MAX_OVERLAP, initial=2, label="Overlap (annotators per item)",
        help_text="Two or more lets you measure agreement and find disagreements to adjudicate",
    )
    blind = forms.BooleanField(required=False, initial=True, label="Blind: annotators do not see each other's labels")
    order = forms.ChoiceField(choices=QueueOrder.choices, initial=QueueOrder.RANDOM, label="Queue order")
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, initial=0, help_text="The random order's seed")
    lock_ttl_seconds = forms.IntegerField(
        min_value=LOCK_TTL_MIN, max_value=LOCK_TTL_MAX, initial=600, label="Lock time-to-live (seconds)",
        help_text="A claimed item returns to the queue when its annotator is away this long",
    )
    introduction = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), label="Guideline introduction",
        help_text="Markdown: what the task is and how to decide; per-label definitions can be added later",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = (
            DatasetVersion.objects.filter(
                dataset__project=project, state=VersionState.READY,
                dataset__kind__in=[DatasetKind.IMAGE, DatasetKind.TEXT],
            ).select_related("dataset").order_by("dataset__name", "-number")
        )
        self.fields["version"].label_from_instance = (
            lambda v: f"{v.dataset.name} v{v.number} ({v.dataset.get_kind_display().lower()}, {v.item_count} items)"
        )
        self.fields["annotators"] = _annotator_field(project)
        self.order_fields([*(name for name in self.fields if name not in ("annotators", "introduction")),
                           "annotators", "introduction"])

    def clean_labels(self) -> list[dict]:
        return parse_labels(self.cleaned_data.get("labels", ""))

    def clean(self):
        cleaned = super().clean()
        version, task_type = cleaned.get("version"), cleaned.get("task_type")
        if version is not None and task_type == TaskType.SPAN and version.dataset.kind != DatasetKind.TEXT:
            self.add_error("task_type", "Span labelling needs a text dataset.")
        return cleaned


class CampaignEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    blind = forms.BooleanField(required=False, label="Blind: annotators do not see each other's labels")
    lock_ttl_seconds = forms.IntegerField(
        min_value=LOCK_TTL_MIN, max_value=LOCK_TTL_MAX, label="Lock time-to-live (seconds)",
        help_text="A claimed item returns to the queue when its annotator is away this long",
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        kwargs.setdefault("initial", {
            "name": campaign.name, "blind": campaign.blind, "lock_ttl_seconds": campaign.lock_ttl_seconds,
            "annotators": list(campaign.annotators.values_list("pk", flat=True)),
        })
        super().__init__(*args, **kwargs)
        self.fields["annotators"] = _annotator_field(campaign.project)


class AdjudicateForm(forms.Form):
    """The gold label of one item. Its field follows the task: one label, a set of labels, or
    (spans) one annotator's spans taken as gold."""

    note = forms.CharField(max_length=300, required=False, help_text="Why this label: shown with the decision")
    add_example = forms.BooleanField(
        required=False, label="Add this item to the guideline as an example of the chosen label",
    )
    example_note = forms.CharField(max_length=300, required=False, label="Note for the example")

    def __init__(self, *args, campaign: Campaign, annotations: list[Annotation], **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        names = list(campaign.labels.values_list("name", flat=True))
        if campaign.task_type == TaskType.SINGLE:
            field = forms.ChoiceField(choices=[(n, n) for n in names], widget=forms.RadioSelect, label="Gold label")
        elif campaign.task_type == TaskType.MULTI:
            field = forms.MultipleChoiceField(
                choices=[(n, n) for n in names], widget=forms.CheckboxSelectMultiple, required=False,
                label="Gold labels", help_text="None ticked means no label applies",
            )
        else:
            self.span_annotations = {str(a.pk): a for a in annotations}
            field = forms.ChoiceField(
                choices=[(str(a.pk), f"{a.annotator.get_username()}'s spans") for a in annotations],
                widget=forms.RadioSelect, label="Take as gold",
            )
        if campaign.task_type != TaskType.SINGLE:
            self.fields["example_label"] = forms.ChoiceField(
                choices=[("", "—"), *((n, n) for n in names)], required=False, label="Example of",
                help_text="Which label the example illustrates (needed when the gold value names several)",
            )
        self.fields = {"gold": field, **self.fields}

    def gold_value(self):
        value = self.cleaned_data["gold"]
        if self.campaign.task_type == TaskType.SPAN:
            return self.span_annotations[value].value
        return value

    def example_label(self) -> str | None:
        """The label the guideline example illustrates, or None when it is not clear which."""
        gold = self.cleaned_data.get("gold")
        if self.campaign.task_type == TaskType.SINGLE:
            return gold
        if self.cleaned_data.get("example_label"):
            return self.cleaned_data["example_label"]
        if self.campaign.task_type == TaskType.MULTI and gold and len(gold) == 1:
            return gold[0]
        if self.campaign.task_type == TaskType.SPAN and gold in getattr(self, "span_annotations", {}):
            named = {span["label"] for span in self.span_annotations[gold].value}
            return named.pop() if len(named) == 1 else None
        return None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("add_example") and "gold" in cleaned and self.example_label() is None:
            self.add_error("example_label", "Choose the label this example illustrates.")
        return cleaned


class GoldSampleForm(forms.Form):
    size = forms.IntegerField(
        min_value=1, max_value=GOLD_SAMPLE_MAX, initial=100, label="Items",
        help_text=f"Drawn at random from the items two annotators or more labelled (the sample holds at most "
                  f"{GOLD_SAMPLE_MAX})",
    )
    seed = forms.IntegerField(min_value=0, max_value=MAX_SAMPLE_SEED, initial=0, required=False,
                              help_text="The same seed over the same items draws the same sample")

    def clean_seed(self) -> int:
        seed = self.cleaned_data.get("seed")
        return 0 if seed is None else seed


class GuidelineForm(forms.Form):
    introduction = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8}), help_text="Markdown",
    )
    change_note = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="What changed and why",
        help_text="Required: annotators read the change log to learn what to do differently",
    )

    def __init__(self, *args, labels: list[str], disagreements: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.label_names = labels
        for index, name in enumerate(labels):
            self.fields[f"definition_{index}"] = forms.CharField(
                required=False, widget=forms.Textarea(attrs={"rows": 2}), label=f"Definition of “{name}”",
            )
        self.fields["caused_by"] = forms.TypedMultipleChoiceField(
            choices=[(str(pk), text) for pk, text in disagreements[:MAX_CAUSES]], coerce=int, required=False,
            widget=forms.CheckboxSelectMultiple, label="Disagreements behind this change",
        )
        # The note last: it sums up the edits above it.
        self.order_fields([name for name in self.fields if name != "change_note"] + ["change_note"])

    def definitions(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(f"definition_{i}", "").strip() for i, name in enumerate(self.label_names)}


class ActiveForm(forms.Form):
    method = forms.ChoiceField(choices=Method.CHOICES, initial=Method.ENTROPY, label="Uncertainty measure")
