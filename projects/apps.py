from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        # Registers the project job kinds with the job machinery, and the literature survey's
        # table and submit check with its deliverable.
        from projects import hooks, jobs  # noqa: F401
        from projects.literature import panels, services
        from projects.models import DeliverableKind

        hooks.register_submit_check(DeliverableKind.LITERATURE_SURVEY, services.literature_ready_check)
        hooks.register_panel(DeliverableKind.LITERATURE_SURVEY, panels.literature_panel)
