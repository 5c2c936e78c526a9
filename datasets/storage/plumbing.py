"""Running git and DVC's command line in subprocesses, with the repository's own identity
and without prompts or analytics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from datasets.storage.errors import StorageError

GIT_USER_NAME = "Prakriya"
GIT_USER_EMAIL = "prakriya@localhost"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "GIT_TERMINAL_PROMPT": "0",
        # The repository's own identity, whatever the process's HOME holds.
        "GIT_AUTHOR_NAME": GIT_USER_NAME,
        "GIT_AUTHOR_EMAIL": GIT_USER_EMAIL,
        "GIT_COMMITTER_NAME": GIT_USER_NAME,
        "GIT_COMMITTER_EMAIL": GIT_USER_EMAIL,
    }


def _git_executable() -> str:
    found = shutil.which("git")
    if not found:
        raise StorageError("git is not installed on this machine")
    return found


def run(args: list[str], *, cwd: Path, what: str) -> str:
    try:
        proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise StorageError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}")[-2000:]
        raise StorageError(f"{what} failed: {detail}")
    return proc.stdout


def git(repo: Path, *args: str, what: str | None = None) -> str:
    return run([_git_executable(), *args], cwd=repo, what=what or f"git {args[0]}")


def git_ok(repo: Path, *args: str) -> str | None:
    """Output of a git query, or None when git answers no (missing ref, missing file)."""
    proc = subprocess.run(
        [_git_executable(), *args], cwd=repo, env=_env(), capture_output=True, text=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


# Runs DVC's own command line (`dvc.cli.main`) for several commands in one interpreter and
# reports each one's time: starting Python and importing DVC costs about a second, as much as
# `dvc add` or `dvc push` of a small version themselves. It stops at the first command that fails.
_DVC_STEPS_SCRIPT = """
import json, sys, time
from dvc.cli import main
for what, args in json.loads(sys.argv[1]):
    started = time.perf_counter()
    code = main(args)
    print(sys.argv[2] + json.dumps([what, time.perf_counter() - started, code]), flush=True)
    if code:
        sys.exit(code)
"""
_STEP_MARK = "prakriya-dvc-step "


def dvc_steps(repo: Path, steps: list[tuple[str, list[str]]]) -> dict[str, float]:
    """Runs `dvc <args>` for each (what, args) in order, in one subprocess (the dvc of this very
    environment, whatever PATH says); returns each one's seconds. A failing command raises
    StorageError naming it ("dvc push of … failed: <what DVC said>") and the rest are not run."""
    args = [sys.executable, "-c", _DVC_STEPS_SCRIPT, json.dumps(steps), _STEP_MARK]
    try:
        proc = subprocess.run(args, cwd=repo, env=_env(), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise StorageError(f"{steps[0][0]} failed: {exc}") from exc
    done: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        if line.startswith(_STEP_MARK):
            what, seconds, code = json.loads(line[len(_STEP_MARK):])
            if code == 0:
                done[what] = seconds
    if proc.returncode != 0 or len(done) != len(steps):
        failed = next(what for what, _ in steps if what not in done)
        other = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith(_STEP_MARK))
        detail = (proc.stderr.strip() or other.strip() or f"exit status {proc.returncode}")[-2000:]
        raise StorageError(f"{failed} failed: {detail}")
    return done
