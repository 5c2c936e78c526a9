"""The REST API for runs, under /api/projects/{project_slug}/runs/.

Same shape as projects/api.py: the project through the visibility selector (404), the runs only
for roles that see them (403 for a private project's annotator, as on the pages and the tracking
server), a run the project does not have is a 404; launching is authorised (403) before the body
is parsed (400), then experiments.launch.training_start validates the trainer, its settings and
the version as the form does.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from datasets import selectors as dataset_selectors
from experiments import runs, selectors
from experiments.launch import training_start
from experiments.models import Run
from experiments.serializers import CurvesSerializer, RunDetailSerializer, RunSerializer, TrainSerializer
from projects import permissions
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin, _authorise, _parse
from projects.serializers import JobDetailSerializer

RUN_ID_PATTERN = r"[0-9a-zA-Z]+"
MAX_KEYS = 10
MAX_KEY_LENGTH = 250

RUN_ID_PARAMETER = OpenApiParameter("run_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="MLflow's run id")
KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.QUERY, many=True,
    description=f"A metric key; repeat for several (at most {MAX_KEYS}). Default: the run's training and "
    "validation loss.",
)
MAX_POINTS_PARAMETER = OpenApiParameter(
    "max_points", OpenApiTypes.INT, OpenApiParameter.QUERY,
    description=f"Points per series at most (6–{runs.MAX_POINTS}, default {runs.MAX_POINTS})",
)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The project's runs, newest first (platform jobs and MLflow clients)"),
    retrieve=extend_schema(summary="One run: params, final metrics, tags, traceability", parameters=[RUN_ID_PARAMETER]),
)
class RunViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    lookup_field = "mlflow_run_id"
    lookup_url_kwarg = "run_id"
    lookup_value_regex = RUN_ID_PATTERN
    serializer_class = RunSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not selectors.can_view_runs(user=request.user, project=self.project):
            raise exceptions.PermissionDenied("Your role in this project does not include its experiments.")

    def get_queryset(self) -> QuerySet[Run]:
        if self.project is None:
            return Run.objects.none()
        return selectors.runs_for_project(user=self.request.user, project=self.project)

    def get_serializer_class(self):
        return {"retrieve": RunDetailSerializer, "create": TrainSerializer, "curves": CurvesSerializer}.get(
            self.action, RunSerializer
        )

    def get_object(self) -> Run:
        return selectors.run_get(user=self.request.user, project=self.project, mlflow_run_id=self.kwargs["run_id"])

    def list(self, request: Request, project_slug: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RunSerializer(runs.run_infos(page), many=True).data)

    def retrieve(self, request: Request, project_slug: str, run_id: str) -> Response:
        return Response(RunDetailSerializer(runs.run_info(self.get_object())).data)

    @extend_schema(
        summary="A run's metric series, downsampled (min/max per bucket of steps)",
        parameters=[RUN_ID_PARAMETER, KEY_PARAMETER, MAX_POINTS_PARAMETER],
        responses=CurvesSerializer,
    )
    @action(detail=True, methods=["get"])
    def curves(self, request: Request, project_slug: str, run_id: str) -> Response:
        info = runs.run_info(self.get_object())
        keys = list(dict.fromkeys(request.query_params.getlist("key")))
        if not keys:
            keys = [k for k in (info.train_key, info.val_key) if k]
        if len(keys) > MAX_KEYS:
            raise exceptions.ValidationError({"key": [f"Ask for at most {MAX_KEYS} keys at a time."]})
        if any(not key or len(key) > MAX_KEY_LENGTH for key in keys):
            raise exceptions.ValidationError({"key": [f"A key has 1 to {MAX_KEY_LENGTH} characters."]})
        raw = request.query_params.get("max_points", str(runs.MAX_POINTS))
        try:
            max_points = int(raw)
        except ValueError:
            max_points = 0
        if not 6 <= max_points <= runs.MAX_POINTS:
            raise exceptions.ValidationError({"max_points": [f"A whole number from 6 to {runs.MAX_POINTS}."]})
        found = runs.series([(info.run_id, key) for key in keys], max_points=max_points)
        series = {key: runs.series_payload(found[(info.run_id, key)]) for key in keys if (info.run_id, key) in found}
        return Response({"run_id": info.run_id, "max_points": max_points, "series": series})

    @extend_schema(
        summary="Train a model on a dataset version (lead, engineer): queues a training job",
        request=TrainSerializer,
        responses={201: JobDetailSerializer},
    )
    def create(self, request: Request, project_slug: str) -> Response:
        _authorise(request, self.project, permissions.LAUNCH_JOBS, "train models")
        data = _parse(TrainSerializer, request)
        try:
            dataset = dataset_selectors.dataset_get(project=self.project, slug=data["dataset"])
            version = dataset_selectors.version_get(dataset=dataset, number=data["version"])
        except Http404:
            raise exceptions.ValidationError(
                {"version": [f"This project has no dataset version {data['dataset']}@v{data['version']}."]}
            ) from None
        job = training_start(
            version=version, actor=request.user, trainer=data["trainer"], config=data["config"], name=data["name"]
        )
        location = reverse("api:job-detail", kwargs={"pk": job.pk}, request=request)
        return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED, headers={"Location": location})
