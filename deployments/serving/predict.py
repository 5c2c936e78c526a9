"""One prediction request, from the caller's inputs to the answer and its log rows.

The version that answers is chosen by the rollout (sticky per caller); inputs are validated and
prepared against that version's input schema; its ONNX Runtime session is this process's cached
one. Logging is handed to the buffer (deployments/serving/log.py) and never fails the request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from deployments.drift.stats import input_stats
from deployments.models import Deployment, ModelExport
from deployments.serving import log, rollout, sessions
from deployments.serving.prepare import InputError, answers, prepare


class ScoringError(Exception):
    """The model could not score inputs that passed the schema's checks."""


@dataclass(frozen=True)
class Caller:
    kind: str  # "key" | "user"
    ident: int


@dataclass(frozen=True)
class Route:
    """What a prediction needs of its deployment, as read for this request: the rollout's state
    and the project's privacy setting. Built from a Deployment row by the API view, or from one
    SQL row by the WSGI fast path (deployments/wsgi.py), which serves the same answers."""

    pk: int
    slug: str
    stable: ModelExport
    canary: ModelExport | None
    canary_percent: int
    prediction_inputs: str

    @property
    def canary_id(self) -> int | None:
        return self.canary.pk if self.canary is not None else None

    @classmethod
    def of(cls, deployment: Deployment) -> Route:
        return cls(pk=deployment.pk, slug=deployment.slug, stable=deployment.stable, canary=deployment.canary,
                   canary_percent=deployment.canary_percent,
                   prediction_inputs=deployment.project.prediction_inputs)


def predict(*, deployment: Deployment | Route, caller: Caller, inputs: Any) -> dict[str, Any]:
    """The answer for `inputs`; InputError for inputs that do not fit the model's schema."""
    started = time.perf_counter()
    route = deployment if isinstance(deployment, Route) else Route.of(deployment)
    pseudonym = rollout.caller_pseudonym(deployment_id=route.pk, kind=caller.kind, ident=caller.ident)
    export = rollout.version_for(deployment=route, caller=pseudonym)
    schema = export.input_schema
    prepared = prepare(schema, inputs, max_items=settings.PRAKRIYA_PREDICT_MAX_BATCH)
    session = sessions.session_for(export)
    try:
        probabilities = session.run([schema.get("onnx_output", "probabilities")], prepared.feeds)[0]
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own types for inputs it refuses
        raise ScoringError(f"The model could not score these inputs ({type(exc).__name__}).") from None
    results = answers(schema, probabilities)
    latency_ms = (time.perf_counter() - started) * 1000.0
    log.record(
        deployment_id=route.pk, export_id=export.pk, caller=pseudonym, policy=route.prediction_inputs,
        answers=results, rows=prepared.rows, stats=[input_stats(schema=schema, row=row) for row in prepared.rows],
        latency_ms=latency_ms,
    )
    return {
        "deployment": route.slug,
        "version": export.pk,
        "variant": export.variant,
        "predictions": results,
        "latency_ms": round(latency_ms, 3),
    }


__all__ = ["Caller", "InputError", "Route", "ScoringError", "predict"]
