"""The access policy (projects/policy.py) as the HTML pages of every app answer it: a project you
cannot see is a 404; an action your role does not allow is a 403; an anonymous visitor is sent to
log in first. No rule lives here, only how a page says no (and, for every app's pages, how a
service's errors reach a form and where a started job is followed)."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from projects import policy, selectors
from projects.models import Project


class LoginRequired(Exception):
    pass


def project_for(request, slug: str, action: policy.Action | None = None) -> tuple[Project, str | None]:
    """The project if the user may see it (404 otherwise) and their role; with an action, also
    requires a signed-in user whose role allows it (login redirect, then 403)."""
    project = selectors.project_get_visible(user=request.user, slug=slug)
    role = policy.role_of(user=request.user, project=project)
    if action is not None:
        if not request.user.is_authenticated:
            raise LoginRequired()
        policy.require(user=request.user, project=project, action=action, what="do this")
    return project, role


def guard(view):
    """Turns the access outcomes of project_for into responses."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except LoginRequired:
            return redirect_to_login(request.get_full_path())

    return wrapper


def error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: per field when it names fields the form has."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error_text(exc))


def to_job(request, job, text: str):
    """Where a page sends the person who started a job: the job's page. upload.js asks for the
    address as JSON, so the message below is shown on the job page it opens, not spent on an
    invisible redirect."""
    messages.success(request, text)
    url = reverse("projects:job", args=[job.pk])
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"redirect": url})
    return redirect(url)
