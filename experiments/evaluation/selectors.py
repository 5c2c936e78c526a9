"""Reads of sealed test evaluations. Who sees them is who sees the project's runs: results are
aggregates (never a test item or label), published like the run's metrics."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from experiments.models import BUDGET_STATES, EvaluationState, TestEvaluation
from prakriya.jobs.models import JobState
from projects import policy
from projects.models import Project
from projects.selectors import AnyUser

# A job that ended without results gives the evaluation's budget unit back.
_ENDED_WITHOUT_RESULTS = (JobState.FAILED, JobState.DEAD, JobState.CANCELLED)


def budget_used(*, project: Project) -> int:
    return (
        TestEvaluation.objects.filter(project=project, state__in=BUDGET_STATES)
        .exclude(state__in=(EvaluationState.APPROVED, EvaluationState.RUNNING), job__state__in=_ENDED_WITHOUT_RESULTS)
        .count()
    )


def evaluations_for_project(*, user: AnyUser, project: Project) -> QuerySet[TestEvaluation]:
    if not policy.can(user=user, project=project, action=policy.VIEW_RUNS):
        return TestEvaluation.objects.none()
    return TestEvaluation.objects.filter(project=project).select_related(
        "run", "requested_by", "decided_by", "job"
    )


def evaluation_get(*, user: AnyUser, project: Project, pk: int) -> TestEvaluation:
    evaluation = evaluations_for_project(user=user, project=project).filter(pk=pk).first()
    if evaluation is None:
        raise Http404("No such test evaluation")
    return evaluation


def latest_done(*, user: AnyUser, project: Project) -> TestEvaluation | None:
    return (
        evaluations_for_project(user=user, project=project)
        .filter(state=EvaluationState.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )
