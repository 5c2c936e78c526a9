"""One version's page (summary, profile, class balance, split), re-profiling, splitting,
deriving a new version, the download archive and the diff of two versions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from datasets import archive, datasheet, selectors, services, upload_handlers
from datasets.charts import profile_figures
from datasets.diff_charts import balance_diff_figure
from datasets.forms import DeriveForm, SplitForm
from datasets.models import DatasetVersion, VersionState
from datasets.upload_handlers import UploadOnDisk, capped_upload
from datasets.views.access import version_for
from prakriya.limits import rate_limited
from projects import policy
from projects.access import error_text, guard, to_job

if TYPE_CHECKING:
    from prakriya.jobs.models import Job


def _figures(profile) -> list[dict]:
    """The profile's plotly figures, each with an element id and a readable name."""
    if profile is None:
        return []
    figures = []
    for index, (name, figure) in enumerate((profile_figures(profile.report) or {}).items()):
        if not figure:
            continue
        text = figure if isinstance(figure, str) else json.dumps(figure)
        figures.append(
            {"id": f"profile-chart-{index}", "key": str(name), "name": _figure_name(str(name)), "json": text}
        )
    return figures


def _figure_name(name: str) -> str:
    if name.startswith("histogram:"):
        return f"Histogram of {name.split(':', 1)[1]}"
    return name.replace("_", " ").capitalize()


def _wait_job(version: DatasetVersion, stats: datasheet.LiveStats | None) -> Job | None:
    if version.state == VersionState.PENDING:
        return version.job
    return stats.profile_job if stats is not None and stats.profile is None else None


def _version_context(request, project, role, dataset, version, *, split_form=None) -> dict:
    ready = version.state == VersionState.READY
    stats = datasheet.live_stats(version) if ready else None
    split = getattr(version, "split", None)
    figures = _figures(stats.profile) if stats else []
    can_launch = policy.can(user=request.user, project=project, action=policy.LAUNCH_JOBS)
    return {
        "sealed_count": selectors.sealed_count(version=version),
        "project": project,
        "role": role,
        "dataset": dataset,
        "version": version,
        "ready": ready,
        "stats": stats,
        "figures": figures,
        # The profile draws the class balance itself; the page then shows the counts as a table only.
        "profile_has_balance": any(f["key"] == "class_balance" for f in figures),
        "reproduce": selectors.version_reproduce(version=version, user=request.user),
        "split": split,
        "split_form": split_form or SplitForm(),
        "can_launch": can_launch,
        # The job this page waits on (the write, then the profile), shown live to those who may
        # follow jobs; the page reloads itself when it ends.
        "wait_job": _wait_job(version, stats) if can_launch else None,
        "seal_job": selectors.seal_job_active(dataset=dataset) if ready and split is not None else None,
        # A run may have recorded a commit the tag named before the version was written again.
        "revisions": list(version.revisions.all()),
        "is_member": bool(role) or request.user.is_superuser,
        "parent": version.parent
        if version.parent_id and version.parent.state == VersionState.READY
        else None,
    }


@require_GET
@guard
def version_detail(request, slug: str, ds: str, number: int):
    project, role, dataset, version = version_for(request, slug, ds, number)
    return render(
        request, "datasets/version_detail.html", _version_context(request, project, role, dataset, version)
    )


@require_POST
@rate_limited("profiles")
@guard
def version_reprofile(request, slug: str, ds: str, number: int):
    project, _, dataset, version = version_for(request, slug, ds, number, policy.LAUNCH_JOBS, ready=True)
    job = services.profile_recompute(version=version, actor=request.user)
    return to_job(request, job, f"Profiling {dataset.name} v{version.number}.")


@require_POST
@guard
def split_create(request, slug: str, ds: str, number: int):
    project, role, dataset, version = version_for(
        request, slug, ds, number, policy.LAUNCH_JOBS, ready=True
    )
    form = SplitForm(request.POST)
    if form.is_valid():
        try:
            split = services.split_create(version=version, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            counts = split.counts
            messages.success(
                request,
                f"Split with seed {split.seed}: {counts.get('train', 0)} train, {counts.get('validation', 0)} "
                f"validation, {counts.get('test', 0)} test (sealed). The profiles are being recomputed.",
            )
            return redirect("datasets:version", slug=slug, ds=ds, number=number)
    context = _version_context(request, project, role, dataset, version, split_form=form)
    return render(request, "datasets/version_detail.html", context, status=400)


@rate_limited("uploads")
@capped_upload
@guard
def version_derive(request, slug: str, ds: str, number: int):
    project, role, dataset, version = version_for(
        request, slug, ds, number, policy.LAUNCH_JOBS, ready=True
    )
    too_big = upload_handlers.refusal(request) if request.method == "POST" else None
    if too_big:
        context = {
            "project": project,
            "role": role,
            "dataset": dataset,
            "version": version,
            "form": DeriveForm(),
            "upload_refused": too_big,
        }
        return render(request, "datasets/version_derive.html", context, status=400)
    form = DeriveForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            added = data.get("add_file")
            try:
                if added is not None:
                    with UploadOnDisk(added) as path:
                        job = services.version_start_derived(
                            version=version,
                            actor=request.user,
                            remove_keys=data["remove"],
                            relabel=data["relabel"],
                            add_path=path,
                            add_name=added.name,
                            message=data["message"],
                        )
                else:
                    job = services.version_start_derived(
                        version=version,
                        actor=request.user,
                        remove_keys=data["remove"],
                        relabel=data["relabel"],
                        message=data["message"],
                    )
            except ValidationError as exc:
                form.add_error(None, error_text(exc))
            else:
                return to_job(
                    request, job, f"Writing a new version of {dataset.name} from v{version.number}."
                )
        status = 400
    return render(
        request,
        "datasets/version_derive.html",
        {"project": project, "role": role, "dataset": dataset, "version": version, "form": form},
        status=status,
    )


@require_GET
@guard
def version_download(request, slug: str, ds: str, number: int):
    project, _, dataset, version = version_for(request, slug, ds, number, ready=True)
    handle = archive.build_archive(version=version)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=archive.archive_name(version),
        content_type="application/zip",
    )


@require_GET
@guard
def version_diff(request, slug: str, ds: str, number: int, other: int):
    project, role, dataset, new = version_for(request, slug, ds, number, ready=True)
    old = selectors.ready_version_get(dataset=dataset, number=other)
    diff = selectors.version_diff(old=old, new=new)
    return render(
        request,
        "datasets/version_diff.html",
        {
            "project": project,
            "role": role,
            "dataset": dataset,
            "old": old,
            "new": new,
            "diff": diff,
            "label_changes": diff["label_changes"][:200],
            "span_changes": [
                {"key": c["key"], "before": _spans_text(c["before"]), "after": _spans_text(c["after"])}
                for c in diff["span_changes"][:200]
            ],
            "figure": balance_diff_figure(
                diff["balance_before"],
                diff["balance_after"],
                old_name=f"v{old.number}",
                new_name=f"v{new.number}",
            ),
            "balance_rows": _balance_rows(diff["balance_before"], diff["balance_after"]),
        },
    )


def _spans_text(spans: list[dict] | None) -> str | None:
    """"PER 0–4; LOC 9–15" ("no spans" for an empty list), or None for an item without a span
    annotation."""
    if spans is None:
        return None
    return "; ".join(f"{s['label']} {s['start']}–{s['end']}" for s in spans) or "no spans"


def _balance_rows(before: dict[str, int], after: dict[str, int]) -> list[tuple[str, int, int, int]]:
    labels = sorted(
        set(before) | set(after), key=lambda label: (-(after.get(label, 0) + before.get(label, 0)), label)
    )
    return [
        (label, before.get(label, 0), after.get(label, 0), after.get(label, 0) - before.get(label, 0))
        for label in labels
    ]
