"""API serializers for datasets.

Read serializers never touch `Item.label` or `Item.spans` directly: items reach them as
selectors.VisibleItem, whose label, spans and original name are withheld for sealed items. Write
serializers only parse input for one service call and reject fields they do not know
(StrictSerializer).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasets.models import CollectionMode, DataDocument, Dataset, DatasetKind, DatasetVersion, Profile, Split
from projects.serializers import (
    SLUG_MESSAGE,
    MarkdownField,
    StrictCharField,
    StrictRegexField,
    StrictSerializer,
)

# Version numbers travel in URLs and bodies; anything beyond what the column holds is no version.
MAX_VERSION_NUMBER = 2**31 - 1
MAX_SEED = 2**32 - 1
MAX_LABEL_CHARS = 200  # Item.label
MAX_KEYS = 100_000


# --- Datasets ---------------------------------------------------------------------------------


class DatasetSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    latest_version = serializers.SerializerMethodField(help_text="Number of the newest ready version")
    has_document = serializers.SerializerMethodField(help_text="Whether the data document has been written")

    class Meta:
        model = Dataset
        fields = [
            "slug",
            "name",
            "kind",
            "kind_label",
            "description",
            "created_by",
            "created_at",
            "latest_version",
            "has_document",
        ]
        read_only_fields = fields

    def get_latest_version(self, dataset: Dataset) -> int | None:
        return (
            dataset.versions.filter(state="ready")
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )

    def get_has_document(self, dataset: Dataset) -> bool:
        return DataDocument.objects.filter(dataset=dataset).exists()


class DatasetCreateSerializer(StrictSerializer):
    slug = StrictRegexField(r"^[a-z0-9][-a-z0-9_]*$", max_length=60, error_messages={"invalid": SLUG_MESSAGE})
    name = StrictCharField(max_length=120)
    kind = serializers.ChoiceField(choices=DatasetKind.choices)
    description = MarkdownField(required=False, default="")


# --- Versions ---------------------------------------------------------------------------------


class VersionSerializer(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    parent = serializers.SlugRelatedField(slug_field="number", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    job = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The job that wrote the version")
    has_split = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = [
            "number",
            "state",
            "state_label",
            "message",
            "error",
            "parent",
            "git_commit",
            "git_tag",
            "dvc_md5",
            "item_count",
            "labelled_count",
            "size_bytes",
            "columns",
            "job",
            "has_split",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_split(self, version: DatasetVersion) -> bool:
        return Split.objects.filter(version=version).exists()


class VersionDetailSerializer(VersionSerializer):
    sealed_count = serializers.IntegerField(read_only=True, help_text="Items whose labels are sealed")
    reproduce = serializers.CharField(
        read_only=True,
        help_text="How to get these exact bytes with git and dvc (leads and engineers; empty for others: it names "
        "server paths)",
    )

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "sealed_count", "reproduce"]
        read_only_fields = fields


class IdenticalVersionSerializer(serializers.Serializer):
    """The 409 answer to an upload identical to a version the dataset already has (schema only)."""

    detail = serializers.CharField()
    version = serializers.IntegerField(help_text="The number of the version the upload is identical to")
    url = serializers.URLField(help_text="That version in the API")
    html_url = serializers.URLField(help_text="That version's page")


class _JSONOrNative(serializers.Field):
    """A value sent as JSON natively, or (in a multipart form, next to a file) as a JSON string."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                return json.loads(data)
            except ValueError:
                self.fail("invalid")
        return data


class _RelabelField(_JSONOrNative):
    default_error_messages = {
        "invalid": "Give an object mapping item keys to their new labels (null unlabels)."
    }

    def to_internal_value(self, data: Any) -> dict[str, str | None]:
        data = super().to_internal_value(data)
        if not isinstance(data, Mapping) or len(data) > MAX_KEYS:
            self.fail("invalid")
        out: dict[str, str | None] = {}
        for key, label in data.items():
            if not isinstance(key, str) or not (label is None or isinstance(label, str)):
                self.fail("invalid")
            if label is not None and (len(label) > MAX_LABEL_CHARS or "\x00" in label):
                raise serializers.ValidationError(
                    f"Labels are at most {MAX_LABEL_CHARS} characters, without NUL."
                )
            out[key] = label.strip() if label is not None else None
        return out

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - write only
        return value


class _RespanField(_JSONOrNative):
    default_error_messages = {
        "invalid": "Give an object mapping item keys to their new spans: a list of {{start, end, label}} "
        "(null: no span annotation)."
    }

    def to_internal_value(self, data: Any) -> dict[str, list | None]:
        # Only the shape is checked here; each span is checked against its item's text by the service.
        data = super().to_internal_value(data)
        if not isinstance(data, Mapping) or len(data) > MAX_KEYS:
            self.fail("invalid")
        if not all(isinstance(k, str) and (v is None or isinstance(v, list)) for k, v in data.items()):
            self.fail("invalid")
        return dict(data)

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - write only
        return value


class _KeyListField(_JSONOrNative):
    default_error_messages = {"invalid": "Give a list of item keys."}

    def get_value(self, dictionary: Any) -> Any:
        # A multipart form may repeat the field once per key.
        if hasattr(dictionary, "getlist") and self.field_name in dictionary:
            values = dictionary.getlist(self.field_name)
            if len(values) > 1 or (values and not values[0].lstrip().startswith("[")):
                return values
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> list[str]:
        data = super().to_internal_value(data)
        if not isinstance(data, list) or len(data) > MAX_KEYS or not all(isinstance(k, str) for k in data):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - write only
        return value


class UploadSerializer(StrictSerializer):
    file = serializers.FileField(allow_empty_file=True, help_text="CSV, JSONL or a zip of images")
    message = StrictCharField(max_length=300, allow_blank=True, required=False, default="")
    label_column = StrictCharField(max_length=200, required=False, default="label")
    text_column = StrictCharField(max_length=200, required=False, default="text")


class ImportSerializer(StrictSerializer):
    name = StrictCharField(max_length=40, help_text="digits, iris, wine or breast_cancer")


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "nullable": True}})
class RelabelField(_RelabelField):
    pass


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class KeyListField(_KeyListField):
    pass


SPAN_SCHEMA = {
    "type": "object",
    "properties": {
        "start": {"type": "integer", "description": "First Unicode code point of the span"},
        "end": {"type": "integer", "description": "One past the last code point"},
        "label": {"type": "string", "maxLength": MAX_LABEL_CHARS},
    },
    "required": ["start", "end", "label"],
}
SPANS_SCHEMA = {"type": "array", "items": SPAN_SCHEMA, "nullable": True}


@extend_schema_field({"type": "object", "additionalProperties": SPANS_SCHEMA})
class RespanField(_RespanField):
    pass


@extend_schema_field({**SPANS_SCHEMA, "readOnly": True})
class SpansField(serializers.JSONField):
    pass


class DeriveSerializer(StrictSerializer):
    remove_keys = KeyListField(required=False, default=list, help_text="Keys of the items to leave out")
    relabel = RelabelField(required=False, default=dict, help_text="Item key → new label (null: unlabelled)")
    respan = RespanField(
        required=False, default=dict,
        help_text="Text datasets: item key → its new spans, replacing the old ones (null: no span annotation)",
    )
    message = StrictCharField(max_length=300, allow_blank=True, required=False, default="")
    file = serializers.FileField(required=False, allow_empty_file=True, help_text="Items to add")


# --- Items ------------------------------------------------------------------------------------


class ItemSerializer(serializers.Serializer):
    """Serializes a selectors.VisibleItem; a sealed item's label and spans read as null."""

    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True, allow_null=True, help_text="null for sealed items")
    sealed = serializers.BooleanField(read_only=True)
    split = serializers.SerializerMethodField(
        help_text="The split part the item is in, if the version is split"
    )
    text = serializers.CharField(read_only=True)
    spans = SpansField(
        read_only=True, allow_null=True,
        help_text="Text items: labelled spans [{start, end, label}], offsets in Unicode code points; "
        "null when the item has none, and for sealed items",
    )
    row = serializers.JSONField(read_only=True, allow_null=True)
    file_path = serializers.CharField(read_only=True)
    original_name = serializers.CharField(read_only=True, help_text="Empty for sealed items")
    content_hash = serializers.CharField(read_only=True)
    size = serializers.IntegerField(source="size_bytes", read_only=True)

    def get_split(self, item: Any) -> str | None:
        return self.context.get("parts", {}).get(item.id)


# --- Profiles, splits, diffs ------------------------------------------------------------------


class ProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Profile
        fields = ["report", "warnings", "excludes_sealed", "rows_per_second", "created_at"]
        read_only_fields = fields


class SplitSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    train = serializers.FloatField(source="train_fraction", read_only=True)
    validation = serializers.FloatField(source="validation_fraction", read_only=True)
    test = serializers.FloatField(source="test_fraction", read_only=True)

    class Meta:
        model = Split
        fields = ["seed", "train", "validation", "test", "stratified", "counts", "created_by", "created_at"]
        read_only_fields = fields


class SplitCreateSerializer(StrictSerializer):
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED)
    train = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.7)
    validation = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.15)
    test = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.15)
    stratified = serializers.BooleanField(required=False, default=True)


class LabelChangeSerializer(serializers.Serializer):
    key = serializers.CharField()
    before = serializers.CharField(allow_null=True)
    after = serializers.CharField(allow_null=True)


class SpanChangeSerializer(serializers.Serializer):
    key = serializers.CharField()
    before = SpansField(allow_null=True)
    after = SpansField(allow_null=True)


class DiffSerializer(serializers.Serializer):
    old = serializers.IntegerField(help_text="The version compared from")
    new = serializers.IntegerField(help_text="The version compared to")
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(child=serializers.CharField(), help_text="Items whose content changed")
    label_changes = LabelChangeSerializer(many=True, help_text="Label changes of items that are not sealed")
    span_changes = SpanChangeSerializer(many=True, help_text="Span changes of items that are not sealed")
    sealed_items = serializers.IntegerField(
        help_text="Items of the sealed test split in both versions: never compared by label or spans"
    )
    balance_before = serializers.DictField(child=serializers.IntegerField())
    balance_after = serializers.DictField(child=serializers.IntegerField())


# --- The data document ------------------------------------------------------------------------


class DataDocumentSerializer(serializers.ModelSerializer):
    version = serializers.SlugRelatedField(slug_field="number", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    collection_mode_label = serializers.CharField(source="get_collection_mode_display", read_only=True)
    statistics = serializers.SerializerMethodField(
        help_text="Live statistics of the pinned version (from its current profile; sealed items left out)"
    )

    class Meta:
        model = DataDocument
        fields = [
            "version",
            "collection_mode",
            "collection_mode_label",
            "collection_description",
            "representativeness",
            "semantics",
            "labelling_process",
            "quality_assessment",
            "known_issues",
            "statistics",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object"})
    def get_statistics(self, document: DataDocument) -> dict[str, Any]:
        return self.context.get("statistics", {})


class DataDocumentWriteSerializer(StrictSerializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION_NUMBER,
        help_text="The number of the version the document is pinned to",
    )
    collection_mode = serializers.ChoiceField(choices=CollectionMode.choices)
    collection_description = MarkdownField(required=False)
    representativeness = MarkdownField(required=False)
    semantics = MarkdownField(required=False)
    labelling_process = MarkdownField(required=False)
    quality_assessment = MarkdownField(required=False)
    known_issues = MarkdownField(required=False)
