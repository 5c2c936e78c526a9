"""The REST API of benchmarks, under /api/projects/{project_slug}/benchmarks/: read like the
project's exports, started by leads and engineers (202 with the job)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from deployments.access import DeploymentsReadMixin
from deployments.benchmark import selectors, services
from deployments.export import selectors as export_selectors
from deployments.models import Benchmark
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted, parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER
from projects.serializers import StrictSerializer


class BenchmarkSerializer(serializers.ModelSerializer):
    inside_targets = serializers.BooleanField(read_only=True, allow_null=True)
    variant = serializers.CharField(source="export.variant", read_only=True)

    class Meta:
        model = Benchmark
        fields = ["id", "export", "variant", "options", "results", "targets", "inside_targets", "job", "finished_at",
                  "created_at"]
        read_only_fields = fields


class BenchmarkStartSerializer(StrictSerializer):
    export = serializers.IntegerField(min_value=1, help_text="The id of one of the project's ready exports.")
    batch_sizes = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=services.MAX_BATCH),
                                        min_length=1, max_length=services.MAX_BATCH_SIZES, required=False)
    iterations = serializers.IntegerField(min_value=services.ITERATIONS[0], max_value=services.ITERATIONS[1],
                                          required=False)
    warmup = serializers.IntegerField(min_value=services.WARMUP[0], max_value=services.WARMUP[1], required=False)
    threads = serializers.IntegerField(min_value=1, max_value=services.MAX_THREADS, required=False)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The project's benchmarks, newest first"),
    retrieve=extend_schema(summary="One benchmark: latency, throughput, memory, size, and the targets checked"),
)
class BenchmarkViewSet(DeploymentsReadMixin, viewsets.GenericViewSet):
    serializer_class = BenchmarkSerializer
    rate_limits = {"create": "jobs"}
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[Benchmark]:
        if self.project is None:
            return Benchmark.objects.none()
        return selectors.benchmarks_for_project(user=self.request.user, project=self.project)

    def list(self, request: Request, project_slug: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(BenchmarkSerializer(page, many=True).data)

    def retrieve(self, request: Request, project_slug: str, pk: str) -> Response:
        return Response(BenchmarkSerializer(selectors.benchmark_get(user=request.user, project=self.project,
                                                                    pk=int(pk))).data)

    @extend_schema(summary="Benchmark an export (lead, engineer): 202 with the job", request=BenchmarkStartSerializer,
                   responses={202: JobDetailSerializer})
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.MANAGE_DEPLOYMENTS,
                       what="benchmark models")
        data = parse(BenchmarkStartSerializer, request)
        export = export_selectors.exports_for_project(user=request.user, project=self.project, variants=True).filter(
            pk=data.pop("export")).first()
        if export is None:
            raise exceptions.ValidationError({"export": ["This project has no such export."]})
        benchmark = services.benchmark_start(export=export, actor=request.user, options=data)
        return job_accepted(request, benchmark.job)
