from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Labelling campaigns: schemas, guidelines, queues, agreement, adjudication, Label Studio interop.
    Lives inside datasets/ (it labels dataset items and writes dataset versions) as its own app."""

    name = "datasets.annotation"
    label = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from datasets.annotation import agreement_job, interop_jobs, jobs, panels  # noqa: F401 - registers the campaign job kinds
        from projects import hooks
        from projects.models import DeliverableKind

        hooks.register_panel(DeliverableKind.BASELINES, panels.baselines_panel)
