"""The data document (datasheet) of a dataset: read with live statistics, and edited."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from datasets import datasheet, selectors, services
from datasets.forms import (
    DataDocumentForm,
)
from datasets.models import VersionState
from projects import policy
from projects.access import add_errors, guard, project_for
from projects.models import DeliverableKind


def _deliverable(project):
    return project.deliverables.get(kind=DeliverableKind.DATA_DOCUMENT)


@require_GET
@guard
def data_document(request, slug: str, ds: str):
    project, role = project_for(request, slug)
    dataset = selectors.dataset_get(project=project, slug=ds)
    document = getattr(dataset, "document", None)
    deliverable = _deliverable(project)
    return render(
        request,
        "datasets/data_document.html",
        {
            "project": project,
            "role": role,
            "dataset": dataset,
            "document": document,
            "deliverable": deliverable,
            "stats": datasheet.live_stats(document.version) if document else None,
            "can_edit": policy.can_edit_deliverable(user=request.user, project=project, state=deliverable.state),
        },
    )


@guard
def data_document_edit(request, slug: str, ds: str):
    project, role = project_for(request, slug, policy.EDIT_DELIVERABLE)
    dataset = selectors.dataset_get(project=project, slug=ds)
    document = getattr(dataset, "document", None)
    initial = {name: getattr(document, name) for name in services.DOCUMENT_FIELDS} if document else {}
    if document:
        initial["version"] = document.version_id
    else:
        latest = dataset.versions.filter(state=VersionState.READY).order_by("-number").first()
        initial["version"] = latest.pk if latest else None
    form = DataDocumentForm(request.POST or None, dataset=dataset, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in services.DOCUMENT_FIELDS}
            try:
                services.data_document_save(
                    dataset=dataset, actor=request.user, version=form.cleaned_data["version"], **fields
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, "Data document saved.")
                return redirect("datasets:document", slug=slug, ds=ds)
        status = 400
    deliverable = _deliverable(project)
    pinned = document.version if document else form.fields["version"].queryset.first()
    return render(
        request,
        "datasets/data_document_edit.html",
        {
            "project": project,
            "role": role,
            "dataset": dataset,
            "document": document,
            "form": form,
            "deliverable": deliverable,
            "frozen": policy.deliverable_frozen(deliverable.state),
            "has_versions": pinned is not None,
            "stats": datasheet.live_stats(pinned, chart=False) if pinned else None,
        },
        status=status,
    )
