"""API serializers for labelling campaigns.

Read serializers never reach `Item.label`: an item appears only by its key and text, so a
sealed label cannot leak even if a sealed item ever entered a campaign. Write serializers only
parse input for one service call and reject fields they do not know (StrictSerializer); the
services own the rules (labels a value may use, who may be assigned, the campaign's state).
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasets import selectors as dataset_selectors
from datasets.annotation import selectors
from datasets.annotation.models import (
    Annotation,
    Campaign,
    CampaignItem,
    CampaignState,
    GuidelineExample,
    GuidelineVersion,
    LabelChoice,
    QueueOrder,
    TaskType,
)
from datasets.annotation.services import GOLD_SAMPLE_MAX, MAX_LABELS, MAX_OVERLAP, MAX_SAMPLE_SEED
from datasets.serializers import MAX_VERSION_NUMBER
from projects.serializers import (
    SLUG_MESSAGE,
    SLUG_PATTERN,
    MarkdownField,
    StrictCharField,
    StrictRegexField,
    StrictSerializer,
)

# Ids and counters are PostgreSQL `integer` columns: anything larger is no row, and a 400 here
# rather than an out-of-range error from the database.
MAX_ID = 2**31 - 1
MAX_SEED = 2**31 - 1  # Campaign.seed is a PositiveIntegerField
MAX_ANNOTATORS = 1000
MAX_CAUSED_BY = 1000
MAX_EXAMPLES = 200
MAX_SECONDS = 86_400.0
MIN_LOCK_TTL, MAX_LOCK_TTL = 30, 86_400


# --- Fields -----------------------------------------------------------------------------------


class FiniteFloatField(serializers.FloatField):
    """A float that is a real number: a form post can spell "nan" or "inf", which would slip
    past min/max checks (every comparison with NaN is false)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class StrictIntegerField(serializers.IntegerField):
    """An integer, not a boolean: DRF would read `true` as 1."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean (or, from a form post, one of DRF's spellings of one); never a list or an
    object, which DRF would try to look up in a set and fail on."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, list | dict):
            self.fail("invalid", input="an array or object")
        return super().to_internal_value(data)


_SPAN_SCHEMA = {
    "type": "object",
    "properties": {
        "start": {"type": "integer", "description": "First Unicode code point of the span"},
        "end": {"type": "integer", "description": "One past the last code point"},
        "label": {"type": "string"},
    },
    "required": ["start", "end", "label"],
}
_VALUE_SCHEMA = {
    "description": (
        "single: a label name; multi: a list of label names; span: a list of {start, end, label} "
        "with offsets in Unicode code points of the item's text"
    ),
    "oneOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": _SPAN_SCHEMA},
    ],
}


@extend_schema_field(_VALUE_SCHEMA)
class AnnotationValueField(serializers.JSONField):
    """Any JSON here; its shape is checked against the campaign's task type by the service."""


@extend_schema_field({**_VALUE_SCHEMA, "nullable": True})
class NullableAnnotationValueField(serializers.JSONField):
    pass


@extend_schema_field({"allOf": [{"type": "string", "enum": CampaignState.values}], "description": "open or closed"})
class CampaignStateField(serializers.ChoiceField):
    """The campaign's state. Its enum is nested in allOf so that drf-spectacular leaves it inline:
    hoisted into a component named after the field ("state"), it would collide with the job and
    deliverable states unless settings.SPECTACULAR_SETTINGS named it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=CampaignState.choices, **kwargs)


# --- Campaigns: reading -----------------------------------------------------------------------


class LabelChoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelChoice
        fields = ["name", "colour", "shortcut", "position"]
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="version.dataset.slug", read_only=True, help_text="The dataset's slug")
    version = serializers.IntegerField(source="version.number", read_only=True, help_text="The version's number")
    media = serializers.SerializerMethodField(help_text="What annotators look at: image or text")
    labels = LabelChoiceSerializer(many=True, read_only=True)
    annotators = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    state = CampaignStateField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "slug", "name", "dataset", "version", "media", "task_type", "labels", "overlap", "blind", "order",
            "seed", "lock_ttl_seconds", "state", "annotators", "created_by", "created_at", "closed_at",
        ]
        read_only_fields = fields

    def get_media(self, campaign: Campaign) -> str:
        return campaign.media


# --- Campaigns: writing -----------------------------------------------------------------------


class LabelInputSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    colour = StrictRegexField(
        r"^#[0-9a-fA-F]{6}$", required=False, help_text="Like #1f77b4; a palette colour if left out",
        error_messages={"invalid": "A colour looks like #1f77b4."},
    )
    shortcut = StrictCharField(max_length=1, allow_blank=True, required=False, help_text="One letter or digit")


class UsernameListField(serializers.ListField):
    """Usernames in, active users out; unknown names are a 400 that lists them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=StrictCharField(max_length=150), max_length=MAX_ANNOTATORS, **kwargs)

    def to_internal_value(self, data: Any) -> list:
        names = list(dict.fromkeys(super().to_internal_value(data)))
        users = {u.username: u for u in get_user_model().objects.filter(username__in=names, is_active=True)}
        unknown = [name for name in names if name not in users]
        if unknown:
            raise serializers.ValidationError(f"No active user is called: {', '.join(unknown)}.")
        return [users[name] for name in names]

    def to_representation(self, value: Any) -> list[str]:
        # The browsable API fills its edit form from the campaign: `annotators` is a manager there.
        users = value.all() if hasattr(value, "all") else value
        return [user.username for user in users]


class DefinitionsField(serializers.DictField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Label name → its definition (Markdown)")
        super().__init__(child=MarkdownField(), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, dict) and len(data) > MAX_LABELS:
            raise serializers.ValidationError(f"At most {MAX_LABELS} definitions.")
        return dict(super().to_internal_value(data))


class CampaignCreateSerializer(StrictSerializer):
    dataset = StrictRegexField(r"^[-a-zA-Z0-9_]+$", max_length=60, help_text="The dataset's slug")
    version = StrictIntegerField(min_value=1, max_value=MAX_VERSION_NUMBER, help_text="A ready version's number")
    name = StrictCharField(max_length=120)
    slug = StrictRegexField(
        SLUG_PATTERN, max_length=60, required=False, default="", error_messages={"invalid": SLUG_MESSAGE},
        help_text="Made from the name if left out",
    )
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    labels = LabelInputSerializer(many=True, allow_empty=False, max_length=MAX_LABELS)
    overlap = StrictIntegerField(
        min_value=1, max_value=MAX_OVERLAP, required=False, default=1,
        help_text="How many different annotators label each item",
    )
    blind = StrictBooleanField(required=False, default=True, help_text="Annotators do not see each other's labels")
    order = serializers.ChoiceField(choices=QueueOrder.choices, required=False, default=QueueOrder.RANDOM)
    seed = StrictIntegerField(min_value=0, max_value=MAX_SEED, required=False, default=0)
    lock_ttl_seconds = StrictIntegerField(min_value=MIN_LOCK_TTL, max_value=MAX_LOCK_TTL, required=False, default=600)
    annotators = UsernameListField(required=False, default=list, help_text="Usernames of project members")
    introduction = MarkdownField(required=False, default="", help_text="The guideline's introduction (Markdown)")
    definitions = DefinitionsField(required=False, default=dict)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        names = {label["name"] for label in data["labels"]}
        unknown = sorted(set(data["definitions"]) - names)
        if unknown:
            raise serializers.ValidationError({"definitions": [f"Not labels of this campaign: {', '.join(unknown)}."]})
        project = self.context["project"]
        dataset = dataset_selectors.dataset_list(project=project).filter(slug=data.pop("dataset")).first()
        if dataset is None:
            raise serializers.ValidationError({"dataset": ["This project has no dataset with that slug."]})
        version = dataset.versions.filter(number=data["version"]).first()
        if version is None:
            raise serializers.ValidationError({"version": [f"The dataset has no version {data['version']}."]})
        data["version"] = version
        return data


class CampaignUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=120, required=False)
    blind = StrictBooleanField(required=False)
    lock_ttl_seconds = StrictIntegerField(min_value=MIN_LOCK_TTL, max_value=MAX_LOCK_TTL, required=False)
    annotators = UsernameListField(required=False, help_text="The full list of assigned annotators (replaces it)")


# --- Guideline --------------------------------------------------------------------------------


class GuidelineExampleSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="campaign_item.item.key", read_only=True, help_text="The item's key")
    text = serializers.CharField(source="campaign_item.item.text", read_only=True, help_text="Empty for images")

    class Meta:
        model = GuidelineExample
        fields = ["label", "campaign_item", "key", "text", "positive", "note"]
        read_only_fields = fields


class GuidelineVersionSerializer(serializers.ModelSerializer):
    """One entry of the change log."""

    caused_by = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Ids of the campaign items whose disagreement led to the change"
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = GuidelineVersion
        fields = ["number", "change_note", "caused_by", "created_by", "created_at"]
        read_only_fields = fields


class GuidelineSerializer(GuidelineVersionSerializer):
    definitions = serializers.SerializerMethodField(help_text="Label name → its definition (Markdown)")
    examples = GuidelineExampleSerializer(many=True, read_only=True)

    class Meta(GuidelineVersionSerializer.Meta):
        fields = ["number", "introduction", "definitions", "examples", "change_note", "caused_by", "created_by",
                  "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_definitions(self, guideline: GuidelineVersion) -> dict[str, str]:
        return {d.label: d.definition for d in guideline.definitions.all()}


class ExampleInputSerializer(StrictSerializer):
    label = StrictCharField(max_length=100)
    campaign_item = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="A campaign item's id")
    positive = StrictBooleanField(required=False, default=True, help_text="An example of the label, or of what it is not")
    note = StrictCharField(max_length=300, allow_blank=True, required=False, default="")


class GuidelinePublishSerializer(StrictSerializer):
    introduction = MarkdownField(required=False, help_text="The current introduction if left out")
    definitions = DefinitionsField(
        required=False, help_text="Label name → its new definition; labels left out keep the current one"
    )
    change_note = StrictCharField(max_length=2000, help_text="What changed and why")
    caused_by = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID), max_length=MAX_CAUSED_BY, required=False,
        default=list, help_text="Ids of the campaign items whose disagreement led to the change",
    )
    examples = ExampleInputSerializer(
        many=True, required=False, max_length=MAX_EXAMPLES,
        help_text="New examples; the current version's examples are carried over",
    )


# --- Annotations ------------------------------------------------------------------------------


class AnnotationSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="campaign_item.item.key", read_only=True, help_text="The item's key")
    annotator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    value = AnnotationValueField(read_only=True)
    guideline_version = serializers.SlugRelatedField(
        slug_field="number", read_only=True, help_text="The guideline version it was made (or last edited) under"
    )

    class Meta:
        model = Annotation
        fields = ["id", "campaign_item", "key", "annotator", "value", "tool", "seconds_spent", "guideline_version",
                  "revision", "created_at", "updated_at"]
        read_only_fields = fields


class AnnotationCreateSerializer(StrictSerializer):
    campaign_item = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="The campaign item's id")
    value = AnnotationValueField()
    seconds_spent = FiniteFloatField(min_value=0, max_value=MAX_SECONDS, required=False, default=0.0)

    def validate_campaign_item(self, pk: int) -> CampaignItem:
        item = CampaignItem.objects.filter(campaign=self.context["campaign"], pk=pk).select_related("item").first()
        if item is None:
            raise serializers.ValidationError("This campaign has no item with that id.")
        return item


class AnnotationEditSerializer(StrictSerializer):
    value = AnnotationValueField()
    revision = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="The revision you are editing; a stale one is a 409"
    )
    seconds_spent = FiniteFloatField(
        min_value=0, max_value=MAX_SECONDS, required=False, default=0.0, help_text="Added to the time spent"
    )


# --- The queue and adjudication ---------------------------------------------------------------


class CampaignItemSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="item.key", read_only=True)
    text = serializers.CharField(source="item.text", read_only=True, help_text="Empty for images")
    gold = NullableAnnotationValueField(read_only=True, help_text="The adjudicated label, if any")
    gold_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CampaignItem
        fields = ["id", "key", "text", "position", "capacity", "taken", "annotation_count", "uncertainty", "gold",
                  "gold_by", "gold_at", "gold_note"]
        read_only_fields = fields


class GoldSerializer(StrictSerializer):
    value = NullableAnnotationValueField(allow_null=True, help_text="The gold label; null clears it")
    note = StrictCharField(max_length=300, allow_blank=True, required=False, default="")


class DisagreementSerializer(serializers.Serializer):
    campaign_item = serializers.IntegerField(source="campaign_item_id")
    key = serializers.CharField()
    votes = serializers.IntegerField(help_text="Annotations of the item")
    distinct = serializers.IntegerField(help_text="Different values among them")
    agreement = serializers.FloatField(help_text="Share of the most common value")
    resolved = serializers.BooleanField(help_text="Whether the lead has set a gold label")


class DisagreementQuerySerializer(serializers.Serializer):
    # Not strict: the query string also carries the paginator's parameters.
    include_resolved = StrictBooleanField(required=False, default=False)


class LabelSetRowSerializer(serializers.Serializer):
    campaign_item = serializers.IntegerField()
    key = serializers.CharField()
    value = NullableAnnotationValueField(help_text="null when undecided")
    source = serializers.ChoiceField(choices=["gold", "majority", "undecided"])
    votes = serializers.IntegerField()


class AnnotatorAccuracySerializer(serializers.Serializer):
    annotator = serializers.CharField()
    items = serializers.IntegerField(help_text="Adjudicated gold sample items the annotator labelled")
    correct = serializers.IntegerField(help_text="Of them, those labelled as the gold label says")
    accuracy = serializers.FloatField()
    ci_low = serializers.FloatField(source="low", help_text="Wilson 95% interval")
    ci_high = serializers.FloatField(source="high")


class HumanBaselineSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=[selectors.GOLD_SAMPLE, selectors.FROM_AGREEMENT], allow_null=True,
        help_text="gold_sample: measured on the adjudicated gold sample; agreement: estimated from the annotators' "
                  "pairwise agreement (single-label campaigns without enough of a gold sample); null: nothing to "
                  "measure it on yet",
    )
    method_note = serializers.CharField(help_text="How it was computed, with the assumptions made")
    items = serializers.IntegerField(help_text="The items it rests on")
    mean_accuracy = serializers.FloatField(
        source="accuracy", allow_null=True,
        help_text="How often a human label is right: the mean over the items of the share of their labels that "
                  "are right (gold sample), or the accuracy the agreement implies",
    )
    ci_low = serializers.FloatField(source="low", allow_null=True, help_text="95% interval")
    ci_high = serializers.FloatField(source="high", allow_null=True)
    too_few = serializers.BooleanField(help_text="Too few items to compare with models")
    comparable = serializers.BooleanField(help_text="Whether it may be compared with models' figures")
    min_items = serializers.SerializerMethodField(help_text="Items it needs to be compared with models")
    annotators = AnnotatorAccuracySerializer(many=True, help_text="Per annotator (gold sample only)")
    agreement = serializers.FloatField(
        allow_null=True, help_text="The observed pairwise agreement the estimate comes from (agreement only)"
    )
    sample_items = serializers.IntegerField(help_text="Items in the gold sample, adjudicated or not")
    sample_adjudicated = serializers.IntegerField(help_text="Gold sample items with a gold label")

    def get_min_items(self, baseline: selectors.HumanBaseline) -> int:
        return selectors.MIN_BASELINE_ITEMS


class GoldSampleDrawSerializer(serializers.Serializer):
    seed = serializers.IntegerField()
    size = serializers.IntegerField(help_text="Items asked for")
    drawn = serializers.IntegerField(help_text="Items drawn: fewer than asked when fewer were eligible")
    population = serializers.IntegerField(help_text="Items eligible then: labelled twice or more, not drawn before")
    drawn_by = serializers.CharField(source="drawn_by.username", allow_null=True, help_text="The lead's username")
    drawn_at = serializers.DateTimeField()


class GoldSampleSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="Items in the gold sample")
    adjudicated = serializers.IntegerField(help_text="Of them, those with a gold label")
    max_items = serializers.IntegerField(help_text="Items the sample may hold at most")
    draws = GoldSampleDrawSerializer(many=True)


class GoldSampleRequestSerializer(StrictSerializer):
    size = StrictIntegerField(min_value=1, max_value=GOLD_SAMPLE_MAX, help_text="Items to add to the sample")
    seed = StrictIntegerField(min_value=0, max_value=MAX_SAMPLE_SEED, required=False, default=0)


class AnnotatorProgressSerializer(serializers.Serializer):
    annotator = serializers.CharField(source="user.username")
    annotations = serializers.IntegerField()
    working = serializers.BooleanField(help_text="Holds a claim on an item now")


class ProgressSerializer(serializers.Serializer):
    state = CampaignStateField()
    items = serializers.IntegerField()
    target = serializers.IntegerField(help_text="Annotations the campaign needs: items × overlap")
    annotations = serializers.IntegerField()
    complete_items = serializers.IntegerField(help_text="Items with all their annotations")
    percent = serializers.FloatField()
    mine = serializers.IntegerField(help_text="Your annotations")
    left_for_me = serializers.IntegerField(help_text="Items still open that you have not labelled")
    annotators = AnnotatorProgressSerializer(
        many=True, allow_null=True, help_text="Per annotator (leads and engineers only; null otherwise)"
    )

    @staticmethod
    def build(campaign: Campaign, progress: selectors.Progress, annotators: list[dict] | None) -> dict[str, Any]:
        return {
            "state": campaign.state, "items": progress.items, "target": progress.target,
            "annotations": progress.annotations, "complete_items": progress.complete_items,
            "percent": progress.percent, "mine": progress.mine, "left_for_me": progress.left_for_me,
            "annotators": annotators,
        }
