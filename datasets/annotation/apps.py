from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Labelling campaigns: schemas, guidelines, queues, agreement, adjudication, Label Studio interop.
    Lives inside datasets/ (it labels dataset items and writes dataset versions) as its own app."""

    name = "datasets.annotation"
    label = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from datasets import hooks as dataset_hooks
        from datasets.annotation import jobs, panels  # noqa: F401 - registers the campaign job kinds
        from datasets.annotation.agreement import jobs as agreement_jobs  # noqa: F401 - registers its job kind
        from datasets.annotation.labelstudio import jobs as labelstudio_jobs  # noqa: F401 - registers its job kind
        from datasets.annotation.sealing import campaign_items_seal
        from projects import hooks
        from projects.models import DeliverableKind

        hooks.register_panel(DeliverableKind.BASELINES, panels.baselines_panel)
        hooks.register_panel(DeliverableKind.DATA_DOCUMENT, panels.labelling_process_panel)
        from datasets.annotation.home import labelling_queues

        hooks.register_home_section(labelling_queues)
        dataset_hooks.register_seal_consumer(campaign_items_seal)
