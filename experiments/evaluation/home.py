"""Sealed test evaluations waiting for a lead's decision, on their home page (projects/home.py)."""

from __future__ import annotations

from django.urls import reverse

from experiments.models import EvaluationState, TestEvaluation
from projects import policy
from projects.home import HomeItem, HomeSection
from projects.policy import AnyUser
from projects.selectors import project_list_allowing


def evaluations_to_decide(user: AnyUser) -> HomeSection | None:
    projects = project_list_allowing(user=user, action=policy.DECIDE_EVALUATION)
    found = list(
        TestEvaluation.objects.filter(project__in=projects, state=EvaluationState.REQUESTED)
        .select_related("project", "run", "requested_by").order_by("created_at", "id")
    )
    if not found:
        return None
    return HomeSection(
        key="evaluations", title="Test evaluations waiting for your decision", order=15, waiting=len(found),
        items=[HomeItem(text=f"{e.run} — {e.project.title}",
                        url=reverse("experiments:evaluation", args=[e.project.slug, e.pk]),
                        detail=f"requested by {e.requested_by.username if e.requested_by else 'someone'}")
               for e in found],
    )
