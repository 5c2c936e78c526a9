"""The agreement page of a campaign: the latest agreement report (headline statistics with their
confidence intervals, the charts of charts.py, per annotator and per label, the most
disagreed items with a link to adjudicate them) and the form that starts a new run.

Access as the other management pages: a project you cannot see and a campaign you neither manage
nor are assigned to are 404s; an assigned annotator gets a 403 (agreement names annotators and
compares them, which is for the lead and engineers); signed-out visitors are sent to log in.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from datasets.annotation import selectors
from datasets.annotation.agreement.charts import agreement_figures
from datasets.annotation.agreement.jobs import agreement_jobs, agreement_start
from datasets.annotation.models import AgreementReport, Campaign, CampaignItem, TaskType
from prakriya.limits import rate_limited
from projects import policy
from projects.access import LoginRequired, add_errors, guard, project_for, to_job

# Krippendorff's conventions for alpha: data to rely on, and data for tentative conclusions only.
ALPHA_RELIABLE, ALPHA_TENTATIVE = 0.800, 0.667
SNIPPET = 120


class AgreementForm(forms.Form):
    ordered = forms.BooleanField(
        required=False, label="The labels are ordered (in the order listed)",
        help_text="Adds ordinal and interval alpha, which count a near miss as less of a disagreement "
                  "than a distant one. Leave it unticked for categories without an order.",
    )

    def __init__(self, *args, campaign: Campaign, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if campaign.task_type != TaskType.SINGLE:
            del self.fields["ordered"]


def _campaign_for(request, slug: str, campaign_slug: str):
    project, role = project_for(request, slug)
    if not request.user.is_authenticated:
        raise LoginRequired()
    campaign = selectors.campaign_get_visible(user=request.user, project=project, slug=campaign_slug)
    policy.require(user=request.user, project=project, action=policy.MANAGE_CAMPAIGNS,
                 what="see a campaign's agreement")
    return project, role, campaign


@require_http_methods(["GET", "POST"])
@rate_limited("jobs")
@guard
def agreement(request, slug: str, campaign: str):
    project, role, campaign = _campaign_for(request, slug, campaign)
    # Bound on every POST: a form with only the unticked checkbox posts nothing but is still a run.
    form = AgreementForm(request.POST if request.method == "POST" else None, campaign=campaign)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                job = agreement_start(
                    campaign=campaign, actor=request.user, ordered=form.cleaned_data.get("ordered", False)
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                return to_job(request, job, f"Computing the agreement of “{campaign.name}”.")
        status = 400
    report = campaign.agreement_reports.select_related("job").first()
    context = {
        "project": project, "role": role, "campaign": campaign, "form": form,
        "can_adjudicate": policy.can(user=request.user, project=project, action=policy.ADJUDICATE),
        "latest_job": agreement_jobs(campaign=campaign).first(),
        **_report_context(campaign, report),
    }
    return render(request, "annotation/agreement.html", context, status=status)


# --- The report, ready to show -------------------------------------------------------------------


def _report_context(campaign: Campaign, report: AgreementReport | None) -> dict[str, Any]:
    result = report.result if report is not None and isinstance(report.result, dict) else {}
    stats = result.get("stats")
    if not isinstance(stats, dict):
        # No report, or one written in a shape this page does not know: offer a new run.
        return {"report": report, "stats": None, "unreadable": report is not None}
    timeline = result.get("timeline") if isinstance(result.get("timeline"), list) else []
    try:
        # One point is not a trend, and plotly stretches a lone date into milliseconds.
        figures = agreement_figures(stats, timeline if len(timeline) >= 2 else [])
        confidence = (stats.get("bootstrap") or {}).get("confidence")
        names = list(stats["annotators"])
        context = {
            "headline": _headline(stats),
            "confidence": round(confidence * 100) if confidence else None,
            "counts": _counts(stats),
            "annotators": _annotators(stats),
            "pairs": _pairs(stats, names),
            "per_label": _per_label(stats),
            "disagreed": _disagreed(campaign, stats),
        }
    except (KeyError, TypeError, ValueError, IndexError):
        return {"report": report, "stats": None, "unreadable": True}
    return {
        "report": report, "stats": stats, "unreadable": False, "figures": figures,
        "ordered": bool(result.get("ordered")), "timeline_bucket": result.get("timeline_bucket"),
        "timeline_points": len(timeline),
        "alpha_reliable": ALPHA_RELIABLE, "alpha_tentative": ALPHA_TENTATIVE, **context,
    }


def _number(value: Any, *, percent: bool = False) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "–"
    return f"{value * 100:.1f}%" if percent else f"{value:.3f}"


def _estimate(name: str, estimate: Any, *, percent: bool = False, key: str, note: str = "") -> dict[str, Any]:
    estimate = estimate if isinstance(estimate, dict) else {}
    ci = estimate.get("ci")
    return {
        "key": key, "name": name, "note": note, "raw": estimate.get("value"),
        "value": _number(estimate.get("value"), percent=percent),
        "ci": f"{_number(ci[0], percent=percent)} to {_number(ci[1], percent=percent)}" if ci else None,
    }


def _headline(stats: dict[str, Any]) -> list[dict[str, Any]]:
    alpha = stats["krippendorff_alpha"]
    rows = [_estimate("Krippendorff's α (nominal)", alpha["nominal"], key="alpha",
                      note="Agreement beyond chance; 1 is perfect, 0 is what chance gives")]
    if alpha.get("ordinal"):
        rows.append(_estimate("Krippendorff's α (ordinal)", alpha["ordinal"], key="alpha-ordinal",
                              note="A near miss in the labels' order counts less"))
    if alpha.get("interval"):
        rows.append(_estimate("Krippendorff's α (interval)", alpha["interval"], key="alpha-interval",
                              note="Labels as equally spaced numbers"))
    rows += [
        _estimate("Fleiss' κ", stats["fleiss_kappa"], key="fleiss", note="Chance-corrected, any number of annotators"),
        _estimate("Percent agreement", stats["percent_agreement"], percent=True, key="percent",
                  note="Annotator pairs that gave the same label"),
        _estimate("Unanimous units", stats["unanimous_units"], percent=True, key="unanimous",
                  note="Units on which every label agrees"),
    ]
    return rows


def _counts(stats: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("Annotators", len(stats["annotators"])),
        ("Annotations", stats["annotations"]),
        ("Units compared (two or more labels)", stats["units_with_pairs"]),
        ("Units labelled", stats["units_labelled"]),
        ("Annotator pairs within units", stats["pairs"]),
    ]


def _annotators(stats: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "annotations": row["annotations"], "paired": row["paired_judgements"],
         "agreement": _number(row["agreement"], percent=True), "kappa": _number(row["cohen_kappa_mean"])}
        for row in stats["per_annotator"]
    ]


def _pairs(stats: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
    return [
        {"a": names[row["a"]], "b": names[row["b"]], "units": row["units"],
         "agreement": _number(row["agreement"], percent=True), "kappa": _number(row["kappa"])}
        for row in stats["pairwise_cohen"] if row["units"]
    ]


def _per_label(stats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in stats["per_label"]:
        alpha = _estimate(row["label"], row["krippendorff_alpha"], key="")
        rows.append({"label": row["label"], "annotations": row["annotations"], "units": row["units"],
                     "alpha": alpha["value"], "alpha_ci": alpha["ci"],
                     "positive": _number(row["positive_agreement"], percent=True)})
    return rows


def _disagreed(campaign: Campaign, stats: dict[str, Any]) -> list[dict[str, Any]]:
    """The most disagreed units with what is needed to show and link them; the item as it is now
    (its gold label may have been set since the report)."""
    rows = stats["most_disagreed"]
    items = CampaignItem.objects.filter(
        campaign=campaign, pk__in=[row["campaign_item"] for row in rows if row.get("campaign_item")]
    ).select_related("item").in_bulk()
    out = []
    for row in rows:
        campaign_item = items.get(row.get("campaign_item"))
        text = ""
        if campaign_item is not None:
            item = campaign_item.item
            text = item.text if campaign.media == "text" else (item.original_name or item.key)
        out.append({
            "campaign_item": campaign_item,
            "key": row.get("key", ""),
            "snippet": text if len(text) <= SNIPPET else text[:SNIPPET - 1] + "…",
            "question": row.get("label"),
            "token": row.get("token"),
            "counts": sorted(row["counts"].items(), key=lambda kv: (-kv[1], kv[0])),
            "disagreement": _number(row["disagreement"], percent=True),
            "ratings": row["ratings"],
            "decided": campaign_item is not None and campaign_item.gold is not None,
        })
    return out
