"""The REST API for runs, under /api/projects/{project_slug}/runs/.

Same shape as projects/api.py: the project through the visibility selector (404), the runs only
for roles that see them (403 for a private project's annotator, as on the pages and the tracking
server), a run the project does not have is a 404; launching is authorised (403) before the body
is parsed (400), then experiments.launch validates the trainer, its settings, the grid and the
version as the forms do. Overfit-one-batch checks and grid searches are launched under the same
route, a sweep is read at /runs/{id}/sweep/, and a run's checkpoints at /runs/{id}/register/.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from datasets import selectors as dataset_selectors
from experiments import checkpoints, runs, selectors, services, sweeps
from experiments.launch import overfit_start, sweep_start, training_start
from experiments.launch_serializers import (
    CheckpointSerializer,
    OverfitSerializer,
    RegisterSerializer,
    SweepLaunchSerializer,
    SweepSerializer,
    SweepStartedSerializer,
    TrainStageSerializer,
)
from experiments.models import Run
from experiments.serializers import CurvesSerializer, RunDetailSerializer, RunSerializer
from prakriya.jobs.serializers import JobDetailSerializer
from prakriya.rest import job_accepted, parse
from projects import policy
from projects import selectors as project_selectors
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin

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
    rate_limits = {"create": "jobs", "overfit": "jobs", "sweeps": "jobs"}
    serializer_class = RunSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not policy.can(user=request.user, project=self.project, action=policy.VIEW_RUNS):
            raise exceptions.PermissionDenied("Your role in this project does not include its experiments.")

    def get_queryset(self) -> QuerySet[Run]:
        if self.project is None:
            return Run.objects.none()
        return selectors.runs_for_project(user=self.request.user, project=self.project)

    def get_serializer_class(self):
        return {
            "retrieve": RunDetailSerializer, "create": TrainStageSerializer, "curves": CurvesSerializer,
            "overfit": OverfitSerializer, "sweeps": SweepLaunchSerializer, "sweep": SweepSerializer,
            "register": RegisterSerializer,
        }.get(self.action, RunSerializer)

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

    def _version(self, data: dict):
        try:
            dataset = dataset_selectors.dataset_get(project=self.project, slug=data["dataset"])
            return dataset_selectors.version_get(dataset=dataset, number=data["version"])
        except Http404:
            raise exceptions.ValidationError(
                {"version": [f"This project has no dataset version {data['dataset']}@v{data['version']}."]}
            ) from None


    @extend_schema(
        summary="Train a model on a dataset version (lead, engineer): queues a training job",
        request=TrainStageSerializer,
        responses={201: JobDetailSerializer},
    )
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="train models")
        data = parse(TrainStageSerializer, request)
        job = training_start(
            version=self._version(data), actor=request.user, trainer=data["trainer"], config=data["config"],
            name=data["name"], stage=data["stage"],
        )
        return job_accepted(request, job, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Overfit one batch (lead, engineer): queues the check of a torch trainer; its run is tagged "
        "prakriya.overfit = passed | failed",
        request=OverfitSerializer,
        responses={201: JobDetailSerializer},
    )
    @action(detail=False, methods=["post"])
    def overfit(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="train models")
        data = parse(OverfitSerializer, request)
        job = overfit_start(
            version=self._version(data), actor=request.user, trainer=data["trainer"], config=data["config"],
            batch_size=data["batch_size"], loss_threshold=data["loss_threshold"], max_steps=data["max_steps"],
            name=data["name"],
        )
        return job_accepted(request, job, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Start a grid search (lead, engineer): a parent run and one training job per combination",
        request=SweepLaunchSerializer,
        responses={201: SweepStartedSerializer},
    )
    @action(detail=False, methods=["post"])
    def sweeps(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="train models")
        data = parse(SweepLaunchSerializer, request)
        started = sweep_start(
            version=self._version(data), actor=request.user, trainer=data["trainer"], grid=data["grid"],
            config=data["config"], name=data["name"], stage=data["stage"],
        )
        run_id = started.parent.mlflow_run_id
        location = reverse("api:run-sweep", kwargs={"project_slug": self.project.slug, "run_id": run_id},
                           request=request)
        body = {"run_id": run_id, "jobs": [job.pk for job in started.jobs]}
        return Response(SweepStartedSerializer(body).data, status=status.HTTP_201_CREATED,
                        headers={"Location": location})

    @extend_schema(
        summary="A grid search: its grid, the progress of its jobs and its children ranked by its metric",
        parameters=[RUN_ID_PARAMETER],
        responses=SweepSerializer,
    )
    @action(detail=True, methods=["get"])
    def sweep(self, request: Request, project_slug: str, run_id: str) -> Response:
        found = sweeps.sweep_read(parent=self.get_object())
        if found is None:
            raise Http404("This run is not a grid search.")
        found.children = sweeps.sort_children(found)
        return Response(SweepSerializer(found).data)

    @extend_schema(
        methods=["GET"], summary="The model versions registered from the run, with their aliases",
        parameters=[RUN_ID_PARAMETER], responses=CheckpointSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Register the run's model as a checkpoint of a stage (lead, engineer): a new model version "
        "of the project's registered model, the stage's alias moved to it",
        parameters=[RUN_ID_PARAMETER], request=RegisterSerializer, responses={201: CheckpointSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def register(self, request: Request, project_slug: str, run_id: str) -> Response:
        record = self.get_object()
        name = checkpoints.model_name(project=self.project)
        if request.method == "GET":
            found = checkpoints.run_versions(run=record)
            return Response(CheckpointSerializer([{"model": name, **vars(v)} for v in found], many=True).data)
        policy.require(user=request.user, project=self.project, action=policy.LAUNCH_JOBS, what="register checkpoints")
        data = parse(RegisterSerializer, request)
        version = checkpoints.checkpoint_register(run=record, actor=request.user, stage=data["stage"])
        return Response(CheckpointSerializer({"model": name, **vars(version)}).data, status=status.HTTP_201_CREATED)


# --- The runs a deliverable rests on (experiments.evidence) ----------------------------------------


class DeliverableRunsSerializer(serializers.Serializer):
    runs = serializers.ListField(child=serializers.CharField(max_length=64), max_length=100,
                                 help_text="MLflow run ids of the project, in the order to show them")


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER, OpenApiParameter("kind", str, OpenApiParameter.PATH)])
class DeliverableRunsView(ProjectScopedMixin, GenericAPIView):
    """PUT the runs a deliverable rests on: model improvement (up to 12) or error analysis (the one
    analysed run). Editors of a deliverable that is not under review or approved."""

    serializer_class = DeliverableRunsSerializer

    @extend_schema(summary="Choose the runs a deliverable rests on (lead, engineer)",
                   request=DeliverableRunsSerializer, responses=DeliverableRunsSerializer)
    def put(self, request: Request, project_slug: str, kind: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.EDIT_DELIVERABLE,
                       what="edit deliverables")
        deliverable = project_selectors.deliverable_get(project=self.project, kind=kind)
        data = parse(DeliverableRunsSerializer, request)
        deliverable = services.deliverable_runs_choose(deliverable=deliverable, actor=request.user,
                                                       run_ids=data["runs"])
        return Response({"runs": deliverable.evidence_runs})
