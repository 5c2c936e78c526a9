"""The datasets of a project and one dataset's page: creating datasets, uploading versions and
importing scikit-learn's bundled data."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from datasets import datasheet, selectors, services, upload_handlers
from datasets.forms import (
    DatasetCreateForm,
    SklearnImportForm,
    UploadForm,
    sklearn_choices,
)
from datasets.upload_handlers import UploadOnDisk, capped_upload
from prakriya.limits import rate_limited
from projects import policy
from projects.access import add_errors, error_text, guard, project_for, to_job


@guard
def dataset_list(request, slug: str):
    writing = request.method == "POST"
    project, role = project_for(request, slug, policy.EDIT_DELIVERABLE if writing else None)
    can_create = policy.can(user=request.user, project=project, action=policy.EDIT_DELIVERABLE)
    form = DatasetCreateForm()
    status = 200
    if writing:
        form = DatasetCreateForm(request.POST)
        if form.is_valid():
            try:
                dataset = services.dataset_create(project=project, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            except IntegrityError:
                form.add_error("slug", "This project already has a dataset with this address.")
            else:
                messages.success(request, f"Dataset “{dataset.name}” created. Upload its first version.")
                return redirect("datasets:detail", slug=project.slug, ds=dataset.slug)
        status = 400
    datasets = selectors.dataset_list(project=project).select_related("document__version")
    rows = [(d, selectors.version_list(dataset=d).first()) for d in datasets]
    return render(
        request,
        "datasets/dataset_list.html",
        {"project": project, "role": role, "rows": rows, "form": form, "can_create": can_create},
        status=status,
    )


def _dataset_context(request, project, role, dataset, *, upload_form=None, import_form=None) -> dict:
    versions = list(selectors.version_list(dataset=dataset).select_related("parent", "created_by"))
    return {
        "project": project,
        "role": role,
        "dataset": dataset,
        "versions": versions,
        "document": getattr(dataset, "document", None),
        "can_launch": policy.can(user=request.user, project=project, action=policy.LAUNCH_JOBS),
        "can_edit": policy.can(user=request.user, project=project, action=policy.EDIT_DELIVERABLE),
        "upload_form": upload_form or UploadForm(kind=dataset.kind),
        "import_form": import_form or SklearnImportForm(kind=dataset.kind),
        "has_sklearn": bool(sklearn_choices(dataset.kind)),
        "waiting_jobs": datasheet.waiting_write_jobs(dataset) if role or request.user.is_superuser else [],
    }


@require_GET
@guard
def dataset_detail(request, slug: str, ds: str):
    project, role = project_for(request, slug)
    dataset = selectors.dataset_get(project=project, slug=ds)
    return render(request, "datasets/dataset_detail.html", _dataset_context(request, project, role, dataset))


@require_POST
@rate_limited("uploads")
@capped_upload
@guard
def version_upload(request, slug: str, ds: str):
    project, role = project_for(request, slug, policy.LAUNCH_JOBS)
    dataset = selectors.dataset_get(project=project, slug=ds)
    too_big = upload_handlers.refusal(request)
    if too_big:
        # Refused before the body is read: a file far over the cap is never written to disk.
        context = _dataset_context(request, project, role, dataset)
        context["upload_refused"] = too_big
        return render(request, "datasets/dataset_detail.html", context, status=400)
    form = UploadForm(request.POST, request.FILES, kind=dataset.kind)
    identical = None
    if form.is_valid():
        uploaded = form.cleaned_data["file"]
        try:
            with UploadOnDisk(uploaded) as path:
                job = services.version_start_from_upload(
                    dataset=dataset,
                    actor=request.user,
                    path=path,
                    original_name=uploaded.name,
                    message=form.cleaned_data["message"],
                    label_column=form.cleaned_data.get("label_column") or "label",
                    text_column=form.cleaned_data.get("text_column") or "text",
                )
        except services.VersionIdentical as exc:
            # Not a mistake in the form: the page offers the version that already holds this content.
            identical = exc.version
        except ValidationError as exc:
            form.add_error("file", error_text(exc))
        else:
            return to_job(request, job, f"Upload of {uploaded.name} received: writing the new version.")
    context = _dataset_context(request, project, role, dataset, upload_form=form)
    context["identical"] = identical
    return render(request, "datasets/dataset_detail.html", context, status=409 if identical else 400)


@require_POST
@rate_limited("uploads")
@guard
def sklearn_import(request, slug: str, ds: str):
    project, role = project_for(request, slug, policy.LAUNCH_JOBS)
    dataset = selectors.dataset_get(project=project, slug=ds)
    form = SklearnImportForm(request.POST, kind=dataset.kind)
    if form.is_valid():
        try:
            job = services.version_start_from_sklearn(
                dataset=dataset, actor=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            return to_job(request, job, f"Importing scikit-learn’s {form.cleaned_data['name']} data.")
    context = _dataset_context(request, project, role, dataset, import_form=form)
    return render(request, "datasets/dataset_detail.html", context, status=400)
