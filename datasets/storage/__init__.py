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

This package knows nothing of the database: it takes slugs, numbers and paths. Callers use the
names below, from the package (``from datasets import storage``); its modules, by subdomain:

    errors      what goes wrong (StorageError and its kinds)
    paths       slugs, tags and where things are
    plumbing    running git and DVC's command line
    remote      the DVC remote and config
    tags        what a version's tag holds
    journal     the write in progress, undone after a failure or a crash
    repository  a project's repository: its lock, its creation and configuration
    cache       reads straight from the local DVC cache
    writing     commit, recommit, restore the workspace, purge
    reading     materialize, read one file, reproduce with plain git and dvc
"""

from datasets.storage.errors import MissingFileError, StorageError, VersionMovedError
from datasets.storage.paths import SALT_FILE, repo_path, version_tag
from datasets.storage.reading import materialize_version, read_file, reproduce_instructions, tag_commit
from datasets.storage.remote import CACHE_TYPE, REMOTE_NAME
from datasets.storage.repository import ensure_repo
from datasets.storage.tags import CommittedVersion
from datasets.storage.writing import commit_version, purge_unreferenced, recommit_version, workspace_restore

__all__ = [
    "CACHE_TYPE",
    "REMOTE_NAME",
    "SALT_FILE",
    "CommittedVersion",
    "MissingFileError",
    "StorageError",
    "VersionMovedError",
    "commit_version",
    "ensure_repo",
    "materialize_version",
    "purge_unreferenced",
    "read_file",
    "recommit_version",
    "repo_path",
    "reproduce_instructions",
    "tag_commit",
    "version_tag",
    "workspace_restore",
]
