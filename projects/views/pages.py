"""Project pages: the directory, creating a project, its page and charter, targets and value
estimates, settings and members, history and timeline. Parse, authorise, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from projects import policy, selectors, services
from projects.access import error_text, guard, project_for
from projects.charts import value_estimates_figure
from projects.filters import ProjectFilter
from projects.forms import (
    CharterForm,
    MemberForm,
    ProjectCreateForm,
    SettingsForm,
    TargetForm,
    ValueEstimateForm,
)
from projects.history import revision_diff
from projects.home import home_for
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


@login_required
@require_GET
def home(request):
    return render(request, "projects/home.html", {"sections": home_for(user=request.user)})


@guard
def project_create(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not policy.can_create_projects(request.user):
        raise PermissionDenied(policy.STAFF_ONLY_PROJECTS)
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
        # The approved experience report is published on the project's page.
        "published_report": next(
            (d for d in deliverables
             if d.kind == DeliverableKind.EXPERIENCE_REPORT and d.state == DeliverableState.APPROVED),
            None,
        ),
        "timeline": selectors.timeline_list(project=project)[:15],
        "members": selectors.membership_list(project=project),
        "can_edit": policy.can(user=request.user, project=project, action=policy.EDIT_CHARTER),
        "can_manage": policy.can(user=request.user, project=project, action=policy.MANAGE_PROJECT),
        "can_launch": policy.can(user=request.user, project=project, action=policy.LAUNCH_JOBS),
        "jobs": (
            selectors.job_list_visible(user=request.user).filter(project=project)[:5]
            if role or request.user.is_superuser
            else []
        ),
    }
    return render(request, "projects/project_detail.html", context)


@guard
def charter_edit(request, slug: str):
    project, role = project_for(request, slug, policy.EDIT_CHARTER)
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
    project, role = project_for(request, slug, policy.EDIT_CHARTER)
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
    project, _ = project_for(request, slug, policy.EDIT_CHARTER)
    services.target_delete(
        project=project, actor=request.user, target=get_object_or_404(project.targets, pk=target_id)
    )
    messages.success(request, "Target removed.")
    return redirect("projects:expectations", slug=slug)


@require_POST
@guard
def value_estimate_delete(request, slug: str, estimate_id: int):
    project, _ = project_for(request, slug, policy.EDIT_CHARTER)
    estimate = get_object_or_404(project.value_estimates, pk=estimate_id)
    services.value_estimate_delete(project=project, actor=request.user, estimate=estimate)
    messages.success(request, "Value estimate removed.")
    return redirect("projects:expectations", slug=slug)


# --- Settings and members -----------------------------------------------------------------


@guard
def project_settings(request, slug: str):
    project, role = project_for(request, slug, policy.MANAGE_PROJECT)
    settings_form = SettingsForm(
        initial={"visibility": project.visibility, "tags": ", ".join(t.name for t in project.tags.all()),
                 "prediction_inputs": project.prediction_inputs}
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
    project, _ = project_for(request, slug, policy.MANAGE_PROJECT)
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
    project, _ = project_for(request, slug, policy.UNLOCK_MEMBER_SIGN_IN)
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
