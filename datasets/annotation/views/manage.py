"""Campaign pages for the lead and engineers (and the campaign overview annotators see): the list,
creating a campaign, its page, its settings, adjudication and its gold sample, editing the guideline, closing it and
writing its labels as a dataset version, and ordering its queue by uncertainty.

Access: the project's rules first (a project you cannot see is a 404), then the campaign's (a
campaign you are neither managing nor assigned to is a 404, as any object you may not see), then
the action's (managing: lead and engineers; adjudicating: the lead only; otherwise 403). Signed-out
visitors are sent to log in: no campaign is public.
"""

from __future__ import annotations

import plotly.graph_objects as go
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from datasets.annotation import active, release, selectors, services
from datasets.annotation.forms import (
    ActiveForm,
    AdjudicateForm,
    CampaignCreateForm,
    CampaignEditForm,
    GoldSampleForm,
    GuidelineForm,
)
from datasets.annotation.models import Annotation, Campaign, CampaignItem, CampaignState, TaskType
from prakriya.limits import rate_limited
from projects import policy
from projects.access import LoginRequired, add_errors, error_text, guard, project_for, to_job

QUEUE_PAGE = 200  # disagreements (and sample items) listed at once; the rest wait until these are resolved
_ACCENT, _INK, _MUTED = "#0f766e", "#1f2a44", "#94a3b8"




# --- Access -------------------------------------------------------------------------------------


def _campaign_for(request, slug: str, campaign_slug: str, action: frozenset | None = None):
    """The project, the user's role and the campaign, if the user may see it (and do the action)."""
    project, role = project_for(request, slug)
    if not request.user.is_authenticated:
        raise LoginRequired()
    campaign = selectors.campaign_get_visible(user=request.user, project=project, slug=campaign_slug)
    if action is not None:
        policy.require(user=request.user, project=project, action=action, what="do this")
    return project, role, campaign


def _powers(request, project) -> dict[str, bool]:
    return {
        "can_manage": policy.can(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS),
        "can_adjudicate": policy.can(user=request.user, project=project, action=policy.ADJUDICATE),
    }


# --- Figures ------------------------------------------------------------------------------------


def _bar_figure(names: list[str], values: list[float], *, title: str, y_title: str, percent: bool = False,
                line: float | None = None, line_name: str = "",
                intervals: list[tuple[float, float]] | None = None) -> str | None:
    if not names:
        return None
    error_y = None
    if intervals is not None:
        error_y = {"type": "data", "symmetric": False, "color": _INK,
                   "array": [high - value for value, (_, high) in zip(values, intervals, strict=True)],
                   "arrayminus": [value - low for value, (low, _) in zip(values, intervals, strict=True)]}
    fig = go.Figure(go.Bar(
        x=names, y=values, marker_color=_ACCENT, error_y=error_y,
        hovertemplate="%{x}: %{y" + (":.0%" if percent else "") + "}<extra></extra>",
    ))
    if line is not None:
        fig.add_hline(y=line, line_dash="dash", line_color=_INK, annotation_text=line_name,
                      annotation_position="top left")
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 14, "color": _INK}}, height=280,
        margin={"l": 50, "r": 10, "t": 40, "b": 60}, plot_bgcolor="#fff", paper_bgcolor="#fff",
        showlegend=False,
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text=y_title, gridcolor="#e5e7eb", tickformat=".0%" if percent else None,
                     range=[0, 1] if percent else None)
    return fig.to_json()


# --- List and create ----------------------------------------------------------------------------


@require_GET
@guard
def campaign_list(request, slug: str):
    project, role = project_for(request, slug)
    if not request.user.is_authenticated:
        raise LoginRequired()
    campaigns = list(selectors.campaign_list_visible(user=request.user, project=project).prefetch_related("annotators"))
    mine = set(request.user.annotation_campaigns.filter(project=project).values_list("pk", flat=True))
    rows = [
        {"campaign": c, "progress": selectors.campaign_progress(campaign=c, user=request.user),
         "is_annotator": c.pk in mine}
        for c in campaigns
    ]
    return render(request, "annotation/campaign_list.html", {
        "project": project, "role": role, "rows": rows, **_powers(request, project),
    })


@guard
def campaign_create(request, slug: str):
    project, role = project_for(request, slug, policy.MANAGE_CAMPAIGNS)
    form = CampaignCreateForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = services.campaign_create(
                    version=data["version"], actor=request.user, name=data["name"], slug=data["slug"],
                    task_type=data["task_type"], labels=data["labels"], overlap=data["overlap"],
                    blind=data["blind"], order=data["order"], seed=data["seed"],
                    lock_ttl_seconds=data["lock_ttl_seconds"], annotators=data["annotators"],
                    introduction=data["introduction"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Campaign “{campaign.name}” created with {campaign.items.count()} items.")
                return redirect("annotation:detail", slug=project.slug, campaign=campaign.slug)
        status = 400
    return render(request, "annotation/campaign_create.html", {"project": project, "role": role, "form": form},
                  status=status)


# --- One campaign -------------------------------------------------------------------------------


def _detail_context(request, project, role, campaign: Campaign, *, active_form=None) -> dict:
    powers = _powers(request, project)
    progress = selectors.campaign_progress(campaign=campaign, user=request.user)
    context = {
        "project": project, "role": role, "campaign": campaign, "progress": progress, **powers,
        "labels": list(campaign.labels.all()),
        "guideline": selectors.guideline_current(campaign=campaign),
        "is_annotator": campaign.annotators.filter(pk=request.user.pk).exists(),
        "is_open": campaign.state == CampaignState.OPEN,
    }
    if powers["can_manage"]:
        people = selectors.annotator_progress(campaign=campaign)
        context.update({
            "people": people,
            "people_figure": _bar_figure(
                [p["user"].get_username() for p in people], [p["annotations"] for p in people],
                title="Annotations per annotator", y_title="annotations",
            ),
            "agreement": selectors.agreement_summary(campaign.agreement_reports.first()),
            "releases": release.release_list(campaign=campaign),
            "active_form": active_form or ActiveForm(),
            "can_order_by_uncertainty": campaign.task_type != TaskType.SPAN,
            "disagreement_count": len(selectors.disagreements(campaign=campaign)) if powers["can_adjudicate"] else None,
        })
    return context


@require_GET
@guard
def campaign_detail(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign)
    return render(request, "annotation/campaign_detail.html", _detail_context(request, project, role, campaign))


@guard
def campaign_edit(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign, policy.MANAGE_CAMPAIGNS)
    status = 200
    if request.method == "POST" and "reopen" in request.POST:
        services.campaign_reopen(campaign=campaign, actor=request.user)
        messages.success(request, f"“{campaign.name}” is open again: annotators can claim items.")
        return redirect("annotation:detail", slug=project.slug, campaign=campaign.slug)
    form = CampaignEditForm(request.POST or None, campaign=campaign)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.campaign_update(
                    campaign=campaign, actor=request.user, annotators=data["annotators"], blind=data["blind"],
                    lock_ttl_seconds=data["lock_ttl_seconds"], name=data["name"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("annotation:detail", slug=project.slug, campaign=campaign.slug)
        status = 400
    return render(request, "annotation/campaign_edit.html",
                  {"project": project, "role": role, "campaign": campaign, "form": form}, status=status)


def _after_release(request, project, campaign: Campaign, started: release.LabelRelease, text: str):
    what = "spans" if campaign.task_type == TaskType.SPAN else "labels"
    return to_job(request, started.job, f"{text} Its {what} are being written as a new version.")


@require_POST
@guard
def campaign_close(request, slug: str, campaign: str):
    project, _, campaign = _campaign_for(request, slug, campaign, policy.MANAGE_CAMPAIGNS)
    services.campaign_close(campaign=campaign, actor=request.user)
    try:
        started = release.release_start(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        # Closing stands on its own; the release can be started again from the campaign's page.
        messages.warning(request, f"“{campaign.name}” is closed. No labels were written: {error_text(exc)}")
        return redirect("annotation:detail", slug=project.slug, campaign=campaign.slug)
    return _after_release(request, project, campaign, started, f"“{campaign.name}” is closed.")


@require_POST
@rate_limited("jobs")
@guard
def campaign_release(request, slug: str, campaign: str):
    project, _, campaign = _campaign_for(request, slug, campaign, policy.MANAGE_CAMPAIGNS)
    try:
        started = release.release_start(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, f"No labels were written: {error_text(exc)}")
        return redirect("annotation:detail", slug=project.slug, campaign=campaign.slug)
    return _after_release(request, project, campaign, started, f"“{campaign.name}” released.")


@require_POST
@rate_limited("jobs")
@guard
def active_labelling(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign, policy.MANAGE_CAMPAIGNS)
    form = ActiveForm(request.POST)
    if form.is_valid():
        try:
            job = active.active_start(campaign=campaign, actor=request.user, method=form.cleaned_data["method"])
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            return to_job(request, job, f"Ordering the queue of “{campaign.name}” by uncertainty.")
    context = _detail_context(request, project, role, campaign, active_form=form)
    return render(request, "annotation/campaign_detail.html", context, status=400)


# --- Adjudication -------------------------------------------------------------------------------


def _vote_groups(campaign: Campaign, annotations: list[Annotation]) -> list[dict]:
    """The annotations of one item grouped by value: what was said, by whom, most votes first."""
    groups: dict[str, dict] = {}
    for a in annotations:
        key = selectors.value_key(a.value)
        group = groups.setdefault(key, {"value": a.value, "display": _display(campaign, a), "names": []})
        group["names"].append(a.annotator.get_username())
    return sorted(groups.values(), key=lambda g: (-len(g["names"]), g["display"]))


def _display(campaign: Campaign, annotation_or_value) -> str:
    value = getattr(annotation_or_value, "value", annotation_or_value)
    if campaign.task_type == TaskType.MULTI:
        return ", ".join(value) or "(no label)"
    if campaign.task_type == TaskType.SPAN:
        return "; ".join(f"{s['label']} {s['start']}–{s['end']}" for s in value) or "(no spans)"
    return str(value)


def _spans_with_text(text: str, spans: list[dict]) -> list[dict]:
    # Offsets are Unicode code points, as Python indexes a str.
    return [{**s, "text": text[s["start"]:s["end"]]} for s in spans]


def _rows_with_votes(campaign: Campaign, rows: list[dict]) -> list[dict]:
    """Queue rows (each naming a campaign item) with the item and its votes grouped by value."""
    items = CampaignItem.objects.filter(pk__in=[r["campaign_item_id"] for r in rows]).select_related("item").in_bulk()
    by_item: dict[int, list[Annotation]] = {}
    for a in Annotation.objects.filter(campaign_item_id__in=list(items)).select_related("annotator").order_by("id"):
        by_item.setdefault(a.campaign_item_id, []).append(a)
    return [
        {**r, "campaign_item": items[r["campaign_item_id"]],
         "groups": _vote_groups(campaign, by_item.get(r["campaign_item_id"], []))}
        for r in rows if r["campaign_item_id"] in items
    ]


def _adjudication_context(request, project, role, campaign: Campaign, *, sample_form=None) -> dict:
    everything = selectors.disagreements(campaign=campaign, include_resolved=True)
    queue = [r for r in everything if not r["resolved"]]
    sample_queue = selectors.gold_sample_queue(campaign=campaign)
    sample_rows = [{"campaign_item_id": pk} for pk in sample_queue.values_list("pk", flat=True)[:QUEUE_PAGE]]
    baseline = selectors.human_baseline(campaign=campaign)
    annotators = baseline.annotators
    return {
        "project": project, "role": role, "campaign": campaign, "media": campaign.media, "version": campaign.version,
        "rows": _rows_with_votes(campaign, queue[:QUEUE_PAGE]), "total": len(queue),
        "resolved": len(everything) - len(queue),
        "sample": selectors.gold_sample_state(campaign=campaign),
        "sample_rows": _rows_with_votes(campaign, sample_rows),
        "sample_form": sample_form or GoldSampleForm(),
        "baseline": baseline, "min_baseline_items": selectors.MIN_BASELINE_ITEMS,
        "baseline_figure": _bar_figure(
            [a.annotator for a in annotators], [a.accuracy for a in annotators],
            title="Accuracy on the gold sample (95% intervals)", y_title="accuracy", percent=True,
            line=baseline.accuracy, line_name="mean", intervals=[(a.low, a.high) for a in annotators],
        ),
    }


@require_GET
@guard
def adjudication_queue(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign, policy.ADJUDICATE)
    return render(request, "annotation/adjudication_queue.html",
                  _adjudication_context(request, project, role, campaign))


@require_POST
@guard
def gold_sample_draw(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign, policy.ADJUDICATE)
    form = GoldSampleForm(request.POST)
    if form.is_valid():
        try:
            sample = services.gold_sample_draw(campaign=campaign, actor=request.user, size=form.cleaned_data["size"],
                                               seed=form.cleaned_data["seed"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            text = f"{sample.drawn} item{'s' if sample.drawn != 1 else ''} drawn into the gold sample"
            if sample.drawn < sample.size:
                text += f" (all that were left of the {sample.size} asked for)"
            messages.success(request, text + ": adjudicate them below, whether their annotators agreed or not.")
            return redirect("annotation:adjudicate", slug=project.slug, campaign=campaign.slug)
    context = _adjudication_context(request, project, role, campaign, sample_form=form)
    return render(request, "annotation/adjudication_queue.html", context, status=400)


@guard
def adjudicate_item(request, slug: str, campaign: str, item: int):
    project, role, campaign = _campaign_for(request, slug, campaign, policy.ADJUDICATE)
    campaign_item = selectors.campaign_item_get(campaign=campaign, pk=item)
    annotations = list(
        Annotation.objects.filter(campaign_item=campaign_item).select_related("annotator", "guideline_version")
        .order_by("annotator__username")
    )
    initial = {"gold": campaign_item.gold, "note": campaign_item.gold_note} if campaign_item.gold is not None else {}
    if campaign.task_type == TaskType.SPAN and campaign_item.gold is not None:
        same = [a for a in annotations if selectors.value_key(a.value) == selectors.value_key(campaign_item.gold)]
        initial["gold"] = str(same[0].pk) if same else None
    form = AdjudicateForm(request.POST or None, campaign=campaign, annotations=annotations, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                with transaction.atomic():  # the gold label and its guideline example together, or neither
                    services.gold_set(campaign=campaign, actor=request.user, campaign_item=campaign_item,
                                      value=form.gold_value(), note=form.cleaned_data["note"])
                    guideline = None
                    if form.cleaned_data["add_example"]:
                        guideline = services.guideline_add_example(
                            campaign=campaign, actor=request.user, campaign_item=campaign_item,
                            label=form.example_label(), note=form.cleaned_data["example_note"],
                        )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                text = "Gold label saved."
                if guideline is not None:
                    text += f" Added to the guideline as an example of “{form.example_label()}” (v{guideline.number})."
                messages.success(request, text)
                return redirect("annotation:adjudicate", slug=project.slug, campaign=campaign.slug)
        status = 400
    text = campaign_item.item.text
    return render(request, "annotation/adjudicate_item.html", {
        "project": project, "role": role, "campaign": campaign, "campaign_item": campaign_item,
        "version": campaign.version, "media": campaign.media, "form": form,
        "annotations": [
            {"annotation": a, "display": _display(campaign, a),
             "spans": _spans_with_text(text, a.value) if campaign.task_type == TaskType.SPAN else None}
            for a in annotations
        ],
        "groups": _vote_groups(campaign, annotations),
        "gold_display": _display(campaign, campaign_item.gold) if campaign_item.gold is not None else None,
    }, status=status)


# --- Guideline ----------------------------------------------------------------------------------


def _snippet(campaign: Campaign, campaign_item: CampaignItem) -> str:
    if campaign.media == "image":
        return campaign_item.item.original_name or campaign_item.item.key
    text = campaign_item.item.text
    return text if len(text) <= 90 else text[:89] + "…"


@guard
def guideline_edit(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign, policy.MANAGE_CAMPAIGNS)
    current = selectors.guideline_current(campaign=campaign)
    labels = list(campaign.labels.values_list("name", flat=True))
    queue = selectors.disagreements(campaign=campaign, include_resolved=True)[:50]
    items = CampaignItem.objects.filter(pk__in=[r["campaign_item_id"] for r in queue]).select_related("item").in_bulk()
    disagreements = [
        (r["campaign_item_id"], f"{_snippet(campaign, items[r['campaign_item_id']])} — {r['distinct']} different answers "
         f"from {r['votes']} annotators" + (" (adjudicated)" if r["resolved"] else ""))
        for r in queue if r["campaign_item_id"] in items
    ]
    initial = {}
    if current is not None:
        definitions = {d.label: d.definition for d in current.definitions.all()}
        initial = {"introduction": current.introduction,
                   **{f"definition_{i}": definitions.get(name, "") for i, name in enumerate(labels)}}
    form = GuidelineForm(request.POST or None, labels=labels, disagreements=disagreements, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                guideline = services.guideline_publish(
                    campaign=campaign, actor=request.user, introduction=form.cleaned_data["introduction"],
                    definitions=form.definitions(), change_note=form.cleaned_data["change_note"],
                    caused_by=form.cleaned_data["caused_by"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Guideline v{guideline.number} published.")
                return redirect("annotation:detail", slug=project.slug, campaign=campaign.slug)
        status = 400
    return render(request, "annotation/guideline_edit.html", {
        "project": project, "role": role, "campaign": campaign, "form": form, "current": current,
        "history": selectors.guideline_history(campaign=campaign)[:10],
    }, status=status)
