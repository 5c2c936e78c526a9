"""The evaluation job: rebuild an approved run's model, predict the sealed test part, keep only
aggregates.

The job reads the sealed labels (experiments.evaluation.sealed) and nothing it writes carries
them: the evaluation row gets aggregates, the run gets `test_*` metrics, the job's log and message
get progress lines written here. Any error from below is replaced by a message of our own
(`raise … from None`, so not even the traceback in the job's log holds the original): a library's
error message may quote the data it choked on.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from experiments import kinds, mlflow_store
from experiments.evaluation import services
from experiments.evaluation.recipe import (
    MODEL_ARTIFACT,
    PREDICTIONS_ARTIFACT,
    Recipe,
    RecipeError,
    recipe_for,
)
from experiments.models import TestEvaluation
from experiments.tracked_run import tracked_run
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job
from projects import policy

# A re-fitted baseline's validation probabilities may differ from the recorded ones (rounded to
# six decimals) by the rounding alone.
PREDICTION_TOLERANCE = 1e-6

Progress = Callable[[float, str], None]


class EvaluationFailed(Exception):
    """The evaluation cannot be completed; the message is ours and names no test item or label."""


def _download(run_id: str, path: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="prakriya-eval-") as folder:
        return Path(mlflow_store.download_artifact(run_id=run_id, path=path, dst_path=folder)).read_bytes()


def _refit_baseline(recipe: Recipe, progress: Progress):
    """The baseline re-fitted on the same training items with the recorded trainer, configuration
    and seed, trusted only if it predicts the validation items exactly as the run did."""
    from experiments import inputs
    from experiments.training import train

    progress(10, "Re-fitting the baseline from the run's recorded trainer, configuration and seed")
    loaded = inputs.load_inputs(version=recipe.version)
    result = train(recipe.trainer, loaded.data, recipe.config)
    if result.model is None or result.status != "completed":
        raise EvaluationFailed("The baseline could not be re-fitted.")
    progress(40, "Checking the re-fitted baseline against the run's validation predictions")
    recorded = json.loads(_download(recipe.run.mlflow_run_id, PREDICTIONS_ARTIFACT))
    same = recorded.get("keys") == loaded.val_keys and recorded.get("classes") == list(result.model.classes)
    if same:
        proba = np.round(result.model.predict_proba(loaded.data.x_val), 6)
        stored = np.asarray(recorded.get("probabilities") or [], dtype=np.float64)
        same = stored.shape == proba.shape and bool(np.allclose(proba, stored, rtol=0, atol=PREDICTION_TOLERANCE))
    if not same:
        raise EvaluationFailed(
            "The re-fitted baseline does not reproduce the run's validation predictions (the data, the code or a "
            "package changed since the run): it is not the run's model, so it was not evaluated."
        )
    return result.model


def _rebuild(recipe: Recipe, progress: Progress):
    if recipe.family == "torch":
        from experiments.training import load_checkpoint

        progress(10, f"Loading {MODEL_ARTIFACT}")
        return load_checkpoint(_download(recipe.run.mlflow_run_id, MODEL_ARTIFACT))
    return _refit_baseline(recipe, progress)


def evaluate(*, evaluation: TestEvaluation, progress: Progress) -> dict[str, Any]:
    """Runs the evaluation and returns its results (aggregates and target checks only)."""
    # scikit-learn and torch load here, in the worker, not in every process that registers the job.
    from experiments.evaluation import scoring
    from experiments.evaluation.sealed import SealedReadError, read_sealed_test_part

    try:
        recipe = recipe_for(run=evaluation.run)
    except RecipeError as exc:
        raise EvaluationFailed(str(exc)) from None
    model = _rebuild(recipe, progress)
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


registry.register(registry.JobKind(name=kinds.TEST_EVALUATION, label="Test evaluation", queue="training", run=_run,
                                   on_success=_done, readers=policy.VIEW_RUNS))
