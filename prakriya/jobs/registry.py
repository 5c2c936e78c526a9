"""Job kinds are registered by the apps that own them (in their AppConfig.ready), so the job
machinery in prakriya/ never imports an app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prakriya.jobs.context import JobContext
    from prakriya.jobs.models import Job


@dataclass(frozen=True)
class JobLink:
    """Where a person goes from a job's page: what the job produced, or where it will appear."""

    url: str
    text: str
    note: str = ""  # said after the link


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    queue: str
    # Does the work. Must be safe to run again after a crash (write outputs under the job's id,
    # replace atomically). Returns the result stored on the job.
    run: Callable[[JobContext], dict[str, Any]]
    # Runs inside the same transaction that marks the job succeeded: side effects that must
    # happen exactly once (a timeline entry, a new row) belong here.
    on_success: Callable[[Job, dict[str, Any]], None] | None = None
    # Runs after the commit that ended a job whose `run` never returned or raised: cancelled
    # before it started, or given up as dead after its workers were lost. Whatever `run` tidies
    # up in a `finally` (an open MLflow run, a parent waiting for its children) is done here.
    on_ended_unrun: Callable[[Job], None] | None = None
    # Project roles that may read jobs of this kind (parameters, result, log, progress): those
    # who may read what the job produces, on its page. None: the roles that may launch jobs. The
    # project's access policy maps roles to people; this module knows no roles.
    readers: frozenset[str] | None = None
    # The kind's soft time limit in seconds (None: settings.PRAKRIYA_JOB_TIME_LIMIT_SECONDS), the
    # longest an honest run of it should take; PRAKRIYA_JOB_TIME_LIMITS overrides it by name.
    time_limit: int | None = None
    # What the job produced (the run a training made, the version a write made…), as the given
    # person may follow it: None when there is nothing (yet), or nothing that person may see. The
    # job's page links it, and a page waiting on the job goes there once the job succeeds.
    result_link: Callable[[Job, Any], JobLink | None] | None = None


QUEUES = ("default", "training", "export")
_kinds: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    if kind.queue not in QUEUES:
        raise ValueError(f"unknown queue {kind.queue!r}")
    _kinds[kind.name] = kind
    return kind


def get(name: str) -> JobKind:
    try:
        return _kinds[name]
    except KeyError as exc:
        raise LookupError(f"no job kind named {name!r}") from exc


def names() -> list[str]:
    return sorted(_kinds)


def all_kinds() -> list[JobKind]:
    return [_kinds[name] for name in sorted(_kinds)]


def result_link(job: Job, user: Any) -> JobLink | None:
    """Where `user` goes from `job` (JobKind.result_link): the kind answers for permissions."""
    try:
        kind = get(job.kind)
    except LookupError:
        return None
    return kind.result_link(job, user) if kind.result_link is not None else None


def time_limits(name: str) -> tuple[int, int]:
    """(soft, hard) time limits in seconds of one run of a job kind. At the soft limit the job is
    stopped and ends failed, its clean-up run; the hard limit, a grace later, kills the worker
    process in case the work does not stop (a C extension that never returns to Python)."""
    from django.conf import settings

    try:
        own = get(name).time_limit
    except LookupError:
        own = None
    soft = settings.PRAKRIYA_JOB_TIME_LIMITS.get(name) or own or settings.PRAKRIYA_JOB_TIME_LIMIT_SECONDS
    return soft, soft + settings.PRAKRIYA_JOB_TIME_LIMIT_GRACE_SECONDS
