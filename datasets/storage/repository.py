"""A project's git+DVC repository: its lock (one writer at a time) and its creation, repair
and configuration."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from datasets.storage.errors import StorageError
from datasets.storage.journal import recover
from datasets.storage.paths import check_slug, dvc_root, repo_path
from datasets.storage.plumbing import GIT_USER_EMAIL, GIT_USER_NAME, git, git_ok
from datasets.storage.remote import configure_dvc

_BRANCH = "main"


@contextlib.contextmanager
def project_lock(project_slug: str) -> Iterator[None]:
    root = dvc_root()
    root.mkdir(parents=True, exist_ok=True)
    # flock locks belong to the open file, so threads of one process exclude each other too.
    with open(root / f"{check_slug(project_slug, 'project slug')}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def head_commit(repo: Path) -> str | None:
    out = git_ok(repo, "rev-parse", "-q", "--verify", "HEAD^{commit}")
    return out.strip() if out else None


def ensure_repo_locked(project_slug: str) -> Path:
    """Create, repair and configure the repository (called under the project lock)."""
    from dvc.config import ConfigError

    repo = repo_path(project_slug)
    try:
        repo.mkdir(parents=True, exist_ok=True)
        if not (repo / ".git").exists():
            git(repo, "init", "-q", "-b", _BRANCH)
        for key, value in (
            ("user.name", GIT_USER_NAME),
            ("user.email", GIT_USER_EMAIL),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ):
            git(repo, "config", key, value)
        if not (repo / ".dvc" / "config").exists():
            # In this process, unlike add and push: it only writes a few small files, and a
            # subprocess would spend a second importing DVC for it. force: a crash may have left
            # half a .dvc folder behind.
            from dvc.logger import set_loggers_level
            from dvc.repo import Repo

            with set_loggers_level(logging.WARNING):  # as `dvc init -q`: no greeting on stdout
                Repo.init(str(repo), force=True).close()
        # Before anything is committed: a crashed write's commit must not end up underneath.
        recover(project_slug, repo)
        changed = configure_dvc(repo)
        head = head_commit(repo)
        if head is None or changed:
            git(repo, "add", "--", ".dvc/config", ".dvc/.gitignore", ".dvcignore")
            message = (
                "Initialise the DVC repository" if head is None else "Point the DVC remote at today's storage"
            )
            git(repo, "commit", "-q", "--allow-empty", "-m", message)
    except (OSError, ConfigError) as exc:
        raise StorageError(f"The repository of {project_slug} cannot be prepared: {exc}") from exc
    return repo


def ensure_repo(project_slug: str) -> Path:
    """The project's git+DVC repository, created and configured if needed (idempotent)."""
    with project_lock(project_slug):
        return ensure_repo_locked(project_slug)
