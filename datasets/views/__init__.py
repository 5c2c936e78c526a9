"""HTML views of datasets: parse, authorise, call one service, render.

Access follows the project pages: a project you cannot see is 404, a write while signed out sends
you to log in, a write your role does not allow is 403. Labels are read only through
datasets.selectors (VisibleItem, class_balance, version_diff), which withhold sealed ones.
"""

from datasets.views.datasets import dataset_detail, dataset_list, sklearn_import, version_upload
from datasets.views.document import data_document, data_document_edit
from datasets.views.items import item_content, item_list
from datasets.views.versions import (
    split_create,
    version_derive,
    version_detail,
    version_diff,
    version_download,
    version_reprofile,
)

__all__ = [
    "data_document",
    "data_document_edit",
    "dataset_detail",
    "dataset_list",
    "item_content",
    "item_list",
    "sklearn_import",
    "split_create",
    "version_derive",
    "version_detail",
    "version_diff",
    "version_download",
    "version_reprofile",
    "version_upload",
]
