"""The JSON endpoints the labelling page calls (and automation may call with a token): claim the
next task, submit an annotation, skip. Under /api/projects/{project_slug}/campaigns/{campaign_slug}/tasks/.

Same shape as the rest of the API: the project and the campaign are resolved through the
visibility selectors (404), the body is parsed by a strict serializer (400), one service is
called; a service's ValidationError is a 400, PermissionDenied a 403 and `services.Conflict`
(a lost race or a stale claim) a 409.

The task and progress shapes defined here are also what the labelling page embeds for its first
item, so the page and its script read one format.
"""

from __future__ import annotations

from typing import Any

from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasets.annotation import selectors, services
from datasets.annotation.models import Annotation, Campaign, CampaignItem, Tool
from prakriya.accounts.selectors import user_label
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin
from projects.serializers import StrictSerializer

CAMPAIGN_SLUG_PARAMETER = OpenApiParameter(
    "campaign_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The campaign's slug"
)
CAMPAIGN_ITEM_PARAMETER = OpenApiParameter(
    "campaign_item_id", OpenApiTypes.INT, OpenApiParameter.PATH,
    description="The task's id (the `id` of a task returned by tasks/next/)",
)
MAX_SECONDS_SPENT = 86_400.0


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This request lost a race with another one."
    default_code = "conflict"


# --- What the page and the API share ----------------------------------------------------------


def value_display(value, text: str = "") -> str:
    """An annotation value as a person reads it; spans show the words they cover (the offsets
    are code points, which is how Python indexes a str)."""
    if isinstance(value, list):
        if not value:
            return "(none)"
        if isinstance(value[0], dict):
            return "; ".join(f"{s.get('label')}: {text[s.get('start', 0):s.get('end', 0)]}" for s in value)
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def task_data(*, campaign: Campaign, campaign_item: CampaignItem, user) -> dict[str, Any]:
    """One task as the labelling page shows it. Other annotators' labels only in non-blind
    campaigns: even a manager labelling a blind campaign must not be swayed by them."""
    item = campaign_item.item
    others = []
    if not campaign.blind:
        others = [
            {"annotator": user_label(a.annotator), "value": a.value, "display": value_display(a.value, item.text)}
            for a in selectors.others_annotations(campaign=campaign, user=user, campaign_item=campaign_item)
        ]
    guideline = services.guideline_current(campaign)
    is_image = campaign.media == "image"
    return {
        "id": campaign_item.pk,
        "key": item.key,
        "media": campaign.media,
        "text": "" if is_image else item.text,
        "image_url": reverse(
            "annotation:item_content", args=[campaign.project.slug, campaign.slug, campaign_item.pk]
        ) if is_image else None,
        "others": others,
        "guideline_version": guideline.number if guideline else None,
    }


def progress_data(*, campaign: Campaign, user) -> dict[str, Any]:
    progress = selectors.campaign_progress(campaign=campaign, user=user)
    return {
        "mine": progress.mine,
        "left_for_me": progress.left_for_me,
        "annotations": progress.annotations,
        "target": progress.target,
        "items": progress.items,
        "complete_items": progress.complete_items,
        "percent": round(progress.percent, 1),
    }


# --- Serializers (named for the schema: component names are global) ---------------------------


class LabellingOtherSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    value = serializers.JSONField()
    display = serializers.CharField(help_text="The value as a person reads it")


class LabellingTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The task's id: use it to submit or skip")
    key = serializers.CharField(help_text="The item's key in its dataset version")
    media = serializers.ChoiceField(choices=["image", "text"])
    text = serializers.CharField(allow_blank=True, help_text="The item's text (empty for images)")
    image_url = serializers.CharField(allow_null=True, help_text="Where the image's bytes are (images only)")
    others = LabellingOtherSerializer(many=True, help_text="Other annotators' labels (non-blind campaigns only)")
    guideline_version = serializers.IntegerField(allow_null=True, help_text="The guideline version now in force")


class LabellingProgressSerializer(serializers.Serializer):
    mine = serializers.IntegerField(help_text="Annotations you made in this campaign")
    left_for_me = serializers.IntegerField(help_text="Items that still need annotators and that you have not labelled")
    annotations = serializers.IntegerField()
    target = serializers.IntegerField(help_text="Items × overlap: the annotations the campaign needs")
    items = serializers.IntegerField()
    complete_items = serializers.IntegerField()
    percent = serializers.FloatField(help_text="annotations / target, in percent")


class LabellingNextSerializer(serializers.Serializer):
    task = LabellingTaskSerializer(allow_null=True, help_text="Your next task; null when nothing is left for you")
    progress = LabellingProgressSerializer()


class LabellingSubmitSerializer(StrictSerializer):
    value = serializers.JSONField(
        help_text="single: a label name; multi: a list of label names; span: a list of "
        "{start, end, label} with offsets in Unicode code points of the item's text",
    )
    seconds_spent = serializers.FloatField(
        required=False, default=0.0, min_value=0.0, max_value=MAX_SECONDS_SPENT,
        help_text="Time spent on the item, in seconds",
    )


class LabellingAnnotationSerializer(serializers.ModelSerializer):
    campaign_item = serializers.IntegerField(source="campaign_item_id", read_only=True)
    value = serializers.JSONField(read_only=True)
    guideline_version = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = ["id", "campaign_item", "value", "tool", "seconds_spent", "guideline_version", "revision",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_guideline_version(self, annotation: Annotation) -> int | None:
        return annotation.guideline_version.number if annotation.guideline_version_id else None


# --- Views ------------------------------------------------------------------------------------


class _CampaignScoped(ProjectScopedMixin, APIView):
    """The project, then the campaign, resolved through the visibility selectors: a campaign
    the user may not see (not assigned, not a manager) is a 404 like any hidden object."""

    permission_classes = [IsAuthenticated]
    campaign: Campaign | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.campaign = selectors.campaign_get_visible(
            user=request.user, project=self.project, slug=kwargs["campaign_slug"]
        )

    def campaign_item(self, pk: int) -> CampaignItem:
        return selectors.campaign_item_get(campaign=self.campaign, pk=pk)


_CONFLICT = OpenApiResponse(description="Lost a race: the claim expired and the slot went to someone else")


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
class TaskNextView(_CampaignScoped):
    """Your next item of the campaign's queue, locked for you for the campaign's lock time. The
    queue never gives an item to more annotators than the campaign's overlap, nor to you twice."""

    @extend_schema(
        operation_id="campaign_task_next",
        tags=["campaigns"],
        summary="Claim your next task (asking again before submitting returns the same one)",
        request=None,
        responses={
            200: LabellingNextSerializer,
            400: OpenApiResponse(description="The campaign is closed"),
            403: OpenApiResponse(description="You are not an annotator of this campaign"),
        },
    )
    def post(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        campaign_item = services.task_claim(campaign=self.campaign, annotator=request.user)
        task = None
        if campaign_item is not None:
            task = task_data(campaign=self.campaign, campaign_item=campaign_item, user=request.user)
        return Response({"task": task, "progress": progress_data(campaign=self.campaign, user=request.user)})


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER, CAMPAIGN_ITEM_PARAMETER])
class TaskAnnotationView(_CampaignScoped):
    """Your annotation of a task you claimed. Submitted after your claim expired, it is still
    accepted while the item has a free slot; otherwise it is refused with a 409."""

    @extend_schema(
        operation_id="campaign_task_annotate",
        tags=["campaigns"],
        summary="Submit your annotation of a task",
        request=LabellingSubmitSerializer,
        responses={
            201: LabellingAnnotationSerializer,
            400: OpenApiResponse(description="The value does not fit the campaign's labels, or the body is malformed"),
            409: _CONFLICT,
        },
    )
    def post(self, request: Request, project_slug: str, campaign_slug: str, campaign_item_id: int) -> Response:
        campaign_item = self.campaign_item(campaign_item_id)
        serializer = LabellingSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The labelling page signs in with the session; a token means a script: the tool is
        # recorded so agreement can tell the two apart.
        tool = Tool.PLATFORM if isinstance(request.successful_authenticator, SessionAuthentication) else Tool.API
        try:
            annotation = services.annotation_submit(
                campaign=self.campaign, annotator=request.user, campaign_item=campaign_item,
                value=serializer.validated_data["value"], seconds_spent=serializer.validated_data["seconds_spent"],
                tool=tool,
            )
        except services.Conflict as exc:
            raise ConflictError(str(exc)) from exc
        return Response(LabellingAnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER, CAMPAIGN_ITEM_PARAMETER])
class TaskSkipView(_CampaignScoped):
    """Passes on a task you claimed: its slot returns to the queue for others."""

    @extend_schema(
        operation_id="campaign_task_skip",
        tags=["campaigns"],
        summary="Pass on a task: it is not offered to you again",
        request=None,
        responses={204: None, 409: OpenApiResponse(description="The task is not yours to skip any more")},
    )
    def post(self, request: Request, project_slug: str, campaign_slug: str, campaign_item_id: int) -> Response:
        campaign_item = self.campaign_item(campaign_item_id)
        try:
            services.task_skip(campaign=self.campaign, annotator=request.user, campaign_item=campaign_item)
        except services.Conflict as exc:
            raise ConflictError(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


_TASKS = "projects/<slug:project_slug>/campaigns/<slug:campaign_slug>/tasks/"

labelling_urlpatterns = [
    path(_TASKS + "next/", TaskNextView.as_view(), name="campaign-task-next"),
    path(_TASKS + "<int:campaign_item_id>/annotation/", TaskAnnotationView.as_view(), name="campaign-task-annotation"),
    path(_TASKS + "<int:campaign_item_id>/skip/", TaskSkipView.as_view(), name="campaign-task-skip"),
]
