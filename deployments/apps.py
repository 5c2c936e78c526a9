from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from deployments.benchmark import jobs as benchmark_jobs  # noqa: F401 - registers the job kind
        from deployments.export import jobs as export_jobs  # noqa: F401 - registers the job kind
