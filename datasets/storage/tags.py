"""What a version's tag holds: the commit it names and the folder DVC recorded there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from datasets.storage.errors import StorageError
from datasets.storage.paths import data_relpath
from datasets.storage.plumbing import git_ok


@dataclass(frozen=True)
class CommittedVersion:
    commit: str  # full git sha
    tag: str  # "<dataset_slug>-v<number>"
    dvc_md5: str  # the .dir md5 DVC recorded for the folder (outs[0].md5 of the .dvc file)
    file_count: int  # SALT_FILE included


def commit_of_tag(repo: Path, tag: str) -> str | None:
    out = git_ok(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
    return out.strip() if out else None


def committed_version(repo: Path, dataset_slug: str, tag: str) -> CommittedVersion | None:
    commit = commit_of_tag(repo, tag)
    if commit is None:
        return None
    text = git_ok(repo, "show", f"{commit}:{data_relpath(dataset_slug)}.dvc")
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
