"""Where a project's repository, a dataset's folder and a write's work folder are, and the
names of tags; every slug is checked here before it becomes part of a path."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from datasets.storage.errors import StorageError

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
# Every version's folder holds 32 random bytes (hex) under this name, new at every write: the
# DVC hash of the folder (in the .dvc file of every commit, on the version page) then cannot be
# recomputed from guessed contents. Without it, the hash of a version written before some of
# its items were sealed would confirm guesses of their labels offline (a tiny test split has few
# possible labellings), and that old hash stays in the branch's history.
SALT_FILE = ".prakriya-salt"


def check_slug(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise StorageError(f"Invalid {what} {value!r}: letters, digits, '-' and '_' only")
    return value


def dvc_root() -> Path:
    return Path(settings.PRAKRIYA_DVC_ROOT).resolve()


def repo_path(project_slug: str) -> Path:
    return dvc_root() / check_slug(project_slug, "project slug")


def version_tag(dataset_slug: str, number: int) -> str:
    check_slug(dataset_slug, "dataset slug")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise StorageError(f"Invalid version number {number!r}")
    return f"{dataset_slug}-v{number}"


def data_relpath(dataset_slug: str) -> str:
    return f"datasets/{check_slug(dataset_slug, 'dataset slug')}/data"


def work_dir(project_slug: str) -> Path:
    # Next to the repository, on the same file system: setting a folder aside is a rename.
    return dvc_root() / f"{project_slug}.work"
