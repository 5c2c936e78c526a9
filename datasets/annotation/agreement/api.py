"""The agreement of a campaign in the REST API, under
/api/projects/{project_slug}/campaigns/{campaign_slug}/agreement/: the latest report (GET) and a
new run (POST, answered 202 with the job to follow, as every job-starting endpoint).

Access as the rest of the campaign API: a campaign the caller may not see is a 404; among those
who see it, only the lead and engineers read or compute agreement (an assigned annotator: 403).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasets.annotation.agreement.jobs import agreement_start
from datasets.annotation.api import CAMPAIGN_SLUG_PARAMETER, CampaignScopedMixin
from datasets.annotation.models import AgreementReport
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted, parse
from projects.api import PROJECT_SLUG_PARAMETER
from projects.serializers import StrictSerializer


class AgreementReportSerializer(serializers.ModelSerializer):
    job = serializers.IntegerField(source="job_id", allow_null=True, read_only=True,
                                   help_text="The job that computed the report")
    ordered = serializers.SerializerMethodField(help_text="Whether the labels were taken as ordered")
    timeline_bucket = serializers.SerializerMethodField(help_text="The width of one point of the timeline")
    stats = serializers.SerializerMethodField(
        help_text="The statistics: percent agreement, Fleiss' kappa, Krippendorff's alpha (nominal; ordinal and "
                  "interval when ordered), each as {value, ci}; pairwise Cohen's kappa, per label, per annotator "
                  "(usernames), the most disagreed units (with their campaign_item id and key) and the label "
                  "confusion. Shape: datasets/annotation/agreement/__init__.py",
    )
    timeline = serializers.SerializerMethodField(
        help_text="Per time bucket: start, end, units, percent_agreement and krippendorff_alpha ({value, ci})"
    )

    class Meta:
        model = AgreementReport
        fields = ["id", "created_at", "job", "annotation_count", "ordered", "timeline_bucket", "stats", "timeline"]
        read_only_fields = fields

    def get_ordered(self, report: AgreementReport) -> bool:
        return bool(report.result.get("ordered"))

    def get_timeline_bucket(self, report: AgreementReport) -> str | None:
        return report.result.get("timeline_bucket")

    def get_stats(self, report: AgreementReport) -> dict:
        return report.result.get("stats") or {}

    def get_timeline(self, report: AgreementReport) -> list[dict]:
        return report.result.get("timeline") or []


class AgreementRunSerializer(StrictSerializer):
    ordered = serializers.BooleanField(
        required=False, default=False,
        help_text="The labels are ordered, in the campaign's order: adds ordinal and interval alpha "
                  "(single-label campaigns only)",
    )


_MANAGERS_ONLY = OpenApiResponse(description="You are an annotator of this campaign, not its lead or an engineer")


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, CAMPAIGN_SLUG_PARAMETER])
class CampaignAgreementView(CampaignScopedMixin, APIView):
    """Inter-annotator agreement of the campaign: the latest report, or a new run over the
    annotations as they are now."""

    permission_classes = [IsAuthenticatedOrReadOnly]
    rate_limits = {"post": "jobs"}

    @extend_schema(
        operation_id="campaign_agreement_retrieve",
        tags=["campaigns"],
        summary="The campaign's latest agreement report (lead, engineer)",
        responses={200: AgreementReportSerializer, 403: _MANAGERS_ONLY,
                   404: OpenApiResponse(description="No such campaign, or no report yet")},
    )
    def get(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        self.authorise_manager("see a campaign's agreement")
        report = self.campaign.agreement_reports.first()
        if report is None:
            raise exceptions.NotFound("No agreement report yet: start one with POST.")
        return Response(AgreementReportSerializer(report).data)

    @extend_schema(
        operation_id="campaign_agreement_run",
        tags=["campaigns"],
        summary="Compute the campaign's agreement (lead, engineer); the report is written by a job",
        request=AgreementRunSerializer,
        responses={
            202: JobDetailSerializer,
            400: OpenApiResponse(description="No item has two annotators' labels yet, or ordered labels were "
                                             "asked for in a multi-label or span campaign"),
            403: _MANAGERS_ONLY,
        },
    )
    def post(self, request: Request, project_slug: str, campaign_slug: str) -> Response:
        self.authorise_manager("compute a campaign's agreement")
        data = parse(AgreementRunSerializer, request)
        job = agreement_start(campaign=self.campaign, actor=request.user, ordered=data["ordered"])
        return job_accepted(request, job)


agreement_urlpatterns = [
    path("projects/<slug:project_slug>/campaigns/<slug:campaign_slug>/agreement/",
         CampaignAgreementView.as_view(), name="campaign-agreement"),
]
