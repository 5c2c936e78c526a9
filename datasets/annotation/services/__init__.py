"""Writes for labelling campaigns, by subdomain: campaigns.py (setting a campaign up, closing and
reopening it), queue.py (filling and ordering the queue, claiming and skipping), annotations.py
(validating, submitting and editing annotations), guideline.py (guideline versions),
adjudication.py (gold labels and the gold sample), conflict.py (the 409 error they share).

Callers import the package (`from datasets.annotation import services`) and call the names
exported here; a patch of a service must target the submodule that defines it, where the other
services look it up.
"""

from datasets.annotation.services.adjudication import (
    GOLD_SAMPLE_MAX,
    MAX_SAMPLE_SEED,
    gold_sample_draw,
    gold_set,
)
from datasets.annotation.services.annotations import annotation_submit, annotation_update, validate_value
from datasets.annotation.services.campaigns import (
    ANNOTATOR_ROLES,
    MAX_LABELS,
    MAX_OVERLAP,
    campaign_close,
    campaign_create,
    campaign_reopen,
    campaign_update,
)
from datasets.annotation.services.conflict import Conflict
from datasets.annotation.services.guideline import guideline_add_example, guideline_current, guideline_publish
from datasets.annotation.services.queue import (
    queue_order_key,
    queue_reorder,
    skips_return,
    task_claim,
    task_skip,
)

__all__ = [
    "ANNOTATOR_ROLES",
    "GOLD_SAMPLE_MAX",
    "MAX_LABELS",
    "MAX_OVERLAP",
    "MAX_SAMPLE_SEED",
    "Conflict",
    "annotation_submit",
    "annotation_update",
    "campaign_close",
    "campaign_create",
    "campaign_reopen",
    "campaign_update",
    "gold_sample_draw",
    "gold_set",
    "guideline_add_example",
    "guideline_current",
    "guideline_publish",
    "queue_order_key",
    "queue_reorder",
    "task_claim",
    "skips_return",
    "task_skip",
    "validate_value",
]
