"""The REST API of drift monitoring: GET /api/projects/{project_slug}/deployments/{deployment_slug}/drift/
lists the deployment's drift reports (those who read its prediction log), POST starts a check
(leads and engineers; 202 with the job).

The same rules as the pages: the project through the visibility selector (404), a deployment the
project lacks is a 404, a role without the action a 403.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from deployments.drift import selectors, services
from deployments.models import DriftReport
from deployments.selectors import deployment_get
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin

DEPLOYMENT_SLUG_PARAMETER = OpenApiParameter(
    "deployment_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The deployment's address in its project"
)


class DriftReportSerializer(serializers.ModelSerializer):
    features = serializers.SerializerMethodField()

    class Meta:
        model = DriftReport
        fields = ["id", "export", "created_at", "window", "features", "prediction_psi", "prediction_shares",
                  "mean_confidence", "reference_confidence", "worst", "worst_psi", "threshold", "drifted"]
        read_only_fields = fields

    def get_features(self, obj) -> dict:
        """Each feature or statistic: its PSI, where it was measured, and the training and
        production share of each training quantile bin."""
        return obj.features


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class DriftView(ProjectScopedMixin, GenericAPIView):
    serializer_class = DriftReportSerializer
    # For the schema only: the view reads through its selectors, scoped by the deployment.
    queryset = DriftReport.objects.none()
    rate_limits = {"post": "jobs"}

    @extend_schema(summary="The deployment's drift reports, newest first (leads and engineers)",
                   responses=DriftReportSerializer(many=True))
    def get(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.VIEW_PREDICTIONS,
                       what="read the prediction log and its drift")
        deployment = deployment_get(project=self.project, user=request.user, slug=deployment_slug)
        reports = list(reversed(selectors.reports_for(user=request.user, deployment=deployment)))
        return Response(DriftReportSerializer(reports, many=True).data)

    @extend_schema(summary="Start a drift check of the deployment now (leads and engineers)", request=None,
                   responses={202: JobDetailSerializer})
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS,
                       what="start drift checks")
        deployment = deployment_get(project=self.project, user=request.user, slug=deployment_slug)
        return job_accepted(request, services.drift_check_start(deployment=deployment, actor=request.user))
