"""Writes of ONNX exports: starting one (engineers and the lead), and what the export job records
as it goes (the fp32 model, its variants, the card, a failure).

An export is a row first (PENDING, with the options asked for), then a job on the `export` queue;
the job fills the row in and the row becomes READY in the transaction that marks the job
succeeded, so a page never shows a READY export whose job failed.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from deployments import kinds
from deployments.export import card as model_card
from deployments.export.convert import exportable
from deployments.models import ExportState, ModelExport, Variant
from experiments.evaluation.recipe import RecipeError, recipe_for
from experiments.models import Run
from prakriya.jobs.services import job_enqueue
from projects import policy
from projects.services import timeline_record

QUANTISE_CHOICES = ("none", "dynamic", "static")
MIN_SPARSITY, MAX_SPARSITY = 0.05, 0.95
MAX_FAILURE = 500


def _options(*, quantise: str, prune_sparsity: float | None) -> dict[str, Any]:
    if quantise not in QUANTISE_CHOICES:
        raise ValidationError({"quantise": [f"Choose one of {', '.join(QUANTISE_CHOICES)}."]})
    if prune_sparsity is not None:
        try:
            prune_sparsity = float(prune_sparsity)
        except (TypeError, ValueError):
            raise ValidationError({"prune_sparsity": ["The sparsity is a number between 0 and 1."]}) from None
        if not math.isfinite(prune_sparsity) or not MIN_SPARSITY <= prune_sparsity <= MAX_SPARSITY:
            raise ValidationError(
                {"prune_sparsity": [f"The sparsity is the share of weights set to zero: between {MIN_SPARSITY} "
                                    f"and {MAX_SPARSITY}."]}
            )
    return {"quantise": quantise, "prune_sparsity": prune_sparsity}


@transaction.atomic
def export_start(
    *, run: Run, actor: AbstractBaseUser, quantise: str = "none", prune_sparsity: float | None = None
) -> ModelExport:
    """Checks that the run's model can be rebuilt and exported, then queues the export job."""
    project = run.project
    policy.require(user=actor, project=project, action=policy.MANAGE_DEPLOYMENTS, what="export models")
    options = _options(quantise=quantise, prune_sparsity=prune_sparsity)
    try:
        recipe = recipe_for(run=run)
    except RecipeError as exc:
        raise ValidationError(str(exc)) from None
    reason = exportable(trainer=recipe.trainer)
    if reason:
        raise ValidationError(reason)
    if options["prune_sparsity"] is not None and recipe.family != "torch":
        raise ValidationError(
            {"prune_sparsity": [f"Pruning applies to neural networks only: {recipe.trainer} is a scikit-learn "
                                "baseline with no weights to prune."]}
        )
    export = ModelExport.objects.create(project=project, run=run, variant=Variant.FP32, options=options,
                                        created_by=actor, trainer=recipe.trainer)
    job = job_enqueue(kind=kinds.MODEL_EXPORT, project=project, target=export, created_by=actor,
                      params={"export": export.pk, **options}, max_attempts=2)
    export.job = job
    export.save(update_fields=["job"])
    timeline_record(project=project, actor=actor, verb="model_export_started",
                    text=f"ONNX export of {run} started", data={"export": export.pk})
    return export


# --- Written by the export job (deployments/export/jobs.py) -------------------------------------


@transaction.atomic
def export_reset(*, export: ModelExport) -> None:
    """A job run again after a crash starts from a clean row: the variants of its first attempt go."""
    ModelExport.objects.filter(base=export).delete()
    ModelExport.objects.filter(pk=export.pk).update(state=ExportState.PENDING, failure="", parity={}, metrics={},
                                                    card={})


@transaction.atomic
def export_fail(*, export: ModelExport, failure: str) -> None:
    ModelExport.objects.filter(pk=export.pk).update(state=ExportState.FAILED, failure=failure[:MAX_FAILURE])
    # Variants made before the failure are not offered on their own.
    ModelExport.objects.filter(base=export, state=ExportState.READY).update(
        state=ExportState.FAILED, failure="The export they were made beside failed."
    )


@transaction.atomic
def export_fp32_save(*, export: ModelExport, fields: dict[str, Any]) -> None:
    """The fp32 model's file, schema, parity and metrics; READY comes with the job's success."""
    allowed = {"opset", "sha256", "size_bytes", "artifact_path", "model_version", "input_schema", "parity",
               "metrics", "trainer"}
    ModelExport.objects.filter(pk=export.pk).update(**{k: v for k, v in fields.items() if k in allowed})


@transaction.atomic
def export_variant_save(*, base: ModelExport, variant: str, options: dict[str, Any], fields: dict[str, Any],
                        failure: str = "") -> ModelExport:
    """A variant beside its fp32 export: READY with its numbers, or FAILED with why (a variant's
    failure never fails the export)."""
    return ModelExport.objects.create(
        project=base.project, run=base.run, base=base, variant=variant, options=options, job=base.job,
        created_by=base.created_by, trainer=base.trainer,
        state=ExportState.FAILED if failure else ExportState.READY, failure=failure[:MAX_FAILURE], **fields,
    )


@transaction.atomic
def export_card_refresh(*, export: ModelExport) -> ModelExport:
    """Builds the fp32 export's model card again from what the platform holds now (called by the
    export job, and by a benchmark of it when it finishes)."""
    export = ModelExport.objects.select_related("project", "run").get(pk=export.pk)
    if export.variant != Variant.FP32:
        return export
    export.card = model_card.build(export)
    export.save(update_fields=["card"])
    return export


@transaction.atomic
def export_complete(*, export_id: int | None, actor: AbstractBaseUser | None) -> ModelExport | None:
    """Marks the export READY and records it on the timeline, exactly once: called in the
    transaction that marks its job succeeded."""
    export = ModelExport.objects.select_for_update().select_related("project", "run").filter(pk=export_id).first()
    if export is None:
        return None
    export.state = ExportState.READY
    export.save(update_fields=["state"])
    parity = export.parity or {}
    timeline_record(
        project=export.project, actor=actor, verb="model_export_ready",
        text=f"ONNX export of {export.run} ready: max |Δscore| {parity.get('max_abs_diff', 0):.2g} on "
        f"{parity.get('items', 0)} validation items, {parity.get('agreement', 0):.1%} same class",
        data={"export": export.pk},
    )
    return export
