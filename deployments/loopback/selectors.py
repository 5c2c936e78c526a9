"""Reads of the loop back: which logged predictions go to labelling, and a deployment's loop backs.

Only predictions whose input the prediction log stored can be sent (the project's privacy setting
"store"); a prediction already sent by an earlier loop back of the deployment is not sent again.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet

from deployments.drift.measure import feature_value
from deployments.drift.reference import feature_names
from deployments.models import Deployment, DriftReport, Loopback, Prediction
from prakriya.jobs.models import JobState
from projects import policy
from projects.policy import AnyUser


class NoDriftedSlice(Exception):
    """Why there is no drifted slice to sample, for people."""


# A loop back whose version was never written (its job failed, was cancelled or died) sent nothing.
_LOST = Q(version__isnull=True) & (Q(job__isnull=True) | Q(job__state__in=[JobState.FAILED, JobState.CANCELLED,
                                                                            JobState.DEAD]))


def already_sent(deployment: Deployment) -> set[int]:
    """Predictions an earlier loop back of the deployment sent (or is sending) to labelling."""
    sent: set[int] = set()
    for ids in Loopback.objects.filter(deployment=deployment).exclude(_LOST).values_list("predictions", flat=True):
        sent.update(ids)
    return sent


def with_inputs(deployment: Deployment) -> QuerySet[Prediction]:
    return Prediction.objects.filter(deployment=deployment, input__isnull=False)


def lowest_confidence(*, deployment: Deployment, size: int) -> list[Prediction]:
    """The logged predictions with stored inputs the deployment was least sure of, least sure
    first (ties: the earlier prediction first)."""
    sent = already_sent(deployment)
    return list(with_inputs(deployment).exclude(pk__in=sent).order_by("score", "id")[:size])


def drifted_slice(*, deployment: Deployment, size: int) -> tuple[list[Prediction], str]:
    """Predictions with stored inputs in the outermost training bins of the most drifted feature
    or statistic of the deployment's latest drift check, the farthest outside the training range
    first (ties: lowest confidence first); and that feature's name. Read among the latest
    PRAKRIYA_DRIFT_WINDOW_PREDICTIONS predictions with inputs."""
    report = DriftReport.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    if report is None:
        raise NoDriftedSlice("This deployment has no drift check yet: run one first, or send the lowest-confidence inputs.")
    measured = {name: f for name, f in report.features.items() if f.get("edges")}
    if not measured:
        raise NoDriftedSlice("The latest drift check measured no feature with bins to take a slice of: "
                             "send the lowest-confidence inputs instead.")
    name = max(measured, key=lambda n: (measured[n]["psi"], n))
    feature = measured[name]
    edges = feature["edges"]
    schema = report.export.input_schema or {}
    names = feature_names(schema, int(schema.get("n_features") or len(schema.get("feature_names") or [])))
    sent = already_sent(deployment)
    candidates = with_inputs(deployment).exclude(pk__in=sent).order_by("-created_at", "-id")[
        : settings.PRAKRIYA_DRIFT_WINDOW_PREDICTIONS]
    outside = []
    for prediction in candidates:
        value = feature_value(schema, name, feature["source"], prediction, names)
        if value is None:
            continue
        if value < edges[0]:
            outside.append((edges[0] - value, prediction))
        elif value >= edges[-1]:
            outside.append((value - edges[-1], prediction))
    outside.sort(key=lambda pair: (-pair[0], pair[1].score, pair[1].pk))
    return [prediction for _, prediction in outside[:size]], name


def loopbacks_for(*, user: AnyUser, deployment: Deployment) -> QuerySet[Loopback]:
    """The deployment's loop backs, newest first, for those who read its prediction log."""
    if not policy.can(user=user, project=deployment.project, action=policy.VIEW_PREDICTIONS):
        return Loopback.objects.none()
    return Loopback.objects.filter(deployment=deployment).select_related(
        "dataset", "version", "campaign", "job", "created_by")
