"""The journal of the write in progress: how a failed write is undone, at once or, after a
crash, by the next writer of the project."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from datasets.storage.errors import StorageError
from datasets.storage.paths import data_relpath, work_dir
from datasets.storage.plumbing import git
from datasets.storage.tags import commit_of_tag

logger = logging.getLogger(__name__)


def journal_path(project_slug: str) -> Path:
    return work_dir(project_slug) / "journal.json"


def rollback(
    repo: Path, *, dataset_slug: str, head: str, trash: Path, replaced: bool, tag: str,
    drop_tag: bool, old_commit: str | None = None,
) -> None:
    """Back to ``head``: no commit, the tag as it was, the previous workspace folder where it was.

    ``replaced`` says the workspace folder no longer holds the previous version (it was set
    aside into ``trash``, or there was none): then the folder is deleted and ``trash`` put back.
    ``old_commit`` is where the tag pointed before a re-commit (None for a new version: the tag is
    deleted instead, if ``drop_tag``).
    """
    data = repo / data_relpath(dataset_slug)
    if old_commit is not None:
        if commit_of_tag(repo, tag) != old_commit:
            git(repo, "tag", "-f", "-a", tag, old_commit, "-m", tag)
    elif drop_tag and commit_of_tag(repo, tag) is not None:
        git(repo, "tag", "-d", tag)
    git(repo, "reset", "-q", "--hard", head)
    # A first version's data.dvc and .gitignore were never committed: reset leaves them.
    git(repo, "clean", "-q", "-f", "-d", "--", str(data.parent.relative_to(repo)))
    if not replaced:
        return
    shutil.rmtree(data, ignore_errors=True)
    if data.exists():
        raise StorageError(f"Could not remove the half-written folder {data}")
    if trash.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        trash.rename(data)


def recover(project_slug: str, repo: Path) -> None:
    """Finish or undo a write that a crashed process left behind (called under the lock)."""
    work = work_dir(project_slug)
    journal = journal_path(project_slug)
    if journal.exists():
        try:
            entry = json.loads(journal.read_text())
        except ValueError:
            entry = None  # torn while being written: the write had not begun
        # The tag is the write's last step: with it (pointing at a new commit, for a re-commit),
        # the version is whole.
        old_commit = entry.get("old_commit") if entry else None
        if entry and commit_of_tag(repo, entry["tag"]) in (None, old_commit):
            logger.warning("Undoing the interrupted write of %s in %s", entry["tag"], repo)
            trash = work / entry["trash"]
            # The previous workspace was set aside (or there was none): the folder holds the failed
            # write's files. Otherwise the crash came before anything moved.
            replaced = trash.exists() or not entry["had_workspace"]
            rollback(
                repo,
                dataset_slug=entry["dataset"],
                head=entry["head"],
                trash=trash,
                replaced=replaced,
                tag=entry["tag"],
                drop_tag=False,
                old_commit=old_commit,
            )
        journal.unlink()
    if work.exists():
        for leftover in work.glob("trash-*"):
            shutil.rmtree(leftover, ignore_errors=True)
