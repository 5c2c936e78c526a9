"""Browsing a version's items, and the bytes of an image item."""

from __future__ import annotations

import filetype
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from datasets import selectors, storage
from datasets.models import DatasetKind, DatasetVersion
from datasets.views.common import version_for
from projects.access import guard

ITEMS_PER_PAGE = 50
TEXT_SHOWN = 600  # code points of a text shown in the list


def text_pieces(text: str, spans: list[dict] | None, limit: int = TEXT_SHOWN) -> list[dict]:
    """The text as runs for the template: {"text", "label"}, label None outside every span. Offsets
    are Unicode code points, which is how Python slices a str. A text longer than `limit` is cut
    (with "…"), and so are the spans it cuts through."""
    cut = len(text) > limit
    end = limit - 1 if cut else len(text)
    pieces, position = [], 0
    for span in spans or ():
        start, stop = span["start"], min(span["end"], end)
        if start >= end:
            break
        if start > position:
            pieces.append({"text": text[position:start], "label": None})
        pieces.append({"text": text[start:stop], "label": span["label"]})
        position = stop
    if position < end:
        pieces.append({"text": text[position:end], "label": None})
    if cut:
        pieces.append({"text": "…", "label": None})
    return pieces


class _ItemPage:
    """What the paginator pages: the selector's visible items, fetched one page at a time."""

    def __init__(self, version: DatasetVersion) -> None:
        self.version = version
        self._total: int | None = None

    def count(self) -> int:
        if self._total is None:
            self._total = self.version.item_count
        return self._total

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice):
        items, _ = selectors.item_page(
            version=self.version, offset=window.start or 0, limit=(window.stop or 0) - (window.start or 0)
        )
        return items


@require_GET
@guard
def item_list(request, slug: str, ds: str, number: int):
    project, role, dataset, version = version_for(request, slug, ds, number, ready=True)
    page = Paginator(_ItemPage(version), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    columns = list(version.columns or [])
    rows = []
    for item in page.object_list:
        row = item.row if isinstance(item.row, dict) else {}
        entry = {"item": item, "cells": [row.get(c, "") for c in columns]}
        if dataset.kind == DatasetKind.TEXT:
            # item.spans is None for a sealed item (selectors.VisibleItem): no span is shown.
            entry["pieces"] = text_pieces(item.text, item.spans)
        rows.append(entry)
    return render(
        request,
        "datasets/item_list.html",
        {
            "project": project,
            "role": role,
            "dataset": dataset,
            "version": version,
            "page": page,
            "rows": rows,
            "columns": columns,
            "sealed_count": len(selectors.sealed_keys(dataset=dataset)),
        },
    )


def _image_type(data: bytes) -> str | None:
    """The image type the bytes are, judged by their content; not what their name says."""
    kind = filetype.guess(data[:8192])
    return kind.mime if kind is not None and kind.mime.startswith("image/") else None


@require_GET
@guard
def item_content(request, slug: str, ds: str, number: int, key: str):
    project, _, dataset, version = version_for(request, slug, ds, number, ready=True)
    if dataset.kind != DatasetKind.IMAGE:
        raise Http404("Only image items have content to fetch")
    item = selectors.item_get(version=version, key=key)
    if not item.file_path:
        raise Http404("This item has no file")
    try:
        data = storage.read_file(
            project_slug=project.slug, dataset_slug=dataset.slug, tag=version.git_tag, relpath=item.file_path
        )
    except storage.MissingFileError as exc:
        raise Http404("The item's file is missing") from exc
    content_type = _image_type(data)
    response = HttpResponse(data, content_type=content_type or "application/octet-stream")
    if content_type is None:
        # Not an image after all: never let a browser render it inline.
        response["Content-Disposition"] = "attachment"
    response["Cache-Control"] = "private, max-age=86400"  # a version's bytes never change
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
