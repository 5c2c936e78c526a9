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
from deployments.models import Deployment
from deployments.serving import log, rollout, sessions
from deployments.serving.prepare import InputError, answers, prepare


class ScoringError(Exception):
    """The model could not score inputs that passed the schema's checks."""


@dataclass(frozen=True)
class Caller:
    kind: str  # "key" | "user"
    ident: int


def predict(*, deployment: Deployment, caller: Caller, inputs: Any) -> dict[str, Any]:
    """The answer for `inputs`; InputError for inputs that do not fit the model's schema."""
    started = time.perf_counter()
    pseudonym = rollout.caller_pseudonym(deployment_id=deployment.pk, kind=caller.kind, ident=caller.ident)
    export = rollout.version_for(deployment=deployment, caller=pseudonym)
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
        deployment_id=deployment.pk, export_id=export.pk, caller=pseudonym, policy=deployment.project.prediction_inputs,
        answers=results, rows=prepared.rows, stats=[input_stats(schema=schema, row=row) for row in prepared.rows],
        latency_ms=latency_ms,
    )
    return {
        "deployment": deployment.slug,
        "version": export.pk,
        "variant": export.variant,
        "predictions": results,
        "latency_ms": round(latency_ms, 3),
    }


__all__ = ["Caller", "InputError", "ScoringError", "predict"]
