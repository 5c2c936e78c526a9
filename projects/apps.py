from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        # Registers the project job kinds with the job machinery.
        from projects import jobs  # noqa: F401
