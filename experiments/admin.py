from django.contrib import admin

from experiments.models import ProjectExperiment, Run


@admin.register(ProjectExperiment)
class ProjectExperimentAdmin(admin.ModelAdmin):
    list_display = ("project", "experiment_id", "name", "created_at")
    # The link to MLflow's experiment is made by experiments.services.experiment_ensure only.
    readonly_fields = ("project", "experiment_id", "name", "created_at")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("mlflow_run_id", "name", "project", "source", "created_by", "created_at")
    list_filter = ("source",)
    search_fields = ("mlflow_run_id", "name", "project__slug")
    readonly_fields = ("project", "mlflow_run_id", "source", "created_by", "job", "parent", "created_at")
