"""Label Studio interop of a campaign in the REST API, under
/api/projects/{project_slug}/campaigns/{campaign_slug}/labelstudio/: the campaign as an LS JSON
export (GET export/), importing an LS JSON export (POST import/, the export as the JSON body or as
a multipart file named `file`), and a sync with the configured Label Studio server (POST sync/,
answered 202 with the job to follow, as every job-starting endpoint).

Access as the rest of the campaign API: a campaign the caller may not see is a 404; among those
who see it, only the lead and engineers export, import or sync (an assigned annotator: 403).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasets.annotation.api import CAMPAIGN_SLUG_PARAMETER, CampaignScopedMixin
from datasets.annotation.labelstudio import exports, imports, sync
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import CappedJSONParser, PayloadTooLarge, job_accepted
from projects.api import PROJECT_SLUG_PARAMETER
from projects.serializers import StrictSerializer

_MANAGERS_ONLY = OpenApiResponse(description="You are an annotator of this campaign, not its lead or an engineer")
_PREFIX = "projects/<slug:project_slug>/campaigns/<slug:campaign_slug>/labelstudio/"


# --- Serializers (named for the schema: component names are global) ---------------------------


class LabelStudioTaskSerializer(serializers.Serializer):
    """One task of a Label Studio JSON export (only described: the export is read by
    reader.parse_export, which names any problem by its place in the file)."""

    id = serializers.IntegerField(required=False, help_text="The task's id in Label Studio")
    data = serializers.DictField(
        help_text="The task's data: `text` or `image`, and `prakriya_item` (our item key) for tasks we made"
    )
    annotations = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="Label Studio annotations: completed_by (a user id or {id, email}), result, lead_time, "
                  "created_at, updated_at, was_cancelled",
    )
    predictions = serializers.ListField(child=serializers.DictField(), required=False)


class LabelStudioExportQuerySerializer(serializers.Serializer):
    offsets = serializers.ChoiceField(
        choices=exports.EXPORT_OFFSETS, required=False, default="codepoints",
        help_text="How span start and end count characters: code points (Label Studio 1.x) or UTF-16 units "
                  "(older releases)",
    )


class LabelStudioImportQuerySerializer(serializers.Serializer):
    offsets = serializers.ChoiceField(
        choices=[value for value, _ in imports.OFFSET_CHOICES], required=False, default="auto",
        help_text="How the export counts characters in span start and end; auto reads code points unless a "
                  "span only fits its quoted text as UTF-16 units",
    )


class LabelStudioImportFileSerializer(StrictSerializer):
    file = serializers.FileField(help_text=f"A Label Studio JSON export, at most "
                                           f"{imports.MAX_IMPORT_BYTES // 1024**2} MB")


class LabelStudioImportResultSerializer(serializers.Serializer):
    tasks = serializers.IntegerField(help_text="Tasks in the export")
    annotations = serializers.IntegerField(help_text="Annotations in the export, cancelled ones included")
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Annotations replaced by a newer one from Label Studio")
    unchanged = serializers.IntegerField(help_text="Annotations already here with the same value")
    skipped = serializers.ListField(child=serializers.CharField(),
                                    help_text="Why each annotation not written was left out (the first 200)")
    skipped_count = serializers.IntegerField()
    unknown_annotators = serializers.ListField(child=serializers.CharField(),
                                               help_text="Emails that are no annotator of the campaign")
    unknown_annotators_count = serializers.IntegerField()
    unknown_items = serializers.ListField(child=serializers.CharField(),
                                          help_text="Tasks that match no item of the campaign, with why")
    unknown_items_count = serializers.IntegerField()
    utf16_spans = serializers.IntegerField(help_text="Spans whose offsets were read as UTF-16 units")


def _query(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- Views ------------------------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
class CampaignLabelStudioExportView(CampaignScopedMixin, APIView):
    @extend_schema(
        operation_id="campaign_labelstudio_export",
        tags=["campaigns"],
        summary="The campaign as a Label Studio JSON export, with every annotation (lead, engineer)",
        parameters=[OpenApiParameter("offsets", OpenApiTypes.STR, enum=list(exports.EXPORT_OFFSETS),
                                     description="Span offsets in code points (default) or UTF-16 units")],
        responses={200: LabelStudioTaskSerializer(many=True), 403: _MANAGERS_ONLY},
    )
    def get(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        self.authorise_manager("export a campaign")
        query = _query(LabelStudioExportQuerySerializer, request)
        return Response(exports.labelstudio_export(campaign=self.campaign, actor=request.user, **query))


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
class CampaignLabelStudioImportView(CampaignScopedMixin, APIView):
    parser_classes = [CappedJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="campaign_labelstudio_import",
        tags=["campaigns"],
        summary="Import a Label Studio JSON export into the campaign (lead, engineer)",
        description="The export is the JSON body (a list of tasks) or a multipart file named `file` (for "
                    "exports over the JSON body limit). A body that is not a Label Studio export of this "
                    "campaign's task and labels is refused as a whole (400) and nothing is written; otherwise "
                    "every annotation that fits is written and the others are listed with the reason.",
        parameters=[OpenApiParameter("offsets", OpenApiTypes.STR,
                                     enum=[value for value, _ in imports.OFFSET_CHOICES],
                                     description="How span offsets count characters (default: auto)")],
        request={"application/json": LabelStudioTaskSerializer(many=True),
                 "multipart/form-data": LabelStudioImportFileSerializer},
        responses={
            200: LabelStudioImportResultSerializer,
            400: OpenApiResponse(description="Not a Label Studio export of this campaign, or the campaign is closed"),
            403: _MANAGERS_ONLY,
            413: OpenApiResponse(description="The export is over the size limit"),
        },
    )
    def post(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        self.authorise_manager("import annotations into a campaign")
        query = _query(LabelStudioImportQuerySerializer, request)
        if request.content_type.startswith("multipart/"):
            uploaded = request.FILES.get("file")
            if uploaded is None:
                raise exceptions.ValidationError({"file": ["Send the Label Studio export as a file named `file`."]})
            if uploaded.size is not None and uploaded.size > imports.MAX_IMPORT_BYTES:
                raise PayloadTooLarge(f"The export is larger than {imports.MAX_IMPORT_BYTES // 1024**2} MB.")
            data = uploaded
        elif isinstance(request.data, list):
            data = request.data
        else:
            raise exceptions.ValidationError(
                {"non_field_errors": ["A Label Studio JSON export is a list of tasks: send it as the JSON body "
                                      "or as a multipart file named `file`."]}
            )
        result = imports.labelstudio_import(campaign=self.campaign, actor=request.user, data=data, **query)
        return Response(result.as_dict())


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
class CampaignLabelStudioSyncView(CampaignScopedMixin, APIView):
    rate_limits = {"post": "jobs"}

    @extend_schema(
        operation_id="campaign_labelstudio_sync",
        tags=["campaigns"],
        summary="Sync the campaign with the configured Label Studio server (lead, engineer); a job does it",
        description="Creates the campaign's Label Studio project on the first sync, pushes the items not pushed "
                    "yet and imports the annotations made there. Asking while a sync is waiting or running "
                    "returns that sync's job.",
        request=None,
        responses={
            202: JobDetailSerializer,
            400: OpenApiResponse(description="Label Studio sync is not configured, or the campaign is closed"),
            403: _MANAGERS_ONLY,
        },
    )
    def post(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        self.authorise_manager("sync a campaign with Label Studio")
        job = sync.labelstudio_sync_start(campaign=self.campaign, actor=request.user)
        return job_accepted(request, job)


labelstudio_urlpatterns = [
    path(_PREFIX + "export/", CampaignLabelStudioExportView.as_view(), name="campaign-labelstudio-export"),
    path(_PREFIX + "import/", CampaignLabelStudioImportView.as_view(), name="campaign-labelstudio-import"),
    path(_PREFIX + "sync/", CampaignLabelStudioSyncView.as_view(), name="campaign-labelstudio-sync"),
]
