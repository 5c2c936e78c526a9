"""The literature survey's pages: the table (sortable by year and feasibility) and its forms."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from projects import policy
from projects.access import add_errors, guard, project_for
from projects.literature import selectors, services
from projects.literature.forms import LiteratureEntryForm
from projects.literature.panels import survey_context


@require_GET
@guard
def literature_list(request, slug: str):
    project, role = project_for(request, slug)
    context = survey_context(request, project, sort=request.GET.get("sort", "position"))
    return render(request, "projects/literature/list.html", {"project": project, "role": role, **context})


def _save(request, project, form: LiteratureEntryForm, entry=None) -> bool:
    """Calls the service with the form's data; service errors land on the form. True if saved."""
    if not form.is_valid():
        return False
    fields = {name: form.cleaned_data[name] for name in services.ENTRY_FIELDS}
    try:
        if entry is None:
            services.literature_entry_create(project=project, actor=request.user, **fields)
        else:
            services.literature_entry_update(entry=entry, actor=request.user, **fields)
    except ValidationError as exc:
        add_errors(form, exc)
        return False
    return True


@guard
def literature_add(request, slug: str):
    project, role = project_for(request, slug, policy.EDIT_DELIVERABLE)
    form = LiteratureEntryForm(request.POST or None)
    if request.method == "POST" and _save(request, project, form):
        messages.success(request, "Entry added to the literature survey.")
        return redirect("projects:literature", slug=slug)
    return render(request, "projects/literature/form.html", {"project": project, "role": role, "form": form})


@guard
def literature_edit(request, slug: str, entry_id: int):
    project, role = project_for(request, slug, policy.EDIT_DELIVERABLE)
    entry = selectors.literature_get(user=request.user, project=project, pk=entry_id)
    # The form works on a copy: a refused save leaves the entry as stored for the page's title.
    form = LiteratureEntryForm(request.POST or None, instance=selectors.literature_get(
        user=request.user, project=project, pk=entry_id))
    if request.method == "POST" and _save(request, project, form, entry):
        messages.success(request, "Entry saved.")
        return redirect("projects:literature", slug=slug)
    return render(
        request, "projects/literature/form.html", {"project": project, "role": role, "form": form, "entry": entry}
    )


@require_POST
@guard
def literature_delete(request, slug: str, entry_id: int):
    project, _ = project_for(request, slug, policy.EDIT_DELIVERABLE)
    entry = selectors.literature_get(user=request.user, project=project, pk=entry_id)
    try:
        services.literature_entry_delete(entry=entry, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Removed “{entry.title}”.")
    return redirect("projects:literature", slug=slug)

