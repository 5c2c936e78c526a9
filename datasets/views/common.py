"""What the datasets pages share: access (the project pages' rules), following a started job,
and a service's errors onto a form."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from datasets import selectors
from projects.access import error_text, project_for

__all__ = ["add_errors", "to_job", "version_for"]


def _is_xhr(request) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def to_job(request, job, text: str):
    """Where a started job is followed: its page. upload.js asks for the address as JSON, so
    the message below is shown on the job page it opens, not spent on an invisible redirect."""
    messages.success(request, text)
    url = reverse("projects:job", args=[job.pk])
    if _is_xhr(request):
        return JsonResponse({"redirect": url})
    return redirect(url)


def add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: per field when it names fields the form has."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error_text(exc))


def version_for(
    request, slug: str, ds: str, number: int, action: frozenset | None = None, *, ready: bool = False
):
    """The project (visible, and the action allowed), the user's role, the dataset and the version."""
    project, role = project_for(request, slug, action)
    dataset = selectors.dataset_get(project=project, slug=ds)
    getter = selectors.ready_version_get if ready else selectors.version_get
    return project, role, dataset, getter(dataset=dataset, number=number)
