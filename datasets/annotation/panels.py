"""The baselines deliverable's panel: the human baseline of every campaign with gold labels —
each annotator's accuracy against the lead's adjudicated labels, and their mean. Anyone who can
read the deliverable sees the figures; the names beside them only the lead and engineers."""

from __future__ import annotations

from django.template.loader import render_to_string

from datasets.annotation import selectors
from projects import policy


def baselines_panel(request, project) -> str:
    can_see_names = policy.can(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS)
    rows = []
    for campaign, baseline in selectors.human_baselines(project=project):
        accuracies = [a["accuracy"] for a in baseline["annotators"]]
        rows.append({
            "campaign": campaign,
            "gold_items": baseline["gold_items"],
            "mean": baseline["mean_accuracy"],
            "low": min(accuracies, default=None),
            "high": max(accuracies, default=None),
            "annotators": baseline["annotators"] if can_see_names else [],
            "annotator_count": len(accuracies),
        })
    return render_to_string(
        "annotation/_baselines_panel.html",
        {"project": project, "rows": rows, "can_see_names": can_see_names},
        request=request,
    )
