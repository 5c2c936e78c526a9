"""The REST API of error analysis: /api/projects/{project_slug}/runs/{run_id}/analysis/ and
/api/projects/{project_slug}/runs/analysis/compare/?a=…&b=….

The same rules as the runs API (experiments.api): the project through the visibility selector (404),
runs for the roles that see them (403 for a private project's annotator), a run the project lacks is
a 404. A run that logged no predictions is a 404 saying so; an unreadable predictions file a 422.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from experiments import selectors
from experiments.analysis import reading, report
from experiments.api import RUN_ID_PARAMETER
from prakriya.api_errors import error_response
from projects import policy
from projects.api import PROJECT_SLUG_PARAMETER, ProjectScopedMixin


class HeadlineSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Validation items analysed")
    accuracy = serializers.FloatField(allow_null=True)
    macro_f1 = serializers.FloatField(allow_null=True, help_text="Over the classes in the truth or the predictions")


class PerClassSerializer(serializers.Serializer):
    label = serializers.CharField()
    precision = serializers.FloatField()
    recall = serializers.FloatField()
    f1 = serializers.FloatField()
    support = serializers.IntegerField(help_text="Validation items of this class")


class ConfusionSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField())
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()), help_text="Rows: true class; columns: predicted"
    )


class TargetCheckSerializer(serializers.Serializer):
    target = serializers.CharField(help_text="The target as the project page states it")
    metric = serializers.CharField()
    condition = serializers.CharField(help_text="Its operating point, e.g. 'at recall 0.9'; empty if none")
    threshold = serializers.FloatField()
    value = serializers.FloatField(allow_null=True, help_text="The run's value on the validation part")
    passed = serializers.BooleanField(allow_null=True, help_text="null when the value cannot be computed")
    note = serializers.CharField(help_text="How the value was computed, or why it was not")


class MistakeSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The item's key")
    true = serializers.CharField()
    predicted = serializers.CharField()
    confidence = serializers.FloatField(help_text="The predicted class's probability")


class SliceSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The column's value, or a quantile bucket of a numeric column")
    count = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    macro_f1 = serializers.FloatField(allow_null=True)


class AnalysisSerializer(serializers.Serializer):
    run_id = serializers.CharField()
    dataset_version = serializers.CharField()
    sealed_excluded = serializers.IntegerField(help_text="Predicted items of the sealed test split, left out")
    metrics = HeadlineSerializer()
    classes = serializers.ListField(child=serializers.CharField(), help_text="The model's classes")
    per_class = PerClassSerializer(many=True)
    confusion = ConfusionSerializer()
    targets = TargetCheckSerializer(many=True)
    mistakes = MistakeSerializer(many=True, help_text="The most confident mistakes, surest first")
    slice_columns = serializers.ListField(child=serializers.CharField(), help_text="Columns ?slice= accepts")
    slice = serializers.CharField(allow_blank=True, help_text="The column sliced by, if asked")
    slices = SliceSerializer(many=True)


class CompareExampleSerializer(serializers.Serializer):
    key = serializers.CharField()
    true = serializers.CharField()
    a_predicted = serializers.CharField()
    b_predicted = serializers.CharField()
    a_confidence = serializers.FloatField()
    b_confidence = serializers.FloatField()


class CompareSplitSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    examples = CompareExampleSerializer(many=True)


class CompareClassSerializer(serializers.Serializer):
    label = serializers.CharField()
    a_f1 = serializers.FloatField()
    b_f1 = serializers.FloatField()
    delta = serializers.FloatField(help_text="b_f1 − a_f1")


class CompareSerializer(serializers.Serializer):
    a_run_id = serializers.CharField()
    b_run_id = serializers.CharField()
    common = serializers.IntegerField(help_text="Validation items both runs predicted, with the same label")
    only_a = serializers.IntegerField()
    only_b = serializers.IntegerField()
    label_disagreements = serializers.IntegerField(help_text="Items both predicted whose labels differ: left out")
    a = HeadlineSerializer()
    b = HeadlineSerializer()
    per_class = CompareClassSerializer(many=True)
    both_right = serializers.IntegerField()
    both_wrong = serializers.IntegerField()
    a_right_b_wrong = CompareSplitSerializer()
    b_right_a_wrong = CompareSplitSerializer()


SLICE_PARAMETER = OpenApiParameter(
    "slice", OpenApiTypes.STR, OpenApiParameter.QUERY,
    description="A column of the run's dataset version to slice the metrics by (see slice_columns)",
)
RUN_PARAMETERS = [
    OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=True, description=f"Run {name}'s MLflow id")
    for name in ("a", "b")
]


class _AnalysisView(ProjectScopedMixin, GenericAPIView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not policy.can(user=request.user, project=self.project, action=policy.VIEW_RUNS):
            raise exceptions.PermissionDenied("Your role in this project does not include its experiments.")

    @staticmethod
    def _refusal(analysis: report.RunAnalysis) -> Response:
        # Said outright (the API's 404 handler would say only "Not found."): the caller sees the run.
        code = status.HTTP_422_UNPROCESSABLE_ENTITY if analysis.unreadable else status.HTTP_404_NOT_FOUND
        return error_response(f"{analysis.info.name}: {analysis.problem}", status_code=code)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
class RunAnalysisView(_AnalysisView):
    serializer_class = AnalysisSerializer

    @extend_schema(
        summary="A run's error analysis on its validation predictions: metrics, per class, confusion, "
        "target checks, most confident mistakes, slices",
        parameters=[RUN_ID_PARAMETER, SLICE_PARAMETER],
        responses=AnalysisSerializer,
    )
    def get(self, request: Request, project_slug: str, run_id: str) -> Response:
        record = selectors.run_get(user=request.user, project=self.project, mlflow_run_id=run_id)
        analysis = report.run_analysis(project=self.project, record=record)
        if analysis.predictions is None:
            return self._refusal(analysis)
        column = request.query_params.get("slice", "")
        rows = report.slice_rows(analysis, column) if column else []
        if rows is None:
            raise exceptions.ValidationError({"slice": [f"The run's dataset version has no column {column[:100]!r}."]})
        payload = {
            **analysis.result, "run_id": run_id, "dataset_version": analysis.info.dataset_version,
            "sealed_excluded": analysis.sealed_dropped, "slice_columns": reading.slice_columns(analysis.version),
            "slice": column, "slices": rows,
        }
        return Response(AnalysisSerializer(payload).data)


@extend_schema(parameters=[PROJECT_SLUG_PARAMETER])
class AnalysisCompareView(_AnalysisView):
    serializer_class = CompareSerializer

    @extend_schema(
        summary="Two runs compared on the validation items both predicted: metrics, per-class F1 change, "
        "items one gets right and the other wrong",
        parameters=RUN_PARAMETERS,
        responses=CompareSerializer,
    )
    def get(self, request: Request, project_slug: str) -> Response:
        ids = {name: request.query_params.get(name, "") for name in ("a", "b")}
        blank = [name for name, value in ids.items() if not value]
        if blank:
            raise exceptions.ValidationError({blank[0]: ["Name a run by its MLflow id."]})
        if ids["a"] == ids["b"]:
            raise exceptions.ValidationError({"b": ["Compare two different runs."]})
        a, b = (selectors.run_get(user=request.user, project=self.project, mlflow_run_id=ids[n]) for n in ("a", "b"))
        comparison = report.compare_runs(project=self.project, a=a, b=b)
        for side in (comparison.a, comparison.b):
            if side.predictions is None:
                return self._refusal(side)
        if comparison.problem:
            raise exceptions.ValidationError({"b": [comparison.problem]})
        return Response(CompareSerializer({**comparison.result, "a_run_id": ids["a"], "b_run_id": ids["b"]}).data)
