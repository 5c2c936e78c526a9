"""The latest finished test evaluation's pass/fail per target: on the project page (template tag
experiments/templatetags/sealed_evaluations.py) and on the error analysis and test evaluation
deliverable's page (projects.hooks panel)."""

from __future__ import annotations

from django.template.loader import render_to_string

from experiments.evaluation import selectors


def latest_results_panel(request, project) -> str:
    evaluation = selectors.latest_done(user=request.user, project=project)
    if evaluation is None:
        return ""
    return render_to_string(
        "experiments/_evaluation_targets.html", {"project": project, "evaluation": evaluation}, request=request
    )
