"""A deliverable's page and its review: the buttons are the transitions the policy allows the
user now (projects.policy.DELIVERABLE_TRANSITIONS)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from projects import evidence, hooks, policy, selectors, services
from projects.access import error_text, guard, project_for
from projects.forms import (
    DeliverableBodyForm,
    TransitionForm,
)
from projects.models import DeliverableKind, DeliverableState


@guard
def deliverable_detail(request, slug: str, kind: str):
    project, role = project_for(request, slug)
    if kind not in DeliverableKind.values:
        raise Http404("No such deliverable")
    deliverable = selectors.deliverable_get(project=project, kind=kind)
    can_edit = policy.can_edit_deliverable(user=request.user, project=project, state=deliverable.state)
    transitions = policy.deliverable_transitions_allowed(user=request.user, project=project, state=deliverable.state)
    is_charter = kind == DeliverableKind.PROJECT_PAGE
    body = deliverable.body
    if not body and can_edit and (draft := hooks.draft_for(kind)) is not None:
        # An empty deliverable's editor starts from its stage's draft; nothing is saved until the
        # author saves, so the draft's numbers are the ones of the day it is first saved.
        body = draft(request, project)
    form = DeliverableBodyForm(initial={"body": body})
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not policy.can(user=request.user, project=project, action=policy.EDIT_DELIVERABLE):
            raise PermissionDenied("Your role in this project does not allow this.")
        form = DeliverableBodyForm(request.POST)
        if form.is_valid():
            try:
                services.deliverable_save_body(
                    deliverable=deliverable, actor=request.user, body=form.cleaned_data["body"]
                )
            except ValidationError as exc:
                form.add_error(None, error_text(exc))
            else:
                messages.success(request, "Saved as draft.")
                return redirect("projects:deliverable", slug=slug, kind=kind)
    approvals = list(selectors.snapshot_list(deliverable=deliverable))
    return render(
        request,
        "projects/deliverable.html",
        {
            "project": project,
            "role": role,
            "deliverable": deliverable,
            "form": form,
            "can_edit": can_edit and not is_charter,
            "is_charter": is_charter,
            "can_submit": "submit" in transitions,
            # approve and request_changes open to the same people from the same state: one form
            "can_review": "approve" in transitions,
            "can_reopen": "reopen" in transitions,
            "transitions": deliverable.transitions.select_related("actor"),
            "approvals": approvals,
            **_approved_view(project, deliverable, request, approvals),
        },
    )


def _approved_view(project, deliverable, request, approvals: list) -> dict:
    """An approved deliverable shows what was approved, frozen, and what reads differently now;
    any other shows its stage's panels live, for the person reading (with their edit forms)."""
    snapshot = approvals[0] if approvals else None
    if deliverable.state != DeliverableState.APPROVED or snapshot is None:
        panels = [mark_safe(panel(request, project)) for panel in hooks.panels(deliverable.kind)]  # noqa: S308
        # Panels are content only: the page loads the chart scripts when one of them draws a chart.
        return {"panels": panels, "has_charts": any("data-plotly-for" in panel for panel in panels)}
    frozen = evidence.frozen(snapshot)
    live = evidence.collect(project=project, deliverable=deliverable)
    return {
        "snapshot": snapshot,
        "frozen": frozen,
        "changes": evidence.changes_since(snapshot=snapshot, live=live),
        "has_charts": frozen.has_charts,
    }


@guard
def deliverable_approval(request, slug: str, kind: str, number: int):
    """One approval of a deliverable, as it was frozen; every approval stays readable."""
    project, role = project_for(request, slug)
    deliverable = selectors.deliverable_get(project=project, kind=kind)
    snapshot = selectors.snapshot_get(deliverable=deliverable, number=number)
    frozen = evidence.frozen(snapshot)
    return render(
        request,
        "projects/deliverable_approval.html",
        {"project": project, "role": role, "deliverable": deliverable, "snapshot": snapshot,
         "frozen": frozen, "has_charts": frozen.has_charts,
         "approvals": selectors.snapshot_list(deliverable=deliverable)},
    )


@guard
def deliverable_export(request, slug: str, kind: str, number: int | None = None):
    """The deliverable as one self-contained HTML file: an approval as frozen (the latest, for an
    approved deliverable), or else the draft's evidence as it reads now."""
    project, _ = project_for(request, slug)
    deliverable = selectors.deliverable_get(project=project, kind=kind)
    if number is not None:
        snapshot = selectors.snapshot_get(deliverable=deliverable, number=number)
    elif deliverable.state == DeliverableState.APPROVED:
        snapshot = selectors.snapshot_list(deliverable=deliverable).first()
    else:
        snapshot = None
    content = evidence.frozen(snapshot) if snapshot else evidence.collect(project=project, deliverable=deliverable)
    document = evidence.export_html(project=project, deliverable=deliverable, evidence=content, snapshot=snapshot)
    suffix = f"-approval-{snapshot.number}" if snapshot else "-draft"
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{kind.replace("_", "-")}{suffix}.html"'
    return response


@require_POST
@guard
def deliverable_transition(request, slug: str, kind: str):
    project, _ = project_for(request, slug)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("projects:deliverable", args=[slug, kind]))
    deliverable = selectors.deliverable_get(project=project, kind=kind)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid action.")
        return redirect("projects:deliverable", slug=slug, kind=kind)
    try:
        services.deliverable_transition(
            deliverable=deliverable,
            actor=request.user,
            action=form.cleaned_data["action"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            {
                "submit": "Submitted for review.",
                "approve": "Approved.",
                "request_changes": "Changes requested.",
                "reopen": "Reopened.",
            }[form.cleaned_data["action"]],
        )
    return redirect("projects:deliverable", slug=slug, kind=kind)
