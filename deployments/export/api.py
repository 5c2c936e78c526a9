"""The REST API of ONNX exports, under /api/projects/{project_slug}/model-exports/
(/exports/ is the project's own JSON export, projects/api.py).

Same rules as the pages: the project through the visibility selector (404), exports for those who
read its deployments (403 for a private project's annotator), starting one for leads and engineers
(403, checked before the body is parsed: 400), answered 202 with the job.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from deployments.access import DeploymentsReadMixin
from deployments.export import selectors, services
from deployments.models import ModelExport
from experiments import selectors as run_selectors
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted, parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER
from projects.serializers import StrictCharField, StrictSerializer


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelExport
        fields = ["id", "variant", "state", "options", "opset", "sha256", "size_bytes", "parity", "metrics",
                  "failure", "created_at"]
        read_only_fields = fields


class ExportSerializer(serializers.ModelSerializer):
    run_id = serializers.CharField(source="run.mlflow_run_id", read_only=True)
    run_name = serializers.CharField(source="run.name", read_only=True)
    schema = serializers.JSONField(source="input_schema", read_only=True)
    variants = serializers.SerializerMethodField()

    class Meta:
        model = ModelExport
        fields = ["id", "run_id", "run_name", "base", "variant", "state", "options", "trainer", "opset", "sha256",
                  "size_bytes", "artifact_path", "model_version", "schema", "parity", "metrics", "card", "failure",
                  "job", "created_at", "variants"]
        read_only_fields = fields

    def get_variants(self, obj) -> list[dict]:
        if obj.base_id is not None:
            return []
        return VariantSerializer(selectors.export_variants(export=obj), many=True).data


class ModelExportStartSerializer(StrictSerializer):
    run = StrictCharField(max_length=64, help_text="The MLflow run id of one of the project's runs.")
    quantise = serializers.ChoiceField(choices=services.QUANTISE_CHOICES, required=False, default="none")
    prune_sparsity = serializers.FloatField(required=False, allow_null=True, default=None,
                                            min_value=services.MIN_SPARSITY, max_value=services.MAX_SPARSITY)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The project's ONNX exports (fp32, each with its variants), newest first"),
    retrieve=extend_schema(summary="One export: parity, metrics, input schema, model card"),
)
class ExportViewSet(DeploymentsReadMixin, viewsets.GenericViewSet):
    serializer_class = ExportSerializer
    rate_limits = {"create": "jobs"}
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[ModelExport]:
        if self.project is None:
            return ModelExport.objects.none()
        return selectors.exports_for_project(user=self.request.user, project=self.project)

    def list(self, request: Request, project_slug: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ExportSerializer(page, many=True).data)

    def retrieve(self, request: Request, project_slug: str, pk: str) -> Response:
        export = selectors.export_get(user=request.user, project=self.project, pk=int(pk))
        return Response(ExportSerializer(export).data)

    @extend_schema(summary="Export a run to ONNX (lead, engineer): 202 with the job", request=ModelExportStartSerializer,
                   responses={202: JobDetailSerializer})
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS,
                       what="export models")
        data = parse(ModelExportStartSerializer, request)
        run = run_selectors.runs_for_project(user=request.user, project=self.project).filter(
            mlflow_run_id=data["run"]).first()
        if run is None:
            raise exceptions.ValidationError({"run": ["This project has no such run."]})
        export = services.export_start(run=run, actor=request.user, quantise=data["quantise"],
                                       prune_sparsity=data["prune_sparsity"])
        return job_accepted(request, export.job)
