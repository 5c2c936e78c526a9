"""Dataset versions stored with DVC in one git repository per project.

Layout, under ``settings.PRAKRIYA_DVC_ROOT``::

    <project>/                       a plain git repository with ``dvc init`` inside
        .dvc/config                  committed: the default remote ``storage``
        .dvc/config.local            not committed: cache link type, where DVC keeps its index
        datasets/<dataset>/data/     the workspace: the files of the dataset's latest version
        datasets/<dataset>/data.dvc  committed: DVC's record of the folder (md5 of its .dir)
    <project>.lock                   flock: one writer per project at a time
    <project>.work/                  journal of the write in progress, and the old workspace
                                     folder set aside until the write is done

A version is the git tag ``<dataset>-v<number>`` on the commit that recorded its ``data.dvc``;
its bytes are in the DVC cache and in the remote, so anyone can get them back with plain
``git clone`` + ``git checkout <tag>`` + ``dvc pull`` (see ``reproduce_instructions``).

Writes run the ``git`` command line and DVC's command line (``dvc add`` then ``dvc push``, both in
one subprocess): for 100,000 files the CLI is as fast as DVC's Python API (measured, see
docs/benchmarks.md), and a subprocess keeps DVC's global state (progress bars, logging, open
databases) out of the web and worker processes; only ``dvc init`` of a new repository runs in
this process. Reads use DVC's Python API
(``DVCFileSystem`` at the tag), which takes the bytes from the cache or, when they are not
there, from the remote.

This module knows nothing of the database: it takes slugs, numbers and paths.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from django.conf import settings

logger = logging.getLogger(__name__)

GIT_USER_NAME = "Prakriya"
GIT_USER_EMAIL = "prakriya@localhost"
REMOTE_NAME = "storage"
# Hard links first: `dvc add` then files each file into the cache with one link() instead of a
# copy of its bytes, and the workspace file is the cached object (DVC makes it read-only; this
# module never writes into the workspace in place, a new version replaces the whole folder).
# With "reflink" first, as DVC's default has it, DVC copies every file into the cache on ext4 and
# keeps both: twice the disk and a third slower for 20,000 small files (docs/datasets-dvc.md).
# Reflinks still come into play where the file system has them: DVC tries a reflink before a
# hard link when it files an object away.
CACHE_TYPE = "hardlink,reflink,copy"
_BRANCH = "main"
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
# Names DVC never takes into a tracked folder (its own ignore rules): a version holding them
# would silently lose files, so they are refused up front.
_RESERVED_NAMES = frozenset({".dvcignore", ".git", ".dvc", ".hg"})
# Every version's folder holds 32 random bytes (hex) under this name, new at every write: the
# DVC hash of the folder (in the .dvc file of every commit, on the version page) then cannot be
# recomputed from guessed contents. Without it, the hash of a version written before some of
# its items were sealed would confirm guesses of their labels offline (a tiny test split has few
# possible labellings), and that old hash stays in the branch's history.
SALT_FILE = ".prakriya-salt"


class StorageError(Exception):
    """A version could not be written or read; the message says why."""


class MissingFileError(StorageError, FileNotFoundError):
    """The file asked for is not in that version."""


class VersionMovedError(StorageError):
    """A version's tag moved (another writer wrote it again) between reading it and writing it."""


@dataclass(frozen=True)
class CommittedVersion:
    commit: str  # full git sha
    tag: str  # "<dataset_slug>-v<number>"
    dvc_md5: str  # the .dir md5 DVC recorded for the folder (outs[0].md5 of the .dvc file)
    file_count: int  # SALT_FILE included


# --- paths and names ----------------------------------------------------------------------


def _check_slug(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise StorageError(f"Invalid {what} {value!r}: letters, digits, '-' and '_' only")
    return value


def _root() -> Path:
    return Path(settings.PRAKRIYA_DVC_ROOT).resolve()


def repo_path(project_slug: str) -> Path:
    return _root() / _check_slug(project_slug, "project slug")


def version_tag(dataset_slug: str, number: int) -> str:
    _check_slug(dataset_slug, "dataset slug")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise StorageError(f"Invalid version number {number!r}")
    return f"{dataset_slug}-v{number}"


def _data_relpath(dataset_slug: str) -> str:
    return f"datasets/{_check_slug(dataset_slug, 'dataset slug')}/data"


def _work_dir(project_slug: str) -> Path:
    # Next to the repository, on the same file system: setting a folder aside is a rename.
    return _root() / f"{project_slug}.work"


# --- running git and dvc ------------------------------------------------------------------


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


def _run(args: list[str], *, cwd: Path, what: str) -> str:
    try:
        proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise StorageError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}")[-2000:]
        raise StorageError(f"{what} failed: {detail}")
    return proc.stdout


def _git(repo: Path, *args: str, what: str | None = None) -> str:
    return _run([_git_executable(), *args], cwd=repo, what=what or f"git {args[0]}")


def _git_ok(repo: Path, *args: str) -> str | None:
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


def _dvc_steps(repo: Path, steps: list[tuple[str, list[str]]]) -> dict[str, float]:
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


# --- the remote -----------------------------------------------------------------------------


def _remote_settings() -> dict[str, str]:
    url = str(getattr(settings, "PRAKRIYA_DVC_REMOTE_URL", "") or "").strip()
    if not url:
        url = str(Path(settings.DATA_DIR) / "dvc-remote")
    remote = {"url": url}
    if "://" not in url:
        # A local folder: absolute, so clones of the repository find it too.
        path = Path(url).expanduser().resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"The DVC remote folder {path} cannot be created: {exc}") from exc
        remote["url"] = str(path)
    elif url.startswith("s3://"):
        endpoint = str(getattr(settings, "PRAKRIYA_DVC_S3_ENDPOINT_URL", "") or "").strip()
        if endpoint:
            remote["endpointurl"] = endpoint
        # Credentials are never written to the config: DVC (boto) reads AWS_ACCESS_KEY_ID,
        # AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION from the environment.
    return remote


def _configure(repo: Path) -> bool:
    """Bring the DVC config in line with the deployment; True if the committed config changed.

    Files are rewritten only when something differs: readers load them without the lock.
    """
    from dvc.config import Config

    config = Config(dvc_dir=str(repo / ".dvc"), validate=False)
    wanted_local = {
        "cache": {"type": CACHE_TYPE},
        # DVC's index of each version's listing (what makes reads at a tag fast) stays with the
        # repository in the data folder, not in /var/tmp.
        "core": {"site_cache_dir": str(repo / ".dvc" / "tmp" / "site-cache")},
    }
    local = config.load_one("local")
    if any(
        str(local.get(section, {}).get(k)) != v for section, kv in wanted_local.items() for k, v in kv.items()
    ):
        with config.edit("local") as conf:
            for section, kv in wanted_local.items():
                conf[section].update(kv)

    remote = _remote_settings()
    wanted_core = {"analytics": "false", "autostage": "false", "remote": REMOTE_NAME}
    current = config.load_one("repo")
    core = {k: str(current.get("core", {}).get(k, "")).lower() for k in wanted_core}
    if (
        core == {k: v.lower() for k, v in wanted_core.items()}
        and current.get("remote", {}).get(REMOTE_NAME) == remote
    ):
        return False
    with config.edit("repo") as conf:
        conf["core"].update({"analytics": False, "autostage": False, "remote": REMOTE_NAME})
        conf["remote"][REMOTE_NAME] = remote
    return True


# --- the repository -------------------------------------------------------------------------


@contextlib.contextmanager
def _project_lock(project_slug: str) -> Iterator[None]:
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    # flock locks belong to the open file, so threads of one process exclude each other too.
    with open(root / f"{_check_slug(project_slug, 'project slug')}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _head(repo: Path) -> str | None:
    out = _git_ok(repo, "rev-parse", "-q", "--verify", "HEAD^{commit}")
    return out.strip() if out else None


def _ensure_repo_locked(project_slug: str) -> Path:
    """Create, repair and configure the repository (called under the project lock)."""
    from dvc.config import ConfigError

    repo = repo_path(project_slug)
    try:
        repo.mkdir(parents=True, exist_ok=True)
        if not (repo / ".git").exists():
            _git(repo, "init", "-q", "-b", _BRANCH)
        for key, value in (
            ("user.name", GIT_USER_NAME),
            ("user.email", GIT_USER_EMAIL),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ):
            _git(repo, "config", key, value)
        if not (repo / ".dvc" / "config").exists():
            # In this process, unlike add and push: it only writes a few small files, and a
            # subprocess would spend a second importing DVC for it. force: a crash may have left
            # half a .dvc folder behind.
            from dvc.logger import set_loggers_level
            from dvc.repo import Repo

            with set_loggers_level(logging.WARNING):  # as `dvc init -q`: no greeting on stdout
                Repo.init(str(repo), force=True).close()
        # Before anything is committed: a crashed write's commit must not end up underneath.
        _recover(project_slug, repo)
        changed = _configure(repo)
        head = _head(repo)
        if head is None or changed:
            _git(repo, "add", "--", ".dvc/config", ".dvc/.gitignore", ".dvcignore")
            message = (
                "Initialise the DVC repository" if head is None else "Point the DVC remote at today's storage"
            )
            _git(repo, "commit", "-q", "--allow-empty", "-m", message)
    except (OSError, ConfigError) as exc:
        raise StorageError(f"The repository of {project_slug} cannot be prepared: {exc}") from exc
    return repo


def ensure_repo(project_slug: str) -> Path:
    """The project's git+DVC repository, created and configured if needed (idempotent)."""
    with _project_lock(project_slug):
        return _ensure_repo_locked(project_slug)


# --- reading what a tag holds -----------------------------------------------------------


def _tag_commit(repo: Path, tag: str) -> str | None:
    out = _git_ok(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
    return out.strip() if out else None


def _committed(repo: Path, dataset_slug: str, tag: str) -> CommittedVersion | None:
    commit = _tag_commit(repo, tag)
    if commit is None:
        return None
    text = _git_ok(repo, "show", f"{commit}:{_data_relpath(dataset_slug)}.dvc")
    if text is None:
        raise StorageError(f"Tag {tag} exists but holds no version of dataset {dataset_slug}")
    try:
        out = yaml.safe_load(text)["outs"][0]
        return CommittedVersion(
            commit=commit,
            tag=tag,
            dvc_md5=str(out["md5"]),
            file_count=int(out.get("nfiles", 0)),
        )
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise StorageError(f"The DVC file of {tag} is unreadable: {exc}") from exc


# --- writing a version ------------------------------------------------------------------------


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


def _journal_path(project_slug: str) -> Path:
    return _work_dir(project_slug) / "journal.json"


def _rollback(
    repo: Path, *, dataset_slug: str, head: str, trash: Path, replaced: bool, tag: str,
    drop_tag: bool, old_commit: str | None = None,
) -> None:
    """Back to ``head``: no commit, the tag as it was, the previous workspace folder where it was.

    ``replaced`` says the workspace folder no longer holds the previous version (it was set
    aside into ``trash``, or there was none): then the folder is deleted and ``trash`` put back.
    ``old_commit`` is where the tag pointed before a re-commit (None for a new version: the tag is
    deleted instead, if ``drop_tag``).
    """
    data = repo / _data_relpath(dataset_slug)
    if old_commit is not None:
        if _tag_commit(repo, tag) != old_commit:
            _git(repo, "tag", "-f", "-a", tag, old_commit, "-m", tag)
    elif drop_tag and _tag_commit(repo, tag) is not None:
        _git(repo, "tag", "-d", tag)
    _git(repo, "reset", "-q", "--hard", head)
    # A first version's data.dvc and .gitignore were never committed: reset leaves them.
    _git(repo, "clean", "-q", "-f", "-d", "--", str(data.parent.relative_to(repo)))
    if not replaced:
        return
    shutil.rmtree(data, ignore_errors=True)
    if data.exists():
        raise StorageError(f"Could not remove the half-written folder {data}")
    if trash.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        trash.rename(data)


def _recover(project_slug: str, repo: Path) -> None:
    """Finish or undo a write that a crashed process left behind (called under the lock)."""
    work = _work_dir(project_slug)
    journal = _journal_path(project_slug)
    if journal.exists():
        try:
            entry = json.loads(journal.read_text())
        except ValueError:
            entry = None  # torn while being written: the write had not begun
        # The tag is the write's last step: with it (pointing at a new commit, for a re-commit),
        # the version is whole.
        old_commit = entry.get("old_commit") if entry else None
        if entry and _tag_commit(repo, entry["tag"]) in (None, old_commit):
            logger.warning("Undoing the interrupted write of %s in %s", entry["tag"], repo)
            trash = work / entry["trash"]
            # The previous workspace was set aside (or there was none): the folder holds the failed
            # write's files. Otherwise the crash came before anything moved.
            replaced = trash.exists() or not entry["had_workspace"]
            _rollback(
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
    relpath = _data_relpath(dataset_slug)
    data = repo / relpath
    if data.resolve() == source_dir.resolve() or data.resolve() in source_dir.resolve().parents:
        raise StorageError("The version's files must not come from the workspace itself")
    _write_salt(source_dir)
    expected_files = _scan_source(source_dir)
    head = _head(repo)
    if head is None:
        raise StorageError(f"The repository of {project_slug} has no commit")
    work = _work_dir(project_slug)
    work.mkdir(parents=True, exist_ok=True)
    trash = work / f"trash-{uuid.uuid4().hex}"
    had_workspace = data.exists()
    journal = _journal_path(project_slug)
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
        steps = _dvc_steps(
            repo,
            [
                (f"dvc add of {relpath}", ["add", "-q", relpath]),
                (f"dvc push of {relpath}", ["push", "-q", "-r", REMOTE_NAME, dvc_file]),
            ],
        )
        timings["add"], timings["push"] = steps.values()
        _strip_size(repo / dvc_file)
        _git(repo, "add", "--", dvc_file, f"datasets/{dataset_slug}/.gitignore")
        if old_commit is None:
            full_message = f"{message.strip() or tag}\n\nDataset {dataset_slug}, version {number} ({tag})."
        else:
            full_message = (
                f"{message.strip() or tag}\n\nDataset {dataset_slug}, version {number} ({tag}), written again; "
                f"the tag was on {old_commit}."
            )
        _git(repo, "commit", "-q", "--allow-empty", "-m", full_message)
        if old_commit is None:
            _git(repo, "tag", "-a", tag, "-m", message.strip() or tag)
        else:
            _git(repo, "tag", "-f", "-a", tag, "-m", message.strip() or tag)
        tagged = True
        committed = _committed(repo, dataset_slug, tag)
        if committed is None:
            raise StorageError(f"Tag {tag} vanished right after it was made")
        if committed.file_count != expected_files:
            raise StorageError(f"DVC recorded {committed.file_count} files but the version has {expected_files}")
    except BaseException as exc:
        undo_error: Exception | None = None
        try:
            _rollback(
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
    with _project_lock(project_slug):
        repo = _ensure_repo_locked(project_slug)
        existing = _committed(repo, dataset_slug, tag)
        if existing is not None:
            return existing
        if _git_ok(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is not None:
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
    with _project_lock(project_slug):
        repo = _ensure_repo_locked(project_slug)
        old = _committed(repo, dataset_slug, tag)
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
    relpath = _data_relpath(dataset_slug)
    with _project_lock(project_slug):
        repo = _ensure_repo_locked(project_slug)
        commit = _tag_commit(repo, tag)
        if commit is None:
            raise StorageError(f"No version {tag} in project {project_slug}")
        at_tag = _git_ok(repo, "show", f"{commit}:{relpath}.dvc")
        at_head = _git_ok(repo, "show", f"HEAD:{relpath}.dvc")
        if at_tag is None or at_tag == at_head:
            return False
        _git(repo, "checkout", commit, "--", f"{relpath}.dvc")
        _dvc_steps(repo, [(f"dvc checkout of {relpath}", ["checkout", "-q", "--relink", f"{relpath}.dvc"])])
        _git(repo, "add", "--", f"{relpath}.dvc")
        _git(repo, "commit", "-q", "-m", f"{dataset_slug}: the workspace holds {tag} again")
    return True


def _listing_oids(repo: Path, commit: str, dataset_slug: str) -> set[str] | None:
    """The DVC objects a version's commit needs (its .dir and every file), or None when the
    listing is not in the local cache."""
    text = _git_ok(repo, "show", f"{commit}:{_data_relpath(dataset_slug)}.dvc")
    if text is None:
        return set()
    try:
        dir_oid = str(yaml.safe_load(text)["outs"][0]["md5"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    listing = _cached_listing(str(repo), commit, dataset_slug)
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

    relpath = f"{_data_relpath(dataset_slug)}.dvc"
    with _project_lock(project_slug):
        repo = _ensure_repo_locked(project_slug)
        kept: set[str] = set()
        for tag in (_git_ok(repo, "tag", "--list") or "").split():
            # A tag names one version of one dataset (<dataset>-v<number>); the other datasets'
            # .dvc files in its commit's tree are whatever they were then, maybe since rewritten.
            slug, _, number = tag.rpartition("-v")
            commit = _tag_commit(repo, tag)
            if not slug or not number.isdigit() or commit is None:
                continue
            oids = _listing_oids(repo, commit, slug)
            if oids is None:
                logger.warning("No listing of %s in the cache of %s: nothing purged", tag, project_slug)
                return 0
            kept |= oids
        candidates: set[str] = set()
        dirs: set[str] = set()
        for commit in (_git_ok(repo, "log", "--format=%H", "--", relpath) or "").split():
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
        _cached_listing.cache_clear()
    logger.info("Purged %d objects of %s/%s from the cache and the remote", len(doomed), project_slug, dataset_slug)
    return len(doomed)


# --- reading a version ---------------------------------------------------------------------


def _readable_repo(project_slug: str, tag: str) -> tuple[Path, str]:
    """The project's repository and the commit its tag names; StorageError if there is none."""
    repo = repo_path(project_slug)
    commit = _tag_commit(repo, tag) if (repo / ".git").exists() else None
    if commit is None:
        raise StorageError(f"No version {tag} in project {project_slug}")
    return repo, commit


def tag_commit(*, project_slug: str, tag: str) -> str:
    """The commit a version's tag names now (it moves when the version is written again)."""
    return _readable_repo(project_slug, tag)[1]


@contextlib.contextmanager
def _version_fs(repo: Path, tag: str):
    from dvc.fs import DVCFileSystem

    # Today's remote, whatever the config said when the tag was made: the remote may have moved.
    remote = _remote_settings()
    fs = DVCFileSystem(repo=str(repo), rev=tag, remote=REMOTE_NAME, remote_config=remote)
    try:
        yield fs
    finally:
        fs.close()


def _safe_relpath(relpath: str) -> str:
    pure = PurePosixPath(relpath)
    if not relpath or pure.is_absolute() or ".." in pure.parts:
        raise MissingFileError(f"Not a path inside a version: {relpath!r}")
    return pure.as_posix()


def materialize_version(*, project_slug: str, dataset_slug: str, tag: str, dest: Path) -> Path:
    """Write exactly the files of version ``tag`` into ``dest`` (missing or an empty folder)."""
    repo, _ = _readable_repo(project_slug, tag)
    expected = _committed(repo, dataset_slug, tag)
    if expected is None:
        raise StorageError(f"No version {tag} in project {project_slug}")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise StorageError(f"{dest} must be missing or an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Written beside dest, then renamed: a failure never leaves half a version in dest.
    partial = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex}"
    try:
        with _version_fs(repo, tag) as fs:
            fs.get(_data_relpath(dataset_slug), str(partial), recursive=True)
        written = sum(len(files) for _, _, files in os.walk(partial))
        if written != expected.file_count:
            raise StorageError(f"{tag}: {written} files written, {expected.file_count} expected")
        if dest.exists():
            dest.rmdir()
        partial.rename(dest)
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"Could not fetch the files of {tag}: {exc}") from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dest


_MD5 = re.compile(r"^[0-9a-f]{32}$")


def _cache_object(repo: Path, md5: str) -> Path:
    # DVC 3's cache layout: .dvc/cache/files/md5/<first two hex digits>/<the other thirty>.
    return repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


@functools.lru_cache(maxsize=8)
def _cached_listing(repo: str, commit: str, dataset_slug: str) -> dict[str, str] | None:
    """relpath → md5 of every file of the version at `commit`, from the .dir object DVC keeps in
    the local cache; None when that object is not there. A commit's listing never changes, so it
    is kept (for a few versions: a 100,000-file listing is about 15 MB)."""
    text = _git_ok(Path(repo), "show", f"{commit}:{_data_relpath(dataset_slug)}.dvc")
    if text is None:
        return None
    try:
        dir_md5 = str(yaml.safe_load(text)["outs"][0]["md5"]).removesuffix(".dir")
        if not _MD5.match(dir_md5):
            return None
        entries = json.loads(_cache_object(Path(repo), dir_md5).with_suffix(".dir").read_bytes())
        return {str(e["relpath"]): str(e["md5"]) for e in entries}
    except (OSError, ValueError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def _read_from_cache(repo: Path, commit: str, dataset_slug: str, relpath: str) -> bytes | None:
    """The file's bytes straight from the local DVC cache, or None when DVC must be asked (the
    cache lacks them). Serving an item page's thumbnails this way costs a file read each instead
    of opening DVC's file system at the tag (tens of milliseconds)."""
    listing = _cached_listing(str(repo), commit, dataset_slug)
    if listing is None:
        return None
    md5 = listing.get(relpath)
    if md5 is None:
        raise MissingFileError(f"{relpath} is not in the version")
    if not _MD5.match(md5):
        return None
    try:
        return _cache_object(repo, md5).read_bytes()
    except OSError:
        return None


def read_file(*, project_slug: str, dataset_slug: str, tag: str, relpath: str) -> bytes:
    """The bytes of one file of a version (``relpath`` inside the dataset's folder)."""
    relpath = _safe_relpath(relpath)
    path = f"{_data_relpath(dataset_slug)}/{relpath}"
    repo, commit = _readable_repo(project_slug, tag)
    try:
        cached = _read_from_cache(repo, commit, dataset_slug, relpath)
    except MissingFileError as exc:
        raise MissingFileError(f"{relpath} is not in {tag}") from exc
    if cached is not None:
        return cached
    try:
        with _version_fs(repo, tag) as fs:
            if not fs.isfile(path):
                raise MissingFileError(f"{relpath} is not in {tag}")
            return fs.read_bytes(path)
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise MissingFileError(f"{relpath} is not in {tag}") from exc
    except Exception as exc:
        raise StorageError(f"Could not read {relpath} of {tag}: {exc}") from exc


def reproduce_instructions(*, project_slug: str, dataset_slug: str, tag: str) -> str:
    """Shell commands that fetch the exact bytes of a version with plain git and dvc."""
    repo = repo_path(project_slug)
    data = _data_relpath(dataset_slug)
    remote = _remote_settings()
    folder = f"{project_slug}-data"
    lines = [
        f"git clone {shlex.quote(str(repo))} {folder}",
        f"cd {folder}",
        f"git checkout {shlex.quote(tag)}",
    ]
    # The clone's .dvc/config names the remote the tag was made with; if it has moved since, the
    # clone is pointed at today's.
    at_tag = _git_ok(repo, "show", f"refs/tags/{tag}:.dvc/config") if (repo / ".git").exists() else None
    if at_tag is None or f"url = {remote['url']}" not in at_tag:
        lines.append(f"dvc remote add --local --force --default {REMOTE_NAME} {shlex.quote(remote['url'])}")
        if "endpointurl" in remote:
            lines.append(
                f"dvc remote modify --local {REMOTE_NAME} endpointurl {shlex.quote(remote['endpointurl'])}"
            )
    if remote["url"].startswith("s3://"):
        lines.insert(0, "# needs: pip install 'dvc[s3]'; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set")
    lines.append(f"dvc pull {data}")
    lines.append(f"# the files of {tag} are now in {folder}/{data}/")
    return "\n".join(lines)
