from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "datasets"

    def ready(self) -> None:
        from datasets import jobs, panels, services  # noqa: F401 - registers job kinds
        from projects import hooks
        from projects.models import DeliverableKind

        hooks.register_submit_check(DeliverableKind.DATA_DOCUMENT, services.data_document_ready_check)
        hooks.register_panel(DeliverableKind.DATA_DOCUMENT, panels.data_document_panel)
        hooks.register_versions(panels.dataset_versions)
