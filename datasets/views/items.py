"""Browsing a version's items, and the bytes of an image item."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from datasets import selectors
from datasets.item_files import item_file_response
from datasets.models import DatasetKind
from datasets.views.access import version_for
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


@require_GET
@guard
def item_list(request, slug: str, ds: str, number: int):
    project, role, dataset, version = version_for(request, slug, ds, number, ready=True)
    page = Paginator(selectors.VisibleItemPages(version, max_page=ITEMS_PER_PAGE), ITEMS_PER_PAGE).get_page(
        request.GET.get("page")
    )
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
            "sealed_count": selectors.sealed_count(version=version),
        },
    )


@require_GET
@guard
def item_content(request, slug: str, ds: str, number: int, key: str):
    _, _, _, version = version_for(request, slug, ds, number, ready=True)
    return item_file_response(version=version, item=selectors.item_get(version=version, key=key))
