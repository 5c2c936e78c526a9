"""Writes of deployments: create one, roll a canary out, promote, roll back, and the keys that
call it.

Every change locks the deployment's row, bumps its `revision`, records a RolloutEvent and a
timeline entry, all in one transaction. Since every prediction reads the row, the change is what
the next request on any web process sees.

The gate: a version serves 100% of traffic (a new deployment's first version, or a promoted
canary) only when its latest benchmark is inside the project's targets, or when the lead records
an override with a reason.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from deployments import selectors
from deployments.models import Deployment, DeploymentKey, ModelExport, RolloutAction, RolloutEvent
from projects import policy
from projects.models import Project
from projects.services import timeline_record

KEY_PREFIX = "pkd_"
MAX_REASON = 2000
MAX_CANARY_PERCENT = 99
# Words the deployment pages use in their own addresses (/deployments/exports/…).
RESERVED_SLUGS = {"exports", "benchmarks", "new"}


def _ready_export(*, project: Project, export: ModelExport) -> ModelExport:
    if export.project_id != project.pk:
        raise ValidationError("That export belongs to another project.")
    if not export.is_ready:
        raise ValidationError(f"{export} is not ready: only a finished export with its parity check can be served.")
    return export


def _gate(*, project: Project, actor: AbstractBaseUser, export: ModelExport, override_reason: str) -> str:
    """Returns the override reason that let the version through ('' when the benchmark did), or
    raises ValidationError."""
    override_reason = (override_reason or "").strip()[:MAX_REASON]
    benchmark = selectors.latest_benchmark(export=export)
    if benchmark is not None and benchmark.inside_targets:
        return ""
    if override_reason:
        policy.require(user=actor, project=project, action=policy.PROMOTE_DEPLOYMENTS, what="override the benchmark gate")
        return override_reason
    why = (
        "it has no finished benchmark" if benchmark is None
        else "its latest benchmark misses a target: " + ", ".join(
            row["target"] for row in benchmark.targets if row.get("met") is False
        )
    )
    raise ValidationError(
        f"{export} cannot serve all traffic: {why}. Benchmark it inside the project's targets, or the lead "
        "records an override with a reason."
    )


def _event(deployment: Deployment, *, actor, action: str, override_reason: str = "") -> None:
    RolloutEvent.objects.create(
        deployment=deployment, action=action, actor=actor, stable=deployment.stable, canary=deployment.canary,
        canary_percent=deployment.canary_percent, override_reason=override_reason,
    )
    text = {
        RolloutAction.CREATE: f"deployed {deployment.stable} as {deployment.name}",
        RolloutAction.CANARY: f"started a {deployment.canary_percent}% canary of {deployment.canary} on {deployment.name}",
        RolloutAction.SHARE: f"set the canary of {deployment.name} to {deployment.canary_percent}%",
        RolloutAction.PROMOTE: f"promoted {deployment.stable} to 100% of {deployment.name}",
        RolloutAction.ROLLBACK: f"rolled {deployment.name} back to {deployment.stable}",
    }[action]
    if override_reason:
        text += " (benchmark gate overridden)"
    timeline_record(
        project=deployment.project, actor=actor, verb=f"deployment_{action}", text=text,
        data={"deployment": deployment.slug, "stable": deployment.stable_id, "canary": deployment.canary_id,
              "percent": deployment.canary_percent, "override_reason": override_reason},
    )


@transaction.atomic
def deployment_create(
    *, project: Project, actor: AbstractBaseUser, name: str, export: ModelExport, slug: str = "",
    override_reason: str = "",
) -> Deployment:
    policy.require(user=actor, project=project, action=policy.MANAGE_DEPLOYMENTS, what="deploy models")
    name = (name or "").strip()[:120]
    if not name:
        raise ValidationError({"name": "Give the deployment a name."})
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError({"name": "The name needs a letter or a digit."})
    if slug in RESERVED_SLUGS:
        raise ValidationError({"name": f"{slug!r} is a word the deployment pages use: choose another name."})
    if Deployment.objects.filter(project=project, slug=slug).exists():
        raise ValidationError({"name": f"The project already has a deployment named {slug!r}."})
    _ready_export(project=project, export=export)
    reason = _gate(project=project, actor=actor, export=export, override_reason=override_reason)
    deployment = Deployment.objects.create(project=project, slug=slug, name=name, stable=export, created_by=actor)
    _event(deployment, actor=actor, action=RolloutAction.CREATE, override_reason=reason)
    return deployment


def _locked(deployment: Deployment) -> Deployment:
    return Deployment.objects.select_for_update(of=("self",)).select_related("project", "stable", "canary").get(
        pk=deployment.pk
    )


def _percent(percent: int) -> int:
    try:
        value = int(percent)
    except (TypeError, ValueError):
        raise ValidationError({"percent": "The canary's share is a whole percentage."}) from None
    if not 1 <= value <= MAX_CANARY_PERCENT:
        raise ValidationError(
            {"percent": f"The canary's share is between 1 and {MAX_CANARY_PERCENT}%; promote it to serve 100%."}
        )
    return value


@transaction.atomic
def canary_start(*, deployment: Deployment, actor: AbstractBaseUser, export: ModelExport, percent: int) -> Deployment:
    policy.require(user=actor, project=deployment.project, action=policy.MANAGE_DEPLOYMENTS, what="roll out versions")
    deployment = _locked(deployment)
    percent = _percent(percent)
    _ready_export(project=deployment.project, export=export)
    if export.pk == deployment.stable_id:
        raise ValidationError({"export": f"{export} is already the stable version."})
    if deployment.canary_id:
        raise ValidationError("A canary is already rolling out: promote it or roll it back first.")
    deployment.canary, deployment.canary_percent = export, percent
    deployment.revision += 1
    deployment.save(update_fields=["canary", "canary_percent", "revision", "updated_at"])
    _event(deployment, actor=actor, action=RolloutAction.CANARY)
    return deployment


@transaction.atomic
def canary_share_set(*, deployment: Deployment, actor: AbstractBaseUser, percent: int) -> Deployment:
    policy.require(user=actor, project=deployment.project, action=policy.MANAGE_DEPLOYMENTS, what="roll out versions")
    deployment = _locked(deployment)
    percent = _percent(percent)
    if not deployment.canary_id:
        raise ValidationError("There is no canary to widen: start one first.")
    deployment.canary_percent = percent
    deployment.revision += 1
    deployment.save(update_fields=["canary_percent", "revision", "updated_at"])
    _event(deployment, actor=actor, action=RolloutAction.SHARE)
    return deployment


@transaction.atomic
def canary_promote(*, deployment: Deployment, actor: AbstractBaseUser, override_reason: str = "") -> Deployment:
    policy.require(
        user=actor, project=deployment.project, action=policy.PROMOTE_DEPLOYMENTS, what="promote a version to 100%"
    )
    deployment = _locked(deployment)
    if not deployment.canary_id:
        raise ValidationError("There is no canary to promote.")
    reason = _gate(project=deployment.project, actor=actor, export=deployment.canary, override_reason=override_reason)
    deployment.stable, deployment.canary, deployment.canary_percent = deployment.canary, None, 0
    deployment.revision += 1
    deployment.save(update_fields=["stable", "canary", "canary_percent", "revision", "updated_at"])
    _event(deployment, actor=actor, action=RolloutAction.PROMOTE, override_reason=reason)
    return deployment


@transaction.atomic
def canary_rollback(*, deployment: Deployment, actor: AbstractBaseUser) -> Deployment:
    policy.require(user=actor, project=deployment.project, action=policy.MANAGE_DEPLOYMENTS, what="roll back versions")
    deployment = _locked(deployment)
    if not deployment.canary_id:
        raise ValidationError("There is no canary to roll back.")
    deployment.canary, deployment.canary_percent = None, 0
    deployment.revision += 1
    deployment.save(update_fields=["canary", "canary_percent", "revision", "updated_at"])
    _event(deployment, actor=actor, action=RolloutAction.ROLLBACK)
    return deployment


@transaction.atomic
def key_create(*, deployment: Deployment, actor: AbstractBaseUser, name: str) -> tuple[DeploymentKey, str]:
    """A new key and its secret, which is shown once and never stored."""
    policy.require(user=actor, project=deployment.project, action=policy.MANAGE_DEPLOYMENTS, what="create keys")
    name = (name or "").strip()[:80]
    if not name:
        raise ValidationError({"name": "Name the key after who will use it."})
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = DeploymentKey.objects.create(
        deployment=deployment, name=name, prefix=secret[: len(KEY_PREFIX) + 6],
        digest=selectors.key_digest(secret), created_by=actor,
    )
    timeline_record(project=deployment.project, actor=actor, verb="deployment_key_created",
                    text=f"created the key {key} for {deployment.name}")
    return key, secret


@transaction.atomic
def key_revoke(*, key: DeploymentKey, actor: AbstractBaseUser) -> DeploymentKey:
    project = key.deployment.project
    policy.require(user=actor, project=project, action=policy.MANAGE_DEPLOYMENTS, what="revoke keys")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        timeline_record(project=project, actor=actor, verb="deployment_key_revoked",
                        text=f"revoked the key {key} of {key.deployment.name}")
    return key
