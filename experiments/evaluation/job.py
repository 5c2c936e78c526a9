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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.utils import timezone

from experiments import mlflow_store
from experiments.evaluation.recipe import (
    MODEL_ARTIFACT,
    PREDICTIONS_ARTIFACT,
    Recipe,
    RecipeError,
    recipe_for,
)
from experiments.models import EvaluationState, TestEvaluation
from experiments.permissions import VIEW_PRIVATE_RUNS
from prakriya.jobs import registry
from prakriya.jobs.context import JobContext

EVALUATE_KIND = "experiments_test_evaluation"
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


def _log_to_mlflow(evaluation: TestEvaluation, results: dict[str, Any]) -> None:
    from mlflow.entities import Metric

    from experiments.evaluation import scoring

    stamp = int(time.time() * 1000)
    metrics = [Metric(k, v, stamp, evaluation.pk) for k, v in scoring.mlflow_metrics(results).items()]
    mlflow_store.client().log_batch(evaluation.run.mlflow_run_id, metrics=metrics)


def _fail(evaluation_id: int, message: str) -> None:
    TestEvaluation.objects.filter(pk=evaluation_id).update(
        state=EvaluationState.FAILED, failure=message[:500], finished_at=timezone.now(), updated_at=timezone.now()
    )


def _run(ctx: JobContext) -> dict[str, Any]:
    evaluation = (
        TestEvaluation.objects.select_related("project", "run", "run__job").filter(pk=ctx.job.target_id).first()
    )
    if evaluation is None:
        return {"skipped": "the evaluation was deleted"}
    TestEvaluation.objects.filter(pk=evaluation.pk).update(state=EvaluationState.RUNNING, updated_at=timezone.now())
    try:
        results = evaluate(evaluation=evaluation, progress=ctx.progress)
        ctx.progress(92, "Recording the aggregates")
        _log_to_mlflow(evaluation, results)
    except EvaluationFailed as exc:
        _fail(evaluation.pk, str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - replaced: a library's message may quote sealed data
        message = f"The evaluation failed inside the job ({type(exc).__name__}); details are withheld."
        _fail(evaluation.pk, message)
        raise EvaluationFailed(message) from None
    TestEvaluation.objects.filter(pk=evaluation.pk).update(results=results, updated_at=timezone.now())
    ctx.log(f"Accuracy {results['accuracy']:.4f}, macro-F1 {results['macro_f1']:.4f} on {results['items']} test items")
    return {"evaluation": evaluation.pk}


def _done(job, result: dict[str, Any]) -> None:
    """In the transaction that marks the job succeeded: the evaluation is done exactly once."""
    from projects.services import timeline_record

    evaluation = TestEvaluation.objects.select_for_update().filter(pk=result.get("evaluation")).first()
    if evaluation is None:
        return
    evaluation.state, evaluation.finished_at = EvaluationState.DONE, timezone.now()
    evaluation.save(update_fields=["state", "finished_at", "updated_at"])
    met = [t for t in evaluation.results.get("targets", []) if t["met"] is not None]
    timeline_record(
        project=evaluation.project, actor=job.created_by, verb="evaluation_done",
        text=f"Test evaluation of {evaluation.run}: accuracy {evaluation.results['accuracy']:.3f}, "
        f"{sum(t['met'] for t in met)} of {len(met)} measured targets met",
        data={"evaluation": evaluation.pk},
    )


registry.register(registry.JobKind(name=EVALUATE_KIND, label="Test evaluation", queue="training", run=_run,
                                   on_success=_done, readers=VIEW_PRIVATE_RUNS))
