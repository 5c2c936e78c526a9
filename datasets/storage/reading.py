"""Reading a version: all its files into a folder, one file's bytes, the commit its tag names,
and the plain git and dvc commands that fetch it."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import uuid
from pathlib import Path, PurePosixPath

from datasets.storage.cache import read_from_cache
from datasets.storage.errors import MissingFileError, StorageError
from datasets.storage.paths import data_relpath, repo_path
from datasets.storage.plumbing import git_ok
from datasets.storage.remote import REMOTE_NAME, remote_settings
from datasets.storage.tags import commit_of_tag, committed_version


def _readable_repo(project_slug: str, tag: str) -> tuple[Path, str]:
    """The project's repository and the commit its tag names; StorageError if there is none."""
    repo = repo_path(project_slug)
    commit = commit_of_tag(repo, tag) if (repo / ".git").exists() else None
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
    remote = remote_settings()
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
    expected = committed_version(repo, dataset_slug, tag)
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
            fs.get(data_relpath(dataset_slug), str(partial), recursive=True)
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


def read_file(*, project_slug: str, dataset_slug: str, tag: str, relpath: str) -> bytes:
    """The bytes of one file of a version (``relpath`` inside the dataset's folder)."""
    relpath = _safe_relpath(relpath)
    path = f"{data_relpath(dataset_slug)}/{relpath}"
    repo, commit = _readable_repo(project_slug, tag)
    try:
        cached = read_from_cache(repo, commit, dataset_slug, relpath)
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
    data = data_relpath(dataset_slug)
    remote = remote_settings()
    folder = f"{project_slug}-data"
    lines = [
        f"git clone {shlex.quote(str(repo))} {folder}",
        f"cd {folder}",
        f"git checkout {shlex.quote(tag)}",
    ]
    # The clone's .dvc/config names the remote the tag was made with; if it has moved since, the
    # clone is pointed at today's.
    at_tag = git_ok(repo, "show", f"refs/tags/{tag}:.dvc/config") if (repo / ".git").exists() else None
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
