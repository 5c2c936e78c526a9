from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from deployments import panels
        from projects import hooks
        from projects.models import DeliverableKind

        hooks.register_panel(DeliverableKind.DEPLOYMENT, panels.deployment_panel)
        hooks.register_panel(DeliverableKind.EXPERIENCE_REPORT, panels.experience_report_panel)
        hooks.register_draft(DeliverableKind.EXPERIENCE_REPORT, panels.experience_report_draft)
        hooks.register_submit_check(DeliverableKind.EXPERIENCE_REPORT, panels.experience_report_ready_check)
        from deployments.batch import jobs as batch_jobs  # noqa: F401 - registers the batch-prediction job kind
        from deployments.benchmark import jobs as benchmark_jobs  # noqa: F401 - registers the benchmark job kind
        from deployments.drift import jobs, tasks  # noqa: F401 - registers the drift-check job kind and beat's task
        from deployments.export import jobs as export_jobs  # noqa: F401 - registers the ONNX export job kind
        from deployments.loopback import jobs as loopback_jobs  # noqa: F401 - follows up the versions it asked for
