"""Serializers of the experiments API. Runs are read from MLflow (experiments.runs.RunInfo), not
from a model, so the read serializers are plain ones over RunInfo."""

from __future__ import annotations

from rest_framework import serializers

from projects.serializers import StrictSerializer

MAX_NAME = 200


class RunSerializer(serializers.Serializer):
    run_id = serializers.CharField(help_text="MLflow's run id")
    name = serializers.CharField()
    source = serializers.CharField(source="record.source", help_text="platform (a training job) or external")
    status = serializers.CharField(help_text="MLflow's status: RUNNING, FINISHED, FAILED, KILLED; empty if gone")
    trainer = serializers.CharField(help_text="The trainer (the prakriya.kind tag), empty if none")
    dataset_version = serializers.CharField(help_text="<dataset>@v<number>, empty when the run names none")
    traceable = serializers.BooleanField(help_text="False when the run records no dataset version")
    metrics = serializers.DictField(child=serializers.FloatField(), help_text="Each metric's latest value")
    created_by = serializers.CharField(source="created_by_label")
    created_at = serializers.DateTimeField(source="record.created_at")
    job = serializers.IntegerField(source="record.job_id", allow_null=True, help_text="The training job, if any")
    parent = serializers.SerializerMethodField(help_text="The parent run's id (sweeps), if any")

    def get_parent(self, info) -> str | None:
        parent = info.record.parent
        return parent.mlflow_run_id if parent is not None else None


class RunDetailSerializer(RunSerializer):
    params = serializers.DictField(child=serializers.CharField())
    tags = serializers.DictField(child=serializers.CharField())
    traceability = serializers.SerializerMethodField(help_text="The recorded facts that trace the run's numbers")

    def get_traceability(self, info) -> dict[str, str]:
        return {label.lower().replace(" ", "_"): value for label, value in info.traceability}


class CurvePointSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    value = serializers.CharField(help_text="NaN, +inf or -inf")


class CurveSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Points logged")
    points = serializers.IntegerField(help_text="Points returned (downsampled, min/max per bucket)")
    steps = serializers.ListField(child=serializers.IntegerField())
    values = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="null where non-finite")
    nonfinite = CurvePointSerializer(many=True)


class CurvesSerializer(serializers.Serializer):
    run_id = serializers.CharField()
    max_points = serializers.IntegerField()
    series = serializers.DictField(child=CurveSerializer(), help_text="Metric key → its series; keys never logged are absent")


class TrainSerializer(StrictSerializer):
    dataset = serializers.SlugField(help_text="The dataset's slug")
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The version's number")
    trainer = serializers.CharField(max_length=100, help_text="A trainer's name, e.g. mlp, logistic_regression")
    config = serializers.DictField(
        required=False, default=dict,
        help_text="The trainer's settings (epochs, lr, seed, batch_size, hidden_sizes…); defaults for the rest",
    )
    name = serializers.CharField(max_length=MAX_NAME, required=False, default="", allow_blank=True)
