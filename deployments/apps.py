from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from deployments.drift import jobs, tasks  # noqa: F401 - registers the drift-check job kind and beat's task
        from deployments.loopback import jobs as loopback_jobs  # noqa: F401 - follows up the versions it asked for
