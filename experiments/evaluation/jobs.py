"""The evaluation job: rebuild an approved run's model, predict the sealed test part, keep only
aggregates.

The job reads the sealed labels (experiments.evaluation.sealed) and nothing it writes carries
them: the evaluation row gets aggregates, the run gets `test_*` metrics, the job's log and message
get progress lines written here. Any error from below is replaced by a message of our own
(`raise … from None`, so not even the traceback in the job's log holds the original): a library's
error message may quote the data it choked on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from experiments import kinds
from experiments.evaluation import services
from experiments.evaluation.rebuild import RebuildError, rebuild_model
from experiments.evaluation.recipe import RecipeError, recipe_for
from experiments.models import TestEvaluation
from experiments.tracked_run import tracked_run
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job
from projects import policy

Progress = Callable[[float, str], None]


class EvaluationFailed(Exception):
    """The evaluation cannot be completed; the message is ours and names no test item or label."""


def evaluate(*, evaluation: TestEvaluation, progress: Progress) -> dict[str, Any]:
    """Runs the evaluation and returns its results (aggregates and target checks only)."""
    # scikit-learn and torch load here, in the worker, not in every process that registers the job.
    from experiments.evaluation import scoring
    from experiments.evaluation.sealed import SealedReadError, read_sealed_test_part

    try:
        recipe = recipe_for(run=evaluation.run)
    except RecipeError as exc:
        raise EvaluationFailed(str(exc)) from None
    try:
        model = rebuild_model(recipe, progress)
    except RebuildError as exc:
        raise EvaluationFailed(f"{exc} It was not evaluated.") from None
    progress(60, "Reading the sealed test part")
    try:
        test = read_sealed_test_part(version=recipe.version, image_shape=getattr(model, "image_shape", None))
    except SealedReadError as exc:
        raise EvaluationFailed(str(exc)) from None
    progress(75, f"Predicting {len(test)} test items")
    proba = model.predict_proba(test.x)
    predicted = [model.classes[i] for i in np.argmax(proba, axis=1)]
    results = scoring.aggregates(classes=model.classes, truth=test.labels, predicted=predicted)
    del test, proba, predicted  # the sealed part goes no further than this function
    results["targets"] = scoring.targets_check(targets=evaluation.project.targets.all(), metrics=results)
    results["trainer"] = recipe.trainer
    results["dataset_version"] = str(recipe.version)
    return results


def _run(ctx: JobContext) -> dict[str, Any]:
    evaluation = (
        TestEvaluation.objects.select_related("project", "run", "run__job").filter(pk=ctx.job.target_id).first()
    )
    if evaluation is None:
        return {"skipped": "the evaluation was deleted"}
    services.evaluation_mark_running(evaluation=evaluation)
    try:
        results = evaluate(evaluation=evaluation, progress=ctx.progress)
        ctx.progress(92, "Recording the aggregates")
        # The test metrics go to the run evaluated (the step is the evaluation's id), which its
        # training job started and ended: tracked_run leaves its status alone.
        from experiments.evaluation import scoring  # scikit-learn: loaded in the worker only

        with tracked_run(ctx, run_id=evaluation.run.mlflow_run_id) as run:
            run.log_metrics(scoring.mlflow_metrics(results), step=evaluation.pk)
    except EvaluationFailed as exc:
        services.evaluation_fail(evaluation=evaluation, failure=str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - replaced: a library's message may quote sealed data
        message = f"The evaluation failed inside the job ({type(exc).__name__}); details are withheld."
        services.evaluation_fail(evaluation=evaluation, failure=message)
        raise EvaluationFailed(message) from None
    services.evaluation_results_save(evaluation=evaluation, results=results)
    ctx.log(f"Accuracy {results['accuracy']:.4f}, macro-F1 {results['macro_f1']:.4f} on {results['items']} test items")
    return {"evaluation": evaluation.pk}


def _done(job: Job, result: dict[str, Any]) -> None:
    """In the transaction that marks the job succeeded: the evaluation is done exactly once."""
    services.evaluation_complete(evaluation_id=result.get("evaluation"), actor=job.created_by)


def _link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    from django.urls import reverse

    from experiments.evaluation.selectors import evaluations_for_project

    if job.project is None or job.target_id is None:
        return None
    if not evaluations_for_project(user=user, project=job.project).filter(pk=job.target_id).exists():
        return None
    return registry.JobLink(reverse("experiments:evaluation", args=[job.project.slug, job.target_id]),
                            "Open the test evaluation")


registry.register(registry.JobKind(name=kinds.TEST_EVALUATION, label="Test evaluation", queue="training", run=_run,
                                   on_success=_done, readers=policy.VIEW_RUNS, result_link=_link))
