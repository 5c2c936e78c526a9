from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    INTERRUPTED = "interrupted", "Interrupted"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    DEAD = "dead", "Dead"


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.DEAD})


class Job(models.Model):
    """A unit of long work. The row is written before the Celery message is sent, so the
    database, not the broker, is the source of truth about what should run."""

    kind = models.CharField(max_length=64, db_index=True)
    queue = models.CharField(max_length=32, default="default")
    project = models.ForeignKey(
        settings.PRAKRIYA_PROJECT_MODEL, on_delete=models.CASCADE, related_name="jobs", null=True, blank=True
    )
    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, null=True, blank=True)
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)

    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="0 to 100")
    message = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True)

    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    # Each claim by a worker gets a fresh token: a worker that lost its claim can no longer
    # report progress or complete, which keeps completion exactly-once.
    run_token = models.CharField(max_length=36, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the current attempt's hard time limit kills its worker process (set at each claim).
    deadline_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "heartbeat_at"]),
            models.Index(fields=["project", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=100), name="job_progress_0_100"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def hit_hard_limit(self, now) -> bool:
        """A running job whose heartbeat stopped right at its attempt's hard time limit: its
        worker process was killed for running too long, not lost by accident. (The heartbeat
        beats every PRAKRIYA_JOB_HEARTBEAT_SECONDS, so its last beat falls within a beat or two
        of the kill.)"""
        if self.state != JobState.RUNNING or self.deadline_at is None or self.heartbeat_at is None:
            return False
        margin = timedelta(seconds=2 * settings.PRAKRIYA_JOB_HEARTBEAT_SECONDS + 5)
        return now >= self.deadline_at and self.heartbeat_at >= self.deadline_at - margin
