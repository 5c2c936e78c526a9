"""Writing a version: a new one (commit_version), an old one again (recommit_version), the
workspace back at the latest one, and the purge of what no version needs any more."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import uuid
from pathlib import Path

import yaml

from datasets.storage.cache import cached_listing
from datasets.storage.errors import StorageError, VersionMovedError
from datasets.storage.journal import journal_path, rollback
from datasets.storage.paths import SALT_FILE, data_relpath, version_tag, work_dir
from datasets.storage.plumbing import dvc_steps, git, git_ok
from datasets.storage.remote import REMOTE_NAME
from datasets.storage.repository import ensure_repo_locked, head_commit, project_lock
from datasets.storage.tags import CommittedVersion, commit_of_tag, committed_version

logger = logging.getLogger(__name__)

# Names DVC never takes into a tracked folder (its own ignore rules): a version holding them
# would silently lose files, so they are refused up front.
_RESERVED_NAMES = frozenset({".dvcignore", ".git", ".dvc", ".hg"})


def _scan_source(source_dir: Path) -> int:
    """Count the files of a version to be; refuse what DVC would not store as given."""
    if source_dir.is_symlink() or not source_dir.is_dir():
        raise StorageError(f"The version's files must be a folder: {source_dir}")

    def refuse(entry: os.DirEntry, why: str) -> StorageError:
        return StorageError(f"{os.path.relpath(entry.path, source_dir)}: {why}")

    count = 0
    stack = [str(source_dir)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name in _RESERVED_NAMES:
                    raise refuse(entry, "this name is reserved by git/DVC and cannot be in a version")
                if entry.is_file(follow_symlinks=False):
                    count += 1
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_symlink():
                    raise refuse(entry, "links cannot be part of a version")
                else:
                    raise refuse(entry, "only regular files can be part of a version")
    if count == 0:
        raise StorageError("A version needs at least one file")
    return count


def _move_into_place(source_dir: Path, data: Path) -> None:
    data.parent.mkdir(parents=True, exist_ok=True)
    try:
        source_dir.rename(data)
    except OSError:
        # Another file system: copy, then drop the source.
        shutil.copytree(source_dir, data, symlinks=True)
        shutil.rmtree(source_dir, ignore_errors=True)


def _write_salt(folder: Path) -> None:
    """A fresh secret in the version's folder (see SALT_FILE). Replaced, never written in place:
    a file materialised from the cache may be a hard link to a cached object."""
    target = folder / SALT_FILE
    draft = folder / f"{SALT_FILE}.{uuid.uuid4().hex}.tmp"
    draft.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    os.replace(draft, target)


def _strip_size(dvc_file: Path) -> None:
    """Drop the byte total DVC records for the folder: the total of a version written before some
    of its items were sealed would tell the length of their labels to anyone holding the old
    commit. DVC needs only the hash to push, pull and check out."""
    data = yaml.safe_load(dvc_file.read_text())
    changed = False
    for out in data.get("outs", []):
        if "size" in out:
            del out["size"]
            changed = True
    if changed:
        dvc_file.write_text(yaml.safe_dump(data, sort_keys=False))


def _write_locked(
    repo: Path, *, project_slug: str, dataset_slug: str, tag: str, number: int, source_dir: Path,
    message: str, old_commit: str | None,
) -> tuple[CommittedVersion, Path, dict[str, float]]:
    """DVC add, commit, tag (moved from ``old_commit`` when given), push; under the project lock.
    Returns the version and the folder of the old workspace, to be deleted outside the lock."""
    timings: dict[str, float] = {}
    relpath = data_relpath(dataset_slug)
    data = repo / relpath
    if data.resolve() == source_dir.resolve() or data.resolve() in source_dir.resolve().parents:
        raise StorageError("The version's files must not come from the workspace itself")
    _write_salt(source_dir)
    expected_files = _scan_source(source_dir)
    head = head_commit(repo)
    if head is None:
        raise StorageError(f"The repository of {project_slug} has no commit")
    work = work_dir(project_slug)
    work.mkdir(parents=True, exist_ok=True)
    trash = work / f"trash-{uuid.uuid4().hex}"
    had_workspace = data.exists()
    journal = journal_path(project_slug)
    journal.write_text(
        json.dumps(
            {
                "tag": tag,
                "dataset": dataset_slug,
                "head": head,
                "trash": trash.name,
                "had_workspace": had_workspace,
                "old_commit": old_commit,
            }
        )
    )
    replaced = tagged = False
    try:
        if had_workspace:
            data.rename(trash)
        replaced = True
        _move_into_place(source_dir, data)
        dvc_file = f"{relpath}.dvc"
        # Pushed before the commit: a version that is tagged is always in the remote.
        steps = dvc_steps(
            repo,
            [
                (f"dvc add of {relpath}", ["add", "-q", relpath]),
                (f"dvc push of {relpath}", ["push", "-q", "-r", REMOTE_NAME, dvc_file]),
            ],
        )
        timings["add"], timings["push"] = steps.values()
        _strip_size(repo / dvc_file)
        git(repo, "add", "--", dvc_file, f"datasets/{dataset_slug}/.gitignore")
        if old_commit is None:
            full_message = f"{message.strip() or tag}\n\nDataset {dataset_slug}, version {number} ({tag})."
        else:
            full_message = (
                f"{message.strip() or tag}\n\nDataset {dataset_slug}, version {number} ({tag}), written again; "
                f"the tag was on {old_commit}."
            )
        git(repo, "commit", "-q", "--allow-empty", "-m", full_message)
        if old_commit is None:
            git(repo, "tag", "-a", tag, "-m", message.strip() or tag)
        else:
            git(repo, "tag", "-f", "-a", tag, "-m", message.strip() or tag)
        tagged = True
        committed = committed_version(repo, dataset_slug, tag)
        if committed is None:
            raise StorageError(f"Tag {tag} vanished right after it was made")
        if committed.file_count != expected_files:
            raise StorageError(f"DVC recorded {committed.file_count} files but the version has {expected_files}")
    except BaseException as exc:
        undo_error: Exception | None = None
        try:
            rollback(
                repo,
                dataset_slug=dataset_slug,
                head=head,
                trash=trash,
                replaced=replaced,
                tag=tag,
                drop_tag=tagged,
                old_commit=old_commit,
            )
            journal.unlink(missing_ok=True)
        except Exception as undo_exc:
            # The journal stays: the next write to the project finishes the undo.
            logger.exception("Could not undo the failed write of %s in %s", tag, repo)
            undo_error = undo_exc
        if not isinstance(exc, Exception):
            raise
        problem = exc if isinstance(exc, StorageError) else StorageError(f"Writing {tag} failed: {exc}")
        if undo_error is not None:
            raise StorageError(f"{problem}; undoing it failed too ({undo_error})") from exc
        if problem is exc:
            raise
        raise problem from exc
    journal.unlink(missing_ok=True)
    return committed, trash, timings


def commit_version(
    *, project_slug: str, dataset_slug: str, number: int, source_dir: Path, message: str
) -> CommittedVersion:
    """Make ``source_dir``'s files version ``number`` of the dataset: DVC add, commit, tag, push.

    The files of ``source_dir`` are moved into the repository (a rename when both are on one
    file system): once this returns, or fails after that move, ``source_dir`` is gone. A fresh
    SALT_FILE is written into the folder first. On failure nothing of the version remains (no
    commit, no tag, the previous workspace back) and StorageError says what went wrong. Called
    again for a tag that exists, it returns that version and leaves ``source_dir`` alone.
    """
    tag = version_tag(dataset_slug, number)
    source_dir = Path(source_dir)
    with project_lock(project_slug):
        repo = ensure_repo_locked(project_slug)
        existing = committed_version(repo, dataset_slug, tag)
        if existing is not None:
            return existing
        if git_ok(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is not None:
            raise StorageError(f"Tag {tag} exists but is not a commit")
        committed, trash, timings = _write_locked(
            repo, project_slug=project_slug, dataset_slug=dataset_slug, tag=tag, number=number,
            source_dir=source_dir, message=message, old_commit=None,
        )
    # The old workspace folder is deleted outside the lock: it can hold many files.
    shutil.rmtree(trash, ignore_errors=True)
    logger.info(
        "Wrote %s of %s at %s (%d files; dvc add %.1f s, dvc push %.1f s)",
        tag,
        project_slug,
        committed.commit[:12],
        committed.file_count,
        timings["add"],
        timings["push"],
    )
    return committed


def recommit_version(
    *, project_slug: str, dataset_slug: str, number: int, source_dir: Path, message: str, expected_commit: str
) -> tuple[CommittedVersion, CommittedVersion]:
    """Write an existing version's files again (the same items with sealed labels left out) as a
    new commit, and move its tag there. Returns (the version as it was, as it is now).

    ``expected_commit`` is the commit the caller read the files from: if the tag has moved since,
    nothing is written and StorageError says so (the caller reads again). ``source_dir`` is
    consumed as in commit_version. The old commit stays in the history of the branch; its label
    files are purged from the cache and the remote by ``purge_unreferenced``.
    """
    tag = version_tag(dataset_slug, number)
    source_dir = Path(source_dir)
    with project_lock(project_slug):
        repo = ensure_repo_locked(project_slug)
        old = committed_version(repo, dataset_slug, tag)
        if old is None:
            raise StorageError(f"No version {tag} in project {project_slug}")
        if old.commit != expected_commit:
            raise VersionMovedError(f"{tag} moved from {expected_commit[:12]} to {old.commit[:12]} while it was read")
        new, trash, _ = _write_locked(
            repo, project_slug=project_slug, dataset_slug=dataset_slug, tag=tag, number=number,
            source_dir=source_dir, message=message, old_commit=old.commit,
        )
    shutil.rmtree(trash, ignore_errors=True)
    logger.info("Wrote %s of %s again at %s (was %s)", tag, project_slug, new.commit[:12], old.commit[:12])
    return old, new


def workspace_restore(*, project_slug: str, dataset_slug: str, tag: str) -> bool:
    """Point the branch and the workspace at version ``tag`` of the dataset again (its latest),
    after older versions were written again over it; False when they already are."""
    relpath = data_relpath(dataset_slug)
    with project_lock(project_slug):
        repo = ensure_repo_locked(project_slug)
        commit = commit_of_tag(repo, tag)
        if commit is None:
            raise StorageError(f"No version {tag} in project {project_slug}")
        at_tag = git_ok(repo, "show", f"{commit}:{relpath}.dvc")
        at_head = git_ok(repo, "show", f"HEAD:{relpath}.dvc")
        if at_tag is None or at_tag == at_head:
            return False
        git(repo, "checkout", commit, "--", f"{relpath}.dvc")
        dvc_steps(repo, [(f"dvc checkout of {relpath}", ["checkout", "-q", "--relink", f"{relpath}.dvc"])])
        git(repo, "add", "--", f"{relpath}.dvc")
        git(repo, "commit", "-q", "-m", f"{dataset_slug}: the workspace holds {tag} again")
    return True


def _listing_oids(repo: Path, commit: str, dataset_slug: str) -> set[str] | None:
    """The DVC objects a version's commit needs (its .dir and every file), or None when the
    listing is not in the local cache."""
    text = git_ok(repo, "show", f"{commit}:{data_relpath(dataset_slug)}.dvc")
    if text is None:
        return set()
    try:
        dir_oid = str(yaml.safe_load(text)["outs"][0]["md5"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    listing = cached_listing(str(repo), commit, dataset_slug)
    if listing is None:
        return None
    return {dir_oid, *listing.values()}


def purge_unreferenced(*, project_slug: str, dataset_slug: str) -> int:
    """Delete from the local DVC cache and from the remote every object that a commit of the
    dataset's history needed and that no tag of the repository needs: once versions are written
    again without some labels, the files that held them and the listings that named them (the
    old commits keep only the listing's hash, which SALT_FILE makes unguessable). Safe to run
    again: objects already gone are skipped. Returns how many objects were deleted; deletes
    nothing when a tag's listing cannot be read from the cache."""
    from dvc.repo import Repo

    relpath = f"{data_relpath(dataset_slug)}.dvc"
    with project_lock(project_slug):
        repo = ensure_repo_locked(project_slug)
        kept: set[str] = set()
        for tag in (git_ok(repo, "tag", "--list") or "").split():
            # A tag names one version of one dataset (<dataset>-v<number>); the other datasets'
            # .dvc files in its commit's tree are whatever they were then, maybe since rewritten.
            slug, _, number = tag.rpartition("-v")
            commit = commit_of_tag(repo, tag)
            if not slug or not number.isdigit() or commit is None:
                continue
            oids = _listing_oids(repo, commit, slug)
            if oids is None:
                logger.warning("No listing of %s in the cache of %s: nothing purged", tag, project_slug)
                return 0
            kept |= oids
        candidates: set[str] = set()
        dirs: set[str] = set()
        for commit in (git_ok(repo, "log", "--format=%H", "--", relpath) or "").split():
            oids = _listing_oids(repo, commit, dataset_slug)
            if oids:  # None: its listing is gone already (purged before)
                candidates |= oids
                dirs |= {oid for oid in oids if oid.endswith(".dir")}
        doomed = candidates - kept
        if not doomed:
            return 0
        dvc_repo = Repo(str(repo))
        try:
            remote = dvc_repo.cloud.get_remote_odb(REMOTE_NAME, "purge")
            local = dvc_repo.cache.local
            # Files first, listings last: a purge cut short is found again by its listing.
            for oid in sorted(doomed, key=lambda o: (o in dirs, o)):
                for odb in (remote, local):
                    try:
                        odb.delete(oid)
                    except FileNotFoundError:
                        pass
        finally:
            dvc_repo.close()
        cached_listing.cache_clear()
    logger.info("Purged %d objects of %s/%s from the cache and the remote", len(doomed), project_slug, dataset_slug)
    return len(doomed)
