"""The baselines deliverable's panel: the human baseline of every campaign that has one — how
often the annotators are right, measured on the adjudicated gold sample or estimated from their
agreement, with its 95% interval, the items it rests on and the method, and plainly flagged when
too few items stand behind it to compare with models. Anyone who can read the deliverable sees
the figures; the annotators' names beside them only the lead and engineers."""

from __future__ import annotations

from django.template.loader import render_to_string

from datasets.annotation import selectors
from projects import policy


def baselines_panel(request, project) -> str:
    can_see_names = policy.can(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS)
    rows = [{"campaign": campaign, "baseline": baseline}
            for campaign, baseline in selectors.human_baselines(project=project)]
    return render_to_string(
        "annotation/_baselines_panel.html",
        {"project": project, "rows": rows, "can_see_names": can_see_names,
         "min_items": selectors.MIN_BASELINE_ITEMS},
        request=request,
    )


def labelling_process_panel(request, project) -> str:
    """The data document's labelling process, filled in from the campaigns themselves."""
    rows = selectors.labelling_process(project=project)
    if not rows:
        return ""
    can_manage = policy.can(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS)
    return render_to_string(
        "annotation/_labelling_process_panel.html",
        {"project": project, "rows": rows, "can_manage": can_manage},
        request=request,
    )
