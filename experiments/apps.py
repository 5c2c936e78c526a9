from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"

    def ready(self) -> None:
        from experiments import jobs, panels  # noqa: F401 - registers the training and overfit job kinds
        from projects import hooks
        from projects.models import DeliverableKind

        hooks.register_submit_check(DeliverableKind.BASELINES, panels.baselines_ready_check)
        hooks.register_panel(DeliverableKind.BASELINES, panels.baselines_runs_panel)
        from experiments import evidence
        from experiments.evaluation import jobs as evaluation_jobs  # noqa: F401 - registers the evaluation job kind
        from experiments.evaluation.panel import latest_results_panel

        hooks.register_panel(DeliverableKind.MODEL_IMPROVEMENT, evidence.model_improvement_panel)
        hooks.register_submit_check(DeliverableKind.MODEL_IMPROVEMENT, evidence.model_improvement_ready_check)
        hooks.register_panel(DeliverableKind.ERROR_ANALYSIS, evidence.error_analysis_panel)
        hooks.register_submit_check(DeliverableKind.ERROR_ANALYSIS, evidence.error_analysis_ready_check)
        hooks.register_versions(evidence.run_versions)
        hooks.register_panel(DeliverableKind.ERROR_ANALYSIS, latest_results_panel)
        from experiments.evaluation.home import evaluations_to_decide

        hooks.register_home_section(evaluations_to_decide)
