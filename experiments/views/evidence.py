"""The runs an author chooses as a deliverable's evidence (experiments.evidence)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from experiments import services
from projects import selectors as project_selectors
from projects.access import error_text, guard, project_for

MAX_POSTED_RUNS = 100


@require_POST
@guard
def deliverable_runs(request, slug: str, kind: str):
    project, _ = project_for(request, slug)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("projects:deliverable", args=[slug, kind]))
    deliverable = project_selectors.deliverable_get(project=project, kind=kind)
    try:
        services.deliverable_runs_choose(
            deliverable=deliverable, actor=request.user, run_ids=request.POST.getlist("run")[:MAX_POSTED_RUNS]
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Evidence saved: the chosen runs are shown below.")
    return redirect("projects:deliverable", slug=slug, kind=kind)
