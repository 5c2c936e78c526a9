"""Reads straight from the local DVC cache: a version's listing and its files' bytes, when
they are there."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import yaml

from datasets.storage.errors import MissingFileError
from datasets.storage.paths import data_relpath
from datasets.storage.plumbing import git_ok

_MD5 = re.compile(r"^[0-9a-f]{32}$")


def cache_object(repo: Path, md5: str) -> Path:
    # DVC 3's cache layout: .dvc/cache/files/md5/<first two hex digits>/<the other thirty>.
    return repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


@functools.lru_cache(maxsize=8)
def cached_listing(repo: str, commit: str, dataset_slug: str) -> dict[str, str] | None:
    """relpath → md5 of every file of the version at `commit`, from the .dir object DVC keeps in
    the local cache; None when that object is not there. A commit's listing never changes, so it
    is kept (for a few versions: a 100,000-file listing is about 15 MB)."""
    text = git_ok(Path(repo), "show", f"{commit}:{data_relpath(dataset_slug)}.dvc")
    if text is None:
        return None
    try:
        dir_md5 = str(yaml.safe_load(text)["outs"][0]["md5"]).removesuffix(".dir")
        if not _MD5.match(dir_md5):
            return None
        entries = json.loads(cache_object(Path(repo), dir_md5).with_suffix(".dir").read_bytes())
        return {str(e["relpath"]): str(e["md5"]) for e in entries}
    except (OSError, ValueError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def read_from_cache(repo: Path, commit: str, dataset_slug: str, relpath: str) -> bytes | None:
    """The file's bytes straight from the local DVC cache, or None when DVC must be asked (the
    cache lacks them). Serving an item page's thumbnails this way costs a file read each instead
    of opening DVC's file system at the tag (tens of milliseconds)."""
    listing = cached_listing(str(repo), commit, dataset_slug)
    if listing is None:
        return None
    md5 = listing.get(relpath)
    if md5 is None:
        raise MissingFileError(f"{relpath} is not in the version")
    if not _MD5.match(md5):
        return None
    try:
        return cache_object(repo, md5).read_bytes()
    except OSError:
        return None
