"""The platform's record of MLflow: which experiment is a project's, and a mirror row for every
run, so that permission checks and listings are plain queries on the platform's database. The
run's content (params, metrics, tags, artifacts) lives only in MLflow."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ProjectExperiment(models.Model):
    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="mlflow_experiment"
    )
    # MLflow's experiment id (a string of digits in MLflow's SQL store).
    experiment_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} (experiment {self.experiment_id})"


class RunSource(models.TextChoices):
    PLATFORM = "platform", "Platform job"
    EXTERNAL = "external", "MLflow client"


class Run(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runs")
    mlflow_run_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=250, blank=True)
    source = models.CharField(max_length=16, choices=RunSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The training job that made a platform run (none for runs logged from outside).
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Sweeps make child runs under a parent run, as MLflow's mlflow.parentRunId tag does.
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"])]

    def __str__(self) -> str:
        return self.name or self.mlflow_run_id
