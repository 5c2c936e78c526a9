"""Which version answers a caller: the canary for a fixed share of callers, the stable version
for everyone else.

A caller's bucket (0–9999) is a hash of the deployment, the canary export and the caller, so the
same caller keeps getting the same version while the rollout stays as it is (sticky per key), and
widening the share from 5% to 25% keeps the first 5% on the canary. A new canary draws new
buckets. The deployment row is read on every request, so a promote or a rollback takes effect on
every web process at its next request.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from deployments.models import ModelExport


class Rollout(Protocol):
    """What the choice reads of a deployment: a Deployment row, or the fast path's Route."""

    pk: int
    stable: ModelExport
    canary: ModelExport | None
    canary_percent: int

    @property
    def canary_id(self) -> int | None: ...

BUCKETS = 10_000


def bucket(*, deployment_id: int, canary_id: int, caller: str) -> int:
    digest = hashlib.sha256(f"{deployment_id}:{canary_id}:{caller}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def version_for(*, deployment: Rollout, caller: str) -> ModelExport:
    if deployment.canary_id and deployment.canary_percent:
        share = deployment.canary_percent * BUCKETS // 100
        if bucket(deployment_id=deployment.pk, canary_id=deployment.canary_id, caller=caller) < share:
            return deployment.canary
    return deployment.stable


def caller_pseudonym(*, deployment_id: int, kind: str, ident: int | str) -> str:
    """A stable name for a caller (a key or a user) that does not name them in the log."""
    return hashlib.sha256(f"{deployment_id}:{kind}:{ident}".encode()).hexdigest()[:16]
