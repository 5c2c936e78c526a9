"""A batch prediction's CSV as pages and the API serve it: one response for both."""

from __future__ import annotations

import re

from django.http import FileResponse, Http404

from deployments.batch import selectors
from deployments.models import BatchPrediction


def download_name(batch: BatchPrediction) -> str:
    name = f"{batch.project.slug}-{batch.deployment.slug}-batch-{batch.pk}.csv"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def csv_response(batch: BatchPrediction) -> FileResponse:
    """The batch prediction's CSV as an attachment (the caller has authorised the batch); 404 when
    it has none (not ready, or its file is gone)."""
    path = selectors.output_file(batch=batch)
    if path is None:
        raise Http404("This batch prediction has no file.")
    response = FileResponse(path.open("rb"), as_attachment=True, filename=download_name(batch),
                            content_type="text/csv; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
