"""Turning an upload (or a scikit-learn bundled dataset) into a validated, normalised staging
folder plus the list of its items — or rejecting it with a clear message and leaving nothing
behind. Plain Python: no models; limits come from settings.

    stage_upload(path=…, original_name=…, kind=…, dest=…)   an uploaded file
    stage_sklearn(name=…, dest=…)                            digits, iris, wine, breast_cancer
    stage_items(kind=…, items=…, source_root=…, dest=…, columns=…)   a derived version
    read_staged(kind=…, root=…)                              a materialised version's items
"""

from datasets.ingest.layout import assign_new_keys, read_staged, stage_items
from datasets.ingest.limits import Limits
from datasets.ingest.records import StagedItem, StagedVersion, UploadRejected
from datasets.ingest.sklearn_data import SKLEARN_DATASETS, stage_sklearn
from datasets.ingest.staging import stage_upload

__all__ = [
    "SKLEARN_DATASETS",
    "Limits",
    "StagedItem",
    "StagedVersion",
    "UploadRejected",
    "assign_new_keys",
    "read_staged",
    "stage_items",
    "stage_sklearn",
    "stage_upload",
]
