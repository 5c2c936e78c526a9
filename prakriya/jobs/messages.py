"""What a job's message says when it runs out of time: written by the runner (soft limit, hard
limit found at a claim) and the sweeper (hard limit found on a stale job), so it lives below both."""

from __future__ import annotations


def out_of_time_message(soft_limit: int) -> str:
    return f"Ran out of time: stopped at its time limit of {_duration(soft_limit)}"


def hard_limit_message() -> str:
    return "Ran out of time: still running at its hard time limit, so its worker process was stopped"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
