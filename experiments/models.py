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


class EvaluationState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# The states that spend a unit of the project's evaluation budget: once the lead approves, the
# sealed labels will be read. A failed evaluation gives its unit back (nothing was learnt).
BUDGET_STATES = (EvaluationState.APPROVED, EvaluationState.RUNNING, EvaluationState.DONE)


class TestEvaluation(models.Model):
    """A request to evaluate one run on its dataset version's sealed test part, the lead's
    decision, and — once the evaluation job has run — only aggregates of the result: metrics,
    the confusion matrix over the model's classes, and pass/fail of the project's targets.
    Never a prediction, key or label of a test item."""

    __test__ = False  # not a pytest test class, whatever its name

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="test_evaluations")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="test_evaluations")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(max_length=2000)
    state = models.CharField(max_length=16, choices=EvaluationState.choices, default=EvaluationState.REQUESTED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(max_length=2000, blank=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    results = models.JSONField(default=dict, blank=True)
    # Why the evaluation failed, in words written by the evaluation job (never the data's).
    failure = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "state"])]

    def __str__(self) -> str:
        return f"Test evaluation {self.pk} of {self.run}"

    @property
    def shown_state(self) -> str:
        """The state as people should read it: an approved or running evaluation whose job died,
        failed or was cancelled did not run to the end, whatever the row last said."""
        from prakriya.jobs.models import JobState

        ended = {JobState.FAILED, JobState.DEAD, JobState.CANCELLED}
        if self.state in (EvaluationState.APPROVED, EvaluationState.RUNNING) and self.job and self.job.state in ended:
            return EvaluationState.FAILED
        return self.state

    def get_shown_state_display(self) -> str:
        return EvaluationState(self.shown_state).label
