"""What a job shows people: its parameters, result, message and log, with this server's folders
named by role instead of by path (a staging folder, a DVC error quoting the repository, a
traceback through site-packages). The people who read jobs need to know what happened, not where
the platform keeps its files."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from prakriya.jobs.models import Job
from prakriya.jobs.selectors import job_queued_ahead


def _folders() -> list[tuple[str, str]]:
    named = [
        (getattr(settings, "PRAKRIYA_EXPORT_DIR", None), "<exports>"),
        (getattr(settings, "PRAKRIYA_DVC_ROOT", None), "<repositories>"),
        (getattr(settings, "PRAKRIYA_DVC_REMOTE_URL", None), "<dvc-remote>"),
        (getattr(settings, "DATA_DIR", None), "<data>"),
        (getattr(settings, "BASE_DIR", None), "<app>"),
        (sys.prefix, "<python>"),
        (tempfile.gettempdir(), "<tmp>"),
    ]
    pairs = []
    for folder, name in named:
        if not folder or "://" in str(folder):
            continue
        for form in {str(folder), str(Path(folder).resolve())}:
            if len(form) > 1:
                pairs.append((form.rstrip("/"), name))
    # The most specific folder first: the export folder lies inside the data folder.
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def without_server_paths(value: Any) -> Any:
    """`value` (text, or JSON-like data) with every server folder replaced by its name."""
    folders = _folders()

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for folder, name in folders:
                if folder in item:
                    item = item.replace(folder, name)
            return item
        if isinstance(item, dict):
            return {key: clean(val) for key, val in item.items()}
        if isinstance(item, list):
            return [clean(val) for val in item]
        return item

    return clean(value)


def job_waiting(job: Job) -> str:
    """Why a queued job has not started, for the person waiting on it: its queue and how many
    jobs are before it there. Empty when the job is not waiting."""
    return waiting_text(job.queue, job_queued_ahead(job))


def waiting_text(queue: str, ahead: int | None) -> str:
    if ahead is None:
        return ""
    where = f"Waiting for a worker on the {queue} queue"
    if ahead == 0:
        return f"{where}: next in line"
    return f"{where}: {ahead} job{'s' if ahead != 1 else ''} ahead"
