"""Label Studio pages of a campaign: the LS JSON export (a download), the Label Studio page
(importing an LS export, with what happened to every annotation; the state of the sync with the
configured server), and starting a sync (followed on its job page).

Access as the other management pages: a project you cannot see and a campaign you neither manage
nor are assigned to are 404s; an assigned annotator gets a 403 (an export holds everyone's labels,
and an import writes in others' names); signed-out visitors are sent to log in.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from datasets import upload_handlers
from datasets.annotation import selectors
from datasets.annotation.labelstudio import exports, imports, sync
from datasets.annotation.models import CampaignItem, LabelStudioTask
from datasets.upload_handlers import capped_upload
from prakriya.limits import rate_limited
from projects import policy
from projects.access import LoginRequired, error_text, guard, project_for, to_job

RECENT_SYNCS = 5


class LabelStudioImportForm(forms.Form):
    file = forms.FileField(
        label="Export file",
        help_text=f"The JSON export of a Label Studio project (Export → JSON), at most "
                  f"{imports.MAX_IMPORT_BYTES // 1024**2} MB. Tasks are matched to items by the item key "
                  "Prakriya writes into every task, else by their exact text; annotators by email.",
    )
    offsets = forms.ChoiceField(
        label="Span offsets", choices=imports.OFFSET_CHOICES, initial="auto",
        help_text="How the export counts characters in span start and end. They differ only after emoji "
                  "and other characters outside the Basic Multilingual Plane.",
    )


def _campaign_for(request, slug: str, campaign_slug: str, what: str):
    project, role = project_for(request, slug)
    if not request.user.is_authenticated:
        raise LoginRequired()
    campaign = selectors.campaign_get_visible(user=request.user, project=project, slug=campaign_slug)
    policy.require(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS, what=what)
    return project, role, campaign


def _page(request, project, role, campaign, *, form=None, result=None, refused: str = "", status: int = 200):
    context = {
        "project": project, "role": role, "campaign": campaign,
        "form": form or LabelStudioImportForm(),
        "result": result,
        "refused": refused,
        "configured": sync.is_configured(),
        "labelstudio_url": sync.project_url(campaign),
        "max_mb": imports.MAX_IMPORT_BYTES // 1024**2,
        "pushed": LabelStudioTask.objects.filter(campaign_item__campaign=campaign).count(),
        "items": CampaignItem.objects.filter(campaign=campaign).count(),
        "syncs": list(sync.sync_jobs(campaign=campaign)[:RECENT_SYNCS]),
    }
    return render(request, "annotation/labelstudio_import.html", context, status=status)


@require_GET
@guard
def labelstudio_export(request, slug: str, campaign: str):
    project, _, campaign = _campaign_for(request, slug, campaign, "export a campaign")
    offsets = request.GET.get("offsets", "codepoints")
    try:
        tasks = exports.labelstudio_export(campaign=campaign, actor=request.user, offsets=offsets)
    except ValidationError as exc:
        return HttpResponse(error_text(exc), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(
        json.dumps(tasks, ensure_ascii=False, indent=1), content_type="application/json; charset=utf-8"
    )
    # Slugs are letters, digits, "-" and "_": safe in the header as they are.
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{campaign.slug}-labelstudio.json"'
    return response


@require_http_methods(["GET", "POST"])
@capped_upload
@guard
def labelstudio_import(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign, "import annotations into a campaign")
    if request.method == "GET":
        return _page(request, project, role, campaign)
    too_big = upload_handlers.refusal(request)
    if too_big:
        # Refused before the body is read: there is no submitted form to bind, only the reason.
        return _page(request, project, role, campaign, refused=too_big, status=400)
    form = LabelStudioImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            result = imports.labelstudio_import(
                campaign=campaign, actor=request.user, data=form.cleaned_data["file"],
                offsets=form.cleaned_data["offsets"],
            )
        except ValidationError as exc:
            form.add_error("file", error_text(exc))
        else:
            return _page(request, project, role, campaign, result=result)
    return _page(request, project, role, campaign, form=form, status=400)


@require_POST
@rate_limited("jobs")
@guard
def labelstudio_sync(request, slug: str, campaign: str):
    project, _, campaign = _campaign_for(request, slug, campaign, "sync a campaign with Label Studio")
    try:
        job = sync.labelstudio_sync_start(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        # As the campaign's other action buttons: the reason, on the page the button is on.
        messages.error(request, f"No sync started: {error_text(exc)}")
        return redirect("annotation:labelstudio_import", slug=project.slug, campaign=campaign.slug)
    return to_job(request, job, f"Syncing “{campaign.name}” with Label Studio.")
