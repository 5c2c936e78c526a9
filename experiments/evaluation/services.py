"""Writes of the sealed test evaluation: request (engineer or lead), approve or reject (lead).

The gate (design: "test evaluation needs an approved data document and approved baselines") is
checked on request and again on approval, since a deliverable can be reopened in between. The
budget is checked on approval with the project row locked, so two leads approving at once are
served one after the other and cannot spend more than the budget between them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from experiments import kinds
from experiments.evaluation import selectors
from experiments.evaluation.recipe import RecipeError, recipe_for
from experiments.models import EvaluationState, Run, TestEvaluation
from prakriya.jobs.services import job_enqueue
from projects import policy
from projects.models import Deliverable, DeliverableKind, DeliverableState, Project
from projects.services import timeline_record

REQUEST = policy.LAUNCH_JOBS
DECIDE = policy.REVIEW_DELIVERABLE
GATE_KINDS = (DeliverableKind.DATA_DOCUMENT, DeliverableKind.BASELINES)
MAX_TEXT = 2000


def gate_check(*, project: Project) -> None:
    """Raises ValidationError naming each gate deliverable that is not approved yet."""
    states = dict(Deliverable.objects.filter(project=project, kind__in=GATE_KINDS).values_list("kind", "state"))
    missing = [
        f"the {DeliverableKind(kind).label.lower()} ({DeliverableState(states.get(kind, DeliverableState.NOT_STARTED)).label.lower()})"
        for kind in GATE_KINDS
        if states.get(kind) != DeliverableState.APPROVED
    ]
    if missing:
        raise ValidationError(
            f"A test evaluation needs the lead's approval of {' and '.join(missing)} first."
        )


def budget_of(*, project: Project) -> int:
    return settings.PRAKRIYA_EVALUATION_BUDGET


def _budget_check(project: Project) -> None:
    budget, used = budget_of(project=project), selectors.budget_used(project=project)
    if used >= budget:
        raise ValidationError(
            f"The project has used all {budget} of its test evaluations: the test split is not unsealed again."
        )


@transaction.atomic
def evaluation_request(*, run: Run, actor: AbstractBaseUser, reason: str) -> TestEvaluation:
    project = run.project
    policy.require(user=actor, project=project, action=REQUEST, what="request test evaluations")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why this run should be evaluated on the sealed test split.")
    if len(reason) > MAX_TEXT:
        raise ValidationError(f"Keep the reason under {MAX_TEXT} characters.")
    gate_check(project=project)
    _budget_check(project)
    open_states = (EvaluationState.REQUESTED, EvaluationState.APPROVED, EvaluationState.RUNNING)
    if TestEvaluation.objects.filter(run=run, state__in=open_states).exists():
        raise ValidationError("This run already has a test evaluation waiting or running.")
    try:
        recipe_for(run=run)
    except RecipeError as exc:
        raise ValidationError(str(exc)) from None
    evaluation = TestEvaluation.objects.create(project=project, run=run, requested_by=actor, reason=reason)
    timeline_record(project=project, actor=actor, verb="evaluation_requested",
                    text=f"Test evaluation of {run} requested", data={"evaluation": evaluation.pk})
    return evaluation


def _decidable(evaluation: TestEvaluation, actor: AbstractBaseUser, comment: str) -> tuple[TestEvaluation, str]:
    policy.require(user=actor, project=evaluation.project, action=DECIDE, what="decide on test evaluations")
    comment = (comment or "").strip()
    if len(comment) > MAX_TEXT:
        raise ValidationError(f"Keep the comment under {MAX_TEXT} characters.")
    # The project row is the budget's lock: every decision on the project waits its turn.
    Project.objects.select_for_update().get(pk=evaluation.project_id)
    locked = TestEvaluation.objects.select_for_update().select_related("project", "run").get(pk=evaluation.pk)
    if locked.state != EvaluationState.REQUESTED:
        raise ValidationError(f"This evaluation is already {locked.get_state_display().lower()}.")
    return locked, comment


@transaction.atomic
def evaluation_approve(*, evaluation: TestEvaluation, actor: AbstractBaseUser, comment: str = "") -> TestEvaluation:
    evaluation, comment = _decidable(evaluation, actor, comment)
    gate_check(project=evaluation.project)
    _budget_check(evaluation.project)
    job = job_enqueue(kind=kinds.TEST_EVALUATION, project=evaluation.project, target=evaluation, created_by=actor,
                      params={"evaluation": evaluation.pk}, max_attempts=2)
    evaluation.state, evaluation.job = EvaluationState.APPROVED, job
    evaluation.decided_by, evaluation.decided_at, evaluation.decision_comment = actor, timezone.now(), comment
    evaluation.save()
    timeline_record(project=evaluation.project, actor=actor, verb="evaluation_approved",
                    text=f"Test evaluation of {evaluation.run} approved: the test split is unsealed for it",
                    data={"evaluation": evaluation.pk})
    return evaluation


@transaction.atomic
def evaluation_reject(*, evaluation: TestEvaluation, actor: AbstractBaseUser, comment: str = "") -> TestEvaluation:
    evaluation, comment = _decidable(evaluation, actor, comment)
    evaluation.state = EvaluationState.REJECTED
    evaluation.decided_by, evaluation.decided_at, evaluation.decision_comment = actor, timezone.now(), comment
    evaluation.save()
    timeline_record(project=evaluation.project, actor=actor, verb="evaluation_rejected",
                    text=f"Test evaluation of {evaluation.run} rejected", data={"evaluation": evaluation.pk})
    return evaluation


# --- Written by the evaluation job (experiments/evaluation/jobs.py) ----------------------------


@transaction.atomic
def evaluation_mark_running(*, evaluation: TestEvaluation) -> None:
    TestEvaluation.objects.filter(pk=evaluation.pk).update(state=EvaluationState.RUNNING, updated_at=timezone.now())


@transaction.atomic
def evaluation_fail(*, evaluation: TestEvaluation, failure: str) -> None:
    """`failure` is the job's own message: it names no test item or label."""
    TestEvaluation.objects.filter(pk=evaluation.pk).update(
        state=EvaluationState.FAILED, failure=failure[:500], finished_at=timezone.now(), updated_at=timezone.now()
    )


@transaction.atomic
def evaluation_results_save(*, evaluation: TestEvaluation, results: dict[str, Any]) -> None:
    """The aggregates and target checks only; the evaluation is done once its job has succeeded
    (evaluation_complete)."""
    TestEvaluation.objects.filter(pk=evaluation.pk).update(results=results, updated_at=timezone.now())


@transaction.atomic
def evaluation_complete(*, evaluation_id: int | None, actor: AbstractBaseUser | None) -> TestEvaluation | None:
    """Marks the evaluation done and records it on the timeline, exactly once: called in the
    transaction that marks its job succeeded. None when the evaluation was deleted."""
    evaluation = TestEvaluation.objects.select_for_update().filter(pk=evaluation_id).first()
    if evaluation is None:
        return None
    evaluation.state, evaluation.finished_at = EvaluationState.DONE, timezone.now()
    evaluation.save(update_fields=["state", "finished_at", "updated_at"])
    met = [t for t in evaluation.results.get("targets", []) if t["met"] is not None]
    timeline_record(
        project=evaluation.project, actor=actor, verb="evaluation_done",
        text=f"Test evaluation of {evaluation.run}: accuracy {evaluation.results['accuracy']:.3f}, "
        f"{sum(t['met'] for t in met)} of {len(met)} measured targets met",
        data={"evaluation": evaluation.pk},
    )
    return evaluation
