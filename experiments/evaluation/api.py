"""The REST API of sealed test evaluations, under /api/projects/{project_slug}/evaluations/.

Same rules as the pages: the project through the visibility selector (404), evaluations for those
who see its runs (403 for a private project's annotator), requesting for leads and engineers,
approving and rejecting for the lead (403, checked before the body is parsed: 400). Results are
aggregates only.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from experiments import selectors as run_selectors
from experiments.evaluation import selectors, services
from experiments.models import TestEvaluation
from prakriya.rest import parse
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin
from projects.serializers import StrictSerializer


class EvaluationSerializer(serializers.ModelSerializer):
    run_id = serializers.CharField(source="run.mlflow_run_id", read_only=True)
    run_name = serializers.CharField(source="run.name", read_only=True)
    state = serializers.CharField(source="shown_state", read_only=True)
    requested_by = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()
    results = serializers.SerializerMethodField()

    class Meta:
        model = TestEvaluation
        fields = ["id", "run_id", "run_name", "state", "reason", "requested_by", "decided_by", "decided_at",
                  "decision_comment", "job", "results", "failure", "created_at", "finished_at"]
        read_only_fields = fields

    def get_requested_by(self, obj) -> str | None:
        return obj.requested_by.get_username() if obj.requested_by else None

    def get_decided_by(self, obj) -> str | None:
        return obj.decided_by.get_username() if obj.decided_by else None

    def get_results(self, obj) -> dict:
        return obj.results if obj.shown_state == "done" else {}


class EvaluationRequestSerializer(StrictSerializer):
    run_id = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=services.MAX_TEXT)


class DecisionSerializer(StrictSerializer):
    comment = serializers.CharField(max_length=services.MAX_TEXT, required=False, allow_blank=True, default="")


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="The project's sealed test evaluations, newest first"),
    retrieve=extend_schema(summary="One test evaluation: state and, once done, aggregate results"),
)
class EvaluationViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    serializer_class = EvaluationSerializer
    # Approving starts the evaluation job.
    rate_limits = {"approve": "jobs"}
    lookup_value_regex = r"[0-9]+"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not policy.can(user=request.user, project=self.project, action=policy.VIEW_RUNS):
            raise exceptions.PermissionDenied("Your role in this project does not include its experiments.")

    def get_queryset(self) -> QuerySet[TestEvaluation]:
        if self.project is None:
            return TestEvaluation.objects.none()
        return selectors.evaluations_for_project(user=self.request.user, project=self.project)

    def get_object(self) -> TestEvaluation:
        return selectors.evaluation_get(user=self.request.user, project=self.project, pk=int(self.kwargs["pk"]))

    def list(self, request: Request, project_slug: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EvaluationSerializer(page, many=True).data)

    def retrieve(self, request: Request, project_slug: str, pk: str) -> Response:
        return Response(EvaluationSerializer(self.get_object()).data)

    @extend_schema(summary="Request a test evaluation of a run (lead, engineer)", request=EvaluationRequestSerializer,
                   responses={201: EvaluationSerializer})
    def create(self, request: Request, project_slug: str) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.REQUEST_EVALUATION, what="request test evaluations")
        data = parse(EvaluationRequestSerializer, request)
        run = run_selectors.runs_for_project(user=request.user, project=self.project).filter(
            mlflow_run_id=data["run_id"]).first()
        if run is None:
            raise exceptions.ValidationError({"run_id": ["This project has no such run."]})
        evaluation = services.evaluation_request(run=run, actor=request.user, reason=data["reason"])
        return Response(EvaluationSerializer(evaluation).data, status=status.HTTP_201_CREATED)

    def _decide(self, request: Request, decide) -> Response:
        policy.require(user=request.user, project=self.project, action=policy.DECIDE_EVALUATION, what="decide on test evaluations")
        evaluation = self.get_object()
        data = parse(DecisionSerializer, request)
        evaluation = decide(evaluation=evaluation, actor=request.user, comment=data["comment"])
        return Response(EvaluationSerializer(evaluation).data)

    @extend_schema(summary="Approve a requested evaluation (lead): spends one unit of the budget, queues the job",
                   request=DecisionSerializer, responses=EvaluationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, project_slug: str, pk: str) -> Response:
        return self._decide(request, services.evaluation_approve)

    @extend_schema(summary="Reject a requested evaluation (lead)", request=DecisionSerializer,
                   responses=EvaluationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, project_slug: str, pk: str) -> Response:
        return self._decide(request, services.evaluation_reject)
