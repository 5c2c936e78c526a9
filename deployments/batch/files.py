"""Where a batch prediction's CSV lives: under the data folder, named by the project's and the
batch's ids only (nothing a person typed), so that the path stored on the row can be checked to
stay inside that folder before it is opened."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.conf import settings

FOLDER = "batch-predictions"


def relative_path(*, project_id: int, batch_id: int) -> str:
    return f"{FOLDER}/project-{int(project_id)}/batch-{int(batch_id)}.csv"


def absolute(relative: str) -> Path | None:
    """The file a stored relative path names, or None when that path would leave the folder."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or pure.parts[:1] != (FOLDER,):
        return None
    root = (Path(settings.DATA_DIR) / FOLDER).resolve()
    path = (Path(settings.DATA_DIR) / pure).resolve()
    return path if path.is_relative_to(root) else None
