"""An item's file as every page and the API serve it (the version's items, the labelling page,
the REST API): one set of rules for what a browser may do with bytes people uploaded."""

from __future__ import annotations

import re

import filetype
from django.http import Http404, HttpResponse

from datasets import storage
from datasets.models import DatasetKind, DatasetVersion, VersionState
from datasets.selectors import VisibleItem

# A version's bytes never change once written; they are still the team's, not the public's cache's.
CACHE_CONTROL = "private, max-age=86400"
# Nothing in the file runs, loads or navigates, even if it was not the image it claimed to be.
CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"


def _image_type(data: bytes) -> filetype.Type | None:
    """The image type the bytes are, judged by their content; not what their name says."""
    kind = filetype.guess(data[:8192])
    return kind if kind is not None and kind.mime.startswith("image/") else None


def item_file_response(*, version: DatasetVersion, item: VisibleItem) -> HttpResponse:
    """The item's file (404 for an item without one). An image is shown inline, named by the
    item's key (never by the uploaded name, which often carries the label); anything else is an
    attachment, never rendered."""
    dataset = version.dataset
    if dataset.kind != DatasetKind.IMAGE:
        raise Http404("Only image items have content to fetch")
    if not item.file_path or version.state != VersionState.READY:
        raise Http404("This item has no file")
    try:
        data = storage.read_file(
            project_slug=dataset.project.slug, dataset_slug=dataset.slug, tag=version.git_tag,
            relpath=item.file_path,
        )
    except storage.MissingFileError as exc:
        raise Http404("The item's file is missing") from exc
    image = _image_type(data)
    if image is None:
        response = HttpResponse(data, content_type="application/octet-stream")
        response["Content-Disposition"] = "attachment"
    else:
        response = HttpResponse(data, content_type=image.mime)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", item.key)[:100] or "item"
        response["Content-Disposition"] = f'inline; filename="{name}.{image.extension}"'
    response["Cache-Control"] = CACHE_CONTROL
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
