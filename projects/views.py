"""HTML views: parse, authorise, call one service, render."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from prakriya.jobs.display import without_server_paths
from prakriya.jobs.models import Job
from prakriya.jobs.services import job_cancel
from prakriya.limits import rate_limited
from projects import hooks, permissions, selectors, services
from projects.access import can, error_text, guard, project_for
from projects.charts import value_estimates_figure
from projects.export import export_path
from projects.filters import ProjectFilter
from projects.forms import (
    CharterForm,
    DeliverableBodyForm,
    ExportForm,
    MemberForm,
    ProjectCreateForm,
    SettingsForm,
    TargetForm,
    TransitionForm,
    ValueEstimateForm,
)
from projects.history import revision_diff
from projects.kinds import PROJECT_EXPORT
from projects.models import DeliverableKind, DeliverableState, Rating

User = get_user_model()


# --- Directory and project page -----------------------------------------------------------


@require_GET
def directory(request):
    projects = selectors.project_list_visible(user=request.user).prefetch_related("tags")
    project_filter = ProjectFilter(request.GET or None, queryset=projects)
    results = project_filter.qs if project_filter.is_bound and project_filter.is_valid() else projects
    page = Paginator(results.order_by("-updated_at", "-id"), 20).get_page(request.GET.get("page"))
    return render(request, "projects/directory.html", {"filter": project_filter, "page": page})


@guard
def project_create(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not permissions.can_create_projects(request.user):
        raise PermissionDenied(permissions.STAFF_ONLY_PROJECTS)
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            project = services.project_create(
                creator=request.user,
                slug=data["slug"],
                title=data["title"],
                summary=data["summary"],
                visibility=data["visibility"],
                tags=data["tags"],
                unguessable_private_slug=True,
            )
        except IntegrityError:
            form.add_error("slug", services.SLUG_UNAVAILABLE)  # lost a race for the slug
        except ValidationError as exc:
            if "slug" in getattr(exc, "error_dict", {}):
                form.add_error("slug", exc.error_dict["slug"])
            else:
                form.add_error(None, error_text(exc))
        else:
            messages.success(request, "Project created. Start with its charter.")
            if project.slug != data["slug"]:
                messages.info(request, f"Being private, its address ends in a random part: /projects/{project.slug}/.")
            return redirect("projects:charter_edit", slug=project.slug)
    return render(request, "projects/project_create.html", {"form": form})


@require_GET
@guard
def project_detail(request, slug: str):
    project, role = project_for(request, slug)
    deliverables = selectors.deliverable_list(project=project)
    estimates = list(project.value_estimates.all())
    context = {
        "project": project,
        "role": role,
        "targets": list(project.targets.all()),
        "estimates": estimates,
        "value_figure": value_estimates_figure(estimates),
        "feasibility": [
            (
                "Data",
                project.feasibility_data,
                project.get_feasibility_data_display(),
                project.feasibility_data_notes,
            ),
            (
                "Prior work",
                project.feasibility_prior_work,
                project.get_feasibility_prior_work_display(),
                project.feasibility_prior_work_notes,
            ),
            (
                "Team and infrastructure",
                project.feasibility_team,
                project.get_feasibility_team_display(),
                project.feasibility_team_notes,
            ),
        ],
        "rating_max": max(Rating.values),
        "deliverables": deliverables,
        "approved_count": sum(d.state == DeliverableState.APPROVED for d in deliverables),
        "timeline": selectors.timeline_list(project=project)[:15],
        "members": selectors.membership_list(project=project),
        "can_edit": can(role, request.user, permissions.EDIT_CHARTER),
        "can_manage": can(role, request.user, permissions.MANAGE_PROJECT),
        "can_launch": can(role, request.user, permissions.LAUNCH_JOBS),
        "jobs": (
            selectors.job_list_visible(user=request.user).filter(project=project)[:5]
            if role or request.user.is_superuser
            else []
        ),
    }
    return render(request, "projects/project_detail.html", context)


@guard
def charter_edit(request, slug: str):
    project, role = project_for(request, slug, permissions.EDIT_CHARTER)
    form = CharterForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "summary_of_change"}
        try:
            revision = services.project_update_charter(
                project=project,
                actor=request.user,
                summary_of_change=form.cleaned_data["summary_of_change"],
                **fields,
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(
                request, f"Saved as revision {revision.number}." if revision else "No changes to save."
            )
            return redirect("projects:detail", slug=project.slug)
    if request.method == "POST":
        project.refresh_from_db()
    return render(request, "projects/charter_edit.html", {"project": project, "form": form, "role": role})


# --- Targets and value estimates ----------------------------------------------------------


@guard
def expectations(request, slug: str):
    project, role = project_for(request, slug, permissions.EDIT_CHARTER)
    target_id = request.GET.get("target") or request.POST.get("target_id")
    target = (
        get_object_or_404(project.targets, pk=target_id) if target_id and str(target_id).isdigit() else None
    )
    target_form = TargetForm(instance=target, prefix="target")
    value_form = ValueEstimateForm(prefix="value")
    if request.method == "POST":
        which = request.POST.get("form")
        try:
            if which == "target":
                target_form = TargetForm(request.POST, instance=target, prefix="target")
                if target_form.is_valid():
                    fields = {f: target_form.cleaned_data[f] for f in TargetForm.Meta.fields}
                    services.target_save(project=project, actor=request.user, target=target, **fields)
                    messages.success(request, "Target saved.")
                    return redirect("projects:expectations", slug=slug)
            elif which == "value":
                value_form = ValueEstimateForm(request.POST, prefix="value")
                if value_form.is_valid():
                    services.value_estimate_save(
                        project=project, actor=request.user, **value_form.cleaned_data
                    )
                    messages.success(request, "Value estimate saved.")
                    return redirect("projects:expectations", slug=slug)
            else:
                messages.error(request, "Unknown form.")
        except ValidationError as exc:
            (target_form if which == "target" else value_form).add_error(None, error_text(exc))
    return render(
        request,
        "projects/expectations.html",
        {
            "project": project,
            "role": role,
            "targets": project.targets.all(),
            "editing": target,
            "estimates": project.value_estimates.all(),
            "target_form": target_form,
            "value_form": value_form,
        },
    )


@require_POST
@guard
def target_delete(request, slug: str, target_id: int):
    project, _ = project_for(request, slug, permissions.EDIT_CHARTER)
    services.target_delete(
        project=project, actor=request.user, target=get_object_or_404(project.targets, pk=target_id)
    )
    messages.success(request, "Target removed.")
    return redirect("projects:expectations", slug=slug)


@require_POST
@guard
def value_estimate_delete(request, slug: str, estimate_id: int):
    project, _ = project_for(request, slug, permissions.EDIT_CHARTER)
    estimate = get_object_or_404(project.value_estimates, pk=estimate_id)
    services.value_estimate_delete(project=project, actor=request.user, estimate=estimate)
    messages.success(request, "Value estimate removed.")
    return redirect("projects:expectations", slug=slug)


# --- Settings and members -----------------------------------------------------------------


@guard
def project_settings(request, slug: str):
    project, role = project_for(request, slug, permissions.MANAGE_PROJECT)
    settings_form = SettingsForm(
        initial={"visibility": project.visibility, "tags": ", ".join(t.name for t in project.tags.all())}
    )
    member_form = MemberForm()
    if request.method == "POST":
        which = request.POST.get("form")
        if which == "settings":
            settings_form = SettingsForm(request.POST)
            if settings_form.is_valid():
                services.project_update_settings(
                    project=project, actor=request.user, **settings_form.cleaned_data
                )
                messages.success(request, "Settings saved.")
                return redirect("projects:settings", slug=slug)
        elif which == "member":
            member_form = MemberForm(request.POST)
            if member_form.is_valid():
                user = User.objects.filter(username=member_form.cleaned_data["username"]).first()
                if user is None:
                    member_form.add_error("username", "No user with that username.")
                else:
                    try:
                        services.membership_set(
                            project=project,
                            actor=request.user,
                            user=user,
                            role=member_form.cleaned_data["role"],
                        )
                    except ValidationError as exc:
                        member_form.add_error(None, error_text(exc))
                    else:
                        messages.success(
                            request, f"{user.username} is now {member_form.cleaned_data['role']}."
                        )
                        return redirect("projects:settings", slug=slug)
        else:
            messages.error(request, "Unknown form.")
    return render(
        request,
        "projects/settings.html",
        {
            "project": project,
            "role": role,
            "settings_form": settings_form,
            "member_form": member_form,
            "members": selectors.membership_list_for_lead(project=project),
        },
    )


@require_POST
@guard
def member_remove(request, slug: str, membership_id: int):
    project, _ = project_for(request, slug, permissions.MANAGE_PROJECT)
    membership = get_object_or_404(project.memberships, pk=membership_id)
    try:
        services.membership_remove(project=project, actor=request.user, membership=membership)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Member removed.")
    return redirect("projects:settings", slug=slug)


@require_POST
@guard
def member_unlock(request, slug: str, membership_id: int):
    project, _ = project_for(request, slug, permissions.UNLOCK_MEMBER_SIGN_IN)
    membership = get_object_or_404(project.memberships.select_related("user"), pk=membership_id)
    try:
        services.member_lockout_lift(project=project, actor=request.user, membership=membership)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"{membership.user.get_username()} can sign in again.")
    return redirect("projects:settings", slug=slug)


# --- History and timeline -----------------------------------------------------------------


@require_GET
@guard
def history(request, slug: str):
    project, role = project_for(request, slug)
    return render(
        request,
        "projects/history.html",
        {
            "project": project,
            "role": role,
            "revisions": selectors.revision_list(project=project),
        },
    )


@require_GET
@guard
def revision_detail(request, slug: str, number: int):
    project, role = project_for(request, slug)
    revision = get_object_or_404(project.revisions.select_related("author"), number=number)
    previous = project.revisions.filter(number__lt=number).order_by("-number").first()
    return render(
        request,
        "projects/revision.html",
        {
            "project": project,
            "role": role,
            "revision": revision,
            "previous": previous,
            "diffs": revision_diff(previous, revision),
        },
    )


@require_GET
@guard
def timeline(request, slug: str):
    project, role = project_for(request, slug)
    page = Paginator(selectors.timeline_list(project=project), 50).get_page(request.GET.get("page"))
    return render(request, "projects/timeline.html", {"project": project, "role": role, "page": page})


# --- Deliverables -------------------------------------------------------------------------


@guard
def deliverable_detail(request, slug: str, kind: str):
    project, role = project_for(request, slug)
    if kind not in DeliverableKind.values:
        raise Http404("No such deliverable")
    deliverable = selectors.deliverable_get(project=project, kind=kind)
    can_edit = can(role, request.user, permissions.EDIT_DELIVERABLE) and deliverable.state not in (
        DeliverableState.SUBMITTED,
        DeliverableState.APPROVED,
    )
    is_charter = kind == DeliverableKind.PROJECT_PAGE
    form = DeliverableBodyForm(initial={"body": deliverable.body})
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can(role, request.user, permissions.EDIT_DELIVERABLE):
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
            "can_submit": can(role, request.user, permissions.SUBMIT_DELIVERABLE)
            and deliverable.state in (DeliverableState.DRAFT, DeliverableState.CHANGES_REQUESTED),
            "can_review": can(role, request.user, permissions.REVIEW_DELIVERABLE)
            and deliverable.state == DeliverableState.SUBMITTED,
            "can_reopen": can(role, request.user, permissions.REVIEW_DELIVERABLE)
            and deliverable.state == DeliverableState.APPROVED,
            "transitions": deliverable.transitions.select_related("actor"),
            "panels": [mark_safe(panel(request, project)) for panel in hooks.panels(kind)],  # noqa: S308
        },
    )


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


# --- Jobs ---------------------------------------------------------------------------------


@require_POST
@rate_limited("jobs")
@guard
def export_start(request, slug: str):
    project, _ = project_for(request, slug, permissions.LAUNCH_JOBS)
    form = ExportForm(request.POST)
    pause = (form.cleaned_data.get("pause_seconds") or 0.0) if form.is_valid() else 0.0
    job = services.project_export_start(project=project, actor=request.user, pause_seconds=pause)
    messages.success(request, "Export started.")
    return redirect("projects:job", job_id=job.pk)


def _job_payload(job: Job) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "state_label": job.get_state_display(),
        "progress": round(job.progress, 1),
        "message": without_server_paths(job.message),
        "attempts": job.attempts,
        "log": without_server_paths(job.log[-20000:]),
        "terminal": job.is_terminal,
        "download": reverse("projects:job_download", args=[job.pk])
        if job.state == "succeeded" and job.kind == PROJECT_EXPORT
        else None,
    }


@login_required
@require_GET
def job_detail(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    role = selectors.role_of(user=request.user, project=job.project)
    return render(
        request,
        "projects/job.html",
        {
            "job": job,
            "project": job.project,
            "role": role,
            "payload": json.dumps(_job_payload(job)),
            "can_cancel": can(role, request.user, permissions.LAUNCH_JOBS) and not job.is_terminal,
        },
    )


@login_required
@require_GET
def job_status(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    return JsonResponse(_job_payload(job))


@login_required
@require_POST
def job_cancel_view(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    role = selectors.role_of(user=request.user, project=job.project)
    if not can(role, request.user, permissions.LAUNCH_JOBS):
        raise PermissionDenied("Your role in this project does not allow this.")
    job_cancel(job=job)
    messages.success(request, "Cancellation requested.")
    return redirect("projects:job", job_id=job.pk)


@login_required
@require_GET
def job_download(request, job_id: int):
    job = selectors.job_get_visible(user=request.user, job_id=job_id)
    # The file is where the export job writes it for this job id; nothing stored on the job names
    # a path to serve.
    path = export_path(job.project.slug, job.pk) if job.state == "succeeded" and job.kind == PROJECT_EXPORT else None
    if path is None or not path.is_file():
        raise Http404("No file for this job")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{job.project.slug}-export-{job.pk}.json",
        content_type="application/json",
    )
