"""The annotator's pages: labelling, the guideline, their own annotations.

Who may open them: anyone who may see the campaign (its project's lead and engineers, and the
annotators assigned to it; everyone else gets a 404 from the selector). Anonymous visitors are
sent to log in first: every page here is about the person's own work. Labelling itself needs an
assignment; the services say so (403) for a manager who is not one of the campaign's annotators.

The labelling page renders its first task on the server; labelling.js then claims, submits and
skips through the JSON endpoints of datasets/annotation/labelling_api.py.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from datasets import selectors as dataset_selectors
from datasets.annotation import selectors, services
from datasets.annotation.labelling_api import progress_data, task_data, value_display
from datasets.annotation.models import Annotation, Campaign, CampaignState, GuidelineVersion, TaskType
from datasets.item_files import item_file_response
from projects import policy
from projects.access import LoginRequired, add_errors, guard, project_for
from projects.models import Project

ANNOTATIONS_PER_PAGE = 25
STALE_EDIT = (
    "This annotation was changed since you opened it (in another tab, or through the API): your edit "
    "was not saved. The latest saved version is shown below; make your change again if it still applies."
)


def _campaign_for(request, slug: str, campaign_slug: str):
    """The project and the campaign if the user may see them (404 otherwise), and their role. A
    private project is a 404 even before signing in, as everywhere."""
    project, role = project_for(request, slug)
    if not request.user.is_authenticated:
        raise LoginRequired()
    campaign = selectors.campaign_get_visible(user=request.user, project=project, slug=campaign_slug)
    return project, role, campaign


def _labels(campaign: Campaign) -> list[dict]:
    """The campaign's labels with their keys: the label's own shortcut, and 1–9 by position —
    unless some label's own shortcut is a digit (labels "0"–"9" keyed by their own digits): two
    meanings for one key would be a trap."""
    labels = list(campaign.labels.all())
    by_position = not any(label.shortcut.isdigit() for label in labels)
    return [
        {"name": label.name, "colour": label.colour, "shortcut": label.shortcut,
         "digit": str(index + 1) if by_position and index < 9 else ""}
        for index, label in enumerate(labels)
    ]


def _guideline_sections(labels: list[dict], guideline: GuidelineVersion | None) -> list[dict]:
    """Per label, in the campaign's order: its definition and its positive and negative examples."""
    if guideline is None:
        return []
    definitions = {d.label: d.definition for d in guideline.definitions.all()}
    examples: dict[str, dict[str, list]] = {}
    for example in guideline.examples.all():
        item = example.campaign_item.item
        entry = {"example": example, "item": item, "campaign_item_id": example.campaign_item_id}
        examples.setdefault(example.label, {"positive": [], "negative": []})[
            "positive" if example.positive else "negative"
        ].append(entry)
    return [
        {"label": label, "definition": definitions.get(label["name"], ""),
         "positive": examples.get(label["name"], {}).get("positive", []),
         "negative": examples.get(label["name"], {}).get("negative", [])}
        for label in labels
    ]


def _api_urls(campaign: Campaign) -> dict[str, str]:
    kwargs = {"project_slug": campaign.project.slug, "campaign_slug": campaign.slug}
    # The item id is filled in by the script: the URL is reversed with 0 and the last "/0/" is
    # the id's place (a slug may itself be "0", which is why it is the last one).
    urls = {"next": reverse("api:campaign-task-next", kwargs=kwargs)}
    for name, route in (("annotation", "campaign-task-annotation"), ("skip", "campaign-task-skip")):
        prefix, suffix = reverse(f"api:{route}", kwargs={**kwargs, "campaign_item_id": 0}).rsplit("/0/", 1)
        urls[name] = f"{prefix}/{{id}}/{suffix}"
    return urls


def _page_context(request, project, role, campaign: Campaign) -> dict:
    guideline = selectors.guideline_current(campaign=campaign)
    labels = _labels(campaign)
    return {
        "project": project,
        "role": role,
        "campaign": campaign,
        "labels": labels,
        "guideline": guideline,
        "sections": _guideline_sections(labels, guideline),
        "can_manage": policy.can(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS),
    }


@require_GET
@guard
def label_page(request, slug: str, campaign: str):
    project, role, campaign_obj = _campaign_for(request, slug, campaign)
    context = _page_context(request, project, role, campaign_obj)
    context["progress"] = progress_data(campaign=campaign_obj, user=request.user)
    context["skipped"] = selectors.skipped_count(campaign=campaign_obj, user=request.user)
    if campaign_obj.state == CampaignState.CLOSED:
        return render(request, "annotation/label.html", {**context, "closed": True})
    if not campaign_obj.annotators.filter(pk=request.user.pk).exists():
        return render(request, "annotation/label.html", {**context, "not_assigned": True}, status=403)
    try:
        campaign_item = services.task_claim(campaign=campaign_obj, annotator=request.user)
    except ValidationError:
        # Closed between the check above and the claim.
        return render(request, "annotation/label.html", {**context, "closed": True})
    task = None
    if campaign_item is not None:
        task = task_data(campaign=campaign_obj, campaign_item=campaign_item, user=request.user)
    context.update({
        "task": task,
        "config": {
            "taskType": campaign_obj.task_type,
            "labels": context["labels"],
            "task": task,
            "progress": context["progress"],
            "urls": _api_urls(campaign_obj),
            "guidelineVersion": context["guideline"].number if context["guideline"] else None,
            "guidelineUrl": reverse("annotation:guideline", args=[project.slug, campaign_obj.slug]),
        },
    })
    return render(request, "annotation/label.html", context)


@require_POST
@guard
def skips_return(request, slug: str, campaign: str):
    """The annotator's skipped items back into their queue: skipping is "not now", not "never"."""
    project, _, campaign_obj = _campaign_for(request, slug, campaign)
    try:
        count = services.skips_return(campaign=campaign_obj, annotator=request.user)
    except ValidationError as exc:  # the campaign closed
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{count} skipped item{'' if count == 1 else 's'} back in your queue.")
    return redirect("annotation:label", project.slug, campaign_obj.slug)


@require_GET
@guard
def guideline(request, slug: str, campaign: str):
    project, role, campaign_obj = _campaign_for(request, slug, campaign)
    context = _page_context(request, project, role, campaign_obj)
    history = list(selectors.guideline_history(campaign=campaign_obj).order_by("-number"))
    cause_ids = {item.pk for version in history for item in version.caused_by.all()}
    # Where a cause links to: the adjudication page for those who adjudicate, else the reader's
    # own annotation of the item if they made one; otherwise its text is shown.
    mine = dict(
        Annotation.objects.filter(campaign=campaign_obj, annotator=request.user, campaign_item_id__in=cause_ids)
        .values_list("campaign_item_id", "pk")
    )
    can_adjudicate = policy.can(user=request.user, project=project, action=policy.ADJUDICATE)
    changes = []
    for version in history:
        causes = []
        for campaign_item in version.caused_by.all():
            if can_adjudicate:
                url = reverse("annotation:adjudicate_item", args=[project.slug, campaign_obj.slug, campaign_item.pk])
            elif campaign_item.pk in mine:
                url = reverse("annotation:annotation_edit", args=[project.slug, campaign_obj.slug, mine[campaign_item.pk]])
            else:
                url = ""
            causes.append({"campaign_item": campaign_item, "item": campaign_item.item, "url": url})
        changes.append({"version": version, "causes": causes})
    context["changes"] = changes
    return render(request, "annotation/guideline.html", context)


@require_GET
@guard
def my_annotations(request, slug: str, campaign: str):
    project, role, campaign_obj = _campaign_for(request, slug, campaign)
    page = Paginator(
        selectors.my_annotations(campaign=campaign_obj, user=request.user).select_related("guideline_version"),
        ANNOTATIONS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    rows = [
        {"annotation": a, "item": a.campaign_item.item, "display": value_display(a.value, a.campaign_item.item.text)}
        for a in page.object_list
    ]
    return render(
        request,
        "annotation/my_annotations.html",
        {"project": project, "role": role, "campaign": campaign_obj, "page": page, "rows": rows,
         "progress": progress_data(campaign=campaign_obj, user=request.user)},
    )


class AnnotationEditForm(forms.Form):
    """One's own annotation: the value in the campaign's shape, and the revision it was read at
    (a save from an older revision is refused rather than overwriting a newer one)."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        choices = [(label.name, label.name) for label in campaign.labels.all()]
        if campaign.task_type == TaskType.SINGLE:
            self.fields["value"] = forms.ChoiceField(label="Label", choices=choices, widget=forms.RadioSelect)
        elif campaign.task_type == TaskType.MULTI:
            self.fields["value"] = forms.MultipleChoiceField(
                label="Labels", choices=choices, required=False, widget=forms.CheckboxSelectMultiple,
                help_text="Leave all unticked if none applies.",
            )
        else:
            self.fields["value"] = forms.CharField(
                label="Spans", required=False, widget=forms.Textarea(attrs={"rows": 4, "dir": "ltr"}),
                help_text="A JSON list of {start, end, label}; offsets count Unicode code points. "
                "Select words in the text above and press a label to add a span; click a span to remove it.",
            )
        self.order_fields(["value", "revision"])

    def clean(self):
        # The revision travels in a hidden field, whose own error the form would not show.
        if "revision" in self.errors:
            raise forms.ValidationError("This form lacks the revision it was opened at: reload the page and try again.")
        return super().clean()

    def clean_value(self):
        value = self.cleaned_data["value"]
        if self.campaign.task_type != TaskType.SPAN:
            return value
        if not value.strip():
            return []
        try:
            return json.loads(value)
        except ValueError as exc:
            raise forms.ValidationError("The spans are not valid JSON.") from exc


def _edit_initial(campaign: Campaign, annotation: Annotation) -> dict:
    value = annotation.value
    if campaign.task_type == TaskType.SPAN:
        value = json.dumps(value, ensure_ascii=False)
    return {"value": value, "revision": annotation.revision}


@require_http_methods(["GET", "HEAD", "POST"])
@guard
def annotation_edit(request, slug: str, campaign: str, annotation: int):
    project, role, campaign_obj = _campaign_for(request, slug, campaign)
    mine = selectors.my_annotations(campaign=campaign_obj, user=request.user).filter(pk=annotation).first()
    if mine is None:
        raise Http404("No such annotation of yours")
    # Bound on every POST, even an empty one: an empty body is a bad edit, not a fresh form.
    data = request.POST if request.method == "POST" else None
    form = AnnotationEditForm(data, campaign=campaign_obj, initial=_edit_initial(campaign_obj, mine))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.annotation_update(
                    annotation=mine, annotator=request.user, value=form.cleaned_data["value"],
                    revision=form.cleaned_data["revision"],
                )
            except services.Conflict:
                # Nothing was written: the form now holds what is saved, at its revision.
                mine.refresh_from_db()
                form = AnnotationEditForm(_edit_initial(campaign_obj, mine), campaign=campaign_obj)
                form.is_valid()
                form.add_error(None, STALE_EDIT)
                status = 409
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, "Annotation saved.")
                return redirect("annotation:mine", slug=project.slug, campaign=campaign_obj.slug)
    item = mine.campaign_item.item
    labels = _labels(campaign_obj)
    return render(
        request,
        "annotation/annotation_edit.html",
        {
            "project": project, "role": role, "campaign": campaign_obj, "annotation": mine, "item": item,
            "form": form, "labels": labels, "display": value_display(mine.value, item.text),
            "closed": campaign_obj.state == CampaignState.CLOSED,
            "editor": {"labels": labels, "text": item.text},
        },
        status=status,
    )


@require_GET
@guard
def item_content(request, slug: str, campaign: str, item: int):
    signature = request.GET.get("signature", "")
    if signature:
        # A signed address (made for Label Studio) opens this one item without a session.
        project = get_object_or_404(Project, slug=slug)
        campaign_obj = get_object_or_404(Campaign, project=project, slug=campaign)
        if not selectors.item_signature_valid(campaign=campaign_obj, campaign_item_id=item, signature=signature):
            raise Http404("This address is not valid (or no longer)")
    else:
        project, _, campaign_obj = _campaign_for(request, slug, campaign)
    campaign_item = selectors.campaign_item_get(campaign=campaign_obj, pk=item)
    # Only the file is answered, never a label: whether the item is sealed changes nothing here.
    visible = dataset_selectors.VisibleItem.of(campaign_item.item, sealed=False)
    return item_file_response(version=campaign_obj.version, item=visible)
