"""How a job reads in the REST API: the same for every kind, whichever app started it."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from prakriya.jobs.display import waiting_text, without_server_paths
from prakriya.jobs.models import Job
from prakriya.jobs.selectors import job_queued_ahead


class JobSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    queued_ahead = serializers.SerializerMethodField(
        help_text="While queued: how many older jobs wait on the same queue; null otherwise."
    )
    waiting = serializers.SerializerMethodField(help_text="While queued: why the job waits; empty otherwise.")

    @staticmethod
    def _ahead(job: Job) -> int | None:
        # Both fields below read the queue position: one count query per job, not two.
        if not hasattr(job, "_queued_ahead"):
            job._queued_ahead = job_queued_ahead(job)
        return job._queued_ahead

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queued_ahead(self, job: Job) -> int | None:
        return self._ahead(job)

    @extend_schema_field(OpenApiTypes.STR)
    def get_waiting(self, job: Job) -> str:
        return waiting_text(job.queue, self._ahead(job))

    def to_representation(self, instance):
        # Parameters, results and logs name the platform's folders by role, not by path.
        data = super().to_representation(instance)
        for name in ("params", "result", "message", "log"):
            if name in data:
                data[name] = without_server_paths(data[name])
        return data

    class Meta:
        model = Job
        fields = ["id", "kind", "queue", "project", "state", "progress", "message", "attempts",
                  "max_attempts", "cancel_requested", "queued_ahead", "waiting", "params", "result", "created_by", "created_at",
                  "enqueued_at", "started_at", "heartbeat_at", "finished_at"]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log"]
        read_only_fields = fields
