"""The REST API of batch predictions, under
/api/projects/{project_slug}/deployments/{deployment_slug}/batch-predictions/: list them and start
one (POST: leads and engineers; 202 with the job), read one, download its CSV.

The same rules as the pages: the project through the visibility selector (404), a deployment the
project lacks is a 404, a role that may not read predictions a 403 (the public too: predictions
are never public), bad input a 400 naming the field.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasets.models import DatasetVersion
from deployments.api import DEPLOYMENT_SLUG_PARAMETER, DeploymentScopedMixin
from deployments.batch import selectors, services
from deployments.batch.download import csv_response
from deployments.models import BatchPrediction
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted, parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER
from projects.serializers import StrictSerializer


class BatchPredictionSerializer(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(source="version.dataset", slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True, help_text="The version's number")
    served_as = serializers.SerializerMethodField()

    class Meta:
        model = BatchPrediction
        fields = ["id", "dataset", "version", "export", "served_as", "state", "items", "scored", "sealed_left_out",
                  "unreadable", "notes", "sha256", "size_bytes", "failure", "job", "created_at", "finished_at"]
        read_only_fields = fields

    def get_served_as(self, obj) -> str:
        """stable or canary: which version of the deployment the export is now (empty once it is neither)."""
        deployment = obj.deployment
        if obj.export_id == deployment.stable_id:
            return "stable"
        return "canary" if obj.export_id == deployment.canary_id else ""


class BatchPredictionStartSerializer(StrictSerializer):
    dataset = serializers.SlugField(help_text="The dataset's slug")
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The version's number")
    export = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True, default=None,
                                      help_text="The deployment's stable export (the default) or its canary export")


class _BatchScoped(DeploymentScopedMixin):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        policy.require(user=request.user, project=self.project, action=policy.VIEW_PREDICTIONS,
                       what="read batch predictions")


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class BatchPredictionListView(_BatchScoped, generics.ListAPIView):
    serializer_class = BatchPredictionSerializer
    rate_limits = {"post": "jobs"}

    def get_queryset(self) -> QuerySet[BatchPrediction]:
        if self.deployment is None:
            return BatchPrediction.objects.none()
        return selectors.batch_predictions_for(user=self.request.user, deployment=self.deployment)

    @extend_schema(summary="The deployment's batch predictions, newest first (leads and engineers)")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Score a dataset version with the deployment (leads and engineers): 202 with the job",
                   request=BatchPredictionStartSerializer, responses={202: JobDetailSerializer})
    def post(self, request: Request, project_slug: str, deployment_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS,
                       what="score dataset versions with deployments")
        data = parse(BatchPredictionStartSerializer, request)
        version = (
            selectors.scorable_versions(project=self.project)
            .filter(dataset__slug=data["dataset"], number=data["version"]).first()
        )
        if version is None:
            if DatasetVersion.objects.filter(dataset__project=self.project, dataset__slug=data["dataset"],
                                             number=data["version"]).exists():
                raise exceptions.ValidationError({"version": ["This dataset version is not ready."]})
            raise exceptions.ValidationError({"version": ["This project has no such dataset version."]})
        deployment = self.deployment
        export = None
        if data["export"] is not None:
            export = {deployment.stable_id: deployment.stable, deployment.canary_id: deployment.canary}.get(
                data["export"])
            if export is None:
                raise exceptions.ValidationError({"export": ["Choose the deployment's stable export or its canary."]})
        batch = self.act(services.batch_predict_start, deployment=deployment, actor=request.user, version=version,
                         export=export)
        return job_accepted(request, batch.job)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class BatchPredictionDetailView(_BatchScoped, APIView):
    @extend_schema(responses=BatchPredictionSerializer,
                   summary="One batch prediction: its counts, what was left out and why, its file's SHA-256")
    def get(self, request: Request, project_slug: str, deployment_slug: str, batch_id: str) -> Response:
        batch = selectors.batch_prediction_get(user=request.user, deployment=self.deployment, pk=int(batch_id))
        return Response(BatchPredictionSerializer(batch).data)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, DEPLOYMENT_SLUG_PARAMETER])
class BatchPredictionDownloadView(_BatchScoped, APIView):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(
            OpenApiTypes.BINARY, description="One row per item scored: item_key, split_part, predicted_label, score, "
            "then p_<class> per class")},
        summary="The batch prediction's CSV (404 until it is ready)",
    )
    def get(self, request: Request, project_slug: str, deployment_slug: str, batch_id: str):
        batch = selectors.batch_prediction_get(user=request.user, deployment=self.deployment, pk=int(batch_id))
        batch.project = self.project
        return csv_response(batch)
