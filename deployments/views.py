"""The deployment pages: the project's deployments with its exports, and one deployment with its
rollout (canary share, promote, rollback), how to call it, its keys, its traffic and its batch
predictions.

Read by whoever reads the project's runs (VIEW_DEPLOYMENTS); the rollout's forms for engineers
and the lead, promotion for the lead; keys and the prediction log for the team that runs it.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deployments import figures, selectors, services
from deployments.access import deployments_project
from deployments.batch import selectors as batch_selectors
from deployments.batch.forms import start_form as batch_start_form
from deployments.forms import CanaryForm, DeploymentCreateForm, KeyForm, PromoteForm, ShareForm
from projects import policy
from projects.access import error_text, guard

# The latest batch predictions the deployment's page lists (all of them: its batch predictions page).
BATCHES_SHOWN = 5


def _can(request, project, action) -> bool:
    return policy.can(user=request.user, project=project, action=action)


def _list_context(request, project, role, form=None) -> dict:
    exports = list(selectors.exports_of(project=project)[:100])
    ready = [e for e in exports if e.is_ready]
    can_manage = _can(request, project, policy.MANAGE_DEPLOYMENTS)
    return {
        "project": project, "role": role, "deployments": list(selectors.deployments_of(project=project)),
        "exports": exports,
        "can_manage": can_manage, "can_promote": _can(request, project, policy.PROMOTE_DEPLOYMENTS),
        "form": form or (DeploymentCreateForm(exports=ready) if can_manage and ready else None),
    }


@require_http_methods(["GET", "POST"])
@guard
def deployment_list(request, slug: str):
    if request.method != "POST":
        project, role = deployments_project(request, slug)
        return render(request, "deployments/deployment_list.html", _list_context(request, project, role))
    project, role = deployments_project(request, slug, policy.MANAGE_DEPLOYMENTS)
    form = DeploymentCreateForm(request.POST, exports=selectors.ready_exports(project=project))
    if form.is_valid():
        export = selectors.ready_exports(project=project).get(pk=form.cleaned_data["export"])
        try:
            deployment = services.deployment_create(
                project=project, actor=request.user, name=form.cleaned_data["name"], export=export,
                override_reason=form.cleaned_data["override_reason"],
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, error_text(exc) if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(request, f"{deployment.name} serves {export} to every caller.")
            return redirect("deployments:deployment", slug=project.slug, deployment_slug=deployment.slug)
    return render(request, "deployments/deployment_list.html", _list_context(request, project, role, form), status=400)


NEW_KEY_SESSION = "deployments_new_key"


def _example(request, project, deployment) -> dict:
    schema = deployment.stable.input_schema
    width = schema.get("n_features") or 0
    if schema.get("kind") == "text":
        sample = ["an example text"]
    else:
        sample = [[0.0] * int(width)]
    endpoint = request.build_absolute_uri(f"/api/projects/{project.slug}/deployments/{deployment.slug}/predict/")
    body = json.dumps({"inputs": sample})
    return {
        "endpoint": endpoint, "example_body": body,
        "curl": f"curl -X POST {endpoint} -H 'X-Deployment-Key: <your key>' -H 'Content-Type: application/json' "
                f"-d '{body}'",
    }


def _detail_context(request, project, role, deployment, **forms) -> dict:
    can_manage = _can(request, project, policy.MANAGE_DEPLOYMENTS)
    can_predictions = _can(request, project, policy.VIEW_PREDICTIONS)
    others = [e for e in selectors.ready_exports(project=project) if e.pk != deployment.stable_id]
    context = {
        "project": project, "role": role, "deployment": deployment,
        "stable_share": 100 - (deployment.canary_percent if deployment.canary_id else 0),
        "events": list(deployment.events.select_related("actor", "stable", "canary")[:50]),
        "stable_benchmark": selectors.latest_benchmark(export=deployment.stable),
        "canary_benchmark": selectors.latest_benchmark(export=deployment.canary) if deployment.canary_id else None,
        "can_manage": can_manage, "can_promote": _can(request, project, policy.PROMOTE_DEPLOYMENTS),
        "can_predict": _can(request, project, policy.PREDICT), "can_predictions": can_predictions,
        "canary_form": forms.get("canary_form") or (CanaryForm(exports=others) if can_manage and others else None),
        "share_form": forms.get("share_form") or ShareForm(initial={"percent": deployment.canary_percent or 25}),
        "promote_form": forms.get("promote_form") or PromoteForm(),
        "key_form": forms.get("key_form") or KeyForm(),
        "new_key": forms.get("new_key"),
        "max_inputs": settings.PRAKRIYA_PREDICT_MAX_BATCH,
        **_example(request, project, deployment),
    }
    if can_manage:
        context["keys"] = list(selectors.keys_of(deployment=deployment))
        context["batch_form"] = batch_start_form(project=project, deployment=deployment)
    if can_predictions:
        traffic = selectors.traffic_by_minute(deployment=deployment)
        labels = {e.pk: str(e) for e in selectors.exports_of(project=project).filter(
            pk__in={row["export_id"] for row in traffic})}
        context["traffic_figure"] = figures.traffic_figure(traffic, labels)
        context["recent"] = selectors.recent_predictions(deployment=deployment, limit=20)
        context["batches"] = list(batch_selectors.batch_predictions_for(
            user=request.user, deployment=deployment)[:BATCHES_SHOWN])
        context["counts"] = [{**row, "label": labels.get(row["export_id"], f"Export {row['export_id']}")}
                             for row in selectors.prediction_counts(deployment=deployment)]
    return context


@require_GET
@guard
def deployment_detail(request, slug: str, deployment_slug: str):
    project, role = deployments_project(request, slug)
    deployment = selectors.deployment_get(project=project, user=request.user, slug=deployment_slug)
    new_key = request.session.pop(NEW_KEY_SESSION, None)
    if new_key is not None and new_key.get("deployment") != deployment.pk:
        new_key = None
    response = render(request, "deployments/deployment_detail.html",
                      _detail_context(request, project, role, deployment, new_key=new_key))
    if new_key is not None:
        response["Cache-Control"] = "no-store"  # the page holds a secret: never from a cache
    return response


def _act(request, slug: str, deployment_slug: str, action: policy.Action, form_class, form_name: str, run,
         done: str, form_kwargs=None):
    """One rollout or key form: validate, call the service, back to the page (or the page with the
    form's errors, 400)."""
    project, role = deployments_project(request, slug, action)
    deployment = selectors.deployment_get(project=project, user=request.user, slug=deployment_slug)
    form = form_class(request.POST, **(form_kwargs(project, deployment) if form_kwargs else {}))
    if form.is_valid():
        try:
            result = run(project, deployment, form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or "Your role does not allow this.")
        else:
            if isinstance(result, dict):
                # The key form's secret is shown once, on the page it redirects to: carried in the
                # session only until that page takes it, so reloading it never creates a second key.
                request.session[NEW_KEY_SESSION] = {"deployment": deployment.pk, **result["new_key"]}
                return redirect("deployments:deployment", slug=project.slug, deployment_slug=deployment.slug)
            messages.success(request, done)
            return redirect("deployments:deployment", slug=project.slug, deployment_slug=deployment.slug)
    context = _detail_context(request, project, role, deployment, **{form_name: form})
    return render(request, "deployments/deployment_detail.html", context, status=400)


@require_POST
@guard
def deployment_canary(request, slug: str, deployment_slug: str):
    def run(project, deployment, data):
        export = selectors.ready_exports(project=project).get(pk=data["export"])
        return services.canary_start(deployment=deployment, actor=request.user, export=export, percent=data["percent"])

    return _act(request, slug, deployment_slug, policy.MANAGE_DEPLOYMENTS, CanaryForm, "canary_form", run,
                "Canary started.", lambda project, deployment: {"exports": [
                    e for e in selectors.ready_exports(project=project) if e.pk != deployment.stable_id]})


@require_POST
@guard
def deployment_share(request, slug: str, deployment_slug: str):
    return _act(request, slug, deployment_slug, policy.MANAGE_DEPLOYMENTS, ShareForm, "share_form",
                lambda project, deployment, data: services.canary_share_set(
                    deployment=deployment, actor=request.user, percent=data["percent"]),
                "The canary's share changed.")


@require_POST
@guard
def deployment_promote(request, slug: str, deployment_slug: str):
    return _act(request, slug, deployment_slug, policy.PROMOTE_DEPLOYMENTS, PromoteForm, "promote_form",
                lambda project, deployment, data: services.canary_promote(
                    deployment=deployment, actor=request.user, override_reason=data["override_reason"]),
                "Promoted: the canary now serves every caller.")


@require_POST
@guard
def deployment_rollback(request, slug: str, deployment_slug: str):
    return _act(request, slug, deployment_slug, policy.MANAGE_DEPLOYMENTS, PromoteForm, "promote_form",
                lambda project, deployment, data: services.canary_rollback(deployment=deployment, actor=request.user),
                "Rolled back: the stable version serves every caller.")


@require_POST
@guard
def key_create(request, slug: str, deployment_slug: str):
    def run(project, deployment, data):
        key, secret = services.key_create(deployment=deployment, actor=request.user, name=data["name"])
        return {"new_key": {"name": key.name, "secret": secret}}

    return _act(request, slug, deployment_slug, policy.MANAGE_DEPLOYMENTS, KeyForm, "key_form", run, "")


@require_POST
@guard
def key_revoke(request, slug: str, deployment_slug: str, pk: int):
    project, _ = deployments_project(request, slug, policy.MANAGE_DEPLOYMENTS)
    deployment = selectors.deployment_get(project=project, user=request.user, slug=deployment_slug)
    key = selectors.keys_of(deployment=deployment).filter(pk=pk).first()
    if key is None:
        raise Http404("No such key.")
    key.deployment = deployment
    services.key_revoke(key=key, actor=request.user)
    messages.success(request, f"The key {key} is revoked: calls with it fail from now on.")
    return redirect("deployments:deployment", slug=project.slug, deployment_slug=deployment.slug)


@require_GET
@guard
def export_bundle(request, slug: str, pk: int):
    """The serving bundle of a ready export: model, schema, stand-alone server, Dockerfile."""
    from deployments.bundle.build import bundle_bytes, bundle_filename

    project, _ = deployments_project(request, slug)
    export = selectors.ready_exports(project=project).filter(pk=pk).first()
    if export is None:
        raise Http404("No ready export with this number.")
    response = HttpResponse(bundle_bytes(export), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{bundle_filename(export)}"'
    return response
