"""API serializers.

Read serializers shape what the API returns. Write serializers only parse and validate input
for one service call: they never save, and they reject fields they do not know, so a typo in a
client (`problem_statment`) is a 400 that names it rather than a silently ignored value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from projects import policy
from projects.kinds import MAX_PAUSE_SECONDS
from projects.models import (
    Comparator,
    Deliverable,
    DeliverableSnapshot,
    DeliverableTransition,
    Membership,
    PredictionInputs,
    Project,
    ProjectRevision,
    Rating,
    Role,
    Target,
    TimelineEvent,
    ValueEstimate,
    Visibility,
)

# Slugs created through the API are lower case so that URLs are canonical; the URL pattern
# still accepts any model-valid slug, for projects created elsewhere.
SLUG_PATTERN = r"^[a-z0-9][-a-z0-9_]*$"
SLUG_MESSAGE = "Use lower-case letters, digits, hyphens and underscores, starting with a letter or digit."
# For slugs within a project (datasets): a project's own names are no secret to its members.
SLUG_TAKEN = "This slug is already taken; choose another."
MAX_TAGS = 20
# Form posts from the browsable API carry the CSRF token alongside the fields.
_IGNORED_KEYS = frozenset({"csrfmiddlewaretoken"})


# --- Fields -----------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn 5 into "5". Strings that cannot
    be stored as UTF-8 (lone surrogates from JSON escapes) are refused here, not by the database."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MarkdownField(StrictCharField):
    """Markdown text capped at PRAKRIYA_MAX_MARKDOWN_CHARS. The cap is read whenever the field is
    built (every request), so it follows the setting rather than its value at import time."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs["max_length"] = settings.PRAKRIYA_MAX_MARKDOWN_CHARS
        super().__init__(**kwargs)


def _slug_field(**kwargs: Any) -> StrictRegexField:
    return StrictRegexField(SLUG_PATTERN, max_length=80, error_messages={"invalid": SLUG_MESSAGE}, **kwargs)


def _tags_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictRegexField(SLUG_PATTERN, max_length=40, error_messages={"invalid": SLUG_MESSAGE}),
        max_length=MAX_TAGS,
        **kwargs,
    )


# --- Base for write serializers ---------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Rejects keys that are not writable fields of the serializer, naming each one."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            accepted = sorted(name for name, field in self.fields.items() if not field.read_only)
            unknown = sorted(str(key) for key in data if key not in accepted and key not in _IGNORED_KEYS)
            if unknown:
                message = f"Unknown field. Accepted fields: {', '.join(accepted)}."
                raise serializers.ValidationError({key: [message] for key in unknown})
        return super().to_internal_value(data)

    def create(self, validated_data):  # pragma: no cover - writes go through services
        raise NotImplementedError("Write serializers only validate; call the service.")

    def update(self, instance, validated_data):  # pragma: no cover - writes go through services
        raise NotImplementedError("Write serializers only validate; call the service.")


# --- Projects ---------------------------------------------------------------------------------


class ProjectListSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    stage_label = serializers.CharField(source="get_stage_display", read_only=True)

    class Meta:
        model = Project
        fields = ["slug", "title", "summary", "visibility", "stage", "stage_label", "tags",
                  "created_at", "updated_at"]
        read_only_fields = fields


class TargetSerializer(serializers.ModelSerializer):
    display = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Target
        fields = ["id", "metric", "comparator", "threshold", "unit", "condition", "is_primary", "notes",
                  "position", "display"]
        read_only_fields = fields


class ValueEstimateSerializer(serializers.ModelSerializer):
    change_percent = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ValueEstimate
        fields = ["id", "quantity", "current", "expected", "unit", "position", "change_percent"]
        read_only_fields = fields


class ProjectDetailSerializer(ProjectListSerializer):
    my_role = serializers.SerializerMethodField()
    targets = TargetSerializer(many=True, read_only=True)
    value_estimates = ValueEstimateSerializer(many=True, read_only=True)

    class Meta(ProjectListSerializer.Meta):
        fields = [
            *ProjectListSerializer.Meta.fields,
            "problem_statement", "current_process", "ml_role", "value_notes",
            "feasibility_data", "feasibility_data_notes",
            "feasibility_prior_work", "feasibility_prior_work_notes",
            "feasibility_team", "feasibility_team_notes",
            "targets", "value_estimates", "my_role",
        ]
        read_only_fields = fields

    def get_my_role(self, project: Project) -> str | None:
        request = self.context.get("request")
        if request is None:
            return None
        return policy.role_of(user=request.user, project=project)


class _CharterInputSerializer(StrictSerializer):
    summary = StrictCharField(max_length=300, allow_blank=True, required=False)
    problem_statement = MarkdownField(required=False)
    current_process = MarkdownField(required=False)
    ml_role = MarkdownField(required=False)
    value_notes = MarkdownField(required=False)
    feasibility_data = serializers.ChoiceField(choices=Rating.choices, required=False)
    feasibility_data_notes = MarkdownField(required=False)
    feasibility_prior_work = serializers.ChoiceField(choices=Rating.choices, required=False)
    feasibility_prior_work_notes = MarkdownField(required=False)
    feasibility_team = serializers.ChoiceField(choices=Rating.choices, required=False)
    feasibility_team_notes = MarkdownField(required=False)


class ProjectCreateSerializer(_CharterInputSerializer):
    slug = _slug_field()
    title = StrictCharField(max_length=200)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    tags = _tags_field(required=False)
    # Whether the slug is free is the service's to answer (services._available_slug).


class ProjectUpdateSerializer(_CharterInputSerializer):
    """Charter fields go to the charter service; visibility and tags to the settings service."""

    SETTINGS_FIELDS = ("visibility", "tags", "prediction_inputs")

    title = StrictCharField(max_length=200, required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    prediction_inputs = serializers.ChoiceField(
        choices=PredictionInputs.choices, required=False,
        help_text="What the deployments' prediction logs keep of each input (the lead's setting)",
    )
    tags = _tags_field(required=False)
    summary_of_change = StrictCharField(max_length=200, allow_blank=True, required=False)


# --- Membership -------------------------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    display_name = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField(help_text="Shown to the project's leads only")

    class Meta:
        model = Membership
        fields = ["id", "username", "display_name", "email", "role", "created_at"]
        read_only_fields = fields

    def get_display_name(self, membership: Membership) -> str:
        profile = getattr(membership.user, "profile", None)
        return (profile.display_name if profile else "") or membership.user.get_username()

    def get_email(self, membership: Membership) -> str | None:
        # The view decides once per request whether the requester may see emails (leads only).
        return membership.user.email if self.context.get("can_see_emails") else None


class MembershipCreateSerializer(StrictSerializer):
    username = StrictCharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)

    def validate_username(self, username: str):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No active user is called {username!r}.")
        return user


class MembershipUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


# --- Targets and value estimates --------------------------------------------------------------


class TargetWriteSerializer(StrictSerializer):
    metric = StrictCharField(max_length=80)
    comparator = serializers.ChoiceField(choices=Comparator.choices)
    threshold = serializers.FloatField(help_text="A finite number")
    unit = StrictCharField(max_length=20, allow_blank=True, required=False)
    condition = StrictCharField(max_length=120, allow_blank=True, required=False)
    is_primary = serializers.BooleanField(required=False)
    notes = StrictCharField(max_length=300, allow_blank=True, required=False)
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class ValueEstimateWriteSerializer(StrictSerializer):
    quantity = StrictCharField(max_length=120)
    current = serializers.FloatField(help_text="With the current practice; a finite number")
    expected = serializers.FloatField(help_text="Expected with the ML system; a finite number")
    unit = StrictCharField(max_length=30, allow_blank=True, required=False)
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)


# --- Deliverables -----------------------------------------------------------------------------


class DeliverableTransitionSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DeliverableTransition
        fields = ["from_state", "to_state", "actor", "comment", "created_at"]
        read_only_fields = fields


class ApprovalSummarySerializer(serializers.ModelSerializer):
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DeliverableSnapshot
        fields = ["number", "approved_by", "approved_at", "content_hash"]
        read_only_fields = fields


class ApprovalSectionSerializer(serializers.Serializer):
    title = serializers.CharField()
    html = serializers.CharField(help_text="The section as a project viewer read it at approval (sanitised HTML)")


class ApprovalSerializer(ApprovalSummarySerializer):
    """One approval as frozen (projects.evidence): what the approved page shows."""

    sections = ApprovalSectionSerializer(many=True, read_only=True)
    text = serializers.DictField(child=serializers.CharField(), read_only=True,
                                 help_text="Each section's text, one fact per line: what changes are compared on")
    versions = serializers.DictField(child=serializers.CharField(), read_only=True,
                                     help_text="The dataset, label, run and code versions behind the numbers")

    class Meta(ApprovalSummarySerializer.Meta):
        fields = [*ApprovalSummarySerializer.Meta.fields, "body", "sections", "text", "versions"]
        read_only_fields = fields


class DeliverableSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="get_kind_display", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    order = serializers.IntegerField(read_only=True)
    transitions = serializers.SerializerMethodField(help_text="Review history, newest first")
    evidence_runs = serializers.ListField(child=serializers.CharField(), read_only=True,
                                          help_text="MLflow run ids chosen as evidence (model improvement, error analysis)")
    approvals = ApprovalSummarySerializer(source="snapshots", many=True, read_only=True,
                                          help_text="Every approval, newest first; each readable in full")

    class Meta:
        model = Deliverable
        fields = ["kind", "label", "order", "state", "state_label", "body", "evidence_runs", "updated_at",
                  "transitions", "approvals"]
        read_only_fields = fields

    @extend_schema_field(DeliverableTransitionSerializer(many=True))
    def get_transitions(self, deliverable: Deliverable) -> list[dict[str, Any]]:
        history = getattr(deliverable, "history", None)
        if history is None:
            history = deliverable.transitions.select_related("actor").order_by("-created_at", "-id")
        return DeliverableTransitionSerializer(history, many=True).data


class DeliverableBodySerializer(StrictSerializer):
    body = MarkdownField()


class DeliverableActionSerializer(StrictSerializer):
    comment = MarkdownField(required=False, default="",
                            help_text="Required to request changes or reopen; optional otherwise")


# --- Timeline and revisions -------------------------------------------------------------------


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TimelineEvent
        fields = ["id", "verb", "text", "data", "actor", "created_at"]
        read_only_fields = fields


class ProjectRevisionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ProjectRevision
        fields = ["number", "author", "summary", "snapshot", "created_at"]
        read_only_fields = fields


# --- Jobs -------------------------------------------------------------------------------------


class ExportStartSerializer(StrictSerializer):
    pause_seconds = serializers.FloatField(
        min_value=0, max_value=MAX_PAUSE_SECONDS, required=False, default=0.0,
        help_text="Pause between export sections (for demonstrations)",
    )

