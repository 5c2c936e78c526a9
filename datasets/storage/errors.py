"""What goes wrong when a version is written or read."""

from __future__ import annotations


class StorageError(Exception):
    """A version could not be written or read; the message says why."""


class MissingFileError(StorageError, FileNotFoundError):
    """The file asked for is not in that version."""


class VersionMovedError(StorageError):
    """A version's tag moved (another writer wrote it again) between reading it and writing it."""
